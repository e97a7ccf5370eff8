-- 0014: as SQLite's 0018 — a count of the changes to each agent's in-context messages, so a turn's begin need not
-- read back (and the server decode) a window the process already knows. It lives in the agent's message_seq row,
-- not in its lease row as on SQLite: every append locks message_seq first already, and an update or delete of a
-- message locks that row after the message rows, so counting there adds no new lock order (on the lease row, an
-- append racing a turn's begin, which locks the lease row and then message_seq, would deadlock).
ALTER TABLE message_seq ADD COLUMN messages_version BIGINT NOT NULL DEFAULT 0;

-- One count per statement, by the rows that are, or were, in the context (transition tables).
CREATE FUNCTION vl_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE message_seq s SET messages_version = s.messages_version + c.n
        FROM (SELECT agent_id, count(*) AS n FROM vl_new WHERE in_context = 1 GROUP BY agent_id) c
        WHERE s.agent_id = c.agent_id;
    RETURN NULL;
END $$;

CREATE FUNCTION vl_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE message_seq s SET messages_version = s.messages_version + c.n
        FROM (SELECT o.agent_id, count(*) AS n FROM vl_old o JOIN vl_new n ON n.id = o.id
              WHERE o.in_context = 1 OR n.in_context = 1 GROUP BY o.agent_id) c
        WHERE s.agent_id = c.agent_id;
    RETURN NULL;
END $$;

CREATE FUNCTION vl_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE message_seq s SET messages_version = s.messages_version + c.n
        FROM (SELECT agent_id, count(*) AS n FROM vl_old WHERE in_context = 1 GROUP BY agent_id) c
        WHERE s.agent_id = c.agent_id;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_version_insert AFTER INSERT ON messages REFERENCING NEW TABLE AS vl_new
    FOR EACH STATEMENT EXECUTE FUNCTION vl_count_inserted();
CREATE TRIGGER messages_version_update AFTER UPDATE ON messages REFERENCING OLD TABLE AS vl_old NEW TABLE AS vl_new
    FOR EACH STATEMENT EXECUTE FUNCTION vl_count_updated();
CREATE TRIGGER messages_version_delete AFTER DELETE ON messages REFERENCING OLD TABLE AS vl_old
    FOR EACH STATEMENT EXECUTE FUNCTION vl_count_deleted();

-- vl_begin_turn (0008) with p_known, the count at which the caller knows the agent's window: when the count was
-- p_known as the turn began and grew by this turn's input rows alone, no message row comes back (one row with NULL
-- message columns and window_known), else the window as before. Every row carries the count that goes with it.
-- The 13-argument version stays for processes of the previous release during an upgrade.
CREATE FUNCTION vl_begin_turn(
    p_agent TEXT, p_holder TEXT, p_now DOUBLE PRECISION, p_lease_s DOUBLE PRECISION, p_key TEXT,
    p_key_ttl_s DOUBLE PRECISION, p_fingerprint TEXT, p_replay_s DOUBLE PRECISION, p_retry_s DOUBLE PRECISION,
    p_supersede BOOLEAN, p_supersede_s DOUBLE PRECISION, p_turn JSON, p_rows JSON, p_known BIGINT)
RETURNS TABLE (id TEXT, agent_id TEXT, seq BIGINT, role TEXT, content TEXT, tool_calls TEXT, tool_call_id TEXT,
               name TEXT, turn_id TEXT, created_at DOUBLE PRECISION, interrupted INTEGER, in_context INTEGER,
               kind TEXT, parts TEXT, lease BIGINT, previous TEXT, last_seq BIGINT, messages_version BIGINT,
               window_known BOOLEAN)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_token BIGINT;
    v_latest turns;
    v_earlier turns;
    v_previous TEXT;
    v_last BIGINT;
    v_start BIGINT;
    v_now BIGINT;
    v_dropped BOOLEAN := FALSE;
    v_joined BIGINT := 0;
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
    SELECT s.messages_version INTO v_start FROM message_seq s WHERE s.agent_id = p_agent;
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
                v_dropped := FOUND;
            END IF;
        END IF;
    END IF;
    IF v_previous IS NULL THEN
        PERFORM vl_save_turn(p_turn);
        IF json_array_length(p_rows) > 0 THEN
            v_last := vl_append_rows(p_agent, p_rows);
            SELECT count(*) INTO v_joined FROM json_array_elements(p_rows) e WHERE (e->>'in_context')::int = 1;
        END IF;
    END IF;
    -- The count now, read once: after this turn's own appends it cannot move before the commit (this transaction
    -- holds the message_seq row); without them, the window is known only at the count read here, which is returned.
    SELECT s.messages_version INTO v_now FROM message_seq s WHERE s.agent_id = p_agent;
    IF p_known IS NOT NULL AND v_start = p_known AND NOT v_dropped AND v_now = v_start + v_joined THEN
        RETURN QUERY SELECT NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::TEXT, NULL::TEXT, NULL::DOUBLE PRECISION, NULL::INTEGER, NULL::INTEGER, NULL::TEXT, NULL::TEXT,
            v_token, v_previous, v_last, v_now, TRUE;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT m.id, m.agent_id, m.seq, m.role, m.content, m.tool_calls, m.tool_call_id, m.name, m.turn_id,
               m.created_at, m.interrupted, m.in_context, m.kind, m.parts, v_token, v_previous, v_last,
               c.messages_version, FALSE
        FROM (SELECT (SELECT s.messages_version FROM message_seq s WHERE s.agent_id = p_agent) AS messages_version) c
        LEFT JOIN messages m ON m.agent_id = p_agent AND m.in_context = 1
        ORDER BY m.seq;
END $$;

-- vl_end_turn (0005) that also returns the count after this turn's rows, so the caller can tell whether the window
-- it began with plus its reply is the window now.
CREATE FUNCTION vl_end_turn_counted(p_agent TEXT, p_holder TEXT, p_lease BIGINT, p_turn JSON, p_rows JSON)
RETURNS TABLE (last_seq BIGINT, messages_version BIGINT) LANGUAGE plpgsql AS $$
#variable_conflict use_column
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
    IF NOT FOUND THEN  -- the lease was lost: what this turn began with says nothing of the window now
        RETURN QUERY SELECT v_last, NULL::BIGINT;
        RETURN;
    END IF;
    RETURN QUERY SELECT v_last, (SELECT s.messages_version FROM message_seq s WHERE s.agent_id = p_agent);
END $$;
