-- Closing a regular customer's account and erasing its personal fields (GDPR Art. 17).
-- Append-only: 001 and 002 stay as they were; this file changes what they created.
--
-- The row stays: its customer number is printed on issued invoices (kept 8 years, §14b UStG,
-- §147 AO) and is never given out again, and request_id UNIQUE keeps a later CustomerPromoted
-- or SessionEnded for the same request from creating the account a second time. What goes is
-- every personal field: the ciphertext of company, contact, phone, e-mail, address and the
-- promotion statement (personal_enc) and the time of the statement (stated_at). The customer
-- key of the creation year is shared with other accounts, so the data themselves are deleted
-- (the deletion concept never counts a key destruction alone as erasure).
ALTER TABLE customer_accounts
    ALTER COLUMN personal_enc DROP NOT NULL,
    ALTER COLUMN stated_at DROP NOT NULL,
    ADD COLUMN closed_at      timestamptz,
    ADD COLUMN closure_reason text CHECK (closure_reason IN ('customer_request', 'relationship_ended')),
    -- the staff id (pseudonym, like a technician id) of who had it erased; never free text
    ADD COLUMN closed_by      text CHECK (closed_by ~ '^[a-z0-9][a-z0-9_-]{1,31}$'),
    ADD CONSTRAINT customer_accounts_open_or_erased CHECK (
        (closed_at IS NULL AND closure_reason IS NULL AND closed_by IS NULL
         AND personal_enc IS NOT NULL AND stated_at IS NOT NULL)
        OR
        (closed_at IS NOT NULL AND closure_reason IS NOT NULL
         AND personal_enc IS NULL AND stated_at IS NULL));

-- A closed account is final: no UPDATE brings data back or changes the closure, and no
-- account is ever deleted (its number must stay taken).
CREATE FUNCTION guard_customer_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'customer accounts are closed, never deleted (their numbers stay taken)'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.closed_at IS NOT NULL THEN
        RAISE EXCEPTION 'a closed customer account cannot be changed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.customer_number <> OLD.customer_number OR NEW.request_id <> OLD.request_id THEN
        RAISE EXCEPTION 'customer number and request of an account never change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER customer_accounts_guard BEFORE UPDATE OR DELETE ON customer_accounts
    FOR EACH ROW EXECUTE FUNCTION guard_customer_account();
