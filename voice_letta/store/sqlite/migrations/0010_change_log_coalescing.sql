-- 0010: a 'passages' change_log row is skipped only for a row the *same statement* already logged (SQLite holds
-- julianday('now') constant within one statement; its resolution is 1 ms, so a later transaction in the same
-- millisecond is still folded in, a window no reader can practically fall into). Before, a row
-- was skipped whenever the newest row said the same, also in a later transaction: a process that had read that
-- row never heard of the later change (found from outside: two re-embeds in a row on one worker left another
-- process's index on the old vectors until something else was written).
DROP TRIGGER change_passage_delete;
CREATE TRIGGER change_passage_delete AFTER DELETE ON passages
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        SELECT old.agent_id, 'passages', vl_origin(), (julianday('now') - 2440587.5) * 86400.0
        WHERE NOT EXISTS (SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
                          AND c.agent_id = old.agent_id AND c.kind = 'passages' AND c.origin = vl_origin()
                          AND c.at = (julianday('now') - 2440587.5) * 86400.0);
END;

DROP TRIGGER change_passage_update;
CREATE TRIGGER change_passage_update
AFTER UPDATE OF agent_id, text, synopsis, embedding, embedding_model, embedding_dim, start_at, end_at, superseded_by
ON passages
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        SELECT new.agent_id, 'passages', vl_origin(), (julianday('now') - 2440587.5) * 86400.0
        WHERE NOT EXISTS (SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
                          AND c.agent_id = new.agent_id AND c.kind = 'passages' AND c.origin = vl_origin()
                          AND c.at = (julianday('now') - 2440587.5) * 86400.0);
END;
