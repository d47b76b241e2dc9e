-- Read-only views for the audit's projections check (fernwartung audit verify --database-url).
-- Session owns them: one row per session, whether it ended and its duration (from the recorded
-- SessionEnded payload: that one scalar only), and its technician (the owner after any
-- SessionTakenOver, migration 004; a staff login, not a customer's data).
CREATE VIEW audit_sessions AS
    SELECT s.session_id::text AS session_id, s.request_id::text AS request_id,
           (e.payload ->> 'duration_seconds') IS NOT NULL AS ended,
           e.payload ->> 'duration_seconds' AS duration_seconds,
           s.technician
      FROM sessions s
      LEFT JOIN session_events e ON e.session_id = s.session_id AND e.event_type = 'SessionEnded';

-- The read-only audit role (fw_audit_ro, created by the provisioning before any service starts)
-- may read these views and nothing else of this schema. No role of that name: no grant.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fw_audit_ro') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO fw_audit_ro', current_schema());
        GRANT SELECT ON audit_sessions TO fw_audit_ro;
    END IF;
END
$$;
