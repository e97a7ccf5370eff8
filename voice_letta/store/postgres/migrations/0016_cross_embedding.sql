-- 0016: as SQLite's 0019 — a second vector (cross_embedding, cross_model) for passages the default embedder
-- cannot read.
ALTER TABLE passages ADD COLUMN cross_model TEXT;
ALTER TABLE passages ADD COLUMN cross_embedding bytea;
