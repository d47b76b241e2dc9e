-- Who in the office issued a Storno or a corrected invoice (GoBD: a correction is traceable to
-- the person who made it). Append-only: earlier files stay as they were.
--
-- The signed-in web user's id (a staff pseudonym like a technician id, e.g. "buero-2"), never a
-- name; NULL on documents made before this file and on invoices billing issued by itself. Kept
-- with the document it belongs to; not in the events (InvoiceCancelled and InvoiceIssued carry
-- no actor).
ALTER TABLE cancellations ADD COLUMN acted_by text CHECK (acted_by ~ '^[a-z0-9][a-z0-9_-]{1,31}$');
ALTER TABLE invoices ADD COLUMN acted_by text CHECK (acted_by ~ '^[a-z0-9][a-z0-9_-]{1,31}$'),
    -- only a corrected invoice is made by a person
    ADD CONSTRAINT invoices_actor_only_on_corrections CHECK (acted_by IS NULL OR corrects IS NOT NULL);
