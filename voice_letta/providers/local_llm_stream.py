"""The embedded model's output as OpenAI-style deltas: plain text with stop strings held back, or text that
turns into one ``<tool_call>…</tool_call>`` (streamed as a tool call as it is written). See ``local_llm``."""

from __future__ import annotations

import json
import logging
import re

from voice_letta.agent.ports import ChatDelta, ToolCallDelta
from voice_letta.ids import tool_call_id
from voice_letta.providers.local_llm_prompt import TRIGGER, TRIGGER_END

log = logging.getLogger(__name__)

# What the trigger token may carry after "<tool_call>" and still be a prefix of the grammar: the grammar
# sampler is told to wake up only then. llama.cpp throws (and aborts the process) when the text that woke
# the grammar is not a prefix of it, so any other tail leaves the grammar asleep and the stream ends.
_TRIGGER_TAIL = r'[ \t\n]?(?:\{ ?(?:"(?:n(?:a(?:m(?:e"?)?)?)?)?)?)?'
TRIGGER_PATTERN = f"({re.escape(TRIGGER)}){_TRIGGER_TAIL}$"


# A reply that starts by echoing a role or memory label ("<persona>:", "assistant:", "human:") loses it.
LABELS = ("persona", "human", "user", "assistant", "system", "memory_blocks", "value")
_LEADING_TAG = re.compile(r"^\s*<?/?(" + "|".join(LABELS) + r")\s*(?:>\s*:?|:)\s*", re.IGNORECASE)
_HEAD = re.compile(r"^\s*<?/?([a-z_]*)(.*)$", re.IGNORECASE | re.DOTALL)
LEADING_HOLD = 24  # at most this many characters are held back at the start of a reply


class LeadingTagFilter:
    """Drops a role or memory-block label the model echoes at the very start of its reply.

    It holds back only what could still become such a label ("Pe" could be "persona:", "Pa" cannot), so a
    normal reply streams from its second or third character."""

    def __init__(self) -> None:
        self._head = ""
        self._open = False

    def feed(self, text: str) -> str:
        if self._open:
            return text
        self._head += text
        if len(self._head) < LEADING_HOLD and self._undecided():
            return ""
        return self.flush()

    def _undecided(self) -> bool:
        m = _HEAD.match(self._head)
        if m is None or not self._head.strip():
            return True
        name, rest = m.group(1).lower(), m.group(2)
        if not rest:  # still inside the first word: is it the start of a label?
            return any(label.startswith(name) for label in LABELS)
        if name in LABELS:  # a whole label: wait until its ">" and ":" are through
            return not rest.strip(" >:\t") and len(rest) < 4
        return False

    def flush(self) -> str:
        if self._open:
            return ""
        self._open = True
        head, self._head = _LEADING_TAG.sub("", self._head, count=1), ""
        return head


