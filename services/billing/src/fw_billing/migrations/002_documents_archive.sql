-- Documents, archive, cancellations, deliveries; personal data encrypted at rest.
-- Append-only: 001 stays as it was; this file changes what 001 created.

-- Personal data move into AES-256-GCM ciphertext (the application holds the keys). SQL cannot
-- encrypt, so existing plain rows cannot be carried over: nothing has been released with the
-- plain columns, and a database that has such rows must be recreated (dev: remove var/).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM customer_accounts) OR EXISTS (SELECT 1 FROM invoice_recipients) THEN
        RAISE EXCEPTION 'billing 002: plain personal data present; recreate the development database';
    END IF;
END;
$$;

-- What billing knows about a request from SupportRequestCreated (no personal data): whether
-- the invoice is B2B (e-invoice) and whether the customer gave an e-mail address.
CREATE TABLE request_facts (
    request_id          uuid        PRIMARY KEY,
    customer_type       text        NOT NULL CHECK (customer_type IN ('business', 'consumer')),
    has_email           boolean     NOT NULL,
    has_billing_address boolean     NOT NULL,
    recorded_at         timestamptz NOT NULL
);

-- Whether a ZUGFeRD/Factur-X XML was issued with the invoice (ADD COLUMN fires no row trigger).
ALTER TABLE invoices ADD COLUMN e_invoice boolean NOT NULL DEFAULT false;

-- Data keys: one per (purpose, calendar year), wrapped by the archive master key.
CREATE TABLE data_keys (
    purpose    text        NOT NULL CHECK (purpose IN ('archive', 'customer')),
    year       integer     NOT NULL CHECK (year BETWEEN 2000 AND 9999),
    wrapped    bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (purpose, year)
);

-- The recipient copy, encrypted with the archive key of the invoice's year.
DROP TRIGGER invoice_recipients_immutable ON invoice_recipients;
ALTER TABLE invoice_recipients
    DROP COLUMN company,
    DROP COLUMN contact_name,
    DROP COLUMN address,
    ADD COLUMN year     integer NOT NULL CHECK (year BETWEEN 2000 AND 9999),
    ADD COLUMN data_enc bytea   NOT NULL;

-- Regular customers' personal fields, encrypted with the customer key of the creation year.
ALTER TABLE customer_accounts
    DROP COLUMN company,
    DROP COLUMN contact_name,
    DROP COLUMN phone,
    DROP COLUMN email,
    DROP COLUMN address,
    DROP COLUMN statement,
    ADD COLUMN key_year     integer NOT NULL CHECK (key_year BETWEEN 2000 AND 9999),
    ADD COLUMN personal_enc bytea   NOT NULL;

-- Every issued document exactly as issued (PDF, and the EN 16931 XML where one was issued).
CREATE TABLE invoice_archive (
    document_number text        PRIMARY KEY,
    document_type   text        NOT NULL CHECK (document_type IN ('invoice', 'cancellation')),
    year            integer     NOT NULL CHECK (year BETWEEN 2000 AND 9999),
    pdf_enc         bytea       NOT NULL,
    xml_enc         bytea,
    archived_at     timestamptz NOT NULL
);
CREATE INDEX invoice_archive_year ON invoice_archive (year);

-- Cancellations (Storno): their own number series, one per invoice at most.
CREATE TABLE cancellation_counters (
    year     integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 9999),
    last_seq integer NOT NULL CHECK (last_seq >= 0)
);
CREATE TABLE cancellations (
    number         text          PRIMARY KEY,
    year           integer       NOT NULL,
    seq            integer       NOT NULL CHECK (seq >= 1),
    invoice_number text          NOT NULL UNIQUE REFERENCES invoices (number),  -- cancelled once
    request_id     uuid          NOT NULL,
    reason_code    text          NOT NULL
                   CHECK (reason_code IN ('wrong_amount', 'wrong_recipient', 'duplicate', 'goodwill', 'other')),
    issued_at      timestamptz   NOT NULL,
    lines          jsonb         NOT NULL,
    net_total      numeric(14,2) NOT NULL,
    vat_rate       numeric       NOT NULL,
    vat_total      numeric(14,2) NOT NULL,
    gross_total    numeric(14,2) NOT NULL,
    currency       text          NOT NULL DEFAULT 'EUR',
    e_invoice      boolean       NOT NULL,
    event_id       uuid          NOT NULL UNIQUE,  -- the InvoiceCancelled event
    UNIQUE (year, seq),
    CHECK (net_total + vat_total = gross_total),
    CHECK (gross_total <= 0)
);
CREATE TRIGGER cancellations_immutable BEFORE UPDATE OR DELETE ON cancellations
    FOR EACH ROW EXECUTE FUNCTION refuse_invoice_change();

-- E-mail delivery of documents. The address is kept encrypted only until the mail is sent
-- (and for a limited time after a final failure, for a manual retry); errors are a type name.
CREATE TABLE deliveries (
    id              bigserial   PRIMARY KEY,
    document_number text        NOT NULL UNIQUE,
    year            integer     NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error_type text        CHECK (last_error_type ~ '^[A-Za-z][A-Za-z0-9_.]{0,63}$'),
    email_enc       bytea,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    sent_at         timestamptz,
    CHECK (status <> 'sent' OR email_enc IS NULL),
    CHECK (status <> 'pending' OR email_enc IS NOT NULL)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_status ON deliveries (status, created_at);

-- Proof of each destruction (GDPR Art. 5(2) accountability): counts only.
CREATE TABLE archive_destructions (
    year         integer     PRIMARY KEY,
    destroyed_at timestamptz NOT NULL,
    documents    integer     NOT NULL,
    recipients   integer     NOT NULL
);

-- Archive rows, recipient copies and archive keys are never updated, and deleted only by the
-- destruction of an expired year: the application sets fw_billing.destroy_year for that
-- transaction, and the database itself checks the 8 years (§147 Abs. 3 AO, §14b UStG) against
-- its own clock, so no application clock can make it delete anything younger.
CREATE FUNCTION guard_archive_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    allowed    text    := current_setting('fw_billing.destroy_year', true);
    local_year integer := extract(year FROM (now() AT TIME ZONE 'Europe/Berlin'))::integer;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'archived data are immutable (UPDATE on %)', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    -- (to_jsonb: plpgsql would resolve OLD.purpose on tables that have no such column)
    IF TG_TABLE_NAME = 'data_keys' AND to_jsonb(OLD) ->> 'purpose' <> 'archive' THEN
        RAISE EXCEPTION 'customer keys are not destroyed with the archive'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF allowed IS NULL OR allowed <> OLD.year::text THEN
        RAISE EXCEPTION 'archived data are deleted only by the destruction of an expired year (%)', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.year + 9 > local_year THEN
        RAISE EXCEPTION 'retention period of year % is not over', OLD.year
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER invoice_archive_guard BEFORE UPDATE OR DELETE ON invoice_archive
    FOR EACH ROW EXECUTE FUNCTION guard_archive_row();
CREATE TRIGGER invoice_recipients_guard BEFORE UPDATE OR DELETE ON invoice_recipients
    FOR EACH ROW EXECUTE FUNCTION guard_archive_row();
CREATE TRIGGER data_keys_guard BEFORE UPDATE OR DELETE ON data_keys
    FOR EACH ROW EXECUTE FUNCTION guard_archive_row();
