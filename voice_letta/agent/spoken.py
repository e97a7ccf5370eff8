"""What must never be spoken: the system's context notes, even when a small model copies them into its reply.

The agent frames what it adds to a request (the current time, "the user interrupted your previous reply") as
``<context>…</context>`` and tells the model, in the system prompt, that such text is never said aloud.
Small models still echo it now and then, so ``SpokenTextFilter`` drops it from the streamed reply before it
reaches text-to-speech or the store: ``<context>…</context>`` blocks (and stray ``<context>``/``</context>``
tags), and bracketed notes of the older framing, ``[context…]`` and ``[interrupted…]``.

Models also write what is no reply at all into their text, and a voice agent must not say it: a reasoning model
behind a server with no reasoning parser (DeepSeek-R1 distills, Qwen3, QwQ on vLLM, llama.cpp, LM Studio) streams
its ``<think>…</think>`` (or ``<thinking>…</thinking>``) as content, and one behind a server with no tool-call
parser streams its Hermes-style ``<tool_call>{json}</tool_call>``. Both were spoken and stored as the reply; such
blocks are dropped the same way (with a larger allowance for a long chain of thought).

It is a streaming filter (sans-I/O): ``feed(text)`` returns what can be spoken now, holding back only text
that may still turn out to be a marker (from a ``<`` or ``[``); ``flush()`` returns the rest at the end.
A marker that is never closed is dropped for at most ``MAX_DROP_CHARS`` characters (``MAX_THOUGHT_CHARS`` for a
reasoning or tool-call block).
"""

from __future__ import annotations

OPEN_TAG = "<context>"
CLOSE_TAG = "</context>"
_BRACKETS = ("[context", "[interrupted")
MAX_DROP_CHARS = 400
MAX_THOUGHT_CHARS = 40_000
# Blocks of a model's own that are no reply: opening tag -> closing tag.
_BLOCKS = {"<think>": "</think>", "<thinking>": "</thinking>", "<tool_call>": "</tool_call>"}
_OPENERS = {OPEN_TAG: CLOSE_TAG, **_BLOCKS}
_CLOSERS = (CLOSE_TAG, *_BLOCKS.values())

_STARTS = (*_OPENERS, *_CLOSERS, *_BRACKETS)


class SpokenTextFilter:
    def __init__(self) -> None:
        self._held = ""  # text that may be the start of a marker
        self._until: str | None = None  # inside a marker: what ends it
        self._cap = MAX_DROP_CHARS  # how much of that marker may be dropped if it is never closed
        self._dropped = 0
        self._last = " "  # the last character emitted (" " at the start: no leading space after a drop)
        self._tail = ""  # the last characters emitted, to see a marker that a drop would splice together
        self._after_drop = False
        self._needs_break = False

    def feed(self, text: str) -> str:
        out: list[str] = []
        buf = self._held + text
        self._held = ""
        i = 0
        while i < len(buf):
            if self._until is not None:
                end = buf.lower().find(self._until, i)
                if end < 0:
                    allowance = self._cap - self._dropped
                    if len(buf) - i > allowance:  # never closed: drop no more than the cap, speak the rest
                        i += max(allowance, 0)
                        self._until = None
                        self._dropped_marker()
                        continue
                    keep = len(self._until) - 1  # the closer may be split across deltas
                    start = max(i, len(buf) - keep)
                    self._dropped += start - i
                    self._held = buf[start:]
                    return "".join(out)
                self._dropped = 0
                i = end + len(self._until)
                self._until = None
                self._dropped_marker()
                continue
            j = _next_start(buf, i)
            if j < 0:
                self._put(out, buf[i:])
                break
            self._put(out, buf[i:j])
            rest = buf[j:].lower()
            opened = next((m for m in _STARTS if rest.startswith(m)), None)
            if opened is None:
                if any(m.startswith(rest) for m in _STARTS):  # could still become a marker: wait
                    self._held = buf[j:]
                    return "".join(out)
                self._put(out, buf[j])
                i = j + 1
                continue
            i = j + len(opened)
            if opened in _OPENERS:
                self._until = _OPENERS[opened]
                self._cap = MAX_DROP_CHARS if opened == OPEN_TAG else MAX_THOUGHT_CHARS
            elif opened in _CLOSERS:
                self._dropped_marker()  # a stray closing tag
            else:
                self._until, self._cap = "]", MAX_DROP_CHARS
            self._dropped = 0
        return "".join(out)

    def flush(self) -> str:
        held, self._held = self._held, ""
        if self._until is not None:
            self._until = None
            return ""
        out: list[str] = []
        self._put(out, held)
        return "".join(out)

    def _dropped_marker(self) -> None:
        self._after_drop = True
        # "<con" + a dropped "</context>" + "text>" must not speak "<context>": if what was already said ends
        # like the start of a marker, what follows the drop is kept apart from it by a space.
        tail = self._tail.lower()
        self._needs_break = any(tail[k:] and tail[k] in "<[" and any(m.startswith(tail[k:]) for m in _STARTS)
                                for k in range(len(tail)))

    def _put(self, out: list[str], text: str) -> None:
        """Append spoken text; after a dropped marker, no second space where the marker stood."""
        if self._after_drop and text:
            if self._last.isspace():
                text = text.lstrip()
            elif self._needs_break and not text[0].isspace():
                text = " " + text
            if text:
                self._after_drop = self._needs_break = False
        if text:
            out.append(text)
            self._last = text[-1]
            self._tail = (self._tail + text)[-len(max(_STARTS, key=len)):]


def _next_start(buf: str, i: int) -> int:
    lt, sq = buf.find("<", i), buf.find("[", i)
    if lt < 0:
        return sq
    if sq < 0:
        return lt
    return min(lt, sq)


def strip_markers(text: str) -> str:
    """The whole-text form of ``SpokenTextFilter``."""
    f = SpokenTextFilter()
    return f.feed(text) + f.flush()
