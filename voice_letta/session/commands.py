"""What the session's manager task is asked to do (``VoiceSession._manager``), in order, one at a time.

The reader (``session.reader``), the listener's user turns and barge-in put these on the session's command
queue; protocol adapters' own commands (``session.events``: add input, create a response, truncate) travel
the same queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_letta.session import events as E
from voice_letta.session.metrics import TurnClock


@dataclass(frozen=True, slots=True)
class StartTurn:
    """A user turn: an utterance's words (or typed text) that answer at once unless ``auto_respond`` is off."""

    text: str
    clock: TurnClock
    said_at: float | None = None  # when typed text was said (input_text.said_at), epoch seconds


@dataclass(frozen=True, slots=True)
class Cancel:
    reason: str  # "barge_in" | "client_cancelled"
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class Close:
    pass


Command = StartTurn | Cancel | Close | E.AddInput | E.CreateResponse | E.Truncate
