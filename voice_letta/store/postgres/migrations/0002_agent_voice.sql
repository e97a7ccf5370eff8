-- 0002: as SQLite's 0007 — an agent's live-voice settings (greeting, transfer number) as VoiceSettings JSON.
ALTER TABLE agents ADD COLUMN voice TEXT NOT NULL DEFAULT '{}';
