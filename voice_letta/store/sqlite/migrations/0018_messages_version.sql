-- 0018: a count of the changes to each agent's in-context messages, kept in its lease row, so a turn's begin need
-- not read back a window the process already knows (store/sqlite/turns.py): the window a process saw at version v
-- is the window while the count is v. Every insert, update or delete of a message that is, or was, in the context
-- adds one, whoever writes it (triggers: no code path can forget to). An agent without a lease row yet (no turn
-- ran) counts nothing; its first turn reads the window.
ALTER TABLE agent_leases ADD COLUMN messages_version INTEGER NOT NULL DEFAULT 0;

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
