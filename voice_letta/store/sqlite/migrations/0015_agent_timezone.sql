-- 0015: an agent's time zone (clock, issue 11): the IANA name its days, dates and clock are in (agent/zones.py).
ALTER TABLE agents ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
