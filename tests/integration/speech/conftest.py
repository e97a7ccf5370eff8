"""Fixtures of the speech integration tests: the fake OpenAI audio/embeddings server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.speech.fake_openai_audio import FakeOpenAIAudio


@pytest.fixture
async def fake_audio() -> AsyncIterator[FakeOpenAIAudio]:
    server = FakeOpenAIAudio()
    await server.start()
    try:
        yield server
    finally:
        server.release.set()
        await server.aclose()
