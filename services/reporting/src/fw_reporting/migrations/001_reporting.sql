-- Reporting's projections (search_path = reporting). Append-only: a change is a new file.
--
-- Each table holds facts copied from one kind of event, keyed by what makes the fact unique,
-- so a repeated event changes nothing (ON CONFLICT DO NOTHING) and the order in which events
-- arrive does not matter: every figure is computed when it is asked for, from these facts.
-- Nothing here is personal data: ids, technician handles (staff pseudonyms), times, amounts.

CREATE TABLE invoices (
    invoice_number  text          PRIMARY KEY,
    session_id      uuid          NOT NULL,
    request_id      uuid          NOT NULL,
    kind            text          NOT NULL,
    issued_at       timestamptz   NOT NULL,
    tariff_version  text          NOT NULL,
    raw_seconds     integer       NOT NULL,
    billed_seconds  integer       NOT NULL,
    net_total       numeric(14,2) NOT NULL,
    vat_total       numeric(14,2) NOT NULL,
    gross_total     numeric(14,2) NOT NULL,
    event_id        uuid          NOT NULL UNIQUE
);

-- Amounts as the cancellation (Storno) states them; reports subtract their absolute value,
-- so a producer writing them positive or negative gives the same figures.
CREATE TABLE cancellations (
    cancellation_number text          PRIMARY KEY,
    invoice_number      text          NOT NULL,
    cancelled_at        timestamptz   NOT NULL,
    reason_code         text          NOT NULL,
    net_total           numeric(14,2) NOT NULL,
    vat_total           numeric(14,2) NOT NULL,
    gross_total         numeric(14,2) NOT NULL,
    event_id            uuid          NOT NULL UNIQUE
);

-- Filled by SessionStarted and completed by SessionEnded, in whichever order they come.
CREATE TABLE sessions (
    session_id       uuid        PRIMARY KEY,
    request_id       uuid        NOT NULL,
    technician       text        NOT NULL,
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    duration_seconds integer     CHECK (duration_seconds >= 0),
    promoted         boolean     NOT NULL DEFAULT false
);

CREATE TABLE not_billed (
    session_id   uuid        PRIMARY KEY,
    request_id   uuid        NOT NULL,
    reason       text        NOT NULL,
    raw_seconds  integer     NOT NULL,
    occurred_at  timestamptz NOT NULL
);

CREATE TABLE promotions (
    session_id  uuid        PRIMARY KEY,
    request_id  uuid        NOT NULL,
    technician  text        NOT NULL,
    stated_at   timestamptz NOT NULL
);

CREATE TABLE customer_accounts (
    customer_number text        PRIMARY KEY,
    request_id      uuid        NOT NULL,
    created_at      timestamptz NOT NULL
);

-- Events after which retention erases: InvoiceIssued, SessionNotBilled, SupportRequestWithdrawn.
CREATE TABLE erasure_triggers (
    event_id    uuid        PRIMARY KEY,
    event_type  text        NOT NULL,
    request_id  uuid        NOT NULL,
    occurred_at timestamptz NOT NULL
);

CREATE TABLE erasures (
    event_id         uuid        PRIMARY KEY,
    request_id       uuid        NOT NULL,
    reason           text        NOT NULL,
    trigger_event_id uuid,
    erased_at        timestamptz NOT NULL,
    had_data         boolean     NOT NULL
);
CREATE INDEX erasures_trigger ON erasures (trigger_event_id);
