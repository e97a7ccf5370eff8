"""OpenAIChatModel through the real openai SDK against FakeOpenAIServer."""

from __future__ import annotations

import json

import pytest

from tests.fakes.openai_server import Cut, FakeOpenAIServer, Finish, HttpError, Pause, Text, ToolCall
from tests.integration.providers.helpers import WEATHER, collect, request, text_of, tool_calls_of
from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.agent.models import ToolCall as DomainToolCall
from voice_letta.agent.ports import ChatMessage, ChatRequest, ToolCallDelta, ToolSpec
from voice_letta.errors import ProviderBadRequest, ProviderRateLimited, ProviderTimeout, ProviderUnavailable
from voice_letta.providers.openai_chat import OpenAIChatModel

API_KEY = "sk-test-secret-key-123456"


@pytest.fixture
async def model(fake_openai: FakeOpenAIServer):
    m = OpenAIChatModel(
        LLMConfig(provider=ProviderName.OPENAI, model="fake-model"), api_key=API_KEY, base_url=fake_openai.base_url
    )
    yield m
    await m.aclose()


async def test_text_streams_as_content_deltas_then_stop_and_usage(fake_openai, model):
    fake_openai.script([Text("Hello"), Text(" there.")])
    deltas = await collect(model, request(model.config))
    assert [d.content for d in deltas if d.content] == ["Hello", " there."]
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.total_tokens == deltas[-1].usage.prompt_tokens + deltas[-1].usage.completion_tokens
    body = fake_openai.requests[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi."}]
    assert "tools" not in body and "parallel_tool_calls" not in body


async def test_usage_delta_reports_cached_tokens(fake_openai, model):
    fake_openai.usage = {"prompt_tokens": 100, "completion_tokens": 7, "cached_tokens": 64}
    deltas = await collect(model, request(model.config))
    usage = [d.usage for d in deltas if d.usage]
    assert len(usage) == 1
    assert usage[0].model_dump() == {
        "prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107, "cached_tokens": 64, "estimated": False,
    }


async def test_tool_call_arrives_in_fragments_with_id_and_name_first(fake_openai, model):
    args = json.dumps({"city": "Paris, France"})
    fake_openai.script([ToolCall("get_weather", args, id="call_abc", fragment_chars=5)])
    deltas = await collect(model, request(model.config, tools=(WEATHER,)))
    fragments = [tc for d in deltas for tc in d.tool_calls]
    assert len(fragments) > 2
    assert fragments[0] == ToolCallDelta(index=0, id="call_abc", name="get_weather", arguments="")
    assert all(f.id is None and f.name is None for f in fragments[1:])
    assert tool_calls_of(deltas) == {0: {"id": "call_abc", "name": "get_weather", "arguments": args}}
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["tool_calls"]


async def test_parallel_tool_calls_get_their_own_indexes(fake_openai):
    cfg = LLMConfig(provider=ProviderName.OPENAI, model="fake-model", parallel_tool_calls=True)
    m = OpenAIChatModel(cfg, api_key=API_KEY, base_url=fake_openai.base_url)
    try:
        fake_openai.script([Text("Checking."), ToolCall("get_weather", '{"city":"Oslo"}'),
                            ToolCall("get_weather", '{"city":"Rome"}')])
        deltas = await collect(m, request(cfg, tools=(WEATHER,)))
    finally:
        await m.aclose()
    calls = tool_calls_of(deltas)
    assert [c["arguments"] for c in calls.values()] == ['{"city":"Oslo"}', '{"city":"Rome"}']
    assert calls[0]["id"] != calls[1]["id"]
    assert text_of(deltas) == "Checking."
    assert fake_openai.requests[0]["parallel_tool_calls"] is True


async def test_request_carries_tools_strict_flag_choice_and_history(fake_openai, model):
    strict_tool = ToolSpec("send", "Send.", {"type": "object", "properties": {}}, strict=True)
    req = ChatRequest(
        messages=(
            ChatMessage(role="user", content="Weather?"),
            ChatMessage(role="assistant", tool_calls=(DomainToolCall(id="c1", name="get_weather",
                                                                     arguments='{"city":"Oslo"}'),)),
            ChatMessage(role="tool", content="Sunny", tool_call_id="c1", name="get_weather"),
        ),
        config=model.config,
        tools=(WEATHER, strict_tool),
        tool_choice="get_weather",
    )
    await collect(model, req)
    body = fake_openai.requests[0]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert "strict" not in body["tools"][0]["function"]
    assert body["tools"][1]["function"]["strict"] is True
    assert body["messages"][1]["tool_calls"][0] == {
        "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
    }
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "c1", "content": "Sunny"}
    # not OpenAI's own host: the parameter every OpenAI-compatible server understands
    assert body["max_tokens"] == model.config.max_tokens and "max_completion_tokens" not in body
    assert body["temperature"] == model.config.temperature
    assert "prompt_cache_key" not in body  # other servers may refuse fields they do not know


