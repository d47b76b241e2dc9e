-- E-mail delivery reads the address from the vault at each attempt (LEGAL.md L21, issue 21):
-- retention keeps it, and only it, after InvoiceIssued until billing reports the delivery.
-- New rows carry no address (email_enc stays NULL); rows written before keep theirs until sent
-- or given up. Each row knows its request (for InvoiceDelivered / InvoiceDeliveryFailed and the
-- customer's download) and how it was delivered ('manual': handed over by hand, office action).
ALTER TABLE deliveries
    ADD COLUMN request_id uuid,
    ADD COLUMN channel    text CHECK (channel IN ('email', 'manual'));
UPDATE deliveries d SET request_id = i.request_id FROM invoices i WHERE i.number = d.document_number;
UPDATE deliveries d SET request_id = c.request_id FROM cancellations c WHERE c.number = d.document_number;
UPDATE deliveries SET channel = 'email' WHERE status = 'sent';
CREATE INDEX deliveries_request ON deliveries (request_id);

-- A pending row no longer needs an address copy: drop the check that demanded one.
DO $$
DECLARE
    c text;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
              WHERE conrelid = 'deliveries'::regclass AND contype = 'c'
                AND pg_get_constraintdef(oid) LIKE '%pending%email_enc IS NOT NULL%'
    LOOP
        EXECUTE format('ALTER TABLE deliveries DROP CONSTRAINT %I', c);
    END LOOP;
END;
$$;

-- The customer's download code (issue 21): SupportRequestCreated v2 carries the SHA-256 of a
-- random 256-bit code intake gave the customer once; billing checks a code against it and then
-- serves the request's archived documents (POST /api/downloads). Only the hash, never the code.
ALTER TABLE request_facts
    ADD COLUMN download_sha256 text CHECK (download_sha256 ~ '^[0-9a-f]{64}$');
CREATE UNIQUE INDEX request_facts_download ON request_facts (download_sha256)
    WHERE download_sha256 IS NOT NULL;
