"""The embedded model's prompt: which mode a request runs in, the tool protocol explained to the model, and the
ChatML token sequence (the oldest messages go first when the context is full). See ``local_llm``."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voice_letta.agent.models import LLMConfig
from voice_letta.agent.ports import ChatMessage, ChatRequest, ToolSpec
from voice_letta.errors import ProviderBadRequest

if TYPE_CHECKING:
    from voice_letta.providers.local_llm import _LoadedModel

log = logging.getLogger(__name__)

TRIGGER = "<tool_call>"
TRIGGER_END = "</tool_call>"
# SmolLM2's chat template inserts this when a conversation has no system message.
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


@dataclass(frozen=True, slots=True)
class _Plan:
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...]  # empty: plain chat
    allow_reply: bool
    config: LLMConfig
    stop: tuple[str, ...]


def _plan(request: ChatRequest, stop: tuple[str, ...]) -> _Plan:
    choice = request.tool_choice
    tools = request.tools
    config = _call_config(request)
    if not tools or choice == "none":
        return _Plan(request.messages, (), True, config, stop)
    if choice not in ("auto", "required"):
        tools = tuple(t for t in tools if t.name == choice)
        if not tools:
            raise ProviderBadRequest(f"tool_choice names an unknown tool: {choice!r}")
    return _Plan(request.messages, tools, choice == "auto", config, stop)


def _call_config(request: ChatRequest) -> LLMConfig:
    """The agent's settings with this call's own ``temperature`` and ``max_tokens`` (a chat completion's), which
    win as they do for every other provider: without this the embedded model ignored a request's limits."""
    update = {k: v for k, v in (("temperature", request.temperature), ("max_tokens", request.max_tokens))
              if v is not None}
    return request.config.model_copy(update=update) if update else request.config


def _tool_prompt(plan: _Plan) -> str:
    lines = ["You can use these tools:"]
    for tool in plan.tools:
        props = tool.parameters.get("properties", {})
        args = ", ".join(
            f'"{k}": {v.get("type", "value")}'
            + (f" ({v['description'].strip()})" if v.get("description") and k != "pre_exec_msg" else "")
            for k, v in props.items()
        )
        lines.append(f"- {tool.name}: {tool.description.strip()} Arguments: {{{args}}}")
    lines.append(f'To call a tool, write only: {TRIGGER}{{"name": "<tool name>", "arguments": {{...}}}}{TRIGGER_END}')
    if plan.allow_reply:
        # The example teaches the trigger. Forced calls need none (the grammar writes it) and a tiny model
        # copies an example's placeholder values into real calls.
        example = plan.tools[0]
        lines.append(f"For example: {_render_call(example.name, _example_arguments(example))}")
        lines.append("Otherwise just answer the user in plain words.")
        lines.append("Call a tool only when the user asks for what it does.")
    else:
        lines.append("You must call one of the tools now.")
    if any("pre_exec_msg" in t.parameters.get("properties", {}) for t in plan.tools):
        lines.append('pre_exec_msg is a short sentence said to the user while the tool runs, like "One moment."')
    return "\n".join(lines)


_EXAMPLE_VALUES: dict[str, Any] = {
    "string": "...", "boolean": True, "integer": 1, "number": 1, "array": [], "object": {}
}


def _example_arguments(tool: ToolSpec) -> dict[str, Any]:
    props = tool.parameters.get("properties", {})
    out: dict[str, Any] = {"pre_exec_msg": "One moment."} if "pre_exec_msg" in props else {}
    for key in tool.parameters.get("required", list(props)):
        if key in out or not isinstance(props.get(key), dict):
            continue
        spec = props[key]
        kind = spec.get("type")
        kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
        example = _EXAMPLE_VALUES.get(kind, "...") if isinstance(kind, str) else "..."
        out[key] = spec["enum"][0] if spec.get("enum") else spec.get("const", example)
    return out


def _render_call(name: str, arguments: Any) -> str:
    return f"{TRIGGER}{json.dumps({'name': name, 'arguments': arguments})}{TRIGGER_END}"


def _render(plan: _Plan) -> list[tuple[str, str]]:
    """(role, content) pairs in ChatML roles; tool calls are written the way the model writes them."""
    out: list[tuple[str, str]] = []
    for m in plan.messages:
        if m.role == "assistant" and m.tool_calls:
            calls = [_render_call(c.name, _loads_or_str(c.arguments)) for c in m.tool_calls]
            out.append(("assistant", "\n".join(([m.content] if m.content else []) + calls)))
        elif m.role == "tool":
            out.append(("user", f"Result of the tool {m.name or 'call'}: {m.content or ''}"))
        elif m.role == "system":
            out.append(("system", plain_memory(m.content or "")))
        else:
            out.append((m.role, m.content or ""))
    system = [i for i, (role, _) in enumerate(out) if role == "system"]
    if not system:
        out.insert(0, ("system", DEFAULT_SYSTEM))
        system = [0]
    if plan.tools:
        out[system[0]] = ("system", f"{out[system[0]][1]}\n\n{_tool_prompt(plan)}")
    return out


_MEMORY = re.compile(r"<memory_blocks>\n.*?\n(?=<)(.*?)</memory_blocks>", re.DOTALL)
_BLOCK = re.compile(r"<([A-Za-z_][A-Za-z0-9_-]*)>\n<description>(.*?)</description>\n<metadata>.*?</metadata>\n"
                    r"<value>\n(.*?)\n</value>\n</\1>\n", re.DOTALL)
_LABELS = {"persona": "About you", "human": "About the user"}


def plain_memory(system: str) -> str:
    """The compiled memory blocks (``agent.prompt``'s XML) as plain labelled lines, for a small model.

    A 135M model copies markup it sees: with the blocks as ``<persona>…</persona>`` it once began a reply with
    ``<persona>:``. Plain lines ("About you: …") give it nothing to echo; anything it cannot parse stays as is."""
    match = _MEMORY.search(system)
    if match is None:
        return system
    lines = ["What you remember (your memory; use it, never read it out):"]
    for label, _description, value in _BLOCK.findall(match.group(1)):
        name = _LABELS.get(label, label.replace("_", " ").capitalize())
        lines.append(f"{name}: {' '.join(value.split()) or '(nothing yet)'}")
    return system[: match.start()] + "\n".join(lines) + system[match.end():]


def _loads_or_str(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _prompt_tokens(model: _LoadedModel, plan: _Plan, budget: int) -> list[int]:
    """Tokenized ChatML prompt of at most ``budget`` tokens: oldest non-system messages go first."""
    tok = model.llm.tokenize
    nl = tok(b"\n", add_bos=False, special=False)
    msgs: list[list[Any]] = [
        [role, tok(content.encode(), add_bos=False, special=False), tok(f"{role}\n".encode(), add_bos=False)]
        for role, content in _render(plan)
    ]
    head = tok(b"assistant\n", add_bos=False)

    def size() -> int:
        return 1 + len(head) + sum(2 + len(h) + len(c) + len(nl) for _, c, h in msgs)

    dropped = 0
    while size() > budget:
        droppable = [i for i, m in enumerate(msgs[:-1]) if m[0] != "system"]
        if droppable:
            del msgs[droppable[0]]
            dropped += 1
            continue
        longest = max(msgs, key=lambda m: len(m[1]))  # only system + last left: cut the longest one
        keep = max(0, len(longest[1]) - (size() - budget))
        longest[1] = longest[1][:keep] if longest[0] == "system" else longest[1][len(longest[1]) - keep :]
        if keep == 0 and size() > budget:
            raise ProviderBadRequest("the prompt does not fit the local model's context")
    if dropped:
        log.warning("local LLM prompt too long: dropped the %d oldest messages", dropped)
    tokens: list[int] = []
    for _, content, header in msgs:
        tokens += [model.im_start, *header, *content, model.im_end, *nl]
    return [*tokens, model.im_start, *head]


