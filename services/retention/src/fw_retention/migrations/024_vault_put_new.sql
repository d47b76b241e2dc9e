-- The vault's put of a new request as one statement (one round trip instead of three: BEGIN with
-- the request's lock, the look-up, the insert with COMMIT). Called outside a transaction, so the
-- statement is its own transaction and holds the lock until it commits.
--
-- The request's advisory lock comes first, as in every vault use case and every erasure: a put
-- never slips in between an erasure's marker check and its commit. Each query below takes a fresh
-- snapshot (a VOLATILE function under READ COMMITTED), so it sees what the lock's previous holder
-- committed. Anything but a new request ('erased', 'exists') writes nothing: the caller then
-- decides after the lock as before (an identical retry is ok, other data is refused).
CREATE FUNCTION vault_put_new(lock_space integer, lock_key integer, p_request_id uuid, p_wrapped_key bytea,
                              p_kek_id text, p_stored_at timestamptz, p_nonce bytea, p_ciphertext bytea)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_space, lock_key);
    IF EXISTS (SELECT 1 FROM erasures WHERE request_id = p_request_id) THEN
        RETURN 'erased';
    END IF;
    IF EXISTS (SELECT 1 FROM vault_keys WHERE request_id = p_request_id) THEN
        RETURN 'exists';
    END IF;
    INSERT INTO vault_keys(request_id, wrapped_key, kek_id, created_at)
        VALUES (p_request_id, p_wrapped_key, p_kek_id, p_stored_at);
    INSERT INTO vault_entries(request_id, nonce, ciphertext, stored_at)
        VALUES (p_request_id, p_nonce, p_ciphertext, p_stored_at);
    RETURN 'stored';
END;
$$;
