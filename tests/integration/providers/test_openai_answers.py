"""What an OpenAI-compatible provider answers when it answers wrongly, through the real openai SDK's client against
FakeOpenAIServer over HTTP: an HTML page (a captive portal, a proxy's error page), a JSON error body with status 200
(gateways), a whole completion for a streamed request, text or nothing. Each is a typed error that names the status,
the content type and what the body said (providers/openai_answer.py), and the next request on the same model works.
Every case runs on the three ways a request goes out (providers/openai_send.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer, Raw, Text, ToolCall
from tests.integration.agent.conftest import listen
from tests.integration.providers.helpers import WEATHER, collect, request, text_of, tool_calls_of
from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.errors import (
    ProviderAuthFailed,
    ProviderBadRequest,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from voice_letta.providers.anthropic_chat import AnthropicChatModel
from voice_letta.providers.openai_chat import OpenAIChatModel

API_KEY = "sk-test-secret-key-777888"

PORTAL = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Welcome to Hotel Miramar Wi-Fi</title>
<script>var token = "abc";</script></head>
<body><h1>Please accept the terms to continue</h1><form action="/login">…</form></body></html>"""

NGINX_502 = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.25.3</center>
</body>
</html>"""


@pytest.fixture(params=["direct", "template", "post"])
async def model(request: pytest.FixtureRequest, fake_openai: FakeOpenAIServer) -> AsyncIterator[OpenAIChatModel]:
    """The adapter, sending the way ``param`` names: the SDK transport's aiohttp session (the default), the SDK's
    httpx2 client with the template (a proxy, another transport), or ``client.post`` (Azure's client)."""
    if request.param == "post":
        cfg = LLMConfig(provider=ProviderName.AZURE, model="fake-model")
        m = OpenAIChatModel.azure(cfg, api_key=API_KEY, endpoint=fake_openai.root_url, api_version="2024-10-21")
    else:
        cfg = LLMConfig(provider=ProviderName.OPENAI, model="fake-model")
        m = OpenAIChatModel(cfg, api_key=API_KEY, base_url=fake_openai.base_url)
        if request.param == "template":
            await m._sender._build_template()
            m._sender._direct = None
    yield m
    await m.aclose()


async def _fails(fake: FakeOpenAIServer, model: OpenAIChatModel, answer: Raw) -> ProviderError:
    """The error ``answer`` gives, after which the same model answers the next request."""
    fake.script([answer], [Text("Still here.")])
    with pytest.raises(ProviderError) as info:
        await collect(model, request(model.config))
    assert API_KEY not in str(info.value)
    assert text_of(await collect(model, request(model.config))) == "Still here."
    return info.value


async def test_a_captive_portal_page_with_status_200_is_a_bad_response_named_by_its_title(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    error = await _fails(fake_openai, model, Raw(PORTAL))
    assert type(error) is ProviderBadResponse and error.code == "provider_bad_response" and not error.retryable
    message = str(error)
    assert "HTTP 200" in message and "text/html" in message
    assert "an HTML page titled 'Welcome to Hotel Miramar Wi-Fi'" in message
    assert "<" not in message and "finish_reason" not in message


async def test_a_proxy_s_502_page_is_unavailable_and_named_not_quoted(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    error = await _fails(fake_openai, model, Raw(NGINX_502, status=502, content_type="text/html"))
    assert type(error) is ProviderUnavailable and error.retryable
    message = str(error)
    assert "HTTP 502" in message and "titled '502 Bad Gateway'" in message and "text/html" in message
    assert "<center>" not in message


@pytest.mark.parametrize(("body", "kind", "said"), [
    ({"error": {"message": "upstream quota exhausted for this channel", "type": "insufficient_quota"}},
     ProviderRateLimited, "upstream quota exhausted for this channel"),
    ({"error": {"message": "the key is disabled", "code": 401}}, ProviderAuthFailed, "the key is disabled"),
    ({"error": {"message": "no available channel for model fake-model", "code": "503"}}, ProviderUnavailable,
     "no available channel"),
    ({"object": "error", "message": "This model's maximum context length is 8192 tokens", "type": "BadRequestError",
      "param": None, "code": 400}, ProviderBadRequest, "maximum context length is 8192"),
    ({"error": "Internal error"}, ProviderUnavailable, "Internal error"),
])
async def test_a_json_error_body_with_status_200_is_typed_by_its_code_and_names_its_message(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel, body: dict[str, object],
        kind: type[ProviderError], said: str) -> None:
    error = await _fails(fake_openai, model, Raw(json.dumps(body), content_type="application/json"))
    assert type(error) is kind
    assert "HTTP 200 (application/json) answered a JSON error" in str(error) and said in str(error)


@pytest.mark.parametrize(("answer", "kind", "said"), [
    (Raw("Service Temporarily Unavailable", content_type="text/plain"), ProviderBadResponse,
     "text that is not an event stream: Service Temporarily Unavailable"),
    (Raw('{"status": "ok", "version": "1.4.2"}', content_type="application/json"), ProviderBadResponse,
     'JSON that is not an event stream: {"status": "ok"'),
    (Raw("", content_type="text/event-stream"), ProviderUnavailable, "empty body"),
])
async def test_text_other_json_or_nothing_is_named_too(fake_openai: FakeOpenAIServer, model: OpenAIChatModel,
                                                       answer: Raw, kind: type[ProviderError], said: str) -> None:
    error = await _fails(fake_openai, model, answer)
    assert type(error) is kind and said in str(error)


async def test_a_whole_completion_for_a_streamed_request_is_taken_as_its_deltas(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    completion = {"id": "c", "object": "chat.completion", "created": 1, "model": "fake-model",
                  "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                      "role": "assistant", "content": "Checking.", "tool_calls": [
                          {"id": "call_a", "type": "function",
                           "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
                          {"id": "call_b", "type": "function",
                           "function": {"name": "get_weather", "arguments": '{"city": "Bergen"}'}}]}}],
                  "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}
    fake_openai.script([Raw(json.dumps(completion), content_type="application/json")])
    deltas = await collect(model, request(model.config, tools=(WEATHER,)))
    assert text_of(deltas) == "Checking."
    calls = tool_calls_of(deltas)
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("call_a", "get_weather", {"city": "Oslo"}), ("call_b", "get_weather", {"city": "Bergen"})]
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["tool_calls"]
    assert [d.usage.total_tokens for d in deltas if d.usage] == [17]


async def test_an_event_stream_with_a_wrong_content_type_still_streams(fake_openai: FakeOpenAIServer,
                                                                       model: OpenAIChatModel) -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "Mislabelled."}, "finish_reason": "stop"}]}
    body = f": hello\n\ndata: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
    fake_openai.script([Raw(body, content_type="application/json")])
    assert text_of(await collect(model, request(model.config))) == "Mislabelled."


