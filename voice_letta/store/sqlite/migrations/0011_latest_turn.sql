-- 0011: the replay rule's "latest turn" is the one stored last (it took the agent's lease last), found by rowid
-- through this index. It was the latest started_at (when its request arrived): of two concurrent requests the
-- one that arrived first and ran second was not the latest, so its re-send (same messages, no key) after it was
-- cut stored the user's words twice (found from outside: serve --workers 2, a worker killed mid-stream).
CREATE INDEX turns_agent ON turns(agent_id);
