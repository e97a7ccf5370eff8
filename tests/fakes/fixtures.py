"""pytest fixtures for the fake protocol servers; load with ``pytest_plugins = ["tests.fakes.fixtures"]``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.ollama_server import FakeOllamaServer
from tests.fakes.openai_audio_server import FakeOpenAIAudio
from tests.fakes.openai_server import FakeOpenAIServer


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAIServer]:
    server = FakeOpenAIServer()
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


@pytest.fixture
async def fake_anthropic() -> AsyncIterator[FakeAnthropicServer]:
    server = FakeAnthropicServer()
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


@pytest.fixture
async def fake_ollama() -> AsyncIterator[FakeOllamaServer]:
    server = FakeOllamaServer()
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


@pytest.fixture
async def fake_audio() -> AsyncIterator[FakeOpenAIAudio]:
    """OpenAI's audio (transcriptions, speech) and embeddings endpoints."""
    server = FakeOpenAIAudio()
    await server.start()
    try:
        yield server
    finally:
        server.release.set()
        await server.aclose()
