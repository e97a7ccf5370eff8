-- 0002: the durable hand-off queue of the sleeptime agent, and idempotent passage inserts per job.

-- One row per hand-off (evicted lines, or a finished session) from a voice agent to its sleeptime agent.
-- status moves pending -> running -> done | failed; a failed attempt goes back to pending with a later
-- run_after until attempts reach the limit. Rows left 'running' by a dead process are re-queued at start.
CREATE TABLE memory_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,                     -- 'eviction' | 'session_end'
    payload      TEXT NOT NULL,                     -- HandoffRange JSON (message seq ranges)
    through_seq  INTEGER NOT NULL,                  -- newest message seq handed over (the watermark)
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_after    REAL NOT NULL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    error        TEXT
);
CREATE INDEX memory_jobs_claim ON memory_jobs(status, run_after, id);
CREATE INDEX memory_jobs_agent ON memory_jobs(agent_id, through_seq);

-- Passages written by a job carry its id and a chunk key, so a re-run of the job inserts nothing twice.
ALTER TABLE passages ADD COLUMN job_id INTEGER;
ALTER TABLE passages ADD COLUMN chunk_key TEXT;
CREATE UNIQUE INDEX passages_job_chunk ON passages(job_id, chunk_key);
