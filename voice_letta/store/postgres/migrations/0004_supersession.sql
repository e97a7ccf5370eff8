-- 0004: as SQLite's 0009 — passages.superseded_by / superseded_at, and marking one logs a change.
ALTER TABLE passages ADD COLUMN superseded_by TEXT;
ALTER TABLE passages ADD COLUMN superseded_at DOUBLE PRECISION;

DROP TRIGGER change_passage ON passages;
CREATE TRIGGER change_passage
AFTER INSERT OR DELETE
OR UPDATE OF agent_id, text, synopsis, embedding, embedding_model, embedding_dim, start_at, end_at, superseded_by
ON passages FOR EACH ROW EXECUTE FUNCTION vl_change_passage();
