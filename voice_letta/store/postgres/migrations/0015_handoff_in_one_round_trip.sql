-- 0015: the sleeptime hand-off (enqueue_memory_job) and an eviction (evict_messages) in one round trip each. The
-- hand-off was BEGIN, the agent's advisory lock, the watermark, the eviction, the insert and COMMIT: 5-6 round trips
-- on every hand-off. Both now also return the agent's count of window changes (0014) after their eviction, so a
-- process that knows the agent's window keeps knowing it (KnownWindows.advance) and the next turn does not read it back.

CREATE FUNCTION vl_evict(p_agent TEXT, p_through BIGINT)
RETURNS TABLE (evicted BIGINT, messages_version BIGINT) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_evicted BIGINT;
BEGIN
    UPDATE messages m SET in_context = 0 WHERE m.agent_id = p_agent AND m.seq <= p_through AND m.in_context = 1;
    GET DIAGNOSTICS v_evicted = ROW_COUNT;
    -- the statement's trigger counted the rows in message_seq, whose row this transaction now holds locked: the
    -- count read here is the one right after this eviction
    RETURN QUERY SELECT v_evicted, CASE WHEN v_evicted > 0 THEN
        (SELECT s.messages_version FROM message_seq s WHERE s.agent_id = p_agent) END;
END $$;

-- The hand-off: no row when another job of the agent already handed over p_older_from (the caller's ConflictError;
-- nothing written), else the job, how many rows its eviction took out of the context and the count after it.
CREATE FUNCTION vl_enqueue_memory_job(p_agent TEXT, p_kind TEXT, p_payload TEXT, p_through BIGINT,
                                      p_older_from BIGINT, p_evict BIGINT, p_now DOUBLE PRECISION)
RETURNS TABLE (id BIGINT, agent_id TEXT, kind TEXT, payload TEXT, through_seq BIGINT, status TEXT, attempts INTEGER,
               run_after DOUBLE PRECISION, created_at DOUBLE PRECISION, updated_at DOUBLE PRECISION, error TEXT,
               crashes INTEGER, evicted BIGINT, messages_version BIGINT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_evicted BIGINT := 0;
    v_version BIGINT;
    v_id BIGINT;
BEGIN
    -- the watermark check and the insert must not interleave with another process's hand-off of the agent
    PERFORM pg_advisory_xact_lock(hashtext('memory_jobs:' || p_agent));
    IF (SELECT coalesce(max(j.through_seq), 0) FROM memory_jobs j WHERE j.agent_id = p_agent) >= p_older_from THEN
        RETURN;
    END IF;
    IF p_evict IS NOT NULL THEN
        SELECT e.evicted, e.messages_version INTO v_evicted, v_version FROM vl_evict(p_agent, p_evict) e;
    END IF;
    INSERT INTO memory_jobs (agent_id, kind, payload, through_seq, status, attempts, run_after, created_at, updated_at)
        VALUES (p_agent, p_kind, p_payload, p_through, 'pending', 0, p_now, p_now, p_now) RETURNING memory_jobs.id
        INTO v_id;
    RETURN QUERY SELECT j.id, j.agent_id, j.kind, j.payload, j.through_seq, j.status, j.attempts, j.run_after,
                        j.created_at, j.updated_at, j.error, j.crashes, v_evicted, v_version
        FROM memory_jobs j WHERE j.id = v_id;
END $$;