async def test_openai_host_gets_max_completion_tokens_and_a_prompt_cache_key():
    from voice_letta.providers.openai_chat import build_params, is_openai_host

    assert is_openai_host(None) and is_openai_host("https://api.openai.com/v1")
    assert not is_openai_host("http://127.0.0.1:8080/v1") and not is_openai_host("http://[::1")
    cfg = LLMConfig(provider=ProviderName.OPENAI, model="gpt-4o-mini", max_tokens=99)
    m = OpenAIChatModel(cfg, api_key=API_KEY)
    try:
        req = ChatRequest((ChatMessage("user", "hi"),), cfg, cache_key="agent-1")
        params = build_params(cfg, req, max_tokens_param=m._max_tokens_param, prompt_cache_key=m._prompt_cache_key)
        assert params["max_completion_tokens"] == 99 and "max_tokens" not in params
        assert params["prompt_cache_key"] == "agent-1"
        off = cfg.model_copy(update={"prompt_cache": False})
        assert "prompt_cache_key" not in build_params(off, req, prompt_cache_key=True)
    finally:
        await m.aclose()


def test_per_call_settings_and_explicit_max_tokens_param():
    from voice_letta.providers.openai_chat import build_params

    cfg = LLMConfig(provider=ProviderName.OPENAI, model="m", max_tokens=256, temperature=0.7,
                    max_tokens_param="max_completion_tokens")
    req = ChatRequest((ChatMessage("user", "hi"),), cfg, temperature=0.1, max_tokens=12)
    params = build_params(cfg, req, max_tokens_param="max_tokens")
    assert params["temperature"] == 0.1 and params["max_completion_tokens"] == 12 and "max_tokens" not in params


async def test_explicit_finish_reason_length_is_passed_on(fake_openai, model):
    fake_openai.script([Text("Trunc"), Finish("length")])
    deltas = await collect(model, request(model.config))
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["length"]


async def test_http_400_raises_bad_request_with_status_and_message_but_no_key(fake_openai, model):
    fake_openai.script([HttpError(400, "context too long")])
    with pytest.raises(ProviderBadRequest) as info:
        await collect(model, request(model.config))
    assert "400" in str(info.value) and "context too long" in str(info.value)
    assert API_KEY not in str(info.value)
    assert info.value.retryable is False


async def test_http_429_raises_rate_limited(fake_openai, model):
    fake_openai.script([HttpError(429, "slow down")])
    with pytest.raises(ProviderRateLimited) as info:
        await collect(model, request(model.config))
    assert info.value.retryable is True


async def test_cut_mid_stream_raises_unavailable(fake_openai, model):
    fake_openai.script([Text("Half a"), Cut()])
    seen: list[str] = []
    with pytest.raises(ProviderUnavailable):
        async for d in model.stream(request(model.config)):
            seen.append(d.content or "")
    assert "".join(seen) == "Half a"


async def test_error_chunk_mid_stream_raises_unavailable(fake_openai, model):
    fake_openai.script([Text("Partial"), HttpError(500, "upstream exploded")])
    with pytest.raises(ProviderUnavailable, match="upstream exploded"):
        await collect(model, request(model.config))


async def test_unreachable_server_raises_unavailable():
    m = OpenAIChatModel(LLMConfig(provider=ProviderName.OPENAI, model="x"), api_key=API_KEY,
                        base_url="http://127.0.0.1:9/v1")
    try:
        with pytest.raises(ProviderUnavailable):
            await collect(m, request(m.config))
    finally:
        await m.aclose()


