-- 0020: turns.status checked by equalities instead of IN. SQLite codes a CHECK's `x IN (more than two constants)`
-- as an ephemeral b-tree of the constants, built anew by every statement that checks it: the INSERT of each turn's
-- begin and the UPDATE of its end, ~37 k instructions each (a sqlite3-only microbench under callgrind, 2,000 UPDATEs:
-- 282 M with IN, 208 M with the equalities, 207 M with no CHECK). The same rule, compared in place.
-- SQLite cannot change a constraint in place: the table is rebuilt (its rows copied, rowids kept) with its indexes.
-- Nothing references turns (no foreign key, trigger or view), so the copy runs with foreign keys on.
CREATE TABLE turns_rebuilt (
    id           TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    fingerprint  TEXT,
    stop_reason  TEXT,
    usage        TEXT NOT NULL,                     -- Usage JSON
    timings      TEXT NOT NULL,                     -- dict[str, float] JSON (timings_ms)
    steps        INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    started_at   REAL NOT NULL,
    ended_at     REAL,
    status       TEXT NOT NULL DEFAULT 'completed'
        CHECK (status = 'running' OR status = 'completed' OR status = 'failed' OR status = 'cancelled'
               OR status = 'abandoned' OR status = 'incomplete'),
    idempotency_key TEXT,
    provider     TEXT,
    model        TEXT,
    fallback_used INTEGER NOT NULL DEFAULT 0,
    first_token_ms REAL
);
INSERT INTO turns_rebuilt (rowid, id, agent_id, fingerprint, stop_reason, usage, timings, steps, error, started_at,
                           ended_at, status, idempotency_key, provider, model, fallback_used, first_token_ms)
    SELECT rowid, id, agent_id, fingerprint, stop_reason, usage, timings, steps, error, started_at,
           ended_at, status, idempotency_key, provider, model, fallback_used, first_token_ms FROM turns;
DROP TABLE turns;
ALTER TABLE turns_rebuilt RENAME TO turns;
CREATE INDEX turns_agent_fingerprint ON turns(agent_id, fingerprint);
CREATE INDEX turns_agent_started ON turns(agent_id, started_at);
CREATE INDEX turns_agent_key ON turns(agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX turns_running ON turns(status) WHERE status = 'running';
CREATE INDEX turns_agent ON turns(agent_id);
