-- Erasure in two steps when the invoice is e-mailed (LEGAL.md L21, issue 21): InvoiceIssued
-- erases everything except the e-mail address the customer gave for receiving the invoice; that
-- address goes when billing reports the delivery (InvoiceDelivered / InvoiceDeliveryFailed), at
-- the latest when the delivery hold ends.

-- The kept address, AES-256-GCM under the request's data key (the key row stays until the
-- second step). Deleted with the key (cascade) and explicitly by the second step.
CREATE TABLE vault_delivery_emails (
    request_id  uuid        PRIMARY KEY REFERENCES vault_keys(request_id) ON DELETE CASCADE,
    nonce       bytea       NOT NULL,
    ciphertext  bytea       NOT NULL,
    kept_at     timestamptz NOT NULL
);

-- The erasure log gets one row per step: scope says what the step erased. A request is erased
-- for good once it has an 'all' or a 'delivery_email' row.
ALTER TABLE erasures DROP CONSTRAINT erasures_reason_check;
ALTER TABLE erasures ADD CONSTRAINT erasures_reason_check CHECK (reason IN (
    'invoice_issued', 'not_billed', 'withdrawn', 'abandoned',
    'invoice_delivered', 'invoice_delivery_failed', 'delivery_hold_ended'));
ALTER TABLE erasures
    ADD COLUMN scope text NOT NULL DEFAULT 'all'
        CHECK (scope IN ('all', 'all_but_delivery_email', 'delivery_email')),
    -- the first step's deadline for the second (the sweep erases the address then at the latest)
    ADD COLUMN delivery_hold_until timestamptz,
    ADD CONSTRAINT erasures_hold_with_first_step
        CHECK ((scope = 'all_but_delivery_email') = (delivery_hold_until IS NOT NULL));
ALTER TABLE erasures DROP CONSTRAINT erasures_pkey;
ALTER TABLE erasures ADD PRIMARY KEY (request_id, scope);
CREATE INDEX erasures_delivery_holds ON erasures (delivery_hold_until)
    WHERE scope = 'all_but_delivery_email';
