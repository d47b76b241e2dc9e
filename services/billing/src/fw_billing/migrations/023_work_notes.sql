-- The technician's "work done" note of a session: printed on the session's invoice line (PDF and
-- the e-invoice's line note, BT-127). Append-only: earlier files stay as they were.
--
-- Free text, so personal data: stored only as AES-256-GCM ciphertext under the archive key of
-- the year it was written (key_year), like the recipient copy; destroyed with that year's archive.
-- Written while the session runs and until its invoice is issued; frozen from then on (the
-- archived invoice carries it for the legal period). A session closed as not billed loses its
-- note at once (trigger below), whatever path set that status. Never in an event, log or header.
CREATE TABLE work_notes (
    session_id  uuid        PRIMARY KEY,
    key_year    integer     NOT NULL,
    note_enc    bytea       NOT NULL,
    -- the technician's id (pseudonym, like session's technician); never a name
    written_by  text        NOT NULL CHECK (written_by ~ '^[a-z0-9][a-z0-9_-]{1,31}$'),
    written_at  timestamptz NOT NULL
);

CREATE FUNCTION erase_work_note_of_unbilled_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM work_notes WHERE session_id = NEW.session_id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER session_billing_not_billed_erases_work_note
    AFTER INSERT OR UPDATE OF status ON session_billing
    FOR EACH ROW WHEN (NEW.status = 'not_billed')
    EXECUTE FUNCTION erase_work_note_of_unbilled_session();
