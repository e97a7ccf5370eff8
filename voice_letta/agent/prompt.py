"""Compiles memory blocks into a byte-stable system prompt, rebuilt only when a block version changes.

Nothing volatile (time, counters) goes into the compiled prompt, so provider prompt caches keep hitting;
the current time travels in a small trailing note built by ``volatile_note``.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from voice_letta.agent.models import AgentState, Block
from voice_letta.agent.zones import DEFAULT_ZONE, local

_MEMORY_HEADER = (
    "<memory_blocks>\n"
    "These memory blocks are your core memory. They persist across conversations and are kept up to date "
    "in the background; treat them as ground truth.\n"
)


def render_blocks(blocks: list[Block]) -> str:
    parts = [_MEMORY_HEADER]
    for block in blocks:
        tag = block.label
        meta = f"chars_current={len(block.value)} chars_limit={block.limit}"
        if block.read_only:
            meta += " read_only=true"
        parts.append(
            f"<{tag}>\n<description>{escape(block.description)}</description>\n"
            f"<metadata>{meta}</metadata>\n<value>\n{block.value}\n</value>\n</{tag}>\n"
        )
    parts.append("</memory_blocks>")
    return "".join(parts)


# What the agent adds to a request is framed as <context>…</context>; small models read bare notes aloud.
CONTEXT_RULE = ("Text between <context> and </context> is information from the system, not words of the user: "
                "use it, but never say it or the tags aloud.")


def compile_system_prompt(agent: AgentState) -> str:
    return f"{agent.system.rstrip()}\n{CONTEXT_RULE}\n\n{render_blocks(agent.blocks)}"


def memory_key(agent: AgentState) -> tuple[object, ...]:
    """Everything the compiled prompt depends on; equal keys mean byte-identical prompts. The system text itself, not
    a digest of it: comparing it with the cached key's is a pointer check for the cached agent's own string (a memcmp
    for a reloaded one), where hashing it cost every turn a SHA-256 of the whole prompt."""
    return agent.system, tuple((b.id, b.label, b.version) for b in agent.blocks)


MAX_CACHED_PROMPTS = 1024  # agents' prompts kept (least recently used dropped): a server runs for weeks


class SystemPromptCache:
    """Per-process cache of compiled prompts, keyed by agent id and invalidated by block versions.

    Bounded (``max_entries``, least recently used out): with one agent per caller, agents come and go."""

    def __init__(self, max_entries: int = MAX_CACHED_PROMPTS) -> None:
        self._entries: OrderedDict[str, tuple[tuple[object, ...], str]] = OrderedDict()
        self._max = max_entries
        self.rebuilds = 0

    def get(self, agent: AgentState) -> str:
        key = memory_key(agent)
        entry = self._entries.get(agent.id)
        if entry is not None and entry[0] == key:
            self._entries.move_to_end(agent.id)
            return entry[1]
        return self.rebuild_system_prompt(agent, force=True)

    def rebuild_system_prompt(self, agent: AgentState, *, force: bool = False) -> str:
        """Recompile. Without ``force`` this is a no-op when no block changed (used by the sleeptime agent)."""
        key = memory_key(agent)
        entry = self._entries.get(agent.id)
        if not force and entry is not None and entry[0] == key:
            return entry[1]
        prompt = compile_system_prompt(agent)
        self._entries[agent.id] = (key, prompt)
        self._entries.move_to_end(agent.id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        self.rebuilds += 1
        return prompt

    def invalidate(self, agent_id: str) -> None:
        self._entries.pop(agent_id, None)


_NOTES: dict[tuple[int, str | None], str] = {}  # (minute since the epoch, zone) -> note
_NOTES_KEPT = 256


def volatile_note(now: float, tz: str | None = None) -> str:
    """The small trailing message with facts that change every turn: the current time on the user's clock (the
    agent's time zone ``tz``: "Saturday 2026-12-05 23:40 America/Los_Angeles (UTC-08:00)"; "… 07:40 UTC" for UTC).

    Built once per minute and zone (zone offsets are whole minutes, so one minute of epoch time is one minute of
    every clock): formatting a date was ~40 us of every turn's CPU on the server's loop."""
    key = (int(now // 60), tz)
    note = _NOTES.get(key)
    if note is None:
        if len(_NOTES) >= _NOTES_KEPT:
            _NOTES.clear()
        note = _NOTES[key] = _volatile_note(now, tz)
    return note


def _volatile_note(now: float, tz: str | None) -> str:
    if tz is None or tz == DEFAULT_ZONE:
        stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%A %Y-%m-%d %H:%M UTC")
    else:
        at = local(now, tz)
        offset = at.strftime("%z")  # "-0800"
        stamp = f"{at.strftime('%A %Y-%m-%d %H:%M')} {tz} (UTC{offset[:3]}:{offset[3:]})"
    return f"<context>Current time: {stamp}.</context>"
