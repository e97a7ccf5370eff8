"""The real server (scripted speech engines, the fake OpenAI LLM over HTTP) for Realtime clients."""

from __future__ import annotations

from tests.integration.session.conftest import VoiceServer, voice_server_factory, vs

__all__ = ["VoiceServer", "voice_server_factory", "vs"]
