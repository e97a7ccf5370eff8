-- 0009: as SQLite's 0013 — the in-context window of an agent through its own partial index. vl_begin_turn's
-- history read and eviction walked every message of the agent through messages(agent_id, seq) to test in_context,
-- so a turn's cost grew with the agent's age.
CREATE INDEX messages_in_context ON messages(agent_id, seq) WHERE in_context = 1;
