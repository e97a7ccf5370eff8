-- 0011: as SQLite's 0015 — an agent's IANA time zone name (agent/zones.py).
ALTER TABLE agents ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