# --- Hermes-style tool calls written as text (providers/text_tool_calls.py) --------------------------------


async def test_a_tool_call_written_as_text_becomes_a_tool_call_for_an_offered_tool(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    fake_openai.script([Text("Let me look that up. <tool_"), Text('call>\n{"name": "get_weather", "argu'),
                        Text('ments": {"city": "Oslo"}}\n</tool_call>')])
    deltas = await collect(model, request(model.config, tools=(WEATHER,)))
    assert text_of(deltas) == "Let me look that up. "
    (call,) = tool_calls_of(deltas).values()
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Oslo"}
    assert call["id"].startswith("call_")
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["tool_calls"]


async def test_a_name_not_offered_or_no_tools_leaves_the_text_as_it_was(fake_openai: FakeOpenAIServer,
                                                                         model: OpenAIChatModel) -> None:
    block = '<tool_call>{"name": "delete_everything", "arguments": {}}</tool_call>'
    fake_openai.script([Text("Sure. " + block)], [Text("Sure. " + block.replace("delete_everything", "get_weather"))])
    deltas = await collect(model, request(model.config, tools=(WEATHER,)))
    assert text_of(deltas) == "Sure. " + block and not tool_calls_of(deltas)
    deltas = await collect(model, request(model.config))  # no tools offered: nothing is called
    assert "get_weather" in text_of(deltas) and not tool_calls_of(deltas)
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]


