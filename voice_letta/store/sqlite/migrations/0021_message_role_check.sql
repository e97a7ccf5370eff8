-- 0021: messages.role checked by equalities instead of IN, as 0020 did for turns.status: SQLite codes a CHECK's
-- `x IN (more than two constants)` as an ephemeral b-tree of the constants, built anew by every INSERT (each turn
-- writes two messages, more with tool calls). The same rule, compared in place.
-- SQLite cannot change a constraint in place: the table is rebuilt with its rowids, so the external-content
-- full-text index (messages_fts, keyed by rowid) stays exact, then its indexes and triggers (as 0014 and 0018 left
-- them) are made again. Nothing references messages (no foreign key or view), so the copy runs with foreign keys on.
CREATE TABLE messages_rebuilt (
    rowid         INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    agent_id      TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    role          TEXT NOT NULL
        CHECK (role = 'system' OR role = 'user' OR role = 'assistant' OR role = 'tool'),
    content       TEXT,
    tool_calls    TEXT,                             -- list[ToolCall] JSON or NULL
    tool_call_id  TEXT,
    name          TEXT,
    turn_id       TEXT,
    created_at    REAL NOT NULL,                    -- epoch seconds
    interrupted   INTEGER NOT NULL DEFAULT 0,
    in_context    INTEGER NOT NULL DEFAULT 1,
    kind          TEXT NOT NULL DEFAULT 'normal',
    parts         TEXT,
    terms         BLOB
);
INSERT INTO messages_rebuilt (rowid, id, agent_id, seq, role, content, tool_calls, tool_call_id, name, turn_id,
                              created_at, interrupted, in_context, kind, parts, terms)
    SELECT rowid, id, agent_id, seq, role, content, tool_calls, tool_call_id, name, turn_id,
           created_at, interrupted, in_context, kind, parts, terms FROM messages;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;
CREATE UNIQUE INDEX messages_agent_seq ON messages(agent_id, seq);
CREATE INDEX messages_in_context ON messages(agent_id, seq) WHERE in_context = 1;

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

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, role, in_context ON messages
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.rowid, old.content
        WHERE old.in_context = 0 AND old.role IN ('user', 'assistant') AND coalesce(old.content, '') != '';
    INSERT INTO messages_fts(rowid, content)
        SELECT new.rowid, new.content
        WHERE new.in_context = 0 AND new.role IN ('user', 'assistant') AND coalesce(new.content, '') != '';
END;

CREATE TRIGGER messages_version_insert AFTER INSERT ON messages WHEN NEW.in_context = 1
BEGIN
    UPDATE agent_leases SET messages_version = messages_version + 1 WHERE agent_id = NEW.agent_id;
END;

CREATE TRIGGER messages_version_update AFTER UPDATE ON messages WHEN OLD.in_context = 1 OR NEW.in_context = 1
BEGIN
    UPDATE agent_leases SET messages_version = messages_version + 1 WHERE agent_id = NEW.agent_id;
END;

CREATE TRIGGER messages_version_delete AFTER DELETE ON messages WHEN OLD.in_context = 1
BEGIN
    UPDATE agent_leases SET messages_version = messages_version + 1 WHERE agent_id = OLD.agent_id;
END;
