-- 0001: initial schema of the voice-letta store.
-- Applied by voice_letta.store.db inside one transaction; recorded in schema_version.

CREATE TABLE agents (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL,
    system                  TEXT NOT NULL,
    llm                     TEXT NOT NULL,          -- LLMConfig JSON
    sleeptime_llm           TEXT,                   -- LLMConfig JSON or NULL
    embedding               TEXT NOT NULL,          -- EmbeddingConfig JSON
    buffer                  TEXT NOT NULL,          -- BufferConfig JSON
    client_system_prompt    TEXT NOT NULL,
    max_tool_rounds         INTEGER NOT NULL,
    turn_budget_s           REAL NOT NULL,
    memory_target_label     TEXT NOT NULL,
    handoff_on_session_end  INTEGER NOT NULL,
    created_at              REAL NOT NULL
);

CREATE TABLE blocks (
    id           TEXT PRIMARY KEY,
    label        TEXT NOT NULL,
    value        TEXT NOT NULL,
    char_limit   INTEGER NOT NULL CHECK (char_limit > 0),
    description  TEXT NOT NULL DEFAULT '',
    read_only    INTEGER NOT NULL DEFAULT 0,
    version      INTEGER NOT NULL DEFAULT 1
);

-- Blocks shared between agents; position keeps the agent's label order.
CREATE TABLE agent_blocks (
    agent_id  TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    block_id  TEXT NOT NULL REFERENCES blocks(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (agent_id, block_id)
) WITHOUT ROWID;
CREATE INDEX agent_blocks_block ON agent_blocks(block_id);

CREATE TABLE messages (
    rowid         INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    agent_id      TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content       TEXT,
    tool_calls    TEXT,                             -- list[ToolCall] JSON or NULL
    tool_call_id  TEXT,
    name          TEXT,
    turn_id       TEXT,
    created_at    REAL NOT NULL,                    -- epoch seconds
    interrupted   INTEGER NOT NULL DEFAULT 0,
    in_context    INTEGER NOT NULL DEFAULT 1,
    kind          TEXT NOT NULL DEFAULT 'normal'
);
CREATE UNIQUE INDEX messages_agent_seq ON messages(agent_id, seq);

CREATE TABLE passages (
    rowid            INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    agent_id         TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    text             TEXT NOT NULL,
    synopsis         TEXT NOT NULL DEFAULT '',
    embedding        BLOB,                          -- float32 little-endian
    embedding_model  TEXT,
    embedding_dim    INTEGER,
    start_at         REAL,
    end_at           REAL,
    created_at       REAL NOT NULL
);
CREATE INDEX passages_agent_created ON passages(agent_id, created_at);

CREATE TABLE tools (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    parameters   TEXT NOT NULL,                     -- JSON schema
    source_type  TEXT,
    source_code  TEXT,
    options      TEXT NOT NULL,                     -- ToolOptions JSON
    mcp_server   TEXT,
    created_at   REAL NOT NULL
);

CREATE TABLE agent_tools (
    agent_id  TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    tool_id   TEXT NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (agent_id, tool_id)
) WITHOUT ROWID;
CREATE INDEX agent_tools_tool ON agent_tools(tool_id);

CREATE TABLE turns (
    id           TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    fingerprint  TEXT,
    stop_reason  TEXT,
    usage        TEXT NOT NULL,                     -- Usage JSON
    timings      TEXT NOT NULL,                     -- dict[str, float] JSON (timings_ms)
    steps        INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    started_at   REAL NOT NULL,
    ended_at     REAL
);
CREATE INDEX turns_agent_fingerprint ON turns(agent_id, fingerprint);

-- Full-text search over spoken history: only user and assistant messages with text are indexed.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.role IN ('user', 'assistant') AND coalesce(new.content, '') != ''
BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.role IN ('user', 'assistant') AND coalesce(old.content, '') != ''
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;

-- One trigger, so the old entry is always removed before the new one is added.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, role ON messages
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.rowid, old.content
        WHERE old.role IN ('user', 'assistant') AND coalesce(old.content, '') != '';
    INSERT INTO messages_fts(rowid, content)
        SELECT new.rowid, new.content
        WHERE new.role IN ('user', 'assistant') AND coalesce(new.content, '') != '';
END;

-- Full-text search over archival memory (synopsis and original lines).
CREATE VIRTUAL TABLE passages_fts USING fts5(
    synopsis,
    text,
    content = 'passages',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61'
);

CREATE TRIGGER passages_fts_insert AFTER INSERT ON passages
BEGIN
    INSERT INTO passages_fts(rowid, synopsis, text) VALUES (new.rowid, new.synopsis, new.text);
END;

CREATE TRIGGER passages_fts_delete AFTER DELETE ON passages
BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, synopsis, text)
        VALUES ('delete', old.rowid, old.synopsis, old.text);
END;

CREATE TRIGGER passages_fts_update AFTER UPDATE OF synopsis, text ON passages
BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, synopsis, text)
        VALUES ('delete', old.rowid, old.synopsis, old.text);
    INSERT INTO passages_fts(rowid, synopsis, text) VALUES (new.rowid, new.synopsis, new.text);
END;
