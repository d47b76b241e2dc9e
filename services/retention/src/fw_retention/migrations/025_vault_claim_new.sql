-- A request's first outcome claim as one statement (one round trip instead of three: BEGIN with
-- the request's lock, the look-up, the claim and its access-log row with COMMIT). Called outside
-- a transaction, so the statement is its own transaction and holds the lock until it commits.
--
-- As vault_put_new (migration 024): the request's advisory lock first, then each query with a
-- fresh snapshot. Only the usual case is done here: an entry, no marker, no outcome yet — the
-- claim and the access-log row ('ok') are written, 'stored' returned. Anything else ('other')
-- writes nothing: the caller decides after the lock as before (erased, not found, the same claim
-- again, the other outcome first), with its own access-log row.
CREATE FUNCTION vault_claim_new(lock_space integer, lock_key integer, p_request_id uuid, p_outcome text,
                                p_at timestamptz, p_purpose text, p_caller text)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_space, lock_key);
    IF EXISTS (SELECT 1 FROM erasures WHERE request_id = p_request_id) THEN
        RETURN 'other';
    END IF;
    UPDATE vault_entries SET claimed_outcome = p_outcome, claimed_at = p_at
        WHERE request_id = p_request_id AND claimed_outcome IS NULL;
    IF NOT FOUND THEN
        RETURN 'other';
    END IF;
    INSERT INTO vault_access_log(request_id, purpose, outcome, at, caller)
        VALUES (p_request_id, p_purpose, 'ok', p_at, p_caller);
    RETURN 'stored';
END;
$$;
