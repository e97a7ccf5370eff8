"""What a session needs from its connection.

``Transport`` is a text transport: native ``voice-letta.v1`` JSON in and out (``/v1/voice``, the Twilio
bridge). ``EventTransport`` is what the session drives: it receives native JSON, binary audio or commands an
adapter already parsed (``session.events.Command``), and it is handed typed session events to encode
(``session.native.NativeTransport`` wraps a ``Transport``; ``session.realtime`` is another).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from voice_letta.session.events import Command, SessionEvent
    from voice_letta.wire.native import ClientMessage


class Transport(Protocol):
    async def receive(self) -> str | bytes | None:
        """The next message: ``str`` for a text frame, ``bytes`` for a binary one, ``None`` once closed."""
        ...

    async def send_text(self, text: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...


class EventTransport(Protocol):
    async def receive(self) -> str | bytes | ClientMessage | Command | None:
        """Native JSON text, PCM16 audio at the session's input rate, a parsed message, or ``None`` once closed."""
        ...

    async def send_event(self, event: SessionEvent) -> None: ...

    async def send_bytes(self, data: bytes) -> None:
        """One paced frame of PCM16 audio at the session's output rate."""
        ...
