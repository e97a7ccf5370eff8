"""What a ``POST /v1/chat/completions`` request adds to an agent's conversation.

Frameworks resend the whole history each turn; only what follows the last assistant message is new input. The
assistant text they send back is checked against what the agent said: text the agent never said (a greeting the
framework spoke itself) is kept so the history stays true, and a reply sent back cut short (LiveKit and Pipecat keep
only what was played) is stored as heard. Split from ``http_openai`` (the route and its streaming) along that seam.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass

from aiohttp import web
from pydantic import TypeAdapter

from voice_letta.agent.loop import TurnInput, spoken_rows
from voice_letta.agent.models import AgentState, ImagePart, Message
from voice_letta.agent.ports import ToolChoice, ToolSpec
from voice_letta.agent.tools import client_tool_problem, own_tool_names
from voice_letta.errors import NotFoundError, ProtocolViolation, in_the_future
from voice_letta.providers.fallback import accepts_images
from voice_letta.server.keys import AGENT, AGENTS, MODELS, STORE
from voice_letta.wire import openai_chat as W

MAX_IDEMPOTENCY_KEY_CHARS = 255
_MESSAGES: TypeAdapter[list[W.MessageIn]] = TypeAdapter(list[W.MessageIn])  # a request's messages, for its fingerprint

async def resolve_agent(request: web.Request, model: str) -> AgentState:
    agent = await request.app[AGENTS].find(model)
    if agent is None:
        raise NotFoundError(f"The model {model!r} does not exist: pass an agent id (or unique agent name) as model.",
                            code="model_not_found")
    return agent


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


_norm_kept = functools.lru_cache(maxsize=1024)(_norm)
NORM_KEPT_CHARS = 2000  # longer stored texts are normalised each time (the cache stays small)


def _norm_stored(text: str) -> str:
    """``_norm`` of a stored message's text: the window's replies are the same strings request after request."""
    return _norm_kept(text) if len(text) <= NORM_KEPT_CHARS else _norm(text)


def _known(text: str, stored: list[Message]) -> bool:
    """Is this client-side assistant text something we said (possibly cut short by the client)?"""
    said = _norm(text)
    if not said:
        return True
    for m in stored:
        ours = _norm_stored(m.content or "")
        if ours and (ours.startswith(said) or said.startswith(ours) or said in ours):
            return True
    return False


def _cut_short(text: str, stored: list[Message]) -> str | None:
    """The turn whose spoken reply the client sends back cut short, if it does (LiveKit and Pipecat keep only
    what was played of an interrupted reply): the id of the agent's latest turn when ``text`` is a strict prefix
    of everything that turn said, missing at least one word (a dropped final period or space is not a cut)."""
    latest = next((m for m in reversed(stored) if m.role == "assistant" and m.content and m.turn_id), None)
    if latest is None or latest.turn_id is None:
        return None
    spoken = _norm(" ".join(m.content or "" for m in spoken_rows(stored, latest.turn_id)))
    said = _norm(text)
    if not said or len(said) >= len(spoken) or not spoken.startswith(said):
        return None
    return latest.turn_id if any(ch.isalnum() for ch in spoken[len(said):]) else None


async def _accepts_images(request: web.Request, agent: AgentState) -> bool:
    model = request.app[MODELS].for_config(agent.llm)
    check = getattr(model, "accepts_images", None)
    return bool(await check()) if check is not None else await accepts_images(agent.llm)


async def _check_results(request: web.Request, agent: AgentState, results: list[tuple[int, str]]) -> None:
    """Tool results must answer calls of the client's tools this agent made, each once: a result for a call the
    agent never made (or twice in one request) was stored and sent on, and the provider refused it, then and in
    every later turn."""
    made = {c.id for m in await request.app[STORE].list_messages(agent.id, limit=MAX_HISTORY_CHECK)
            if m.role == "assistant" and m.kind == "client_tool" for c in m.tool_calls or ()}
    seen: set[str] = set()
    for index, call_id in results:
        if call_id in seen:
            raise ProtocolViolation(f"tool_call_id {call_id!r} is answered twice in this request",
                                    code="invalid_request", param=f"messages.{index}.tool_call_id")
        seen.add(call_id)
        if call_id not in made:
            raise ProtocolViolation(f"tool_call_id {call_id!r} answers no recent call of this agent's client tools",
                                    code="invalid_request", param=f"messages.{index}.tool_call_id")


MAX_HISTORY_CHECK = 200  # recent messages searched for the calls a tool result answers


@dataclass(frozen=True, slots=True)
class ParsedTurn:
    inp: TurnInput
    stream: bool
    include_usage: bool


async def parse_turn(request: web.Request, body: W.ChatCompletionRequest, agent: AgentState) -> ParsedTurn:
    msgs = body.messages
    last_assistant = max((i for i, m in enumerate(msgs) if m.role == "assistant"), default=-1)
    new = msgs[last_assistant + 1:]
    system = "\n\n".join(m.text() for m in msgs if m.role in ("system", "developer") and m.text().strip())
    user_text = "\n".join(m.text() for m in new if m.role == "user" and m.text().strip())
    attached = [(f"messages.{last_assistant + 1 + i}", m.images(f"messages.{last_assistant + 1 + i}"))
                for i, m in enumerate(new) if m.role == "user"]
    images = tuple(ImagePart(url=url, detail=detail) for _, found in attached for url, detail in found)
    if images and not await _accepts_images(request, agent):
        raise ProtocolViolation(
            f"this agent's model ({agent.llm.provider.value}/{agent.llm.model}) does not take images; send text "
            "only, or give the agent a model that does (llm.vision: true if it does and is not recognised)",
            code="image_not_supported", param=next(where for where, found in attached if found))
    results = tuple((m.tool_call_id or "", m.text()) for m in new if m.role in ("tool", "function"))
    for i, m in enumerate(new):
        if m.role in ("tool", "function") and not m.tool_call_id:
            legacy = " (a legacy 'function' message has none: send role 'tool')" if m.role == "function" else ""
            raise ProtocolViolation(f"every tool message needs the tool_call_id of the call it answers{legacy}",
                                    code="invalid_request", param=f"messages.{last_assistant + 1 + i}.tool_call_id")
    if results:
        await _check_results(request, agent, [(last_assistant + 1 + i, m.tool_call_id or "")
                                              for i, m in enumerate(new) if m.role in ("tool", "function")])
    if not user_text and not results and not images:
        raise ProtocolViolation("no new input: the request must end with a user message (or tool results) "
                                "after the last assistant message", code="invalid_request")
    unknown: str | None = None
    if last_assistant >= 0 and not msgs[last_assistant].tool_calls:
        text = msgs[last_assistant].text()
        store = request.app[STORE]
        # Frameworks send the agent's last reply back with every request: the window its turn begins with holds it
        # (no row read when the store knows the window, 0.39 ms a request before); the latest 40 messages are read
        # only when it does not (text the agent never said, a reply already evicted).
        recent = await store.context_window(agent.id)
        known = _known(text, [m for m in recent if m.role == "assistant"])
        if not known:
            recent = await store.list_messages(agent.id, limit=40)
            known = _known(text, [m for m in recent if m.role == "assistant"])
        if not known:
            unknown = text  # e.g. a greeting the framework spoke itself; keep the history true
        elif (cut_turn := _cut_short(text, recent)) is not None:
            # The listener heard only this much of the agent's last reply: store what was heard, as a barge-in
            # on a voice socket does, so the next turns (and memory) do not hold words never heard.
            await request.app[AGENT].truncate_reply(agent.id, cut_turn, text)
    tools = tuple(
        ToolSpec(t.function.name, t.function.description or "",
                 t.function.parameters or {"type": "object", "properties": {}}, bool(t.function.strict))
        for t in body.tools or ())
    own = own_tool_names(agent)
    if tools and (problem := client_tool_problem(tools, own)) is not None:
        index, field, message = problem
        raise ProtocolViolation(message, code="invalid_request", param=f"tools.{index}.function.{field}")
    tool_choice = _tool_choice(body.tool_choice, {t.name for t in tools} | own)
    # The messages as pydantic serialises them (fields in their declared order, unknown ones dropped), in one call:
    # a resent 40-message history cost ~0.3 ms through model_dump and json.dumps (sort_keys) on the loop.
    fingerprint = hashlib.sha256(b"%s\n%s" % (agent.id.encode(), _MESSAGES.dump_json(msgs))).hexdigest()
    show = body.voice_letta.server_tool_calls if body.voice_letta else None
    if show is None:
        # A client that sends its own tools executes every tool call it sees; never hand it ours.
        show = not tools
    opts = body.voice_letta
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS:
        raise ProtocolViolation(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters",
                                code="invalid_request", param="Idempotency-Key")
    if key is not None and not key.isprintable():  # bytes that are no UTF-8 (as surrogates), control characters
        raise ProtocolViolation("Idempotency-Key must be printable UTF-8 text", code="invalid_request",
                                param="Idempotency-Key")
    said_at = opts.said_at if opts else None
    if said_at is not None and said_at > time.time() + W.SAID_AT_FUTURE_S:
        raise in_the_future("voice_letta.said_at", said_at, param="voice_letta.said_at")
    inp = TurnInput(user_text=user_text or None, client_tools=tools, tool_choice=tool_choice, tool_results=results,
                    extra_instructions=system or None, fingerprint=fingerprint, unknown_assistant_text=unknown,
                    show_server_tool_calls=show, temperature=body.temperature, max_tokens=body.token_limit(),
                    first_token_timeout_s=opts.first_token_timeout_s if opts else None, idempotency_key=key,
                    replaces_abandoned=True, said_at=said_at, images=images)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return ParsedTurn(inp, body.stream, include_usage)


def _tool_choice(value: object, names: set[str]) -> ToolChoice:
    """The client's ``tool_choice`` for the turn's first model call: "auto" (or none given), "none", "required"
    or one tool (``{"type": "function", "function": {"name": …}}``) of its ``tools`` or the agent's own."""
    if value is None or value in ("auto", "none", "required"):
        return "auto" if value is None else str(value)
    if isinstance(value, dict) and value.get("type") == "function" and isinstance(value.get("function"), dict):
        name = value["function"].get("name")
        if isinstance(name, str) and name in names:
            return name
        raise ProtocolViolation(f"Invalid value for 'tool_choice': no tool named {name!r} in 'tools' or among the "
                                "agent's own tools.", code="invalid_value", param="tool_choice")
    raise ProtocolViolation("Invalid value for 'tool_choice': send \"auto\", \"none\", \"required\" or "
                            "{\"type\": \"function\", \"function\": {\"name\": …}}.", code="invalid_value",
                            param="tool_choice")