class _StopFilter:
    """Plain text: passes it through, holding back what could be the start of a stop string.

    ``hit`` is the stop string that ended the text, ``rest`` what followed it in the same feed."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._pending = ""
        self.done = False
        self.hit: str | None = None
        self.rest = ""

    def feed(self, text: str) -> list[ChatDelta]:
        if self.done or not text:
            return []
        self._pending += text
        hits = [(i, s) for s in self._stops if (i := self._pending.find(s)) >= 0]
        if hits:
            at, self.hit = min(hits, key=lambda h: h[0])
            self.done = True
            text, self.rest, self._pending = self._pending[:at], self._pending[at + len(self.hit) :], ""
            return [ChatDelta(content=text)] if text else []
        hold = max((n for s in self._stops for n in range(1, len(s)) if self._pending.endswith(s[:n])), default=0)
        text, self._pending = self._pending[: len(self._pending) - hold], self._pending[len(self._pending) - hold :]
        return [ChatDelta(content=text)] if text else []

    def flush(self) -> list[ChatDelta]:
        text, self._pending = self._pending, ""
        return [ChatDelta(content=text)] if text and not self.done else []


_TRIGGER_TAIL_RE = re.compile(_TRIGGER_TAIL)


class _CallStream:
    """Text that may turn into one ``<tool_call>…</tool_call>``, as OpenAI-style deltas.

    Not forced (tool_choice auto): plain text as content deltas, never a possible start of the trigger; on
    the trigger, the call. Forced: the grammar makes the whole answer one call. ``done``: stop generating."""

    def __init__(self, stops: tuple[str, ...], *, forced: bool = False) -> None:
        self._text = _StopFilter((*stops, TRIGGER, TRIGGER_END))  # a lone "</tool_call>" is an echoed example
        self._call: _CallParser | None = _CallParser(expect_trigger=True) if forced else None
        self.malformed = False

    @property
    def calling(self) -> bool:
        return self._call is not None

    @property
    def call_done(self) -> bool:
        return self._call is not None and self._call.done

    @property
    def done(self) -> bool:
        return self.call_done or self.malformed or (self._call is None and self._text.done)

    def feed(self, text: str) -> list[ChatDelta]:
        if self._call is not None:
            return self._call.feed(text)
        out = self._text.feed(text)
        if self._text.hit == TRIGGER:
            if _TRIGGER_TAIL_RE.fullmatch(self._text.rest):  # exactly when the grammar sampler woke up
                self._call = _CallParser()
                out += self._call.feed(self._text.rest)
            else:  # the grammar stays asleep: what follows is not a call we could trust
                log.warning("local LLM wrote a malformed tool-call start: %r", self._text.rest)
                self.malformed = True
        return out

    def flush(self) -> list[ChatDelta]:
        return [] if self._call is not None else self._text.flush()


_CALL_NAME = re.compile(r'\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")')
_CALL_ARGUMENTS = re.compile(r'\s*,\s*"arguments"\s*:\s*')


class _CallParser:
    """The JSON after ``<tool_call>`` as it grows: id and name once the name is complete, then the argument
    text in fragments as generated; ``done`` when the arguments object closes."""

    def __init__(self, *, expect_trigger: bool = False) -> None:
        self._buf = ""
        self._pos = 0
        self._expect_trigger = expect_trigger
        self._named = False
        self._in_arguments = False
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self.done = False

    def feed(self, text: str) -> list[ChatDelta]:
        self._buf += text
        out: list[ChatDelta] = []
        if self._expect_trigger:
            stripped = self._buf.lstrip()
            if len(stripped) < len(TRIGGER):
                return out
            if stripped.startswith(TRIGGER):
                self._pos = len(self._buf) - len(stripped) + len(TRIGGER)
            self._expect_trigger = False
        if not self._named:
            if (m := _CALL_NAME.match(self._buf, self._pos)) is None:
                return out
            self._pos, self._named = m.end(), True
            out.append(ChatDelta(tool_calls=(ToolCallDelta(index=0, id=tool_call_id(), name=json.loads(m.group(1))),)))
        if not self._in_arguments:
            if (m := _CALL_ARGUMENTS.match(self._buf, self._pos)) is None:
                return out
            self._pos, self._in_arguments = m.end(), True
        if not self.done and (fragment := self._argument_chars()):
            out.append(ChatDelta(tool_calls=(ToolCallDelta(index=0, arguments=fragment),)))
        return out

    def _argument_chars(self) -> str:
        start = i = self._pos
        buf = self._buf
        while i < len(buf):
            c = buf[i]
            i += 1
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif c == "\\":
                    self._escaped = True
                elif c == '"':
                    self._in_string = False
            elif c == '"':
                self._in_string = True
            elif c in "{[":
                self._depth += 1
            elif c in "}]":
                self._depth -= 1
                if self._depth == 0:
                    self.done = True
                    break
            elif self._depth == 0 and not c.isspace():  # a scalar where the object should be: cannot happen
                self.done = True
                break
        self._pos = i
        return buf[start:i]

