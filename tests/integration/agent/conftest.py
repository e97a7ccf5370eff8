"""A real server on 127.0.0.1:0 with a real SQLite file, its agents pointed at the fake provider servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer
from voice_letta.agent.ports import Store, ToolExecutor
from voice_letta.config import ServerConfig
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.server.app import Overrides, create_app
from voice_letta.server.keys import STORE

FAKE_ENV = {"FAKE_OPENAI_KEY": "sk-fake", "FAKE_ANTHROPIC_KEY": "sk-ant-fake"}


@dataclass
class Running:
    url: str
    app: web.Application
    fake: FakeOpenAIServer
    api_key: str | None = None

    @property
    def store(self) -> Store:
        return self.app[STORE]

    def client(self, **kw: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.url}/v1", api_key=self.api_key or "unused", max_retries=0, **kw)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession(headers=self.headers()) as s, s.request(method, self.url + path, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def create_agent(self, **body: Any) -> dict[str, Any]:
        body.setdefault("name", "test-agent")
        body.setdefault("llm", openai_llm(self.fake))
        status, data = await self.request("POST", "/v1/agents", json=body)
        assert status == 201, data
        return data


def openai_llm(fake: FakeOpenAIServer, **kw: Any) -> dict[str, Any]:
    return {"provider": "openai", "model": "fake-model", "base_url": fake.base_url,
            "api_key_env": "FAKE_OPENAI_KEY", "max_retries": 2, **kw}


def anthropic_llm(fake: FakeAnthropicServer, **kw: Any) -> dict[str, Any]:
    return {"provider": "anthropic", "model": "claude-fake", "base_url": fake.base_url,
            "api_key_env": "FAKE_ANTHROPIC_KEY", **kw}


async def listen(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on an ephemeral loopback port: its runner (clean it up) and its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def start_server(tmp_path: Path, fake: FakeOpenAIServer, *, tools: ToolExecutor | None = None,
                       **config: Any) -> tuple[Running, web.AppRunner]:
    config.setdefault("enable_sandbox", False)
    cfg = ServerConfig(db_path=tmp_path / "voice.db", **config)
    registry = ProviderRegistry(env=FAKE_ENV, retry_base_delay_s=0.01, retry_max_delay_s=0.02)
    app = create_app(cfg, Overrides(models=registry, tools=tools))
    runner, url = await listen(app)
    return Running(url, app, fake, cfg.api_key), runner


@asynccontextmanager
async def serving(tmp_path: Path, fake: FakeOpenAIServer, **config: Any) -> AsyncIterator[Running]:
    """``start_server`` for the length of a ``with`` block (the fixtures that yield a server use it)."""
    running, runner = await start_server(tmp_path, fake, **config)
    try:
        yield running
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    async with serving(tmp_path, fake_openai, api_key=None) as running:
        yield running
