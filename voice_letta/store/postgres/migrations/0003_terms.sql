-- 0003: as SQLite's 0008 — keyword terms stored with each passage and user/assistant message (computed at
-- insert; NULL rows are tokenized at load and written back), and writing them back logs no change.
ALTER TABLE passages ADD COLUMN terms BYTEA;
ALTER TABLE messages ADD COLUMN terms BYTEA;

DROP TRIGGER change_passage ON passages;
CREATE TRIGGER change_passage
AFTER INSERT OR DELETE OR UPDATE OF agent_id, text, synopsis, embedding, embedding_model, embedding_dim, start_at, end_at
ON passages FOR EACH ROW EXECUTE FUNCTION vl_change_passage();
