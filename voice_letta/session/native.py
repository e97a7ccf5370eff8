"""The native protocol's adapter: session events → ``voice-letta.v1`` messages (docs/protocol.md).

``NativeEncoder.encode(event)`` gives the ``wire.native`` message for one session event, or None for the
events the native protocol does not show (utterance bookkeeping that richer protocols use). The agent's
stream becomes OpenAI ``chat.completion.chunk``s inside ``response.chunk`` here, one completion id per
response. ``NativeTransport`` wraps any text transport (the WebSocket of ``/v1/voice``, the Twilio bridge)
so the session can hand it events; inbound it passes native JSON through for the session to parse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from voice_letta import ids
from voice_letta.session import events as E
from voice_letta.session.transport import EventTransport, Transport
from voice_letta.wire import native as W
from voice_letta.wire import openai_chat as OC


@dataclass
class _Stream:
    completion_id: str
    created: int
    model: str
    tool_index: dict[int, int] = field(default_factory=dict)


class NativeEncoder:
    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}

    def _chunk(self, response_id: str, kind: E.TextKind | None = None, **kw: object) -> W.ResponseChunk:
        st = self._streams.get(response_id)
        if st is None:  # cannot happen: ResponseStarted comes first
            st = self._streams[response_id] = _Stream(ids.completion_id(), int(time.time()), "")
        return W.ResponseChunk(response_id=response_id, kind=kind,
                               chunk=OC.chunk(st.completion_id, st.created, st.model, **kw))  # type: ignore[arg-type]

    def encode(self, ev: E.SessionEvent) -> W.ServerMessage | None:
        match ev:
            case E.SessionStarted():
                return W.SessionCreated(session_id=ev.session_id, session=ev.settings.state(), limits=ev.limits)
            case E.SessionChanged():
                return W.SessionUpdated(session=ev.settings.state(), event_id=ev.event_id)
            case E.UserSpeechStarted():
                return W.SpeechStartedOut(audio_start_ms=ev.audio_start_ms)
            case E.UserSpeechStopped():
                return W.SpeechStoppedOut(audio_end_ms=ev.audio_end_ms)
            case E.Transcribed():
                return W.TranscriptFinal(text=ev.text, audio_ms=ev.audio_ms, stt_ms=ev.stt_ms, source=ev.source)
            case E.TranscriptPartial():
                return W.TranscriptPartial(text=ev.text, audio_ms=ev.audio_ms, stt_ms=ev.stt_ms)
            case E.UtteranceDiscarded(reason="no_speech" | "too_short"):
                return W.InputAudioEmpty(reason=ev.reason)  # type: ignore[arg-type]
            case E.TranscriptEmpty():
                return W.InputAudioEmpty(reason="no_words")
            case E.ResponseStarted():
                self._streams[ev.response_id] = _Stream(ids.completion_id(), int(time.time()), ev.agent_id)
                return W.ResponseCreated(response_id=ev.response_id)
            case E.TurnOpened():
                return self._chunk(ev.response_id, role=True, content="")
            case E.TextOut():
                return self._chunk(ev.response_id, ev.kind, content=ev.text)
            case E.ToolCallOut():
                st = self._streams.get(ev.response_id)
                index = st.tool_index.setdefault(ev.index, len(st.tool_index)) if st is not None else ev.index
                return self._chunk(ev.response_id,
                                   tool_call=OC.tool_call_delta(index, ev.call_id, ev.name, ev.arguments))
            case E.ServerToolStarted():
                return W.ToolStartedOut(response_id=ev.response_id, call_id=ev.call_id, name=ev.name,
                                        filler=ev.filler)
            case E.ServerToolFinished():
                return W.ToolFinishedOut(response_id=ev.response_id, call_id=ev.call_id, name=ev.name, ok=ev.ok,
                                         duration_ms=ev.duration_ms, output=ev.output)
            case E.TextFinished():
                return self._chunk(ev.response_id, finish_reason=ev.finish_reason)
            case E.AudioStarted():
                return W.AudioStart(response_id=ev.response_id, sample_rate_hz=ev.sample_rate_hz)
            case E.AudioFinished():
                return W.AudioDone(response_id=ev.response_id, audio_ms=ev.audio_ms)
            case E.PlaybackCleared():
                return W.PlaybackClear(response_id=ev.response_id)
            case E.ResponseEnded():
                self._streams.pop(ev.response_id, None)
                return W.ResponseDone(response_id=ev.response_id, turn_id=ev.turn_id, status=ev.status,
                                      finish_reason=ev.finish_reason, usage=ev.usage, timings_ms=ev.timings_ms,
                                      heard_text=ev.heard_text, route=ev.route)
            case E.MemoryChanged():
                u = ev.update
                return W.MemoryUpdatedOut(
                    agent_id=u.agent_id, passages_added=u.passages_added, reason=u.reason,
                    passages_removed=u.passages_removed,
                    blocks=[W.BlockOut(label=b.label, value=b.value, version=b.version) for b in u.blocks])
            case E.Pong():
                return W.Pong(event_id=ev.event_id)
            case E.ErrorRaised():
                return W.ErrorOut(code=ev.code, message=ev.message, retryable=ev.retryable, event_id=ev.event_id)
            case _:
                return None  # utterance bookkeeping and truncation notices: not part of voice-letta.v1


class NativeTransport:
    """An ``EventTransport`` over a text transport that speaks ``voice-letta.v1`` JSON."""

    __slots__ = ("encoder", "inner")

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.encoder = NativeEncoder()

    async def receive(self) -> str | bytes | None:
        return await self.inner.receive()

    async def send_event(self, event: E.SessionEvent) -> None:
        msg = self.encoder.encode(event)
        if msg is not None:
            await self.inner.send_text(W.encode(msg))

    async def send_bytes(self, data: bytes) -> None:
        await self.inner.send_bytes(data)


def as_event_transport(transport: Transport | EventTransport) -> EventTransport:
    """The transport itself if it takes session events, else a native-JSON wrapper around it."""
    if hasattr(transport, "send_event"):
        return transport  # type: ignore[return-value]
    return NativeTransport(transport)
