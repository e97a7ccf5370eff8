"""What the sleeptime agent is shown: its system prompt, its three tools, the numbered transcript of a hand-off
(``(Older)`` lines leaving the voice agent's view, ``(Newer)`` lines still in it, under the days they were said in
the agent's time zone) and the archived memories the transcript may update (``[m1]``…, named by a chunk's
``supersedes``). Pure functions: no I/O (``sleeptime.py`` runs them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from voice_letta.agent.models import AgentState, Message, Passage, ToolCall
from voice_letta.agent.ports import JobKind, ToolSpec
from voice_letta.agent.prompt import render_blocks
from voice_letta.agent.tools import PRE_EXEC_MSG, SEARCH_MEMORY
from voice_letta.agent.zones import local

STORE_MEMORIES = "store_memories"
RETHINK = "rethink_user_memory"
FINISH = "finish_rethinking_memory"
DEFAULT_MAX_STEPS = 8
MAX_TOOL_TEXT_CHARS = 300

SLEEPTIME_SYSTEM = """\
You are the memory manager of a voice assistant. You work in the background, after parts of a \
conversation have been said; the assistant itself only sees its last few messages.

You receive a numbered transcript. (Older) lines are leaving the assistant's view; (Newer) lines stay in \
view and are there for context. Work in two phases, using only tool calls:

