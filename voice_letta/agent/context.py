"""Turns stored messages into a provider request that every chat API accepts."""

from __future__ import annotations

from collections.abc import Sequence

from voice_letta.agent.models import Message
from voice_letta.agent.ports import ChatMessage

# A reply cut off by the user ends with a dash, and the next user message says so in a context note: a mark
# inside the assistant's own text is what small models copy into their next replies (and then speak).
INTERRUPTED_END = "—"
INTERRUPTED_NOTE = "<context>The user cut your previous reply off; they heard only the words shown.</context>"


def to_chat_messages(history: Sequence[Message]) -> list[ChatMessage]:
    """Convert in-context messages, keeping tool calls only when every call has its result.

    Providers reject an assistant tool call without a matching tool result (a reply cut off by barge-in can
    leave one) and a tool result without its call (eviction can cut between them); both are repaired here
    rather than failing the turn.
    """
    plain = _plain(history)
    if plain is not None:
        return plain
    # A failed attempt's spoken fallback is noise once a retry of the same turn produced a real answer.
    answered = {m.turn_id for m in history if m.role == "assistant" and m.kind != "fallback" and m.content}
    history = [m for m in history if not (m.kind == "fallback" and m.turn_id in answered)]
    # Likewise a cut reply followed by a whole one of the same turn: the client lost the first attempt's stream
    # and retried it, so only the retry's answer was delivered (a barge-in cut ends its turn: nothing follows).
    whole_later: set[str] = set()
    retried_cut: set[str] = set()
    for m in reversed(history):
        if m.role != "assistant" or m.turn_id is None or not m.content:
            continue
        if not m.interrupted:
            whole_later.add(m.turn_id)
        elif m.turn_id in whole_later:
            retried_cut.add(m.id)
    history = [m for m in history if m.id not in retried_cut]
    answers = _answers(history)
    kept_calls: set[str] = set()
    out: list[ChatMessage] = []
    interrupted = False
    for m in history:
        if m.role == "system":
            continue  # the system prompt is compiled fresh; stored system rows are informational
        if m.role == "tool":
            if m.tool_call_id in kept_calls and answers.get(m.tool_call_id) == m.id:
                out.append(ChatMessage("tool", m.content or "", tool_call_id=m.tool_call_id, name=m.name))
            continue
        content = m.content
        if m.role == "assistant" and m.interrupted and content:
            content = content.rstrip() + INTERRUPTED_END
            interrupted = True
        elif m.role == "user" and content and interrupted:
            content = f"{INTERRUPTED_NOTE}\n{content}"
            interrupted = False
        if m.role == "assistant" and m.tool_calls:
            calls = tuple(c for c in m.tool_calls if c.id in answers)
            if calls and len(calls) == len(m.tool_calls):
                kept_calls.update(c.id for c in calls)
                out.append(ChatMessage("assistant", content or None, tool_calls=calls))
                continue
        if content or m.images:
            out.append(ChatMessage(m.role, content, images=tuple(m.images)))
    return out


# A stored Message is never changed in place (a change makes a new one: store/windows.py), and the window of an agent
# is the same Message objects turn after turn: each plain line is converted once, not on every turn of its agent.
_CONVERTED: dict[int, tuple[Message, ChatMessage]] = {}  # id(message) -> (message, its ChatMessage)
_CONVERTED_KEPT = 4096
KEPT_LINE_CHARS = 2000  # longer lines are converted every time: what the cache keeps alive stays small


def _plain(history: Sequence[Message]) -> list[ChatMessage] | None:
    """The common case in one pass: a window of plain user and assistant lines (no tool rows or calls, no fallback,
    no cut reply, no image), where none of the repairs below applies; None when one might."""
    out: list[ChatMessage] = []
    converted = _CONVERTED
    for m in history:
        # a line converted before passed the checks below then (its fields do not change): a pydantic field read
        # costs several times a dict probe, and the window is read whole every turn
        found = converted.get(id(m))
        if found is not None and found[0] is m:
            out.append(found[1])
            continue
        role = m.role
        if role == "system":
            continue
        if role == "tool" or m.tool_calls or m.interrupted or m.kind == "fallback" or m.images:
            return None
        content = m.content
        if content:
            found = (m, ChatMessage(role, content))
            if len(content) <= KEPT_LINE_CHARS:
                if len(converted) >= _CONVERTED_KEPT:
                    converted.clear()
                converted[id(m)] = found  # m kept with it: its id is not reused while the entry lives
            out.append(found[1])
    return out


def _answers(history: Sequence[Message]) -> dict[str, str]:
    """For each tool call, the id of the tool row that answers it in place: the first result for it after the
    assistant message that made the call and before the next user message or the next message of calls. A second
    result for the same call, or one that comes later (a client that re-sent a tool result, or sent one for
    another call), goes to no provider: they refuse a tool result that does not follow its call, and one stored
    bad result made every later turn of the agent fail (found by QA from outside, session 5)."""
    answers: dict[str, str] = {}
    waiting: set[str] = set()
    for m in history:
        if m.role == "assistant" and m.tool_calls:
            waiting = {c.id for c in m.tool_calls}
        elif m.role == "tool":
            if m.tool_call_id in waiting:
                answers[m.tool_call_id] = m.id
                waiting.discard(m.tool_call_id)
        elif m.role == "user":
            waiting = set()
    return answers
