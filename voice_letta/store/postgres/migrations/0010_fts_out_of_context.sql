-- 0010: as SQLite's 0014 — only messages out of the context window are searchable, so only they get a tsvector and
-- count in the agent's term statistics (fts_terms, fts_docs): a message gets them when it is evicted (or is stored
-- out of context: an import), not at every insert (to_tsvector plus one fts_terms upsert per term, per message).
CREATE OR REPLACE FUNCTION vl_message_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.in_context = 0 AND NEW.role IN ('user', 'assistant') AND coalesce(NEW.content, '') <> '' THEN
        NEW.tsv := to_tsvector('english', NEW.content);
        NEW.doc_len := vl_doc_len(NEW.tsv);
    ELSE
        NEW.tsv := NULL;
        NEW.doc_len := 0;
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER messages_tsv ON messages;
CREATE TRIGGER messages_tsv BEFORE INSERT OR UPDATE OF content, role, in_context ON messages
    FOR EACH ROW EXECUTE FUNCTION vl_message_tsv();
DROP TRIGGER messages_fts_stats ON messages;
CREATE TRIGGER messages_fts_stats AFTER INSERT OR DELETE OR UPDATE OF content, role, in_context ON messages
    FOR EACH ROW EXECUTE FUNCTION vl_fts_stats('m');

-- rows still in context lose their tsvector and leave the statistics (both triggers fire on the column in SET)
UPDATE messages SET in_context = in_context WHERE in_context = 1 AND tsv IS NOT NULL;
