-- 0022: Idempotency-Key for the memory write routes (messages import, archival inserts): a retried request is
-- answered with its first response and stores nothing twice (store contract: agent/ports/store/request_keys.py).
-- A key is per agent; it holds the route-and-body fingerprint, and the first response once the request finished
-- (status NULL while it runs, until lease_until: a claim whose process died is taken over after it).
CREATE TABLE request_keys (
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER,                 -- the first response's HTTP status; NULL while the request runs
    body         TEXT,                    -- the first response's JSON body
    created_at   REAL NOT NULL,           -- epoch seconds of the claim: the key expires 24 h after it
    lease_until  REAL NOT NULL,
    PRIMARY KEY (agent_id, key)
) WITHOUT ROWID;
CREATE INDEX request_keys_created ON request_keys(created_at);
-- An import that overlaps an earlier one skips the messages it already stored (same role, content and time):
-- found by time among the agent's imported messages only, so a turn's inserts (kind 'normal') never touch it.
CREATE INDEX messages_imported_at ON messages(agent_id, created_at) WHERE kind = 'imported';
