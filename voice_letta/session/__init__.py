"""voice-letta."""
