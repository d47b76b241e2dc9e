-- Read-only views for the audit (fernwartung audit verify / export). Billing owns them; the audit
-- never reads billing's tables. Projections: ids, numbers, amounts and flags only. Archive: the
-- encrypted documents and the wrapped archive keys, in the shared format of
-- docs/archive-format.md (readable only with the archive master key); never a customer account's
-- personal fields, never the customer keys.
CREATE VIEW audit_invoices AS
    SELECT number, session_id::text AS session_id, gross_total, e_invoice FROM invoices;
CREATE VIEW audit_cancellations AS
    SELECT number, invoice_number, e_invoice FROM cancellations;
CREATE VIEW audit_customer_accounts AS
    SELECT request_id::text AS request_id, customer_number, closed_at IS NOT NULL AS closed
      FROM customer_accounts;
CREATE VIEW audit_archive AS
    SELECT document_number, document_type, year, xml_enc, pdf_enc FROM invoice_archive;
CREATE VIEW audit_archive_keys AS
    SELECT year, wrapped FROM data_keys WHERE purpose = 'archive';
CREATE VIEW audit_archive_destructions AS
    SELECT year, destroyed_at, documents FROM archive_destructions;

-- The read-only audit role (fw_audit_ro, created by the provisioning before any service starts)
-- may read these views and nothing else of this schema. No role of that name: no grant.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fw_audit_ro') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO fw_audit_ro', current_schema());
        GRANT SELECT ON audit_invoices, audit_cancellations, audit_customer_accounts, audit_archive, audit_archive_keys, audit_archive_destructions TO fw_audit_ro;
    END IF;
END
$$;
