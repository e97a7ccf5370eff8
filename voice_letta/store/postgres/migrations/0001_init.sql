-- 0001: the voice-letta schema on PostgreSQL, equal to SQLite's after its migration 0006 (store/sqlite/migrations).
-- Column types follow the SQLite schema so both backends share the row codecs (store/rows.py): JSON as text,
-- booleans as 0/1 integers, times as epoch seconds (double precision), embeddings as float32 little-endian bytea.
-- Differences: message seq comes from a per-agent counter (message_seq, safe with concurrent writers);
-- full-text search is tsvector (english) with per-agent term statistics for BM25 (fts_terms, fts_docs);
-- change_log inserts send NOTIFY voice_letta_changes.

CREATE TABLE agents (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL,
    system                  TEXT NOT NULL,
    llm                     TEXT NOT NULL,
    sleeptime_llm           TEXT,
    embedding               TEXT NOT NULL,
    buffer                  TEXT NOT NULL,
    client_system_prompt    TEXT NOT NULL,
    max_tool_rounds         INTEGER NOT NULL,
    turn_budget_s           DOUBLE PRECISION NOT NULL,
    memory_target_label     TEXT NOT NULL,
    handoff_on_session_end  INTEGER NOT NULL,
    created_at              DOUBLE PRECISION NOT NULL
);

