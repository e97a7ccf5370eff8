-- 0009: a passage can be superseded by a later one that replaces its facts (the user moved, changed jobs, got a new
-- date): the sleeptime agent marks it when it archives the update, a REST insert may name what it replaces.
-- Search puts the current passage first and reports the one it replaces ("previously: ...").
ALTER TABLE passages ADD COLUMN superseded_by TEXT;
ALTER TABLE passages ADD COLUMN superseded_at REAL;

-- Other processes reload an agent's index when one of its passages is marked (0008 named the trigger's columns).
DROP TRIGGER change_passage_update;
CREATE TRIGGER change_passage_update
AFTER UPDATE OF agent_id, text, synopsis, embedding, embedding_model, embedding_dim, start_at, end_at, superseded_by
ON passages
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        SELECT new.agent_id, 'passages', vl_origin(), (julianday('now') - 2440587.5) * 86400.0
        WHERE NOT EXISTS (SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
                          AND c.agent_id = new.agent_id AND c.kind = 'passages' AND c.origin = vl_origin());
END;