async def test_two_text_calls_an_unclosed_last_one_and_a_real_call_get_their_own_indexes(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    as_string = json.dumps({"name": "get_weather", "arguments": json.dumps({"city": "Paris"})})
    fake_openai.script([ToolCall("get_weather", '{"city": "Rome"}'), Text(f"<tool_call>{as_string}</tool_call>"),
                        Text('<tool_call>{"name": "get_weather", "parameters": {"city": "Lima"}}')])
    deltas = await collect(model, request(model.config, tools=(WEATHER,)))
    calls = tool_calls_of(deltas)
    assert sorted(calls) == [0, 1, 2]
    assert [json.loads(calls[i]["arguments"])["city"] for i in range(3)] == ["Rome", "Paris", "Lima"]
    assert text_of(deltas) == ""


# --- the same wrong answers in front of the Anthropic API (providers/anthropic_chat.py) ---------------------


@pytest.mark.parametrize(("answer", "kind", "said"), [
    (Raw(PORTAL), ProviderBadResponse, "HTTP 200 (text/html; charset=utf-8) answered an HTML page titled "
                                       "'Welcome to Hotel Miramar Wi-Fi'"),
    (Raw(json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
         content_type="application/json"), ProviderUnavailable,
     "answered a JSON error, not an event stream: Overloaded"),
    (Raw(json.dumps({"error": {"message": "quota used up", "code": 429}}), content_type="application/json"),
     ProviderRateLimited, "quota used up"),
    (Raw(NGINX_502, status=502, content_type="text/html"), ProviderUnavailable, "HTTP 502: an HTML page titled "
                                                                               "'502 Bad Gateway' (text/html)"),
])
async def test_anthropic_wrong_answers_are_named_and_the_next_request_works(
        fake_anthropic: FakeAnthropicServer, answer: Raw, kind: type[ProviderError], said: str) -> None:
    model = AnthropicChatModel(LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-fake"), api_key=API_KEY,
                               base_url=fake_anthropic.base_url)
    try:
        fake_anthropic.script([answer], [Text("Still here.")])
        with pytest.raises(ProviderError) as info:
            await collect(model, request(model.config))
        assert type(info.value) is kind and said in str(info.value) and API_KEY not in str(info.value)
        assert text_of(await collect(model, request(model.config))) == "Still here."
    finally:
        await model.aclose()


# --- event streams that end or fail a little wrongly (providers/openai_decode.py) ---------------------------


def _chunk(delta: dict[str, object], finish: str | None = None) -> str:
    return "data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"


async def test_done_without_a_finish_reason_is_a_whole_reply_and_no_done_is_a_cut(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    call = {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]}
    fake_openai.script([Raw(_chunk({"content": "All "}) + _chunk({"content": "here."}) + "data: [DONE]\n\n",
                            content_type="text/event-stream")],
                       [Raw(_chunk(call) + "data: [DONE]\n\n", content_type="text/event-stream")],
                       [Raw(_chunk({"content": "Half a"}), content_type="text/event-stream")])
    deltas = await collect(model, request(model.config))
    assert text_of(deltas) == "All here." and [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    deltas = await collect(model, request(model.config, tools=(WEATHER,)))
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["tool_calls"]
    with pytest.raises(ProviderUnavailable, match=r"without \[DONE\] or a finish_reason"):
        await collect(model, request(model.config))


async def test_an_event_named_error_is_an_in_stream_error_with_its_message(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    body = (_chunk({"content": "Well"}) + 'event: error\ndata: {"message": "upstream overloaded", "type": '
            '"overloaded_error"}\n\n')
    fake_openai.script([Raw(body, content_type="text/event-stream")])
    with pytest.raises(ProviderUnavailable, match="upstream overloaded"):
        await collect(model, request(model.config))


async def test_a_captive_portal_s_redirect_is_a_bad_response_naming_where_it_goes(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    """The direct way does not follow redirects (the 302 is named with its target); the SDK's httpx2 client follows
    it to the portal's page (named by its title)."""
    async def login(_: web.Request) -> web.Response:
        return web.Response(text=PORTAL, content_type="text/html")

    app = web.Application()
    app.router.add_get("/login", login)
    runner, url = await listen(app)
    try:
        error = await _fails(fake_openai, model, Raw("", status=302, content_type="text/html",
                                                     location=f"{url}/login?continue=api"))
    finally:
        await runner.cleanup()
    assert type(error) is ProviderBadResponse
    assert (f"HTTP 302, a redirect to {url}/login?continue=api" in str(error)
            if model._sender._direct is not None else "titled 'Welcome to Hotel Miramar Wi-Fi'" in str(error))


async def test_tool_calls_without_an_index_and_with_object_arguments_stay_apart(
        fake_openai: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    """Older Ollama (and some proxies) stream each whole call in one chunk with an id and no index; some send the
    arguments as a JSON object."""
    def call(call_id: str, city: str) -> dict[str, object]:
        return {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}

    body = (_chunk({"tool_calls": [call("call_a", "Oslo")]}) + _chunk({"tool_calls": [call("call_b", "Rome")]})
            + _chunk({}, "tool_calls") + "data: [DONE]\n\n")
    fake_openai.script([Raw(body, content_type="text/event-stream")])
    calls = tool_calls_of(await collect(model, request(model.config, tools=(WEATHER,))))
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("call_a", "get_weather", {"city": "Oslo"}), ("call_b", "get_weather", {"city": "Rome"})]
