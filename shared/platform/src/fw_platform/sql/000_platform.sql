-- Infrastructure tables every service has in its own schema (search_path = the service schema).
CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    subject     text        NOT NULL,
    event_type  text        NOT NULL,
    payload     bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Idempotency record: written in the same transaction as the state change it guards.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    stream_seq   bigint,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Parked messages: never the payload (it stays in the stream), only where and why.
CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigserial PRIMARY KEY,
    consumer    text        NOT NULL,
    stream_seq  bigint      NOT NULL,
    subject     text        NOT NULL,
    event_id    uuid,
    reason      text        NOT NULL,
    deliveries  integer     NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    UNIQUE (consumer, stream_seq)
);
