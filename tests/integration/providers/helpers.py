"""Small helpers shared by the provider integration tests."""

from __future__ import annotations

from voice_letta.agent.models import LLMConfig
from voice_letta.agent.ports import ChatDelta, ChatMessage, ChatModel, ChatRequest, ToolSpec

WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def request(config: LLMConfig, text: str = "Hi.", *, tools: tuple[ToolSpec, ...] = ()) -> ChatRequest:
    return ChatRequest(
        messages=(ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content=text)),
        config=config,
        tools=tools,
    )


async def collect(model: ChatModel, req: ChatRequest) -> list[ChatDelta]:
    return [d async for d in model.stream(req)]


def text_of(deltas: list[ChatDelta]) -> str:
    return "".join(d.content or "" for d in deltas)


def tool_calls_of(deltas: list[ChatDelta]) -> dict[int, dict[str, str]]:
    """Accumulate tool-call fragments by index, as the agent loop does."""
    calls: dict[int, dict[str, str]] = {}
    for d in deltas:
        for tc in d.tool_calls:
            call = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += tc.id or ""
            call["name"] += tc.name or ""
            call["arguments"] += tc.arguments or ""
    return calls
