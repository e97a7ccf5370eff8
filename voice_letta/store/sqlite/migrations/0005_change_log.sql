-- 0005: every write that other server processes must hear about adds a change_log row (table: 0004), in the
-- writer's own transaction, whatever code path made it. vl_origin() is the writing process's worker id: the
-- store registers it on each of its connections (store/sqlite/db.py), so every process can skip its own rows.
-- kinds: 'agent' (settings, blocks, tools: cached agents and prompts go stale), 'passage_added' (payload: the
-- id; appended to vector indexes), 'passages' (deleted or changed: indexes reload), 'memory_updated' (written by
-- the server for live sessions, not by a trigger).

CREATE INDEX change_log_at ON change_log(at);

CREATE TRIGGER change_agent_update AFTER UPDATE ON agents
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        VALUES (new.id, 'agent', vl_origin(), (julianday('now') - 2440587.5) * 86400.0);
END;

CREATE TRIGGER change_agent_delete AFTER DELETE ON agents
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        VALUES (old.id, 'agent', vl_origin(), (julianday('now') - 2440587.5) * 86400.0);
END;

CREATE TRIGGER change_block_update AFTER UPDATE ON blocks
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        SELECT agent_id, 'agent', vl_origin(), (julianday('now') - 2440587.5) * 86400.0
        FROM agent_blocks WHERE block_id = new.id;
END;

CREATE TRIGGER change_agent_block_insert AFTER INSERT ON agent_blocks
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        VALUES (new.agent_id, 'agent', vl_origin(), (julianday('now') - 2440587.5) * 86400.0);
END;

CREATE TRIGGER change_agent_block_delete AFTER DELETE ON agent_blocks
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        VALUES (old.agent_id, 'agent', vl_origin(), (julianday('now') - 2440587.5) * 86400.0);
END;

CREATE TRIGGER change_agent_tool_insert AFTER INSERT ON agent_tools
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        VALUES (new.agent_id, 'agent', vl_origin(), (julianday('now') - 2440587.5) * 86400.0);
END;

CREATE TRIGGER change_agent_tool_delete AFTER DELETE ON agent_tools
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        VALUES (old.agent_id, 'agent', vl_origin(), (julianday('now') - 2440587.5) * 86400.0);
END;

CREATE TRIGGER change_passage_insert AFTER INSERT ON passages
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, payload, at)
        VALUES (new.agent_id, 'passage_added', vl_origin(), json_object('id', new.id),
                (julianday('now') - 2440587.5) * 86400.0);
END;

-- A statement that deletes or changes many passages (an agent deleted, a re-embedding batch) adds one row, not
-- one per passage: a row is skipped when the newest row already says the same.
CREATE TRIGGER change_passage_delete AFTER DELETE ON passages
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        SELECT old.agent_id, 'passages', vl_origin(), (julianday('now') - 2440587.5) * 86400.0
        WHERE NOT EXISTS (SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
                          AND c.agent_id = old.agent_id AND c.kind = 'passages' AND c.origin = vl_origin());
END;

CREATE TRIGGER change_passage_update AFTER UPDATE ON passages
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        SELECT new.agent_id, 'passages', vl_origin(), (julianday('now') - 2440587.5) * 86400.0
        WHERE NOT EXISTS (SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
                          AND c.agent_id = new.agent_id AND c.kind = 'passages' AND c.origin = vl_origin());
END;
