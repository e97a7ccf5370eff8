"""Tool schema transforms, argument validation, prompt compilation and context repair."""

from __future__ import annotations

from voice_letta.agent.context import to_chat_messages
from voice_letta.agent.models import AgentState, Block, Message, Tool, ToolCall, ToolOptions, ToolType
from voice_letta.agent.prompt import SystemPromptCache, compile_system_prompt
from voice_letta.agent.tools import add_pre_exec_msg, make_strict, voice_tools

WEATHER = Tool(id="t1", name="get_weather", type=ToolType.CUSTOM, description="Weather",
               parameters={"type": "object", "properties": {"city": {"type": "string"},
                                                            "days": {"type": "integer"}}, "required": ["city"]})


def agent(**kw: object) -> AgentState:
    base = dict(id="agent-1", name="a", blocks=[Block(id="b1", label="human", value="Name: Ada", version=1)])
    base.update(kw)
    return AgentState(**base)  # type: ignore[arg-type]


def test_pre_exec_msg_is_first_and_required() -> None:
    schema = add_pre_exec_msg(WEATHER.parameters)
    assert list(schema["properties"]) == ["pre_exec_msg", "city", "days"]
    assert schema["required"] == ["pre_exec_msg", "city"]
    assert "pre_exec_msg" not in WEATHER.parameters["properties"]  # the stored schema is not mutated


def test_strict_mode_requires_all_and_makes_optionals_nullable() -> None:
    strict = make_strict(add_pre_exec_msg(WEATHER.parameters))
    assert strict["required"] == ["pre_exec_msg", "city", "days"]
    assert strict["additionalProperties"] is False
    assert strict["properties"]["days"]["type"] == ["integer", "null"]
    assert strict["properties"]["city"]["type"] == "string"


def test_only_voice_safe_tools_are_exposed_plus_search_memory() -> None:
    memory_tool = Tool(id="t2", name="core_memory_append", type=ToolType.LETTA_MEMORY_CORE)
    mcp_tool = Tool(id="t3", name="lookup", type=ToolType.EXTERNAL_MCP)
    fast = Tool(id="t4", name="time_now", type=ToolType.CUSTOM, options=ToolOptions(filler=False))
    names = {e.spec.name: e for e in voice_tools(agent(tools=[WEATHER, memory_tool, mcp_tool, fast]))}
    assert set(names) == {"get_weather", "lookup", "time_now", "search_memory"}
    assert "pre_exec_msg" not in names["time_now"].spec.parameters["properties"]
    assert names["get_weather"].validate({"pre_exec_msg": "Checking.", "city": 3}) is not None
    assert names["get_weather"].validate({"pre_exec_msg": "Checking.", "city": "Oslo"}) is None


def test_prompt_is_byte_stable_and_rebuilt_on_block_version_change() -> None:
    cache = SystemPromptCache()
    a = agent()
    first = cache.get(a)
    assert cache.get(agent()) == first and cache.rebuilds == 1
    changed = agent(blocks=[Block(id="b1", label="human", value="Name: Bob", version=2)])
    second = cache.get(changed)
    assert second != first and "Name: Bob" in second and cache.rebuilds == 2
    assert cache.rebuild_system_prompt(changed) == second and cache.rebuilds == 2
    cache.rebuild_system_prompt(changed, force=True)
    assert cache.rebuilds == 3
    assert compile_system_prompt(a) == compile_system_prompt(agent())


def test_context_drops_tool_calls_without_results_and_orphan_results() -> None:
    rows = [
        Message(id="1", agent_id="a", role="user", content="hi"),
        Message(id="2", agent_id="a", role="assistant", content="Let me look.",
                tool_calls=[ToolCall(id="c1", name="x", arguments="{}")], interrupted=True),
        Message(id="3", agent_id="a", role="tool", content="orphan", tool_call_id="c0"),
        Message(id="4", agent_id="a", role="assistant", content=None,
                tool_calls=[ToolCall(id="c2", name="x", arguments="{}")]),
        Message(id="5", agent_id="a", role="tool", content="ok", tool_call_id="c2"),
    ]
    out = to_chat_messages(rows)
    assert [(m.role, bool(m.tool_calls)) for m in out] == [
        ("user", False), ("assistant", False), ("assistant", True), ("tool", False)]
    assert out[1].content == "Let me look.—"  # cut off: the dash, and a context note on the next user message


def test_a_retried_turns_cut_first_attempt_leaves_the_context() -> None:
    """A client that lost a stream retries it (same messages or Idempotency-Key): the turn runs again and its
    first attempt's cut reply stays stored; later turns showed the model both (the partial, then the whole)."""
    rows = [
        Message(id="1", agent_id="a", role="user", content="Tell me a story.", turn_id="t1"),
        Message(id="2", agent_id="a", role="assistant", content="Once upon a", interrupted=True, turn_id="t1"),
        Message(id="3", agent_id="a", role="assistant", content="Once upon a time there was a keeper.",
                turn_id="t1"),
        Message(id="4", agent_id="a", role="user", content="Go on.", turn_id="t2"),
        # a tool round then a barge-in: the filler comes first, the cut answer last; both stay
        Message(id="5", agent_id="a", role="assistant", content="Let me check.", turn_id="t2",
                tool_calls=[ToolCall(id="c1", name="x", arguments="{}")]),
        Message(id="6", agent_id="a", role="tool", content="ok", tool_call_id="c1", turn_id="t2"),
        Message(id="7", agent_id="a", role="assistant", content="He lived on a", interrupted=True, turn_id="t2"),
    ]
    out = to_chat_messages(rows)
    assert [m.content for m in out if m.role == "assistant"] == [
        "Once upon a time there was a keeper.", "Let me check.", "He lived on a—"]
