-- The vault knows who asks: each caller (intake, session, billing) sends on its own subject
-- (vault.v1.<operation>.<caller>), and the access log records the caller next to the purpose.
-- 'retention' is the vault's own Art. 15 export. Rows from before this migration have none.
ALTER TABLE vault_access_log
    ADD COLUMN caller text CHECK (caller IN ('intake', 'session', 'billing', 'retention'));

-- A waiting request ends in exactly one of two ways before anyone works on it: a technician
-- starts the session (claimed by session) or the customer withdraws (claimed by intake). The
-- first claim is kept with the entry, under the vault's per-request lock; the other is refused
-- (docs/reliability.md, "Withdraw vs start"). It goes with the entry at erasure: from then on the
-- erasure marker refuses both. An outcome code and a time only, never data.
ALTER TABLE vault_entries
    ADD COLUMN claimed_outcome text CHECK (claimed_outcome IN ('session_started', 'withdrawn')),
    ADD COLUMN claimed_at      timestamptz,
    ADD CONSTRAINT vault_entries_claim_complete CHECK ((claimed_outcome IS NULL) = (claimed_at IS NULL));
