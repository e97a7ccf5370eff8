-- 0017: as SQLite's 0022 — Idempotency-Key records of the memory write routes, and the index that finds an
-- agent's imported messages by time (an import overlapping an earlier one stores the overlap once).
CREATE TABLE request_keys (
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER,
    body         TEXT,
    created_at   DOUBLE PRECISION NOT NULL,
    lease_until  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (agent_id, key)
);
CREATE INDEX request_keys_created ON request_keys(created_at);
CREATE INDEX messages_imported_at ON messages(agent_id, created_at) WHERE kind = 'imported';
