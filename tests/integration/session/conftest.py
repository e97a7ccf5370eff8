"""A real server on 127.0.0.1:0 with scripted speech engines and the fake OpenAI LLM, plus a native client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.native_client import NativeClient
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
from voice_letta.agent.ports import SpeechToText, Store, TextToSpeech
from voice_letta.config import ServerConfig
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.server.app import Overrides, create_app
from voice_letta.server.keys import CONFIG, STORE

FAKE_ENV = {"FAKE_OPENAI_KEY": "sk-fake"}


@dataclass
class VoiceServer:
    url: str
    app: web.Application
    fake: FakeOpenAIServer
    stt: Any
    tts: Any
    runner: web.AppRunner

    @property
    def store(self) -> Store:
        return self.app[STORE]

    async def create_agent(self, **body: Any) -> str:
        body.setdefault("name", "voice-agent")
        body.setdefault("llm", {"provider": "openai", "model": "fake-model", "base_url": self.fake.base_url,
                                "api_key_env": "FAKE_OPENAI_KEY", "max_retries": 0})
        key = self.app[CONFIG].api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with aiohttp.ClientSession(headers=headers) as s, s.post(self.url + "/v1/agents", json=body) as r:
            data = await r.json()
            assert r.status == 201, data
            return str(data["id"])

    async def client(self, agent: str | None = None, **kw: Any) -> NativeClient:
        return await NativeClient.open(self.url, agent=agent, **kw)

    async def assistant_rows(self, agent_id: str) -> list[Any]:
        return [m for m in await self.store.list_messages(agent_id, limit=100) if m.role == "assistant"]


async def start_voice_server(tmp_path: Path, fake: FakeOpenAIServer, *, stt: SpeechToText | None = None,
                             tts: TextToSpeech | None = None, local_llm: bool = False, **config: Any) -> VoiceServer:
    config.setdefault("api_key", None)
    cfg = ServerConfig(db_path=tmp_path / "voice.db", **config)
    local_factory = None
    if local_llm:
        from voice_letta.providers.local_llm import LocalChatModel

        local_factory = LocalChatModel
    registry = ProviderRegistry(env=FAKE_ENV, retry_base_delay_s=0.01, retry_max_delay_s=0.02,
                                local_factory=local_factory)
    stt = stt if stt is not None else ScriptedSTT()
    tts = tts if tts is not None else ScriptedTTS()
    app = create_app(cfg, Overrides(models=registry, stt=stt, tts=tts))
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return VoiceServer(f"http://127.0.0.1:{port}", app, fake, stt, tts, runner)


@pytest.fixture
async def voice_server_factory(
    tmp_path: Path, fake_openai: FakeOpenAIServer
) -> AsyncIterator[Callable[..., Awaitable[VoiceServer]]]:
    started: list[VoiceServer] = []

    async def make(**kw: Any) -> VoiceServer:
        server = await start_voice_server(tmp_path, fake_openai, **kw)
        started.append(server)
        return server

    try:
        yield make
    finally:
        for s in started:
            await s.runner.cleanup()


@pytest.fixture
async def vs(voice_server_factory: Callable[..., Awaitable[VoiceServer]]) -> VoiceServer:
    return await voice_server_factory()
