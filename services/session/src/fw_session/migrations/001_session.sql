-- The technician's queue: one row per support request, without personal data (those stay in
-- the vault). 'unseen' is the tombstone for a request whose withdrawal or erasure arrived before
-- its creation.
CREATE TABLE requests (
    request_id       uuid PRIMARY KEY,
    ticket           text,
    customer_type    text CHECK (customer_type IN ('business', 'consumer')),
    created_at       timestamptz,
    status           text NOT NULL CHECK (status IN ('unseen', 'waiting', 'started', 'withdrawn')),
    erased_at        timestamptz,
    correlation_id   uuid,
    created_event_id uuid,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_queue ON requests (created_at) WHERE status = 'waiting' AND erased_at IS NULL;

-- One row per session: the lock taken by commands and the optimistic version; the state itself
-- is the fold of session_events. UNIQUE (request_id): one session per request, by state.
CREATE TABLE sessions (
    session_id uuid PRIMARY KEY,
    request_id uuid NOT NULL UNIQUE REFERENCES requests (request_id),
    version    integer NOT NULL CHECK (version >= 1)
);

-- The events this service produced, per session in order: the state can be rebuilt from them
-- (and compared with a rebuild from the stream). Same JSON as published.
CREATE TABLE session_events (
    session_id  uuid        NOT NULL REFERENCES sessions (session_id),
    version     integer     NOT NULL,
    event_id    uuid        NOT NULL UNIQUE,
    event_type  text        NOT NULL,
    payload     jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, version)
);
