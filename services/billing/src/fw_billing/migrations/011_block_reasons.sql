-- Why a session's billing is blocked (BillingBlocked v2 reason): a code, never data. Until now
-- a block meant the missing billing address; a permanent failure while issuing (a document that
-- cannot be rendered, ...) is now a block too, with its own reason, instead of a parked message.
ALTER TABLE session_billing ADD COLUMN block_reason text
    CHECK (block_reason IN ('billing_address_missing', 'document_render_failed', 'issuing_failed'));
UPDATE session_billing SET block_reason = 'billing_address_missing' WHERE status = 'blocked';
