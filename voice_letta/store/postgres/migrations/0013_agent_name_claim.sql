-- 0013: as SQLite's 0017 — an agent may claim its name; at most one agent holds a claimed name (NULLs repeat).
ALTER TABLE agents ADD COLUMN name_claim TEXT;
CREATE UNIQUE INDEX agents_name_claim ON agents (name_claim);
