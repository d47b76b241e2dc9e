-- Data-protection proofs: who asked for the AVV (Art. 28 GDPR), and pruning of the access log.

-- Each request for the data-processing agreement. No free text: time, channel, an optional
-- pseudonymous reference (customer number or ticket) and which version of the template was
-- offered (its SHA-256). Deleted at the end of the 3rd calendar year after the request.
CREATE TABLE avv_requests (
    id              uuid        PRIMARY KEY,
    requested_at    timestamptz NOT NULL,
    channel         text        NOT NULL
        CHECK (channel IN ('phone', 'email', 'letter', 'web', 'in_person')),
    customer_number text        CHECK (customer_number ~ '^K[0-9]{5,10}$'),
    ticket          text        CHECK (ticket ~ '^[0-9A-Z]{4}-[0-9A-Z]{3}$'),
    avv_version     text        NOT NULL CHECK (avv_version ~ '^[0-9A-Za-z._-]{1,32}$'),
    avv_sha256      text        NOT NULL CHECK (avv_sha256 ~ '^[0-9a-f]{64}$')
);
CREATE INDEX avv_requests_requested_at ON avv_requests (requested_at DESC);

-- The sweep deletes access-log rows past their deletion date oldest first.
CREATE INDEX vault_access_log_at ON vault_access_log (at);
