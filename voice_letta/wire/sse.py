"""A sans-I/O decoder of server-sent events (the ``text/event-stream`` format), for provider streams.

    decoder = SseDecoder()
    for event in decoder.feed(chunk):     # bytes as they arrive, split anywhere
        event.event, event.data            # data lines joined with "\\n"
    decoder.finish()                       # an event left without its blank line (a server that hung up)

It follows the WHATWG event-stream rules the providers rely on: lines end with LF, CRLF or CR; a blank line
ends an event; ``data:`` lines accumulate (one leading space is dropped); ``event:`` names the event;
comment lines (``:``) and other fields are ignored; an event with no data is dropped. It works on bytes and
decodes only each event's data, so a multi-byte character split across two network reads is never cut.

Why it is hand-written: the SDKs' own decoders build a Python object per line and per event, which is a
measurable share of a turn's CPU on the real provider path (docs/benchmarks.md); this one splits with
``bytes.split`` and allocates one string per event.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str | None = None


class SseDecoder:
    def __init__(self, *, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._buf = b""
        self._data: list[bytes] = []
        self._event: bytes | None = None
        self._size = 0
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Decode what ``chunk`` completes; keep the rest for the next call."""
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            if buf.endswith(b"\r"):  # a CR at the end may be the first half of a CRLF
                buf, held = buf[:-1], b"\r"
            else:
                held = b""
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + held
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > self._max:
            raise ValueError(f"an event-stream line is over {self._max} bytes")
        out: list[SseEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                out.append(event)
        return out

    def finish(self) -> list[SseEvent]:
        """The stream ended: decode a last line and event that had no terminating newline."""
        out: list[SseEvent] = []
        if self._buf:
            self._line(self._buf)
            self._buf = b""
        event = self._line(b"")
        if event is not None:
            out.append(event)
        return out

    def _line(self, line: bytes) -> SseEvent | None:
        if not line:
            if not self._data:
                self._event = None
                return None
            data = b"\n".join(self._data).decode("utf-8", errors="replace")
            name = self._event.decode("utf-8", errors="replace") if self._event is not None else None
            self._data = []
            self._event = None
            self._size = 0
            return SseEvent(data, name)
        if line[:1] == b":":
            return None
        field, sep, value = line.partition(b":")
        if not sep:
            value = b""
        elif value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            self._data.append(value)
            self._size += len(value)
            if self._size > self._max:
                raise ValueError(f"an event is over {self._max} bytes")
        elif field == b"event":
            self._event = value
        return None


__all__ = ["SseDecoder", "SseEvent"]
