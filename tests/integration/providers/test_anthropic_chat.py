"""AnthropicChatModel through the real anthropic SDK against FakeAnthropicServer."""

from __future__ import annotations

import json
import re

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import Cut, Finish, HttpError, Pause, Text, ToolCall
from tests.integration.providers.helpers import WEATHER, collect, request, text_of, tool_calls_of
from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.agent.models import ToolCall as DomainToolCall
from voice_letta.agent.ports import ChatMessage, ChatRequest, ToolCallDelta, ToolSpec
from voice_letta.errors import ProviderBadRequest, ProviderRateLimited, ProviderTimeout, ProviderUnavailable
from voice_letta.providers.anthropic_chat import AnthropicChatModel, build_params
from voice_letta.providers.tool_names import ToolNames

API_KEY = "sk-ant-test-secret-123456"


@pytest.fixture
async def model(fake_anthropic: FakeAnthropicServer):
    m = AnthropicChatModel(LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-fake"),
                           api_key=API_KEY, base_url=fake_anthropic.base_url)
    yield m
    await m.aclose()


async def test_text_deltas_stop_reason_and_usage(fake_anthropic, model):
    fake_anthropic.usage = {"prompt_tokens": 50, "completion_tokens": 9, "cached_tokens": 20}
    fake_anthropic.script([Text("Bon"), Text("jour.")])
    deltas = await collect(model, request(model.config))
    assert [d.content for d in deltas if d.content] == ["Bon", "jour."]
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.model_dump() == {
        "prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59, "cached_tokens": 20, "estimated": False,
    }


async def test_system_messages_go_to_system_param_and_max_tokens_defaults(fake_anthropic):
    cfg = LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-fake", max_tokens=None)
    m = AnthropicChatModel(cfg, api_key=API_KEY, base_url=fake_anthropic.base_url)
    try:
        await collect(m, request(cfg, "Hello?"))
    finally:
        await m.aclose()
    body = fake_anthropic.requests[0]
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hello?"}]}]
    assert body["max_tokens"] == 1024
    assert "tools" not in body and "tool_choice" not in body


async def test_cache_control_marks_tools_system_and_the_history_before_the_new_input(fake_anthropic):
    cfg = LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-fake")
    m = AnthropicChatModel(cfg, api_key=API_KEY, base_url=fake_anthropic.base_url)
    history = (ChatMessage("system", "Persona and memory blocks."), ChatMessage("user", "Hi, I'm Ada."),
               ChatMessage("assistant", "Hello Ada!"), ChatMessage("user", "[context] now\nWhat's my name?"))
    fake_anthropic.usage = {"prompt_tokens": 2100, "completion_tokens": 5, "cached_tokens": 2048}
    try:
        deltas = await collect(m, ChatRequest(history, cfg, tools=(WEATHER,)))
        fake_anthropic.usage = None
        # a tool round: the whole request is marked too (the next round starts from it)
        call = DomainToolCall(id="t1", name="get_weather", arguments='{"city": "Oslo"}')
        rounds = (*history, ChatMessage("assistant", "Let me check.", tool_calls=(call,)),
                  ChatMessage("tool", "Sunny", tool_call_id="t1"))
        await collect(m, ChatRequest(rounds, cfg, tools=(WEATHER,)))
    finally:
        await m.aclose()
    off = cfg.model_copy(update={"prompt_cache": False})
    m_off = AnthropicChatModel(off, api_key=API_KEY, base_url=fake_anthropic.base_url)
    try:
        await collect(m_off, ChatRequest(history, off, tools=(WEATHER,)))
    finally:
        await m_off.aclose()
    eph = {"type": "ephemeral"}
    first, second, third = fake_anthropic.requests
    assert first["tools"][-1]["cache_control"] == eph
    assert first["system"][-1]["cache_control"] == eph
    assert first["messages"][1] == {"role": "assistant",
                                    "content": [{"type": "text", "text": "Hello Ada!", "cache_control": eph}]}
    assert "cache_control" not in first["messages"][0]["content"][-1]
    assert "cache_control" not in first["messages"][-1]["content"][-1]  # the new input changes every turn
    marked = [i for i, t in enumerate(second["messages"]) if "cache_control" in t["content"][-1]]
    assert marked == [1, len(second["messages"]) - 1]
    assert sum(1 for t in second["messages"] for b in t["content"] if "cache_control" in b) + 2 <= 4
    assert "cache_control" not in json.dumps(third)
    usage = next(d.usage for d in deltas if d.usage)
    assert usage.cached_tokens == 2048 and usage.prompt_tokens == 2100


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_with_or_without_v1(fake_anthropic, suffix):
    cfg = LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-fake")
    m = AnthropicChatModel(cfg, api_key=API_KEY, base_url=fake_anthropic.base_url + suffix)
    try:
        assert text_of(await collect(m, request(cfg))) == "OK."
    finally:
        await m.aclose()
    assert fake_anthropic.paths == ["/v1/messages"]


