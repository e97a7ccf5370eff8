"""A real server (scripted or real speech, the fake OpenAI LLM) with the Twilio bridge, plus helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.session.conftest import VoiceServer, start_voice_server
from voice_letta.server.keys import AGENT
from voice_letta.server.ws_twilio import AUTH_TOKEN_ENV, DEFAULT_AGENT_ENV, PUBLIC_URL_ENV, TWILIO


class RecordingHooks:
    """Wraps the app's memory hooks and records ``session_ended`` calls (the hand-off to memory)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.ended: list[str] = []

    async def turn_completed(self, agent_id: str, window: Any = None) -> None:
        if self.inner is not None:
            await self.inner.turn_completed(agent_id, window)

    async def session_ended(self, agent_id: str) -> None:
        self.ended.append(agent_id)
        if self.inner is not None:
            await self.inner.session_ended(agent_id)


@pytest.fixture
async def twilio_server_factory(
    tmp_path: Path, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Awaitable[VoiceServer]]]:
    started: list[VoiceServer] = []

    async def make(*, auth_token: str | None = None, public_url: str | None = None,
                   default_agent: str | None = None, **kw: Any) -> VoiceServer:
        for name, value in ((AUTH_TOKEN_ENV, auth_token), (PUBLIC_URL_ENV, public_url),
                            (DEFAULT_AGENT_ENV, default_agent)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        server = await start_voice_server(tmp_path, fake_openai, **kw)  # create_app reads the Twilio env
        assert server.app[TWILIO].auth_token == auth_token
        server.app[AGENT].memory = RecordingHooks(server.app[AGENT].memory)
        started.append(server)
        return server

    try:
        yield make
    finally:
        for s in started:
            await s.runner.cleanup()
