-- The billing case of each ended session for the audit's rebuild check: status and, while
-- blocked, the reason (codes only). The audit folds billing's events with the same rule
-- (fw_contracts.billing_case.next_outcome) and compares. A row closed as not billed may still
-- hold the reason of its earlier block (rows before 022): the view shows a reason only while
-- the session is blocked, as the fold does.
CREATE VIEW audit_session_billing AS
    SELECT session_id::text AS session_id, status,
           CASE WHEN status = 'blocked' THEN block_reason END AS block_reason
      FROM session_billing;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fw_audit_ro') THEN
        GRANT SELECT ON audit_session_billing TO fw_audit_ro;
    END IF;
END
$$;
