-- 0007: an agent's live-voice settings (human, issue 14): its greeting and the number transfer_call dials,
-- as the JSON of agent.models.VoiceSettings.
ALTER TABLE agents ADD COLUMN voice TEXT NOT NULL DEFAULT '{}';
