-- The personal-data vault and its erasure log (schema retention; search_path is set by the pool).
--
-- Personal data exist ONLY as AES-256-GCM ciphertext in vault_entries / vault_statements, under a
-- per-request data key that is itself stored only wrapped by the master key (vault_keys).
-- Erasure DELETEs all three rows, so nothing of the request survives in a dump of the database.

CREATE TABLE vault_keys (
    request_id  uuid        PRIMARY KEY,
    -- AES-GCM(master key, data key); nonce (12 bytes) || ciphertext+tag.
    wrapped_key bytea       NOT NULL,
    -- Which master key wrapped it (a hash prefix, not the key): lets a future rotation find rows.
    kek_id      text        NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE vault_entries (
    request_id  uuid        PRIMARY KEY REFERENCES vault_keys(request_id) ON DELETE CASCADE,
    nonce       bytea       NOT NULL,
    ciphertext  bytea       NOT NULL,
    stored_at   timestamptz NOT NULL
);
-- The deadline sweep walks entries oldest first.
CREATE INDEX vault_entries_stored_at ON vault_entries (stored_at);

CREATE TABLE vault_statements (
    request_id  uuid        PRIMARY KEY REFERENCES vault_keys(request_id) ON DELETE CASCADE,
    nonce       bytea       NOT NULL,
    ciphertext  bytea       NOT NULL,
    stored_at   timestamptz NOT NULL
);

-- Permanent "erased" markers = the erasure log. Ids and reasons only, never data; it outlives
-- every backup restore (see reapply) and refuses any later put/get for the request.
CREATE TABLE erasures (
    request_id        uuid        PRIMARY KEY,
    reason            text        NOT NULL
        CHECK (reason IN ('invoice_issued', 'not_billed', 'withdrawn', 'abandoned')),
    trigger_event_id  uuid,
    erased_at         timestamptz NOT NULL,
    had_data          boolean     NOT NULL
);
CREATE INDEX erasures_erased_at ON erasures (erased_at DESC);

-- Who read which request and why (purpose limitation, Art. 5(1)(b) GDPR). No data.
CREATE TABLE vault_access_log (
    id          bigserial   PRIMARY KEY,
    request_id  uuid        NOT NULL,
    purpose     text        NOT NULL,
    outcome     text        NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX vault_access_log_request ON vault_access_log (request_id);
