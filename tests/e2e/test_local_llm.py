"""The embedded SmolLM2-135M chat model, for real: streaming, grammar-valid tool calls, cancellation, loop lag.

Numbers (load time, time to first delta, tokens/s, loop lag) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import jsonschema
import pytest

from voice_letta.agent.models import LLMConfig
from voice_letta.agent.ports import ChatDelta, ChatMessage, ChatModel, ChatRequest, ToolSpec
from voice_letta.errors import ConfigError, ProviderBadRequest

pytest.importorskip("llama_cpp")

from voice_letta.providers.local_llm import LocalChatModel, local_model_path, preload

try:
    local_model_path()
except ConfigError as e:  # pragma: no cover - depends on the machine
    pytest.skip(f"no local GGUF: {e}", allow_module_level=True)

FILLER = {"type": "string", "description": "a short line spoken while the tool runs"}
TOOLS = (
    ToolSpec(
        "search_memory",
        "Search past conversations with the user.",
        {
            "type": "object",
            "properties": {"pre_exec_msg": FILLER, "query": {"type": "string"}},
            "required": ["pre_exec_msg", "query"],
        },
    ),
    ToolSpec(
        "set_lights",
        "Turn the lights on or off.",
        {
            "type": "object",
            "properties": {"pre_exec_msg": FILLER, "on": {"type": "boolean"}},
            "required": ["pre_exec_msg", "on"],
        },
    ),
)
SCHEMAS = {t.name: t.parameters for t in TOOLS}
pytestmark = pytest.mark.timeout(600)
SYSTEM = ChatMessage("system", "You are a helpful voice assistant. Answer in one short sentence.")


def request(text: str, *, tools: tuple[ToolSpec, ...] = (), tool_choice: str = "auto", **cfg: object) -> ChatRequest:
    config = LLMConfig(**{"temperature": 0.0, "max_tokens": 128, **cfg})  # type: ignore[arg-type]
    return ChatRequest(
        messages=(SYSTEM, ChatMessage("user", text)), config=config, tools=tools, tool_choice=tool_choice
    )


@dataclass
class Result:
    deltas: list[ChatDelta]
    first_delta_s: float
    total_s: float

    @property
    def content(self) -> str:
        return "".join(d.content or "" for d in self.deltas)

    @property
    def final(self) -> ChatDelta:
        return self.deltas[-1]


async def collect(req: ChatRequest, model: ChatModel | None = None) -> Result:
    model = model or LocalChatModel(req.config)
    deltas: list[ChatDelta] = []
    start = time.perf_counter()
    first = 0.0
    async with asyncio.timeout(240):  # generous: the e2e machine's two cores may be shared
        async for delta in model.stream(req):
            if not deltas:
                first = time.perf_counter() - start
            deltas.append(delta)
    return Result(deltas, first, time.perf_counter() - start)


def assert_valid_tool_call(result: Result, allowed: set[str]) -> tuple[str, dict[str, object]]:
    """One OpenAI-style call: id + name first, then several argument fragments, then finish tool_calls."""
    calls = [c for d in result.deltas for c in d.tool_calls]
    assert calls, result.deltas
    head, fragments = calls[0], calls[1:]
    assert head.id and head.id.startswith("call_") and head.name in allowed
    assert all(c.index == 0 and c.id is None and c.name is None and c.arguments for c in fragments)
    assert len(fragments) >= 3, "arguments should stream in fragments"
    assert result.content == ""
    assert result.final.finish_reason == "tool_calls"
    arguments = json.loads("".join(c.arguments or "" for c in fragments))
    jsonschema.validate(arguments, SCHEMAS[head.name])
    assert next(iter(arguments)) == "pre_exec_msg"
    return head.name, arguments


async def test_preload_loads_model_once() -> None:
    start = time.perf_counter()
    await preload()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    await preload()
    assert time.perf_counter() - start < 0.05  # cached for the process
    print(f"\n[local_llm] load {load_s:.3f} s")


async def test_local_chat_model_is_a_chat_model() -> None:
    assert isinstance(LocalChatModel(LLMConfig()), ChatModel)


async def test_plain_chat_streams_content_deltas_then_stop_with_usage() -> None:
    await collect(request("Hi."))  # warm the prompt prefix like a running session would
    result = await collect(request("What is the capital of France?"))
    content = [d for d in result.deltas if d.content]
    assert len(content) >= 3
    assert result.content.strip()
    final = result.final
    assert final.finish_reason == "stop" and final.content is None
    usage = final.usage
    assert usage is not None and usage.prompt_tokens > 10
    assert usage.completion_tokens >= len(content)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.cached_tokens > 0  # the system prompt prefix was reused
    decode_s = result.total_s - result.first_delta_s
    print(
        f"\n[local_llm] plain: first delta {result.first_delta_s * 1000:.0f} ms, "
        f"{usage.completion_tokens} tokens, {usage.completion_tokens / max(decode_s, 1e-6):.0f} tok/s "
        f"({usage.prompt_tokens} prompt tokens, {usage.cached_tokens} cached)"
    )


async def test_max_tokens_caps_generation_with_length_finish() -> None:
    result = await collect(request("Tell me a long story about a dragon.", max_tokens=8))
    assert result.final.finish_reason == "length"
    assert result.final.usage is not None and result.final.usage.completion_tokens == 8


async def test_required_tool_choice_yields_schema_valid_call_with_filler_first() -> None:
    for temperature in (0.0, 0.7):
        req = request("Please turn off the lights.", tools=TOOLS, tool_choice="required", temperature=temperature)
        result = await collect(req)
        name, arguments = assert_valid_tool_call(result, {"search_memory", "set_lights"})
        print(
            f"\n[local_llm] required (t={temperature}): {name}({arguments}) "
            f"first delta {result.first_delta_s * 1000:.0f} ms, total {result.total_s * 1000:.0f} ms"
        )


async def test_named_tool_choice_forces_that_tool() -> None:
    result = await collect(request("Hello there!", tools=TOOLS, tool_choice="search_memory"))
    name, _ = assert_valid_tool_call(result, {"search_memory"})
    assert name == "search_memory"


@pytest.mark.parametrize(
    "text",
    ["Hello, how are you today?", "Turn on the lights in the kitchen.", "What did I tell you about my trip?"],
)
async def test_auto_tool_choice_yields_valid_reply_or_valid_tool_call(text: str) -> None:
    result = await collect(request(text, tools=TOOLS, tool_choice="auto", temperature=0.7))
    if any(d.tool_calls for d in result.deltas):
        name, arguments = assert_valid_tool_call(result, set(SCHEMAS))
        print(f"\n[local_llm] auto {text!r}: tool {name}({arguments})")
    else:
        assert result.final.finish_reason in ("stop", "length")
        assert result.content.strip()
        assert not result.content.lstrip().startswith("{")  # the envelope is unwrapped
        print(f"\n[local_llm] auto {text!r}: reply {result.content!r}")


async def test_tool_choice_none_answers_in_plain_text() -> None:
    result = await collect(request("Turn on the lights.", tools=TOOLS, tool_choice="none"))
    assert not any(d.tool_calls for d in result.deltas)
    assert result.content.strip() and result.final.finish_reason in ("stop", "length")


async def test_unknown_named_tool_is_a_bad_request() -> None:
    with pytest.raises(ProviderBadRequest):
        await collect(request("hi", tools=TOOLS, tool_choice="no_such_tool"))


async def test_breaking_out_mid_stream_frees_model_for_next_request() -> None:
    model = LocalChatModel(LLMConfig(temperature=0.7, max_tokens=400))
    long_req = request("Write a long essay about the history of Rome.", max_tokens=400, temperature=0.7)
    async for delta in model.stream(long_req):
        assert delta.content
        break  # barge-in
    start = time.perf_counter()
    result = await collect(request("Say hi."), model)
    waited = time.perf_counter() - start
    assert result.final.finish_reason in ("stop", "length")
    # the 400 abandoned tokens would take several seconds more; generation stopped within a token or two
    assert result.first_delta_s < 10.0, result.first_delta_s
    print(
        f"\n[local_llm] after barge-in: next first delta {result.first_delta_s * 1000:.0f} ms "
        f"(total {waited * 1000:.0f} ms)"
    )


async def test_cancelling_the_consuming_task_stops_generation() -> None:
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in LocalChatModel(LLMConfig()).stream(
            request("Write a long essay about the history of Rome.", max_tokens=400, temperature=0.7)
        ):
            first.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(120):
        await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    result = await collect(request("Say hi."))
    assert result.first_delta_s < 10.0
    assert result.final.finish_reason in ("stop", "length")


async def test_two_concurrent_streams_both_complete() -> None:
    a, b = await asyncio.gather(
        collect(request("Name a fruit.", max_tokens=48)),
        collect(request("Turn on the lights.", tools=TOOLS, tool_choice="required", max_tokens=96)),
    )
    assert a.content.strip() and a.final.finish_reason in ("stop", "length")
    assert_valid_tool_call(b, set(SCHEMAS))


async def test_event_loop_is_never_blocked_during_generation() -> None:
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - before - 0.005)

    tick = asyncio.create_task(ticker())
    try:
        plain, tool = await asyncio.gather(
            collect(request("Tell me about the ocean.", max_tokens=128, temperature=0.7)),
            collect(request("Turn off the lights.", tools=TOOLS, tool_choice="required")),
        )
    finally:
        done.set()
        await tick
    assert plain.deltas and tool.deltas
    lags.sort()
    p50, p99, worst = lags[len(lags) // 2], lags[int(len(lags) * 0.99)], lags[-1]
    print(
        f"\n[local_llm] loop lag over {len(lags)} ticks: p50 {p50 * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {worst * 1000:.1f} ms"
    )
    assert worst < 0.25


async def test_prompt_longer_than_context_drops_oldest_messages() -> None:
    history = tuple(
        ChatMessage("user" if i % 2 == 0 else "assistant", f"Message {i}: " + "words " * 60) for i in range(40)
    )
    req = ChatRequest(
        messages=(SYSTEM, *history, ChatMessage("user", "Say hi.")),
        config=LLMConfig(temperature=0.0, max_tokens=32, context_window=600),
    )
    result = await collect(req)
    usage = result.final.usage
    assert usage is not None and usage.total_tokens <= 600
    assert result.final.finish_reason in ("stop", "length")


async def test_missing_gguf_is_a_config_error() -> None:
    model = LocalChatModel(LLMConfig(model="/nonexistent/model.gguf"))
    with pytest.raises(ConfigError):
        await collect(request("hi"), model)
