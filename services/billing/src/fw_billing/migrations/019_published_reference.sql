-- The reference data billing has published to the stream (TariffPublished, IssuerDetailsChanged),
-- so that each is published once: a version's tariff on first use or at start, the issuer
-- details whenever the settings differ from the last published. Hashes only: the content is in
-- the stream. kind 'tariff': key = tariff version; kind 'issuer': key = the previous issuer hash
-- ('-' for the first), so that a return to earlier details (A -> B -> A) is published again.
CREATE TABLE published_reference (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('tariff', 'issuer')),
    key          text NOT NULL,
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    event_id     uuid NOT NULL,
    published_at timestamptz NOT NULL,
    UNIQUE (kind, key, sha256)
);