async def test_azure_variant_sends_deployment_in_path_and_api_version(fake_openai):
    cfg = LLMConfig(provider=ProviderName.AZURE, model="my-gpt4o-deployment")
    m = OpenAIChatModel.azure(cfg, api_key=API_KEY, endpoint=fake_openai.root_url, api_version="2024-10-21")
    try:
        fake_openai.script([Text("Azure says hi.")])
        deltas = await collect(m, request(cfg))
    finally:
        await m.aclose()
    assert text_of(deltas) == "Azure says hi."
    assert fake_openai.paths[0] == (
        "/openai/deployments/my-gpt4o-deployment/chat/completions?api-version=2024-10-21"
    )


async def test_read_timeout_raises_provider_timeout(fake_openai):
    cfg = LLMConfig(provider=ProviderName.OPENAI, model="fake-model", timeout_s=0.2)
    m = OpenAIChatModel(cfg, api_key=API_KEY, base_url=fake_openai.base_url)
    fake_openai.script([Pause(1.0), Text("too late")])
    try:
        with pytest.raises(ProviderTimeout) as info:
            await collect(m, request(cfg))
    finally:
        await m.aclose()
    assert info.value.retryable is True


async def test_consecutive_streams_reuse_one_keep_alive_connection(fake_openai, model):
    for _ in range(3):
        fake_openai.script([Text("Hi.")])
        deltas = await collect(model, request(model.config))
        assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    assert len(fake_openai.peers) == 3 and len(set(fake_openai.peers)) == 1


async def test_the_request_body_is_the_chat_completions_json_sent_as_is(fake_openai, model):
    """No SDK transformation: what build_params made is exactly what the server receives."""
    from voice_letta.providers.openai_chat import build_params

    req = request(model.config, tools=(WEATHER,))
    await collect(model, req)
    # the fake is not OpenAI's own host: max_tokens, no prompt_cache_key
    assert fake_openai.requests[0] == {**build_params(model.config, req, max_tokens_param="max_tokens"), "stream": True}


async def test_each_request_has_its_own_length_and_the_sdk_s_auth_and_client_headers(fake_openai, model):
    """Requests go out from one template the SDK built (providers/openai_send.py), with the SDK transport's own
    aiohttp session: the key, the SDK's client headers, and each request's own body and Content-Length, back to
    back on one keep-alive connection."""
    import openai

    for text in ("short", "a much longer question than the first one, " * 20):
        fake_openai.script([Text("Hi.")])
        await collect(model, request(model.config, text))
    assert [r["messages"][-1]["content"] for r in fake_openai.requests] == [
        "short", "a much longer question than the first one, " * 20]
    first, second = fake_openai.headers
    assert first["Authorization"] == second["Authorization"] == f"Bearer {API_KEY}"
    assert first["User-Agent"] == f"AsyncOpenAI/Python {openai.__version__}"
    assert int(second["Content-Length"]) > int(first["Content-Length"]) + 800
    assert len(set(fake_openai.peers)) == 1
    assert model._sender._direct is not None  # the cheapest way was taken (not httpx2 per request)


async def test_a_body_left_open_after_done_is_cut_off_and_a_closed_one_is_not_waited_for():
    """After [DONE] the rest of the body is read so the connection can be reused: at once when the body's end came
    with it, and for at most DRAIN_AFTER_DONE_S from a server that keeps it open."""
    import asyncio
    import time

    from aiohttp import web

    from tests.integration.agent.conftest import listen
    from voice_letta.providers import openai_chat

    hold_s: list[float] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": "Hi."}, "finish_reason": "stop"}]}
        await resp.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())
        await asyncio.sleep(hold_s.pop(0))
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner, url = await listen(app)
    m = OpenAIChatModel(LLMConfig(provider=ProviderName.OPENAI, model="m"), api_key=API_KEY, base_url=f"{url}/v1")
    try:
        for hold, within in ((0.0, 0.5), (openai_chat.DRAIN_AFTER_DONE_S + 2.0, openai_chat.DRAIN_AFTER_DONE_S + 1.0)):
            hold_s.append(hold)
            started = time.monotonic()
            deltas = await collect(m, request(m.config))
            assert text_of(deltas) == "Hi." and time.monotonic() - started < within
    finally:
        await m.aclose()
        await runner.cleanup()
