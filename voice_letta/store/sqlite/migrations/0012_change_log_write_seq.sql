-- 0012: a 'passages' change_log row is skipped only for a row the *same write transaction* of this process already
-- logged, as on PostgreSQL (0006 there: the row's xmin). 0010 told writes apart by julianday('now'), whose
-- resolution is 1 ms: a later transaction of the same process in the same millisecond was folded into the earlier
-- row, and another process that had read that row in between never heard of the later change (the store test
-- that deletes right after another process read the log failed 2 runs in 3). vl_write() is this process's count
-- of write-gate acquisitions (store/sqlite/base.py WriteGate): every write transaction and autocommitted write
-- takes the gate once, so (origin, write_seq) names one transaction.
ALTER TABLE change_log ADD COLUMN write_seq INTEGER;

DROP TRIGGER change_passage_delete;
CREATE TRIGGER change_passage_delete AFTER DELETE ON passages
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at, write_seq)
        SELECT old.agent_id, 'passages', vl_origin(), (julianday('now') - 2440587.5) * 86400.0, vl_write()
        WHERE NOT EXISTS (SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
                          AND c.agent_id = old.agent_id AND c.kind = 'passages' AND c.origin = vl_origin()
                          AND c.write_seq = vl_write());
END;

DROP TRIGGER change_passage_update;
CREATE TRIGGER change_passage_update
AFTER UPDATE OF agent_id, text, synopsis, embedding, embedding_model, embedding_dim, start_at, end_at, superseded_by
ON passages
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at, write_seq)
        SELECT new.agent_id, 'passages', vl_origin(), (julianday('now') - 2440587.5) * 86400.0, vl_write()
        WHERE NOT EXISTS (SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
                          AND c.agent_id = new.agent_id AND c.kind = 'passages' AND c.origin = vl_origin()
                          AND c.write_seq = vl_write());
END;
