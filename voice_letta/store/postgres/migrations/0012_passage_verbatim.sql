-- 0012: as SQLite's 0016 — a passage archived word for word by the server (the sleeptime model stored nothing).
ALTER TABLE passages ADD COLUMN verbatim INTEGER NOT NULL DEFAULT 0;
