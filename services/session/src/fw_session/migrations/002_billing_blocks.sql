-- Sessions whose full invoice waits for a billing address (from billing's BillingBlocked), and
-- when the technician provided it (our BillingAddressProvided). Ids and times only: the address
-- itself goes to the vault.
CREATE TABLE billing_blocks (
    session_id          uuid        PRIMARY KEY,
    request_id          uuid        NOT NULL,
    missing             text[]      NOT NULL,
    blocked_at          timestamptz NOT NULL,
    blocked_event_id    uuid        NOT NULL,
    correlation_id      uuid        NOT NULL,
    address_provided_at timestamptz,
    provided_event_id   uuid
);