async def test_tool_use_streams_as_tool_call_fragments_with_ordinal_index(fake_anthropic, model):
    args = json.dumps({"city": "Lisbon, Portugal"})
    fake_anthropic.script([Text("One moment."), ToolCall("get_weather", args, id="toolu_1", fragment_chars=4)])
    deltas = await collect(model, request(model.config, tools=(WEATHER,)))
    fragments = [tc for d in deltas for tc in d.tool_calls]
    assert fragments[0] == ToolCallDelta(index=0, id="toolu_1", name="get_weather")  # index 0 although block 1
    assert len(fragments) > 2 and all(f.index == 0 and f.id is None for f in fragments[1:])
    assert tool_calls_of(deltas) == {0: {"id": "toolu_1", "name": "get_weather", "arguments": args}}
    assert text_of(deltas) == "One moment."
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["tool_calls"]


async def test_parallel_tool_uses_and_argumentless_tool(fake_anthropic, model):
    fake_anthropic.script([ToolCall("get_weather", '{"city":"Oslo"}'), ToolCall("get_time", "")])
    deltas = await collect(model, request(model.config, tools=(WEATHER,)))
    calls = tool_calls_of(deltas)
    assert [(c["name"], c["arguments"]) for c in calls.values()] == [
        ("get_weather", '{"city":"Oslo"}'), ("get_time", "{}"),
    ]


async def test_tool_history_maps_to_tool_use_and_merged_tool_result_blocks(fake_anthropic, model):
    req = ChatRequest(
        messages=(
            ChatMessage(role="system", content="Persona."),
            ChatMessage(role="system", content="Memory."),
            ChatMessage(role="user", content="Weather in Oslo and Rome?"),
            ChatMessage(role="assistant", content="Checking.", tool_calls=(
                DomainToolCall(id="t1", name="get_weather", arguments='{"city":"Oslo"}'),
                DomainToolCall(id="t2", name="get_weather", arguments='{"city":"Rome"}'),
            )),
            ChatMessage(role="tool", content="Sunny", tool_call_id="t1", name="get_weather"),
            ChatMessage(role="tool", content="Rainy", tool_call_id="t2", name="get_weather"),
            ChatMessage(role="user", content="And tomorrow?"),
        ),
        config=model.config,
        tools=(WEATHER,),
        tool_choice="required",
    )
    await collect(model, req)
    body = fake_anthropic.requests[0]
    eph = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "Persona.\n\nMemory.", "cache_control": eph}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo and Rome?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {"city": "Rome"}, "cache_control": eph},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "Sunny"},
            {"type": "tool_result", "tool_use_id": "t2", "content": "Rainy"},
            {"type": "text", "text": "And tomorrow?"},
        ]},
    ]
    assert body["tools"] == [{"name": "get_weather", "description": WEATHER.description,
                              "input_schema": WEATHER.parameters, "cache_control": eph}]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", True, {"type": "auto"}),
        ("none", False, {"type": "none"}),
        ("get_weather", False, {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}),
    ],
)
async def test_tool_choice_mapping(fake_anthropic, choice, parallel, expected):
    cfg = LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-fake", parallel_tool_calls=parallel)
    m = AnthropicChatModel(cfg, api_key=API_KEY, base_url=fake_anthropic.base_url)
    try:
        await collect(m, ChatRequest(messages=(ChatMessage("user", "x"),), config=cfg, tools=(WEATHER,),
                                     tool_choice=choice))
    finally:
        await m.aclose()
    assert fake_anthropic.requests[0]["tool_choice"] == expected


async def test_max_tokens_stop_reason_maps_to_length(fake_anthropic, model):
    fake_anthropic.script([Text("Cut sho"), Finish("max_tokens")])
    deltas = await collect(model, request(model.config))
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["length"]


