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
            self._emit(decoded, out)
            return
        if ch == "\\":
            self._escape = ""
            return
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

    def _emit(self, text: str, out: list[str]) -> None:
        if self._string_is_key:
            self._key_chars.append(text)
        elif self._capturing:
            out.append(text)
