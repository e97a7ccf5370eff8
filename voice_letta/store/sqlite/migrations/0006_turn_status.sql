-- 0006: what happened to each turn, who answered it, and idempotency keys (ops, issue 15 / 13).

-- status: running (written with the input by begin_turn) -> completed | failed | cancelled (cut after some output)
-- | abandoned (cut before any output; its input is removed when the next HTTP turn replaces it)
-- | incomplete (its process died: marked at the next start, once the agent's lease has expired).
ALTER TABLE turns ADD COLUMN status TEXT NOT NULL DEFAULT 'completed'
    CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'abandoned', 'incomplete'));
ALTER TABLE turns ADD COLUMN idempotency_key TEXT;     -- the HTTP Idempotency-Key header, when sent
ALTER TABLE turns ADD COLUMN provider TEXT;            -- who answered (the last model call of the turn)
ALTER TABLE turns ADD COLUMN model TEXT;
ALTER TABLE turns ADD COLUMN fallback_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE turns ADD COLUMN first_token_ms REAL;      -- that call's time to first token, from its request

UPDATE turns SET status = CASE
    WHEN ended_at IS NULL THEN 'incomplete'
    WHEN error IS NULL THEN 'completed'
    WHEN error = 'cancelled' THEN 'cancelled'
    ELSE 'failed' END;

CREATE INDEX turns_agent_started ON turns(agent_id, started_at);
CREATE INDEX turns_agent_key ON turns(agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX turns_running ON turns(status) WHERE status = 'running';

-- Image parts of a user message (JSON list of {"type": "image", "url", "detail"}); NULL when there are none.
ALTER TABLE messages ADD COLUMN parts TEXT;

-- Runs of a memory job cut short by a crash or a shutdown (its lease ran out, or it was handed back): they do not
-- count against the job's retry attempts (attempts - crashes = real failures).
ALTER TABLE memory_jobs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
