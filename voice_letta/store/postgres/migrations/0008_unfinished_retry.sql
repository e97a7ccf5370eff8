-- 0008: a key-less re-send of a turn that never completed is its retry even when other turns of the agent ran since
-- (the openai SDK's re-send of a cut request queued behind other requests to the same agent stored the user's words
-- again). When the latest turn is not the retry, the agent's latest other turn with the request's fingerprint is,
-- if it started within the retry window, never completed (agent/ports/store/turns.py never_completed) and its input
-- is still in context. vl_begin_turn (0007) is re-created with that one addition; SQLite does the same in
-- store/sqlite/turns.py.
CREATE OR REPLACE FUNCTION vl_begin_turn(
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
    v_earlier turns;
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
        SELECT * INTO v_latest FROM turns t WHERE t.agent_id = p_agent ORDER BY t.pos DESC LIMIT 1;
        IF FOUND THEN
            -- is_retry_of (agent/ports/store/turns.py)
            IF p_fingerprint IS NOT NULL AND v_latest.fingerprint = p_fingerprint AND (
                    CASE WHEN v_latest.status = 'completed' OR (v_latest.ended_at IS NOT NULL AND v_latest.error IS NULL)
                         THEN v_latest.ended_at IS NOT NULL AND p_now - v_latest.ended_at <= p_replay_s
                         ELSE p_now - v_latest.started_at <= p_retry_s END) THEN
                v_previous := row_to_json(v_latest)::text;
            ELSIF p_fingerprint IS NOT NULL THEN
                SELECT * INTO v_earlier FROM turns t WHERE t.agent_id = p_agent AND t.fingerprint = p_fingerprint
                    AND t.pos <> v_latest.pos AND t.started_at >= p_now - p_retry_s ORDER BY t.pos DESC LIMIT 1;
                -- never_completed (agent/ports/store/turns.py), input still in context
                IF FOUND AND NOT (v_earlier.status = 'completed'
                                  OR (v_earlier.ended_at IS NOT NULL AND v_earlier.error IS NULL))
                        AND EXISTS (SELECT 1 FROM messages m WHERE m.agent_id = p_agent AND m.turn_id = v_earlier.id
                                    AND m.role IN ('user', 'tool') AND m.in_context = 1) THEN
                    v_previous := row_to_json(v_earlier)::text;
                END IF;
            END IF;
            IF v_previous IS NULL AND p_supersede AND v_latest.status = 'abandoned'
                    AND p_now - v_latest.started_at <= p_supersede_s THEN
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
