-- 0006: as SQLite's 0010 — a 'passages' change_log row is skipped only for a row this *transaction* already
-- logged (its xmin is the current transaction id). Before, a later transaction's change was skipped whenever the
-- newest row said the same, and a process that had read that row never heard of it.
CREATE OR REPLACE FUNCTION vl_log_change(p_agent TEXT, p_kind TEXT, p_payload TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- a statement (or transaction) that deletes or changes many passages adds one row, not one per passage
    IF p_kind = 'passages' AND EXISTS (
        SELECT 1 FROM change_log c WHERE c.id = (SELECT max(id) FROM change_log)
        AND c.agent_id = p_agent AND c.kind = 'passages' AND c.origin = vl_origin()
        AND c.xmin = pg_current_xact_id()::xid) THEN
        RETURN;
    END IF;
    INSERT INTO change_log (agent_id, kind, origin, payload, at) VALUES (p_agent, p_kind, vl_origin(), p_payload, vl_now());
END $$;
