-- The durable consumer that bills sessions (SupportRequestCreated, SessionEnded and
-- BillingAddressProvided, in stream order) was named after one of its three events,
-- billing--session_ended; it is billing--session_billing now. A new durable reads the stream
-- from its start, so its idempotency record and parked messages move with the name: every event
-- the old durable handled is a duplicate for the new one (acked, nothing applied again).
-- The old durable stays on the server without a reader until an admin removes it
-- (nats consumer rm FERNWARTUNG billing--session_ended); services may not delete consumers.
UPDATE processed_events SET consumer = 'billing--session_billing' WHERE consumer = 'billing--session_ended';
UPDATE dead_letters SET consumer = 'billing--session_billing' WHERE consumer = 'billing--session_ended';