1. Archive. Call store_memories exactly once. Split the (Older) lines into chunks by topic (a plan, a \
preference, a fact about the person, a request). Each chunk gives start_index and end_index (inclusive, \
(Older) line numbers only) and a context: one to three sentences stating the key facts plainly, written \
so that a later search finds them (names, dates, places, numbers). Lines come under the day they were said \
(the user's calendar): turn "tomorrow" or "next friday" into the date it means. A line that changes something \
said earlier in these lines (a new price, day, place, person or plan: "from now on", "switched to", "moved to", \
"instead") gets a chunk of its own, so the old and the new value are two memories. Skip greetings and small talk. \
Archived memories that may be related are listed after the transcript with ids ([m1], [m2], ...): when a \
chunk states a fact that replaces one of them (the user moved, changed jobs, changed a plan, a date, a dose, a \
preference), put that memory's id in the chunk's supersedes. Leave supersedes empty when the old memory is \
still true or only related.

2. Rewrite the {label} memory block. Use the whole transcript, (Older) and (Newer). Call {rethink} with \
the complete new text of the block: keep every fact that is still true, add new facts, correct or remove \
outdated ones, group related facts (identity, preferences, plans, context), prefer absolute dates over \
words like "today", and do not invent anything. If nothing is new, pass the current text unchanged. You \
may call {rethink} again to refine it. Then call {finish} once.

Order: {store} once, then {rethink} one or more times, then {finish}.
"""

STORE_MEMORIES_SPEC = ToolSpec(
    STORE_MEMORIES,
    "Archive the (Older) lines of the transcript as memory chunks, each with a short synopsis that will be "
    "embedded and searched later.",
    {
        "type": "object",
        "properties": {
            "chunks": {
                "type": "array",
                "description": "Contiguous groups of (Older) lines.",
                "items": {
                    "type": "object",
                    "properties": {
                        "start_index": {"type": "integer", "description": "First (Older) line number."},
                        "end_index": {"type": "integer", "description": "Last (Older) line number, inclusive."},
                        "context": {"type": "string", "description": "1-3 sentences: the key facts, plainly."},
                        "supersedes": {
                            "type": "array", "items": {"type": "string"},
                            "description": "Ids ([m1], ...) of listed archived memories whose facts this chunk "
                                           "replaces. Empty when nothing is replaced.",
                        },
                    },
                    "required": ["start_index", "end_index", "context"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["chunks"],
        "additionalProperties": False,
    },
)
RETHINK_SPEC = ToolSpec(
    RETHINK,
    "Replace the user memory block with a complete, organized rewrite that keeps every valid fact and adds "
    "the new ones.",
    {
        "type": "object",
        "properties": {"new_memory": {"type": "string", "description": "The full new text of the block."}},
        "required": ["new_memory"],
        "additionalProperties": False,
    },
)
FINISH_SPEC = ToolSpec(FINISH, "Call once when the memory block is up to date.",
                       {"type": "object", "properties": {}, "additionalProperties": False})
SLEEPTIME_TOOLS = (STORE_MEMORIES_SPEC, RETHINK_SPEC, FINISH_SPEC)


# --- transcript ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    text: str  # "role: words", without the number
    created_at: float
    seq: int


@dataclass(frozen=True, slots=True)
class Transcript:
    older: tuple[Line, ...]
    newer: tuple[Line, ...]

    def numbered(self, tz: str | None = None) -> tuple[list[str], list[str]]:
        """The numbered lines; with a time zone ``tz``, each day's lines under a "(said on Saturday 5 December 2026)"
        heading, the user's day (a model cannot turn "tomorrow" into a date it is not told)."""
        day: list[str] = []  # the day of the last heading, shared by both parts

        def lines(part: tuple[Line, ...], first: int) -> list[str]:
            out = []
            for i, line in enumerate(part):
                if tz is not None:
                    said = local(line.created_at, tz).strftime("%A %-d %B %Y")
                    if not day or day[-1] != said:
                        day.append(said)
                        out.append(f"(said on {said})")
                out.append(f"{first + i}. {line.text}")
            return out

        return lines(self.older, 0), lines(self.newer, len(self.older))


def render_line(message: Message) -> str | None:
    """One transcript line for a stored message, or None for rows that say nothing worth keeping."""
    if message.role == "system":
        return None
    if message.role == "tool":
        if message.name == SEARCH_MEMORY or not message.content:
            return None  # recalled memories are already archived; do not archive them again
        return f"tool result ({message.name or 'tool'}): {_clip(message.content)}"
    words = " ".join((message.content or "").split())
    if message.interrupted and words:
        words += " [cut off]"
    if message.role == "assistant" and message.tool_calls:
        calls = [_render_call(c) for c in message.tool_calls if c.name != SEARCH_MEMORY]
        words = " ".join([words, *calls]).strip()
    return f"{message.role}: {words}" if words else None


def _render_call(call: ToolCall) -> str:
    try:
        args = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return f"[called {call.name}]"
    if isinstance(args, dict):
        args.pop(PRE_EXEC_MSG, None)
    return f"[called {call.name}({_clip(json.dumps(args, ensure_ascii=False))})]"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TOOL_TEXT_CHARS else text[: MAX_TOOL_TEXT_CHARS - 1] + "…"


def build_transcript(older: Sequence[Message], newer: Sequence[Message]) -> Transcript:
    def lines(messages: Sequence[Message]) -> tuple[Line, ...]:
        out = []
        for m in messages:
            text = render_line(m)
            if text is not None:
                out.append(Line(text, m.created_at, m.seq))
        return tuple(out)

    return Transcript(lines(older), lines(newer))


def handle(i: int) -> str:
    """The id a run shows the model for its i-th related memory."""
    return f"m{i + 1}"


def build_request_text(transcript: Transcript, kind: JobKind, *, keep_messages: int,
                       related: Sequence[Passage] = (), tz: str | None = None, now: float | None = None) -> str:
    """The user message of one run (our wording of Letta's summary request), with the archived memories that may
    be related to the (Older) lines (``supersedes`` names them by their handles). With the agent's time zone ``tz``
    and the time ``now``: the days the lines were said and today, on the user's calendar, so a summary can say
    "Friday 11 December" for "next Friday" as the prompt asks."""
    older, newer = transcript.numbered(tz)
    if kind == "import":
        head = ("A past conversation with the user is being imported (each line was said at the time it was said, "
                "not now). Archive what is worth remembering and update the memory block.")
    elif kind == "session_end" or not newer:
        head = ("A conversation with the user has just ended. Archive what is worth remembering and update "
                "the memory block.")
    else:
        head = (f"The assistant only keeps its last {keep_messages} messages. The (Older) lines below are "
                "leaving its view now: archive them, then update the memory block using every line.")
    if tz is not None and now is not None:
        head += f" Now it is {local(now, tz).strftime('%A %-d %B %Y, %H:%M')} for the user ({tz})."
    parts = [head, "", "(Older) lines leaving the assistant's view:", *older]
    if newer:
        parts += ["", "(Newer) lines still in view:", *newer]
    if related:
        parts += ["", "Archived memories that may be related (a chunk may supersede them):"]
        parts += [f"[{handle(i)}] {_clip(p.synopsis or p.text)}" for i, p in enumerate(related)]
    return "\n".join(parts)


def system_prompt(agent: AgentState) -> str:
    text = SLEEPTIME_SYSTEM.format(label=agent.memory_target_label, rethink=RETHINK, finish=FINISH,
                                   store=STORE_MEMORIES)
    return f"{text}\n{render_blocks(agent.blocks)}"
