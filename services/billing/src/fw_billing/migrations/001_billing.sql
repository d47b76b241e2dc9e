-- Billing's tables (search_path = billing). Append-only: a change is a new file.

-- One row per ended session: the first SessionEnded seen for it wins and fixes the tariff
-- version; the row is locked while a (repeated) event about the session is handled.
-- 'pending' exists only inside the handling transaction.
CREATE TABLE session_billing (
    session_id      uuid        PRIMARY KEY,
    request_id      uuid        NOT NULL,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz NOT NULL,
    raw_seconds     integer     NOT NULL CHECK (raw_seconds >= 0),
    promoted        boolean     NOT NULL,
    tariff_version  text        NOT NULL,
    status          text        NOT NULL
                    CHECK (status IN ('pending', 'not_billed', 'blocked', 'invoiced')),
    source_event_id uuid        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz
);
CREATE INDEX session_billing_request ON session_billing (request_id);

-- Permanent accounts of regular customers, created only from a recorded promotion.
-- Besides invoice_recipients the only table of billing that holds personal data, by design.
CREATE SEQUENCE customer_number_seq START 1 NO CYCLE;
CREATE TABLE customer_accounts (
    customer_number text        PRIMARY KEY CHECK (customer_number ~ '^K[0-9]{5,10}$'),
    request_id      uuid        NOT NULL UNIQUE,
    session_id      uuid        NOT NULL,
    company         text        NOT NULL,
    contact_name    text        NOT NULL,
    phone           text        NOT NULL,
    email           text,
    address         jsonb,
    statement       text        NOT NULL,
    stated_at       timestamptz NOT NULL,
    technician      text        NOT NULL,
    created_at      timestamptz NOT NULL
);

-- One counter row per calendar year, locked FOR UPDATE in the transaction that inserts the
-- invoice: numbers are unique and gapless, and a rolled-back issue gives its number back.
CREATE TABLE invoice_counters (
    year     integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 9999),
    last_seq integer NOT NULL CHECK (last_seq >= 0)
);

CREATE TABLE invoices (
    number          text          PRIMARY KEY,
    year            integer       NOT NULL,
    seq             integer       NOT NULL CHECK (seq >= 1),
    session_id      uuid          NOT NULL UNIQUE,  -- a session is billed at most once
    request_id      uuid          NOT NULL,
    kind            text          NOT NULL CHECK (kind IN ('kleinbetrag', 'full')),
    issued_at       timestamptz   NOT NULL,
    service_date    timestamptz   NOT NULL,
    tariff_version  text          NOT NULL,
    raw_seconds     integer       NOT NULL CHECK (raw_seconds >= 0),
    billed_seconds  integer       NOT NULL CHECK (billed_seconds >= 0),
    lines           jsonb         NOT NULL,
    net_total       numeric(14,2) NOT NULL,
    vat_rate        numeric       NOT NULL CHECK (vat_rate >= 0 AND vat_rate < 1),  -- as in the tariff
    vat_total       numeric(14,2) NOT NULL,
    gross_total     numeric(14,2) NOT NULL,
    currency        text          NOT NULL DEFAULT 'EUR',
    customer_number text          REFERENCES customer_accounts (customer_number),
    event_id        uuid          NOT NULL UNIQUE,  -- the InvoiceIssued event
    UNIQUE (year, seq),
    UNIQUE (number, kind),
    FOREIGN KEY (session_id) REFERENCES session_billing (session_id),
    CHECK (net_total + vat_total = gross_total),
    -- §33 UStDV: a Kleinbetragsrechnung is at most 250 EUR gross.
    CHECK (kind <> 'kleinbetrag' OR gross_total <= 250.00)
);
CREATE INDEX invoices_request ON invoices (request_id);

-- The recipient as printed on a full invoice: part of the legal invoice copy (§14b UStG).
-- The (invoice_number, kind) key admits full invoices only: a Kleinbetragsrechnung carries no
-- recipient data at all.
CREATE TABLE invoice_recipients (
    invoice_number text        PRIMARY KEY,
    kind           text        NOT NULL CHECK (kind = 'full'),
    company        text        NOT NULL,
    contact_name   text        NOT NULL,
    address        jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (invoice_number, kind) REFERENCES invoices (number, kind)
);

-- GoBD / §146 Abs. 4 AO: an issued invoice is never edited; corrections go through a Storno.
CREATE FUNCTION refuse_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'issued invoices are immutable (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION refuse_invoice_change();
CREATE TRIGGER invoice_recipients_immutable BEFORE UPDATE OR DELETE ON invoice_recipients
    FOR EACH ROW EXECUTE FUNCTION refuse_invoice_change();
