"""How OpenAIChatModel's requests go out (providers/openai_send.py), against a gzip-compressing server: a real
aiohttp server in front of nothing, speaking the chat-completions event stream the way a compatible server behind a
compressing proxy does."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.integration.agent.conftest import listen
from tests.integration.providers.helpers import collect, request, text_of
from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.errors import ProviderBadRequest
from voice_letta.providers.openai_chat import OpenAIChatModel

API_KEY = "sk-test-secret-key-654321"


def _event(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def _completions(request: web.Request) -> web.Response:
    body = await request.json()
    assert "gzip" in request.headers.get("Accept-Encoding", "")
    if body["messages"][-1]["content"] == "fail":
        error = json.dumps({"error": {"message": "context too long", "type": "invalid_request_error"}}).encode()
        return web.Response(status=400, body=gzip.compress(error),
                            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    stream = (_event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Zipped "}}]})
              + _event({**base, "choices": [{"index": 0, "delta": {"content": "reply."}, "finish_reason": "stop"}]})
              + b"data: [DONE]\n\n")
    return web.Response(body=gzip.compress(stream),
                        headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"})


@pytest.fixture
async def gzip_server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _completions)
    runner, url = await listen(app)
    try:
        yield f"{url}/v1"
    finally:
        await runner.cleanup()


async def test_a_compressed_stream_and_a_compressed_error_are_decoded(gzip_server: str) -> None:
    model = OpenAIChatModel(LLMConfig(provider=ProviderName.OPENAI, model="m"), api_key=API_KEY,
                            base_url=gzip_server)
    try:
        deltas = await collect(model, request(model.config, "hello"))
        assert model._sender._direct is not None  # sent with the SDK transport's aiohttp session
        assert text_of(deltas) == "Zipped reply."
        with pytest.raises(ProviderBadRequest) as info:
            await collect(model, request(model.config, "fail"))
        assert "400" in str(info.value) and "context too long" in str(info.value)
    finally:
        await model.aclose()
