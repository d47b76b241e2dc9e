-- The terms versions intake has published to the stream (TermsPublished), so that each is
-- published once. Hashes only: the text is in the stream (the office's own text, no personal data).
CREATE TABLE published_terms (
    terms_version text NOT NULL,
    terms_sha256  text NOT NULL CHECK (terms_sha256 ~ '^[0-9a-f]{64}$'),
    event_id      uuid NOT NULL,
    published_at  timestamptz NOT NULL,
    PRIMARY KEY (terms_version, terms_sha256)
);
