-- 0008: keyword terms stored with each passage and each user/assistant message (the ids of its stemmed words,
-- agent/recall/text.py ``encode_terms``), computed once at insert so the per-agent in-memory index loads them as
-- arrays instead of tokenizing every row at load (100k passages: ~8 s). NULL (rows written before this
-- migration) is tokenized at load and written back.
ALTER TABLE passages ADD COLUMN terms BLOB;
ALTER TABLE messages ADD COLUMN terms BLOB;

-- Writing terms back is not a change other processes must reload for: the change-log trigger of 0005 now fires
-- only when a passage's content, vector or times change.
DROP TRIGGER change_passage_update;
CREATE TRIGGER change_passage_update
AFTER UPDATE OF agent_id, text, synopsis, embedding, embedding_model, embedding_dim, start_at, end_at ON passages
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        SELECT new.agent_id, 'passages', vl_origin(), (julianday('now') - 2440587.5) * 86400.0
        WHERE NOT EXISTS (SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
                          AND c.agent_id = new.agent_id AND c.kind = 'passages' AND c.origin = vl_origin());
END;
