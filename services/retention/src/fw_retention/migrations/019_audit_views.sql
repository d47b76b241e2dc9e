-- Read-only views for the audit's projections check (fernwartung audit verify --database-url).
-- Retention owns them: the erasure of each request, one row per step (scope: all, or
-- all_but_delivery_email then delivery_email; migration 016) and its reason. Never the vault.
CREATE VIEW audit_erasures AS
    SELECT request_id::text AS request_id, scope, reason FROM erasures;

-- The read-only audit role (fw_audit_ro, created by the provisioning before any service starts)
-- may read these views and nothing else of this schema. No role of that name: no grant.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fw_audit_ro') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO fw_audit_ro', current_schema());
        GRANT SELECT ON audit_erasures TO fw_audit_ro;
    END IF;
END
$$;
