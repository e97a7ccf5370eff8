-- 0005 (PostgreSQL only): begin_turn and end_turn as one round trip each — server-side functions doing what
-- store/postgres/messages.py did statement by statement (BEGIN, lease, turn lookup, turn record, seq reserve,
-- input rows, history, COMMIT: 8 round trips; end: 6). The rules are those of TurnStore.begin_turn
-- (agent/ports/store/turns.py, is_retry_of included); the store contract tests run them on both backends.
-- Rows come in as JSON (messages: MESSAGE_INSERT_COLUMNS of store/rows.py, terms as '\x…' hex; turns:
-- TURN_COLUMNS); a test checks these column lists against rows.py.
-- The change log's NOTIFY now carries the writing process's origin, so a process ignores its own changes.

CREATE OR REPLACE FUNCTION vl_notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('voice_letta_changes', vl_origin());
    RETURN NULL;
END $$;

-- Reserve n message seqs of the agent and insert the JSON rows with them, in order; returns the last seq.
CREATE FUNCTION vl_append_rows(p_agent TEXT, p_rows JSON) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT := json_array_length(p_rows);
    last BIGINT;
BEGIN
    INSERT INTO message_seq (agent_id, last_seq) VALUES (p_agent, n) ON CONFLICT (agent_id)
        DO UPDATE SET last_seq = message_seq.last_seq + n RETURNING last_seq INTO last;
    INSERT INTO messages (id, agent_id, role, content, tool_calls, tool_call_id, name, turn_id, created_at,
                          interrupted, in_context, kind, parts, terms, seq)
        SELECT r.id, r.agent_id, r.role, r.content, r.tool_calls, r.tool_call_id, r.name, r.turn_id, r.created_at,
               r.interrupted, r.in_context, r.kind, r.parts, r.terms, last - n + o.ord
        FROM json_array_elements(p_rows) WITH ORDINALITY AS o(elem, ord),
             LATERAL json_populate_record(NULL::messages, o.elem) AS r
        ORDER BY o.ord;
    RETURN last;
END $$;

CREATE FUNCTION vl_save_turn(p_turn JSON) RETURNS VOID LANGUAGE sql AS $$
    INSERT INTO turns (id, agent_id, fingerprint, stop_reason, usage, timings, steps, error, started_at, ended_at,
                       status, idempotency_key, provider, model, fallback_used, first_token_ms)
    SELECT id, agent_id, fingerprint, stop_reason, usage, timings, steps, error, started_at, ended_at,
           status, idempotency_key, provider, model, fallback_used, first_token_ms
    FROM json_populate_record(NULL::turns, p_turn)
    ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, fingerprint = excluded.fingerprint,
        stop_reason = excluded.stop_reason, usage = excluded.usage, timings = excluded.timings,
        steps = excluded.steps, error = excluded.error, started_at = excluded.started_at,
        ended_at = excluded.ended_at, status = excluded.status, idempotency_key = excluded.idempotency_key,
        provider = excluded.provider, model = excluded.model, fallback_used = excluded.fallback_used,
        first_token_ms = excluded.first_token_ms
$$;

-- TurnStore.begin_turn. No row: another holder's lease is busy and not expired (nothing written). Otherwise
-- the in-context history (message columns as MESSAGE_COLUMNS), each row also carrying the lease token, the
-- retried turn as JSON (previous, or NULL) and the last seq given to the input rows (NULL when none were
-- stored); with no history, one row whose message columns are NULL.
CREATE FUNCTION vl_begin_turn(
    p_agent TEXT, p_holder TEXT, p_now DOUBLE PRECISION, p_lease_s DOUBLE PRECISION, p_key TEXT,
    p_key_ttl_s DOUBLE PRECISION, p_fingerprint TEXT, p_replay_s DOUBLE PRECISION, p_retry_s DOUBLE PRECISION,
    p_supersede BOOLEAN, p_supersede_s DOUBLE PRECISION, p_turn JSON, p_rows JSON)
