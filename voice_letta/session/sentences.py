"""Streaming sentence splitter for TTS, sans-I/O: LLM text deltas in, speakable segments out.

``feed(delta) -> list[str]`` returns every segment completed by that delta; ``flush() -> list[str]`` returns
the rest. Segments are exact consecutive slices of the input (their concatenation is the input), so the
playout ledger can map played audio back onto the stored reply.

Rules:
- a sentence ends after ``.``, ``!``, ``?`` or ``…`` (plus closing quotes/brackets) followed by whitespace,
  or at a newline; a period between digits ("3.5") or after a single capital ("J. Smith") or a common
  abbreviation ("Dr.", "e.g.") does not end one;
- the **first** segment of a response may end earlier, at a comma/semicolon/colon followed by a space,
  once it is ``first_min_chars`` long, so the first audio starts sooner;
- any segment that grows past ``max_chars`` is cut at the last clause mark or space;
- segments shorter than ``min_chars`` are held back and joined with the next one (no one-word clips),
  except at ``flush``.
"""

from __future__ import annotations

import re

_ENDERS = ".!?…"
_CLOSERS = "\"')]”’"
_CLAUSE = ",;:—"
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "approx", "mt", "inc",
})
_WORD_BEFORE = re.compile(r"([A-Za-z.]+)$")
# Markdown a model writes although its prompt says not to: what text-to-speech would read out as "asterisk".
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*\)")  # [text](url), ![alt](url)
_MD_LINE_MARK = re.compile(r"(?m)^[ \t]*(?:#{1,6}[ \t]+|>[ \t]?|[-*+•][ \t]+)")  # heading, quote, bullet
_MD_RULE = re.compile(r"(?m)^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$")  # ---, ***, ___
_MD_MARKS = re.compile(r"\*{2,}|(?<!\d)(?<!\d )\*(?! ?\d)|__+|`+|~~")  # emphasis, code; 2 * 3 stays
# A web address is said as its site ("opentable.com"), not read out character by character with its query string.
_URL = re.compile(r"\b(?:https?://|www\.)(?:www\.)?([^/\s?#]+)\S*?(?=[.,;:!?)\]]*(?:\s|$))", re.IGNORECASE)
# Emoji (pictographs, dingbats, flags, skin tones, the joiner and variation selector that build them): Piper said
# "party popper", "thumbs up".
_EMOJI_CHARS = "[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0E\uFE0F\u200D\U000E0020-\U000E007F]+"
_EMOJI = re.compile(f"(?P<before_mark>[ \\t]*{_EMOJI_CHARS}(?=[.,;:!?]))|{_EMOJI_CHARS}")  # "booked 👍." -> "booked."


def speakable(segment: str) -> str:
    """The words of a segment for text-to-speech: markdown marks dropped ("**Pasta**" -> "Pasta", "### Tip" -> "Tip",
    "- one" -> "one", "[the menu](https://…)" -> "the menu"), a product between digits ("2 * 3") kept, web addresses
    as their site, emoji dropped, stripped. Only what is synthesized: the stored reply and the ledger keep the segment
    as written."""
    text = _MD_LINK.sub(r"\1", segment)
    text = _MD_RULE.sub("", text)
    text = _MD_LINE_MARK.sub("", text)
    text = _URL.sub(r"\1", _MD_MARKS.sub("", text))
    text = _EMOJI.sub(lambda m: "" if m.group("before_mark") else " ", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


class SentenceSplitter:
    __slots__ = ("_buf", "_emitted", "first_min_chars", "max_chars", "min_chars")

    def __init__(self, *, min_chars: int = 12, first_min_chars: int = 24, max_chars: int = 240) -> None:
        self._buf = ""
        self._emitted = 0
        self.min_chars = min_chars
        self.first_min_chars = first_min_chars
        self.max_chars = max_chars

    @property
    def pending(self) -> str:
        return self._buf

    def feed(self, delta: str) -> list[str]:
        self._buf += delta
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                break
            out.append(self._buf[:cut])
            self._buf = self._buf[cut:]
            self._emitted += 1
        return out

    def flush(self) -> list[str]:
        """Everything pending as one segment (empty list if only whitespace is pending)."""
        if not self._buf.strip():
            return []
        seg, self._buf = self._buf, ""
        self._emitted += 1
        return [seg]

    def flush_if_terminal(self) -> list[str]:
        """Flush when the pending text already ends a sentence (a tool's filler line needs no lookahead)."""
        tail = self._buf.rstrip().rstrip(_CLOSERS)
        if tail and tail[-1] in _ENDERS:
            return self.flush()
        return []

    def reset(self) -> None:
        self._buf = ""
        self._emitted = 0

    # -- internals --------------------------------------------------------------------------------------
    def _find_cut(self) -> int | None:
        buf = self._buf
        n = len(buf)
        start = 0
        while start < n and buf[start].isspace():
            start += 1
        first = self._emitted == 0
        for i in range(start, n):
            ch = buf[i]
            if ch == "\n" and i - start >= 1:
                if len(buf[start:i].strip()) >= self.min_chars:
                    return i + 1
                continue
            if ch in _ENDERS:
                j = i + 1
                while j < n and buf[j] in _CLOSERS:
                    j += 1
                if j >= n or not buf[j].isspace():
                    continue  # need the following space to know the sentence ended
                if ch == "." and self._not_a_full_stop(buf, i):
                    continue
                if len(buf[start:j].strip()) < self.min_chars:
                    continue
                return j + 1
            if first and ch in _CLAUSE and i - start + 1 >= self.first_min_chars and i + 1 < n \
                    and buf[i + 1].isspace():
                return i + 2
        if n - start > self.max_chars:
            window = buf[: start + self.max_chars]
            for marks in (_CLAUSE, " "):
                pos = max(window.rfind(m) for m in marks)
                if pos > start + self.min_chars:
                    return pos + 1
            return start + self.max_chars
        return None

    @staticmethod
    def _not_a_full_stop(buf: str, i: int) -> bool:
        if i > 0 and buf[i - 1].isdigit() and i + 1 < len(buf) and buf[i + 1].isdigit():
            return True
        m = _WORD_BEFORE.search(buf[:i])
        if m is None:
            return False
        word = m.group(1)
        if len(word) == 1 and word.isupper():
            return True
        return word.lower().rstrip(".") in _ABBREVIATIONS
