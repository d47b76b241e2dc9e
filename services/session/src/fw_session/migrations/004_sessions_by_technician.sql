-- A technician's own sessions (GET /api/sessions?technician=…&status=running|ended). A session's
-- state is the fold of its session_events; listing "the running sessions of tech-07" that way
-- would read and fold every session ever held. The sessions row is written in the same
-- transaction as each of its events (the optimistic version), so it now also keeps the fold's
-- summary: who, when it started, when it ended and how long it took. Ids and times only.
ALTER TABLE sessions
    ADD COLUMN technician       text,
    ADD COLUMN started_at       timestamptz,
    ADD COLUMN ended_at         timestamptz,
    ADD COLUMN duration_seconds integer;

-- Sessions from before this migration: from their own events (the same JSON as published).
UPDATE sessions s
   SET technician = e.payload ->> 'technician',
       started_at = (e.payload ->> 'started_at')::timestamptz
  FROM session_events e
 WHERE e.session_id = s.session_id AND e.event_type = 'SessionStarted';
UPDATE sessions s
   SET ended_at = (e.payload ->> 'ended_at')::timestamptz,
       duration_seconds = (e.payload ->> 'duration_seconds')::integer
  FROM session_events e
 WHERE e.session_id = s.session_id AND e.event_type = 'SessionEnded';

ALTER TABLE sessions
    ALTER COLUMN technician SET NOT NULL,
    ALTER COLUMN started_at SET NOT NULL,
    ADD CONSTRAINT sessions_end_and_duration CHECK ((ended_at IS NULL) = (duration_seconds IS NULL));

-- The two lists: running oldest first, ended most recent first (partial: each stays small
-- where it matters; a technician has few running sessions at any time).
CREATE INDEX sessions_running_by_technician ON sessions (technician, started_at) WHERE ended_at IS NULL;
CREATE INDEX sessions_ended_by_technician ON sessions (technician, ended_at DESC) WHERE ended_at IS NOT NULL;
