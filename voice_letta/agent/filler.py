"""Streams the value of one top-level string property out of JSON that arrives in fragments.

The model writes a tool's arguments a few characters at a time; the spoken filler (``pre_exec_msg``) must
reach the listener as soon as its first words exist, long before the arguments are complete. The scanner
looks at each character once, so cost is linear in the argument length.
"""

from __future__ import annotations

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class StreamingFieldExtractor:
    def __init__(self, field: str) -> None:
        self._field = field
        self._depth = 0
        self._in_string = False
        self._escape: str | None = None  # pending escape text after a backslash
        self._high: str | None = None  # a decoded high surrogate waiting for its low half
        self._expect_key = False
        self._key_chars: list[str] = []
        self._string_is_key = False
        self._last_key: str | None = None
        self._capturing = False
        self.value = ""  # everything decoded so far
        self.complete = False

    def feed(self, fragment: str) -> str:
        """Consume a fragment; return the newly decoded part of the field's value (may be empty)."""
        out: list[str] = []
        for ch in fragment:
            if self._in_string:
                self._string_char(ch, out)
                continue
            if ch == "{" or ch == "[":
                self._depth += 1
                self._expect_key = ch == "{" and self._depth == 1
            elif ch == "}" or ch == "]":
                self._depth -= 1
            elif ch == "," and self._depth == 1:
                self._expect_key = True
            elif ch == ":" and self._depth == 1:
                self._expect_key = False
            elif ch == '"':
                self._in_string = True
                self._string_is_key = self._depth == 1 and self._expect_key
                self._key_chars = []
                self._capturing = (
                    not self._string_is_key and self._depth == 1 and self._last_key == self._field
                    and not self.complete
                )
        text = "".join(out)
        self.value += text
        return text

    def _string_char(self, ch: str, out: list[str]) -> None:
        if self._escape is not None:
            self._escape += ch
            decoded = self._decode_escape(self._escape)
            if decoded is None:
                return
            self._escape = None
            self._emit_decoded(decoded, out)
            return
        if ch == "\\":
            self._escape = ""
            return
        self._lone_high(out)
        if ch == '"':
            self._in_string = False
            if self._string_is_key:
                self._last_key = "".join(self._key_chars)
            elif self._capturing:
                self._capturing = False
                self.complete = True
            return
        self._emit(ch, out)

    def _decode_escape(self, esc: str) -> str | None:
        if esc[0] != "u":
            return _ESCAPES.get(esc[0], esc[0])
        if len(esc) < 5:
            return None  # wait for the four hex digits
        try:
            return chr(int(esc[1:5], 16))
        except ValueError:
            return ""

    def _emit_decoded(self, text: str, out: list[str]) -> None:
        """An escape's text, made speakable: the value goes to the listener (SSE, TTS) and into the stored history
        as text. A NUL (``\\u0000``) is dropped, as the providers drop a raw one from every delta
        (``providers/fallback.without_nul``): the client got it while the store kept U+FFFD. A character beyond the
        BMP written as a surrogate pair (``\\ud83d\\ude00``: ``json.dumps`` writes an emoji so) is that one
        character; a lone surrogate, which UTF-8 cannot carry (orjson refuses the chunk), is U+FFFD."""
        if "\ud800" <= text <= "\udbff":
            self._lone_high(out)
            self._high = text  # its low half may be the next escape
            return
        if "\udc00" <= text <= "\udfff":
            high, self._high = self._high, None
            self._emit("\ufffd" if high is None else chr(0x10000 + ((ord(high) - 0xD800) << 10) + ord(text) - 0xDC00),
                       out)
            return
        self._lone_high(out)
        if text != "\x00":
            self._emit(text, out)

    def _lone_high(self, out: list[str]) -> None:
        if self._high is not None:
            self._high = None
            self._emit("\ufffd", out)

    def _emit(self, text: str, out: list[str]) -> None:
        if self._string_is_key:
            self._key_chars.append(text)
        elif self._capturing:
            out.append(text)
