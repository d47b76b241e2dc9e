-- Read-only views for the audit's projections check (fernwartung audit verify --database-url).
-- Intake owns them: the audit compares what they show with a rebuild from the stream and never
-- reads intake's tables. Ids and statuses only: no column here could hold personal data.
CREATE VIEW audit_support_requests AS
    SELECT request_id::text AS request_id, status FROM support_requests;

-- The read-only audit role (fw_audit_ro, created by the provisioning before any service starts)
-- may read these views and nothing else of this schema. No role of that name: no grant.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fw_audit_ro') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO fw_audit_ro', current_schema());
        GRANT SELECT ON audit_support_requests TO fw_audit_ro;
    END IF;
END
$$;
