-- Billing holds: billing announced (BillingBlocked) that a full invoice waits for the recipient's
-- address. The purpose "billing" is then still pending, so the abandonment sweep does not erase
-- the request after abandon_after; it erases it at the latest billing_hold after the first block.
-- Ids and a time only, never data. The row stays after the erasure: it explains (with the erasure
-- log) why the erasure came later than abandon_after.
CREATE TABLE billing_holds (
    request_id        uuid        PRIMARY KEY,
    session_id        uuid        NOT NULL,
    -- BillingBlocked.occurred_at of the first block of the request (the hold is counted from it)
    blocked_at        timestamptz NOT NULL,
    blocked_event_id  uuid        NOT NULL
);
