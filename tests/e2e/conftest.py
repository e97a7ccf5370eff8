"""Fixtures of the browser tests: Playwright, a server on the fake LLM, the page's agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.agent.conftest import Running, serving

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
