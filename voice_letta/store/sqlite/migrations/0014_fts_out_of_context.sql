-- 0014: the message full-text index holds only messages out of the context window, the ones a search can return
-- (what is in context the model already sees). A message enters it when it is evicted (or stored out of context: an
-- import), not at every insert: each turn's two messages no longer write the FTS5 structures (~12 of 35 WAL frames
-- per turn, ~0.15 ms of the store's CPU), and eviction indexes its rows in one statement.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;

-- the rows still in context leave the index (an external-content 'delete' needs the indexed text)
INSERT INTO messages_fts(messages_fts, rowid, content)
    SELECT 'delete', rowid, content FROM messages
    WHERE in_context = 1 AND role IN ('user', 'assistant') AND coalesce(content, '') != '';

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.in_context = 0 AND new.role IN ('user', 'assistant') AND coalesce(new.content, '') != ''
BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.in_context = 0 AND old.role IN ('user', 'assistant') AND coalesce(old.content, '') != ''
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;

-- One trigger for every change of what decides a row's entry (text, role, in or out of context): the old entry, if
-- the row had one, is removed before the new one, if it has one, is added.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, role, in_context ON messages
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.rowid, old.content
        WHERE old.in_context = 0 AND old.role IN ('user', 'assistant') AND coalesce(old.content, '') != '';
    INSERT INTO messages_fts(rowid, content)
        SELECT new.rowid, new.content
        WHERE new.in_context = 0 AND new.role IN ('user', 'assistant') AND coalesce(new.content, '') != '';
END;
