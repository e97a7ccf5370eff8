-- 0019: a second vector for passages the default embedder cannot read (xling, issue 11; providers/e5_embed.py):
-- cross_model names the model that judged the passage (NULL: not judged yet); cross_embedding is its float32
-- vector, NULL when the default embedder's vocabulary covers the passage (it gets no second vector).
ALTER TABLE passages ADD COLUMN cross_model TEXT;
ALTER TABLE passages ADD COLUMN cross_embedding BLOB;
