-- 0013: the in-context window of an agent through its own index. Every turn reads it (begin_turn's history) and
-- eviction updates it; through messages_agent_seq both walked every message the agent ever had (an index probe
-- plus a table lookup per row, to test in_context), so a turn's cost grew with the agent's age: 2.2 ms per read
-- at 8,000 messages (0.18 ms through this index). Evicted rows leave the index.
CREATE INDEX messages_in_context ON messages(agent_id, seq) WHERE in_context = 1;
