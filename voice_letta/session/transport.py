"""What a session needs from its connection: receive text/bytes (None when closed), send text and bytes."""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    async def receive(self) -> str | bytes | None:
        """The next message: ``str`` for a text frame, ``bytes`` for a binary one, ``None`` once closed."""
        ...

    async def send_text(self, text: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...
