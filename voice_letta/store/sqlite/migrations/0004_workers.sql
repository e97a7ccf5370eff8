-- 0004: several server processes on one database (serve --workers N; several machines on PostgreSQL).

-- One turn at a time per agent across processes. A turn takes its agent's lease in the transaction that stores
-- its input (Store.begin_turn) and gives it back in the one that stores its reply (Store.end_turn). A busy
-- lease past expires_at is free again: its holder died (the holder renews its leases while it lives).
CREATE TABLE agent_leases (
    agent_id    TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    holder      TEXT NOT NULL,                      -- the worker holding (or last holding) it
    token       INTEGER NOT NULL,                   -- one more per acquisition: a stale holder cannot release it
    busy        INTEGER NOT NULL,
    expires_at  REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX agent_leases_holder ON agent_leases(holder) WHERE busy = 1;

-- Memory jobs run by one worker at a time: claimed_by renews lease_until while the job runs; a running job
-- whose lease ran out (its worker died) is claimed again. At most one running job per agent, enforced here.
ALTER TABLE memory_jobs ADD COLUMN claimed_by TEXT;
ALTER TABLE memory_jobs ADD COLUMN lease_until REAL;
CREATE UNIQUE INDEX memory_jobs_one_running ON memory_jobs(agent_id) WHERE status = 'running';

-- What changed, for the other workers: their cached agents, prompts and vector indexes, and their live sessions
-- (memory.updated). Rows are written in the transaction that makes the change; every worker reads the rows
-- after the last one it saw and skips its own. Old rows are deleted after a while.
CREATE TABLE change_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id  TEXT NOT NULL,
    kind      TEXT NOT NULL,                        -- 'agent' | 'passages' | 'memory_updated'
    origin    TEXT NOT NULL,                        -- the worker that made the change
    payload   TEXT NOT NULL DEFAULT '{}',           -- JSON
    at        REAL NOT NULL
);