async def test_http_errors_map_to_the_error_tree(fake_anthropic, model):
    fake_anthropic.script([HttpError(400, "messages: bad")], [HttpError(429)], [HttpError(529, "Overloaded")])
    with pytest.raises(ProviderBadRequest, match="messages: bad") as info:
        await collect(model, request(model.config))
    assert API_KEY not in str(info.value)
    with pytest.raises(ProviderRateLimited):
        await collect(model, request(model.config))
    with pytest.raises(ProviderUnavailable, match="Overloaded"):
        await collect(model, request(model.config))


async def test_error_event_and_cut_mid_stream_raise_unavailable(fake_anthropic, model):
    fake_anthropic.script([Text("Par"), HttpError(529, "Overloaded")], [Text("Par"), Cut()])
    for _ in range(2):
        seen: list[str] = []
        with pytest.raises(ProviderUnavailable):
            async for d in model.stream(request(model.config)):
                seen.append(d.content or "")
        assert "".join(seen) == "Par"


async def test_read_timeout_raises_provider_timeout(fake_anthropic):
    cfg = LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-fake", timeout_s=0.2)
    m = AnthropicChatModel(cfg, api_key=API_KEY, base_url=fake_anthropic.base_url)
    fake_anthropic.script([Pause(1.0), Text("too late")])
    try:
        with pytest.raises(ProviderTimeout):
            await collect(m, request(cfg))
    finally:
        await m.aclose()


async def test_tool_names_anthropic_refuses_get_stand_ins_and_come_back_as_ours(fake_anthropic, model):
    """Dots (ours allow them, the Messages API does not: the strict fake answers 400 like it); "a.b" next to a
    tool already named "a_b" gets a digest; a tool_use the model streams back carries our name."""
    spec = WEATHER.parameters
    tools = tuple(ToolSpec(name=n, description=n, parameters=spec) for n in ("weather.get", "weather_get", "fs.read"))
    names = ToolNames(["weather.get", "weather_get", "fs.read"])
    dotted = names.api("weather.get")
    assert dotted.startswith("weather_get_") and names.api("weather_get") == "weather_get"
    assert names.api("fs.read") == "fs_read"
    call = DomainToolCall(id="t1", name="fs.read", arguments="{}")
    history = (ChatMessage("system", "Be brief."), ChatMessage("user", "Read it."),
               ChatMessage("assistant", None, tool_calls=(call,)), ChatMessage("tool", "text", tool_call_id="t1"),
               ChatMessage("user", "And the weather?"))
    fake_anthropic.script([ToolCall(dotted, '{"city": "Oslo"}'), ToolCall("weather_get", '{"city": "Rome"}')])
    deltas = await collect(model, ChatRequest(history, model.config, tools=tools, tool_choice="weather.get"))
    calls = tool_calls_of(deltas)
    assert [(c["name"], c["arguments"]) for c in calls.values()] == [
        ("weather.get", '{"city": "Oslo"}'), ("weather_get", '{"city": "Rome"}')]
    body = fake_anthropic.requests[0]
    assert [t["name"] for t in body["tools"]] == [dotted, "weather_get", "fs_read"]
    assert body["tool_choice"]["name"] == dotted
    use = body["messages"][1]["content"][0]
    assert (use["type"], use["id"], use["name"], use["input"]) == ("tool_use", "t1", "fs_read", {})
    # The same request's names give the same stand-ins (the prompt cache needs byte-stable requests).
    assert ToolNames.of(ChatRequest(history, model.config, tools=tools)).api("weather.get") == dotted


async def test_the_strict_fake_refuses_what_anthropic_refuses(fake_anthropic, model):
    """The fake's check is what makes the test above fail without the mapping: the unmapped request is a 400."""
    bad = ToolSpec(name="weather.get", description="w", parameters=WEATHER.parameters)
    fake_anthropic.script([Text("never")])
    params = build_params(model.config, request(model.config, tools=(bad,)))  # no ToolNames: as sent before
    with pytest.raises(anthropic.BadRequestError, match=re.escape("tools.0.custom.name: String should match pattern")):
        await model.client.messages.create(**params)
    params["tools"][0]["name"] = "weather_get"
    params["tool_choice"] = {"type": "tool", "name": "weather.get"}
    with pytest.raises(anthropic.BadRequestError, match=re.escape("tool_choice.tool.name")):
        await model.client.messages.create(**params)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab._-é/", min_size=1, max_size=140), max_size=8))
def test_stand_ins_are_valid_distinct_and_map_back(names):
    mapping = ToolNames(names)
    api = [mapping.api(n) for n in set(names)]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,128}", a) for a in api)
    assert len(set(api)) == len(api)
    assert all(mapping.ours(mapping.api(n)) == n for n in names)
