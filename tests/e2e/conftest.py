"""Fixtures of the end-to-end tests: Playwright, a server on the fake LLM, the page's agent, a server on the
embedded local models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.agent.conftest import Running, listen, serving
from voice_letta.config import ServerConfig
from voice_letta.server.app import Overrides, create_app
from voice_letta.server.providers_glue import build_registry

if TYPE_CHECKING:  # playwright is imported only by the tests that drive a browser (they skip without it)
    from playwright.async_api import Playwright


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        yield p


@pytest.fixture
async def server(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    async with serving(tmp_path, fake_openai, api_key=None) as running:
        yield running


@pytest.fixture
async def warm_server(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    """As ``server``, with the speech models loaded before the first turn (realistic latency numbers)."""
    async with serving(tmp_path, fake_openai, api_key=None, preload_local_models=True) as running:
        yield running


@pytest.fixture
async def agent(server: Running) -> dict[str, Any]:
    return await server.create_agent(name="Juniper", blocks=[
        {"label": "persona", "value": "I am Juniper, a calm voice assistant with a long memory."},
        {"label": "human", "value": "Name: unknown. Likes: unknown."},
    ])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, web.Application]]:
    """A real server on the embedded defaults (the local model registry, a SQLite file, no key): its URL and app."""
    app = create_app(ServerConfig(db_path=tmp_path / "local.db", api_key=None, enable_sandbox=False),
                     Overrides(models=build_registry()))
    runner, url = await listen(app)
    try:
        yield url, app
    finally:
        await runner.cleanup()
