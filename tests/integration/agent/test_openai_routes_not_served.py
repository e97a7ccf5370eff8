"""OpenAI API routes this server does not serve answer with what to use instead (real server, the real openai SDK).
Before, each was a bare 404 "Not Found", which reads like a wrong base URL: the OpenAI Agents SDK calls the
Responses API by default, and frameworks call embeddings or audio routes of "an OpenAI-compatible server"."""

from __future__ import annotations

import openai
import pytest

from tests.integration.agent.conftest import Running


async def test_the_responses_api_says_to_use_chat_completions(server: Running) -> None:
    agent = await server.create_agent()
    with pytest.raises(openai.NotFoundError) as caught:
        await server.client().responses.create(model=agent["id"], input="What's on my calendar?")
    message = str(caught.value)
    assert "Responses API is not served" in message and "/v1/chat/completions" in message, message
    assert "set_default_openai_api" in message


@pytest.mark.parametrize(("call", "says"), [
    ("completions", "legacy text completions are not served"),
    ("embeddings", "embeddings are not served"),
    ("speech", "audio endpoints are not served"),
    ("transcriptions", "audio endpoints are not served"),  # multipart: before, a 415 "request bodies must be JSON"
])
async def test_other_openai_routes_say_what_to_use_instead(server: Running, call: str, says: str) -> None:
    agent = await server.create_agent()
    client = server.client()
    with pytest.raises(openai.NotFoundError) as caught:
        if call == "completions":
            await client.completions.create(model=agent["id"], prompt="Hello")
        elif call == "embeddings":
            await client.embeddings.create(model="text-embedding-3-small", input="Hello")
        elif call == "speech":
            await client.audio.speech.create(model="tts-1", voice="alloy", input="Hello")
        else:
            await client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF", "audio/wav"))
    assert says in str(caught.value), caught.value


async def test_another_unknown_path_is_still_a_plain_404(server: Running) -> None:
    status, body = await server.request("GET", "/v1/nothing-here")
    assert status == 404 and body["error"] == {"message": "Not Found", "type": "invalid_request_error",
                                               "param": None, "code": "http_404"}
    status, body = await server.request("GET", "/v1/responsesX")  # only the route itself and what is under it
    assert status == 404 and body["error"]["message"] == "Not Found"
