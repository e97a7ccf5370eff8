"""The OpenAI speech and embedding adapters (providers/_openai_client.py) when the server answers wrongly with status
200, over real HTTP through the openai SDK: an HTML page is ``provider_bad_response`` named by its title (before, the
embedder failed with "'str' object has no attribute 'data'" and text-to-speech would have played the page's bytes
as audio), a JSON error body is typed by its code and names its message; right answers are untouched."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from tests.integration.agent.conftest import listen
from voice_letta.errors import ProviderBadResponse, ProviderRateLimited
from voice_letta.providers.openai_embed import OpenAIEmbedder
from voice_letta.providers.openai_stt import OpenAISTT
from voice_letta.providers.openai_tts import OpenAITTS

KEY = "sk-speech-secret-4242"
PORTAL = ("<!DOCTYPE html><html><head><title>Airport Free Wi-Fi - Sign in</title></head>"
          "<body><form>…</form></body></html>")


@dataclass
class Answers:
    """What the server answers next, per path (the right answer once the list is empty)."""

    url: str = ""
    queued: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


@pytest.fixture
async def server() -> AsyncIterator[Answers]:
    answers = Answers()
    right = {"/v1/embeddings": ("application/json", json.dumps(
                 {"object": "list", "model": "m", "data": [{"object": "embedding", "index": 0, "embedding": [0.5] * 4}],
                  "usage": {"prompt_tokens": 1, "total_tokens": 1}})),
             "/v1/audio/transcriptions": ("application/json", json.dumps({"text": "it said \"error\" twice"})),
             "/v1/audio/speech": ("audio/pcm", "\x01\x02" * 480)}

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        queue = answers.queued.get(request.path) or []
        content_type, body = queue.pop(0) if queue else right[request.path]
        return web.Response(body=body.encode("latin-1" if content_type == "audio/pcm" else "utf-8"),
                            headers={"Content-Type": content_type})

    app = web.Application()
    for path in right:
        app.router.add_post(path, answer)
    runner, url = await listen(app)
    answers.url = url + "/v1"
    try:
        yield answers
    finally:
        await runner.cleanup()


async def test_embeddings_an_html_page_and_a_json_error_are_named_then_vectors_come(server: Answers) -> None:
    server.queued["/v1/embeddings"] = [("text/html; charset=utf-8", PORTAL), ("application/json", json.dumps(
        {"error": {"message": "too many requests for this channel", "code": "429"}}))]
    embedder = OpenAIEmbedder(model="m", dim=4, api_key=KEY, base_url=server.url, max_retries=2)
    try:
        with pytest.raises(ProviderBadResponse) as page:
            await embedder.embed(["hello"])
        with pytest.raises(ProviderRateLimited) as limited:
            await embedder.embed(["hello"])
        assert await embedder.embed(["hello"]) == [[0.5] * 4]
    finally:
        await embedder.aclose()
    assert "POST /v1/embeddings" in str(page.value) and "HTTP 200 (text/html" in str(page.value)
    assert "'Airport Free Wi-Fi - Sign in'" in str(page.value) and KEY not in str(page.value)
    assert "answered a JSON error" in str(limited.value) and "too many requests for this channel" in str(limited.value)


async def test_speech_to_text_and_text_to_speech_refuse_a_page_and_keep_working(server: Answers) -> None:
    server.queued["/v1/audio/transcriptions"] = [("text/html", PORTAL)]
    server.queued["/v1/audio/speech"] = [("text/html", PORTAL)]
    stt = OpenAISTT(api_key=KEY, base_url=server.url)
    tts = OpenAITTS(api_key=KEY, base_url=server.url)
    try:
        with pytest.raises(ProviderBadResponse, match="Airport Free Wi-Fi"):
            await stt.transcribe(b"\x00\x00" * 1600, 16000)
        assert (await stt.transcribe(b"\x00\x00" * 1600, 16000)).text == 'it said "error" twice'
        with pytest.raises(ProviderBadResponse, match="Airport Free Wi-Fi"):
            async for _ in tts.synthesize("Hello there."):
                pytest.fail("a page was played as audio")
        audio = b"".join([c.pcm16 async for c in tts.synthesize("Hello there.")])
        assert audio == b"\x01\x02" * 480
    finally:
        await stt.aclose()
        await tts.aclose()
