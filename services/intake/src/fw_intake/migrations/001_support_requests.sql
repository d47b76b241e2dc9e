-- Intake's only table. It holds ids, the proof of consent and the status: NO personal data
-- (company, name, phone, e-mail, address live in retention's vault only).
CREATE TABLE support_requests (
    request_id        uuid        PRIMARY KEY,
    ticket            text        NOT NULL UNIQUE
                      CHECK (ticket ~ '^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{3}$'),
    customer_type     text        NOT NULL CHECK (customer_type IN ('business', 'consumer')),
    terms_version     text        NOT NULL CHECK (terms_version ~ '^[0-9A-Za-z._-]{1,32}$'),
    terms_sha256      text        NOT NULL CHECK (terms_sha256 ~ '^[0-9a-f]{64}$'),
    withdrawal_waiver boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    status            text        NOT NULL
                      CHECK (status IN ('open', 'in_session', 'withdrawn', 'erased')),
    updated_at        timestamptz NOT NULL
);

CREATE INDEX support_requests_status_idx ON support_requests (status, created_at);