RETURNS TABLE (id TEXT, agent_id TEXT, seq BIGINT, role TEXT, content TEXT, tool_calls TEXT, tool_call_id TEXT,
               name TEXT, turn_id TEXT, created_at DOUBLE PRECISION, interrupted INTEGER, in_context INTEGER,
               kind TEXT, parts TEXT, lease BIGINT, previous TEXT, last_seq BIGINT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_token BIGINT;
    v_latest turns;
    v_previous TEXT;
    v_last BIGINT;
BEGIN
    INSERT INTO agent_leases AS l (agent_id, holder, token, busy, expires_at)
        VALUES (p_agent, p_holder, 1, 1, p_now + p_lease_s)
        ON CONFLICT ON CONSTRAINT agent_leases_pkey DO UPDATE
        SET holder = p_holder, token = l.token + 1, busy = 1, expires_at = p_now + p_lease_s
        WHERE l.busy = 0 OR l.expires_at < p_now
        RETURNING l.token INTO v_token;
    IF v_token IS NULL THEN
        RETURN;
    END IF;
    IF p_key IS NOT NULL THEN
        SELECT * INTO v_latest FROM turns t WHERE t.agent_id = p_agent AND t.idempotency_key = p_key
            AND t.started_at >= p_now - p_key_ttl_s ORDER BY t.started_at DESC LIMIT 1;
        IF FOUND THEN
            v_previous := row_to_json(v_latest)::text;
        END IF;
    ELSE
        SELECT * INTO v_latest FROM turns t WHERE t.agent_id = p_agent ORDER BY t.started_at DESC, t.pos DESC
            LIMIT 1;
        IF FOUND THEN
            -- is_retry_of (agent/ports/store/turns.py)
            IF p_fingerprint IS NOT NULL AND v_latest.fingerprint = p_fingerprint AND (
                    CASE WHEN v_latest.status = 'completed' OR (v_latest.ended_at IS NOT NULL AND v_latest.error IS NULL)
                         THEN v_latest.ended_at IS NOT NULL AND p_now - v_latest.ended_at <= p_replay_s
                         ELSE p_now - v_latest.started_at <= p_retry_s END) THEN
                v_previous := row_to_json(v_latest)::text;
            ELSIF p_supersede AND v_latest.status = 'abandoned' AND p_now - v_latest.started_at <= p_supersede_s THEN
                DELETE FROM messages m WHERE m.agent_id = p_agent AND m.turn_id = v_latest.id
                    AND m.role IN ('user', 'tool');
            END IF;
        END IF;
    END IF;
    IF v_previous IS NULL THEN
        PERFORM vl_save_turn(p_turn);
        IF json_array_length(p_rows) > 0 THEN
            v_last := vl_append_rows(p_agent, p_rows);
        END IF;
    END IF;
    RETURN QUERY
        SELECT m.id, m.agent_id, m.seq, m.role, m.content, m.tool_calls, m.tool_call_id, m.name, m.turn_id,
               m.created_at, m.interrupted, m.in_context, m.kind, m.parts, v_token, v_previous, v_last
        FROM messages m WHERE m.agent_id = p_agent AND m.in_context = 1 ORDER BY m.seq;
    IF NOT FOUND THEN
        RETURN QUERY SELECT NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::TEXT, NULL::TEXT, NULL::DOUBLE PRECISION, NULL::INTEGER, NULL::INTEGER, NULL::TEXT, NULL::TEXT,
            v_token, v_previous, v_last;
    END IF;
END $$;

-- TurnStore.end_turn: append the reply rows, save the turn record (when given), give the lease back. Returns
-- the last seq given to the rows (NULL when none).
CREATE FUNCTION vl_end_turn(p_agent TEXT, p_holder TEXT, p_lease BIGINT, p_turn JSON, p_rows JSON)
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    v_last BIGINT;
BEGIN
    IF json_array_length(p_rows) > 0 THEN
        v_last := vl_append_rows(p_agent, p_rows);
    END IF;
    IF p_turn IS NOT NULL THEN
        PERFORM vl_save_turn(p_turn);
    END IF;
    UPDATE agent_leases SET busy = 0
        WHERE agent_leases.agent_id = p_agent AND holder = p_holder AND token = p_lease AND busy = 1;
    RETURN v_last;
END $$;