-- The newest message seq given out per agent (append_messages): a row lock orders concurrent appends.
CREATE TABLE message_seq (
    agent_id  TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    last_seq  BIGINT NOT NULL
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

CREATE TABLE agent_blocks (
    agent_id  TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    block_id  TEXT NOT NULL REFERENCES blocks(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (agent_id, block_id)
);
CREATE INDEX agent_blocks_block ON agent_blocks(block_id);

CREATE TABLE messages (
    pos           BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    agent_id      TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content       TEXT,
    tool_calls    TEXT,
    tool_call_id  TEXT,
    name          TEXT,
    turn_id       TEXT,
    created_at    DOUBLE PRECISION NOT NULL,
    interrupted   INTEGER NOT NULL DEFAULT 0,
    in_context    INTEGER NOT NULL DEFAULT 1,
    kind          TEXT NOT NULL DEFAULT 'normal',
    parts         TEXT,
    tsv           TSVECTOR,                         -- user and assistant text (trigger), NULL otherwise
    doc_len       INTEGER NOT NULL DEFAULT 0        -- words in tsv, for BM25
);
CREATE UNIQUE INDEX messages_agent_seq ON messages(agent_id, seq);
CREATE INDEX messages_tsv ON messages USING gin(tsv);

CREATE TABLE passages (
    pos              BIGSERIAL PRIMARY KEY,          -- insertion order (SQLite's rowid)
    id               TEXT NOT NULL UNIQUE,
    agent_id         TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    text             TEXT NOT NULL,
    synopsis         TEXT NOT NULL DEFAULT '',
    embedding        BYTEA,
    embedding_model  TEXT,
    embedding_dim    INTEGER,
    start_at         DOUBLE PRECISION,
    end_at           DOUBLE PRECISION,
    created_at       DOUBLE PRECISION NOT NULL,
    job_id           BIGINT,
    chunk_key        TEXT,
    tsv              TSVECTOR,
    doc_len          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX passages_agent_created ON passages(agent_id, created_at);
CREATE UNIQUE INDEX passages_job_chunk ON passages(job_id, chunk_key);
CREATE INDEX passages_tsv ON passages USING gin(tsv);

CREATE TABLE tools (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    parameters   TEXT NOT NULL,
    source_type  TEXT,
    source_code  TEXT,
    options      TEXT NOT NULL,
    mcp_server   TEXT,
    created_at   DOUBLE PRECISION NOT NULL
);

CREATE TABLE agent_tools (
    agent_id  TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    tool_id   TEXT NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (agent_id, tool_id)
);
CREATE INDEX agent_tools_tool ON agent_tools(tool_id);

CREATE TABLE turns (
    pos              BIGSERIAL,
    id               TEXT PRIMARY KEY,
    agent_id         TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    fingerprint      TEXT,
    stop_reason      TEXT,
    usage            TEXT NOT NULL,
    timings          TEXT NOT NULL,
    steps            INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    started_at       DOUBLE PRECISION NOT NULL,
    ended_at         DOUBLE PRECISION,
    status           TEXT NOT NULL DEFAULT 'completed'
                     CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'abandoned', 'incomplete')),
    idempotency_key  TEXT,
    provider         TEXT,
    model            TEXT,
    fallback_used    INTEGER NOT NULL DEFAULT 0,
    first_token_ms   DOUBLE PRECISION
);
CREATE INDEX turns_agent_fingerprint ON turns(agent_id, fingerprint);
CREATE INDEX turns_agent_started ON turns(agent_id, started_at);
CREATE INDEX turns_agent_key ON turns(agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX turns_running ON turns(status) WHERE status = 'running';

CREATE TABLE memory_jobs (
    id           BIGSERIAL PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    through_seq  BIGINT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_after    DOUBLE PRECISION NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    error        TEXT,
    claimed_by   TEXT,
    lease_until  DOUBLE PRECISION,
    crashes      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX memory_jobs_claim ON memory_jobs(status, run_after, id);
CREATE INDEX memory_jobs_agent ON memory_jobs(agent_id, through_seq);
CREATE UNIQUE INDEX memory_jobs_one_running ON memory_jobs(agent_id) WHERE status = 'running';

CREATE TABLE agent_leases (
    agent_id    TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    holder      TEXT NOT NULL,
    token       BIGINT NOT NULL,
    busy        INTEGER NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX agent_leases_holder ON agent_leases(holder) WHERE busy = 1;

CREATE TABLE change_log (
    id        BIGSERIAL PRIMARY KEY,
    agent_id  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    origin    TEXT NOT NULL,
    payload   TEXT NOT NULL DEFAULT '{}',
    at        DOUBLE PRECISION NOT NULL
);
CREATE INDEX change_log_at ON change_log(at);

-- --- full-text search: english tsvectors and per-agent statistics for BM25 ------------------------------------
-- kind 'm' (user and assistant messages) and 'p' (passages: synopsis and text). fts_terms counts the documents
-- of an agent that contain a term; fts_docs counts the agent's documents and their total length.
CREATE TABLE fts_terms (
    agent_id  TEXT NOT NULL,
    kind      CHAR(1) NOT NULL,
    term      TEXT NOT NULL,
    docs      INTEGER NOT NULL,
    PRIMARY KEY (agent_id, kind, term)
);

CREATE TABLE fts_docs (
    agent_id   TEXT NOT NULL,
    kind       CHAR(1) NOT NULL,
    docs       INTEGER NOT NULL,
    total_len  BIGINT NOT NULL,
    PRIMARY KEY (agent_id, kind)
);

CREATE FUNCTION vl_doc_len(v TSVECTOR) RETURNS INTEGER LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(sum(coalesce(array_length(positions, 1), 1)), 0)::integer FROM unnest(v)
$$;

CREATE FUNCTION vl_fts_count(p_agent TEXT, p_kind CHAR(1), v TSVECTOR, n INTEGER, delta INTEGER) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF v IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO fts_terms (agent_id, kind, term, docs)
        SELECT p_agent, p_kind, t, delta FROM unnest(tsvector_to_array(v)) AS t
        ON CONFLICT (agent_id, kind, term) DO UPDATE SET docs = fts_terms.docs + delta;
    INSERT INTO fts_docs (agent_id, kind, docs, total_len) VALUES (p_agent, p_kind, delta, delta * n)
        ON CONFLICT (agent_id, kind) DO UPDATE
        SET docs = fts_docs.docs + delta, total_len = fts_docs.total_len + delta * n;
END $$;

CREATE FUNCTION vl_message_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.role IN ('user', 'assistant') AND coalesce(NEW.content, '') <> '' THEN
        NEW.tsv := to_tsvector('english', NEW.content);
        NEW.doc_len := vl_doc_len(NEW.tsv);
    ELSE
        NEW.tsv := NULL;
        NEW.doc_len := 0;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION vl_passage_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.tsv := to_tsvector('english', NEW.synopsis || ' ' || NEW.text);
    NEW.doc_len := vl_doc_len(NEW.tsv);
    RETURN NEW;
END $$;

CREATE FUNCTION vl_fts_stats() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k CHAR(1) := TG_ARGV[0];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM vl_fts_count(OLD.agent_id, k, OLD.tsv, OLD.doc_len, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM vl_fts_count(NEW.agent_id, k, NEW.tsv, NEW.doc_len, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_tsv BEFORE INSERT OR UPDATE OF content, role ON messages
    FOR EACH ROW EXECUTE FUNCTION vl_message_tsv();
CREATE TRIGGER messages_fts_stats AFTER INSERT OR DELETE OR UPDATE OF content, role ON messages
    FOR EACH ROW EXECUTE FUNCTION vl_fts_stats('m');
CREATE TRIGGER passages_tsv BEFORE INSERT OR UPDATE OF synopsis, text ON passages
    FOR EACH ROW EXECUTE FUNCTION vl_passage_tsv();
CREATE TRIGGER passages_fts_stats AFTER INSERT OR DELETE OR UPDATE OF synopsis, text ON passages
    FOR EACH ROW EXECUTE FUNCTION vl_fts_stats('p');

-- --- the change log (as SQLite's migration 0005): rows for other processes, stamped with the writer -----------
CREATE FUNCTION vl_origin() RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('voice_letta.origin', true), '')
$$;

CREATE FUNCTION vl_now() RETURNS DOUBLE PRECISION LANGUAGE sql STABLE AS $$
    SELECT extract(epoch FROM clock_timestamp())::double precision
$$;

CREATE FUNCTION vl_log_change(p_agent TEXT, p_kind TEXT, p_payload TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- a statement that deletes or changes many passages adds one row, not one per passage
    IF p_kind = 'passages' AND EXISTS (
        SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
        AND c.agent_id = p_agent AND c.kind = 'passages' AND c.origin = vl_origin()) THEN
        RETURN;
    END IF;
    INSERT INTO change_log (agent_id, kind, origin, payload, at) VALUES (p_agent, p_kind, vl_origin(), p_payload, vl_now());
END $$;

CREATE FUNCTION vl_change_agent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM vl_log_change(OLD.id, 'agent', '{}');
    ELSE
        PERFORM vl_log_change(NEW.id, 'agent', '{}');
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION vl_change_block() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO change_log (agent_id, kind, origin, at)
        SELECT agent_id, 'agent', vl_origin(), vl_now() FROM agent_blocks WHERE block_id = NEW.id;
    RETURN NULL;
END $$;

CREATE FUNCTION vl_change_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM vl_log_change(OLD.agent_id, 'agent', '{}');
    ELSE
        PERFORM vl_log_change(NEW.agent_id, 'agent', '{}');
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION vl_change_passage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM vl_log_change(NEW.agent_id, 'passage_added', json_build_object('id', NEW.id)::text);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM vl_log_change(OLD.agent_id, 'passages', '{}');
    ELSE
        PERFORM vl_log_change(NEW.agent_id, 'passages', '{}');
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION vl_notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('voice_letta_changes', '');
    RETURN NULL;
END $$;

CREATE TRIGGER change_agent AFTER UPDATE OR DELETE ON agents FOR EACH ROW EXECUTE FUNCTION vl_change_agent();
CREATE TRIGGER change_block AFTER UPDATE ON blocks FOR EACH ROW EXECUTE FUNCTION vl_change_block();
CREATE TRIGGER change_agent_block AFTER INSERT OR DELETE ON agent_blocks FOR EACH ROW EXECUTE FUNCTION vl_change_link();
CREATE TRIGGER change_agent_tool AFTER INSERT OR DELETE ON agent_tools FOR EACH ROW EXECUTE FUNCTION vl_change_link();
CREATE TRIGGER change_passage AFTER INSERT OR UPDATE OR DELETE ON passages FOR EACH ROW EXECUTE FUNCTION vl_change_passage();
CREATE TRIGGER change_notify AFTER INSERT ON change_log FOR EACH STATEMENT EXECUTE FUNCTION vl_notify_changes();
