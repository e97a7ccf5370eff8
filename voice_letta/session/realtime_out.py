"""Session events → OpenAI Realtime server events (docs/protocol.md §Realtime). Synchronous, no I/O.

``RealtimeRenderer.render(event)`` returns the Realtime events for one session event, in order, and keeps
the conversation as the client sees it: item ids (a user audio item per utterance, an assistant message and
one item per client function call per response), output indexes, what each assistant item said and how
much of its audio went out (``audio(pcm)`` makes the ``response.output_audio.delta`` of one paced frame).
Each response's own output (its message and function-call items, deltas, ``response.done``) is rendered by
``session.realtime_response``; this module keeps the conversation and the user's side.

Two rules of the engine show through: (1) while the agent's audio is playing, a user's speech is only
announced (``input_audio_buffer.speech_started``) once the engine's barge-in rules accept it as an
interruption, because Realtime clients stop playback on that event; a cough over the agent is never
announced. With turn detection off (``turn_detection: null``) speech is never announced, as at OpenAI:
clients that take turns themselves (Pipecat, LiveKit) treat ``speech_started`` as the server's barge-in.
(2) Failures of a response are reported in its ``response.done`` (``status: failed``), not as ``error`` events,
which some clients treat as fatal; ``error`` is for refused client events only.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from voice_letta.session import events as E
from voice_letta.session import realtime_response as RR
from voice_letta.session.realtime_response import ResponseState
from voice_letta.session.settings import Settings
from voice_letta.wire import realtime as R
from voice_letta.wire import realtime_events as RE

MAX_ITEMS = 512  # conversation items kept for retrieve/truncate
_ERROR_CODES = {"response_in_progress": "conversation_already_has_active_response", "invalid_event": "invalid_value"}
_WARNING_CODES = frozenset({"tts_unavailable", "vad_unavailable"})
CAPTION_TRAILING = " \t,.;:!?…-–—"


@dataclass
class Formats:
    """The adapter's side of the session: what the engine does not need to know."""

    input: R.AudioFormatType = "audio/pcm"
    output: R.AudioFormatType = "audio/pcm"
    voice: str = "default"
    turn_detection_type: str = "server_vad"
    eagerness: str | None = None
    transcription_model: str = "voice-letta-stt"
    transcription_language: str | None = None
    tools: list[dict[str, object]] = field(default_factory=list)
    tool_choice: R.ToolChoice | dict[str, Any] = "auto"  # echoed as the client gave it


class RealtimeRenderer:
    def __init__(self, session_id: str, model: str) -> None:
        self.session_id = session_id
        self.model = model
        self.formats = Formats()
        self.items: OrderedDict[str, RE.ItemOut] = OrderedDict()
        self.item_response: dict[str, str] = {}  # assistant item id → response id
        self.audio_sent_ms: dict[str, float] = {}  # assistant item id → ms of its audio sent
        self.last_item_id: str | None = None
        self.response: ResponseState | None = None
        self._held: list[RE.ServerEvent] = []  # speech events held while the agent speaks
        self._held_utterance: str | None = None
        self._captioned: dict[str, str] = {}  # item id → the words already sent as transcription deltas
        self.vad_events = True  # speech_started/stopped are sent only while the server detects turns

    # -- the conversation -----------------------------------------------------------------------------
    @staticmethod
    def item_id_of(utterance_id: str) -> str:
        return "item_" + utterance_id.rsplit("-", 1)[-1][:20]

    def add_item(self, item: RE.ItemOut) -> str | None:
        """Record an item at the end of the conversation; returns the previous item's id."""
        previous = self.last_item_id
        self.items[item.id] = item
        self.last_item_id = item.id
        while len(self.items) > MAX_ITEMS:
            old, _ = self.items.popitem(last=False)
            self.item_response.pop(old, None)
            self.audio_sent_ms.pop(old, None)
        return previous

    def session_out(self, s: Settings) -> RE.SessionOut:
        f = self.formats
        td = None
        if s.turn_mode == "server_vad":
            td = RE.TurnDetectionOut(type=f.turn_detection_type, threshold=s.vad.threshold,  # type: ignore[arg-type]
                                    prefix_padding_ms=s.vad.prefix_padding_ms, silence_duration_ms=s.vad.silence_ms,
                                    create_response=s.auto_respond, interrupt_response=s.barge_in,
                                    eagerness=f.eagerness)
        return RE.SessionOut(
            id=self.session_id, model=self.model, output_modalities=list(s.modalities),
            instructions=s.instructions or "", tools=f.tools, tool_choice=f.tool_choice,
            audio=RE.AudioOut(
                input=RE.AudioInputOut(format=RR.audio_format(f.input), turn_detection=td,
                                      transcription=RE.TranscriptionOut(model=f.transcription_model,
                                                                       language=f.transcription_language)),
                output=RE.AudioOutputOut(format=RR.audio_format(f.output), voice=s.voice or f.voice)))

    # -- events ---------------------------------------------------------------------------------------
    def render(self, ev: E.SessionEvent) -> list[RE.ServerEvent]:
        match ev:
            case E.SessionChanged():
                self.vad_events = ev.settings.turn_mode == "server_vad"
                return []
            case E.UserSpeechStarted() | E.UserSpeechStopped() if not self.vad_events:
                return []
            case E.UserSpeechStarted():
                out: RE.ServerEvent = RE.SpeechStarted(audio_start_ms=ev.audio_start_ms,
                                                      item_id=self.item_id_of(ev.utterance_id))
                if self._agent_speaking():
                    self._held, self._held_utterance = [out], ev.utterance_id
                    return []
                return [out]
            case E.UserSpeechStopped():
                out = RE.SpeechStopped(audio_end_ms=ev.audio_end_ms, item_id=self.item_id_of(ev.utterance_id))
                if self._held_utterance == ev.utterance_id:
                    self._held.append(out)
                    return []
                return [out]
            case E.UtteranceIgnored():
                if self._held_utterance == ev.utterance_id:
                    self._held, self._held_utterance = [], None
                return []
            case E.UtteranceCommitted():
                item = RE.ItemOut(id=self.item_id_of(ev.utterance_id), type="message", role="user",
                                 content=[RE.ContentOut(type="input_audio")])
                previous = self.add_item(item)
                return [*self._release(), RE.Committed(item_id=item.id, previous_item_id=previous),
                        RE.ItemAdded(item=item, previous_item_id=previous)]
            case E.UtteranceDiscarded() if ev.reason != "cleared":
                # A commit with no speech in it: acknowledged as an item with an empty transcript (no turn).
                empty = RE.ItemOut(id=R.new_item_id(), type="message", role="user",
                                  content=[RE.ContentOut(type="input_audio", transcript="")])
                previous = self.add_item(empty)
                return [RE.Committed(item_id=empty.id, previous_item_id=previous),
                        RE.ItemAdded(item=empty, previous_item_id=previous),
                        RE.TranscriptionCompleted(item_id=empty.id, transcript="",
                                                 usage=RE.TranscriptionUsage(seconds=0.0)),
                        RE.ItemDone(item=empty, previous_item_id=previous)]
            case E.TranscriptPartial():
                # Live captions. Realtime deltas only append, so only the words a caption is unlikely to revise
                # go out: all but its last word (which may be cut off mid-word, "that?" for "the weather"), and
                # without trailing punctuation (Whisper ends a caption with "?" or "..." where the speaker merely
                # paused). A caption that still revises earlier words waits for the final transcript.
                item_id = self.item_id_of(ev.utterance_id)
                sent = self._captioned.get(item_id, "")
                stable = stable_caption(ev.text)
                if len(stable) > len(sent) and stable.startswith(sent):
                    self._captioned[item_id] = stable
                    return [RE.TranscriptionDelta(item_id=item_id, delta=stable[len(sent):])]
                return []
            case E.Transcribed() if ev.utterance_id is not None:
                return self._transcript(ev.utterance_id, ev.text, ev.audio_ms)
            case E.TranscriptEmpty():
                return self._transcript(ev.utterance_id, "", 0.0)
            case E.ResponseStarted():
                started = self.response = ResponseState(ev.response_id, ev.modalities, ev.metadata,
                                                        self.formats.output)
                return RR.started(self, started, self.formats.voice)
            case E.TextOut():
                current = self._current(ev.response_id)
                return RR.text(self, current, ev) if current is not None else []
            case E.AudioStarted():
                current = self._current(ev.response_id)
                return RR.open_message(self, current) if current is not None else []
            case E.AudioFinished():
                current = self._current(ev.response_id)
                return RR.audio_finished(current) if current is not None else []
            case E.ToolCallOut() if ev.client:
                current = self._current(ev.response_id)
                return RR.tool_call(self, current, ev) if current is not None else []
            case E.PlaybackCleared():
                return self._release()
            case E.ResponseEnded():
                current = self._current(ev.response_id)
                if current is None:
                    return self._release()
                self.response = None
                return [*self._release(), *RR.ended(self, current, ev, self.formats.voice)]
            case E.ResponseTruncated():
                items = [i for i, rid in self.item_response.items() if rid == ev.response_id]
                end_ms = round(ev.heard_ms) if ev.heard_ms is not None else 0
                return [RE.ItemTruncated(item_id=i, audio_end_ms=end_ms) for i in items]
            case E.ErrorRaised():
                return self._error(ev)
            case E.MemoryChanged():
                u = ev.update
                return [RE.MemoryUpdated(agent_id=u.agent_id, passages_added=u.passages_added, reason=u.reason,
                                        passages_removed=u.passages_removed,
                                        blocks=[RE.BlockOut(label=b.label, value=b.value, version=b.version)
                                                for b in u.blocks])]
            case _:
                return []

    def audio(self, pcm16: bytes) -> RE.AudioDelta | None:
        """One paced frame of the current response's audio as ``response.output_audio.delta``."""
        r = self.response
        if r is None or r.message is None:
            return None
        delta = RR.audio_delta(r, pcm16)
        self.audio_sent_ms[r.message.id] = r.audio_ms
        return delta

    # -- helpers --------------------------------------------------------------------------------------
    def _agent_speaking(self) -> bool:
        r = self.response
        return r is not None and r.audio and r.message is not None and r.audio_ms > 0

    def _release(self) -> list[RE.ServerEvent]:
        held, self._held, self._held_utterance = self._held, [], None
        return held

    def _current(self, response_id: str) -> ResponseState | None:
        r = self.response
        return r if r is not None and r.id == response_id else None

    def _transcript(self, utterance_id: str, text: str, audio_ms: float) -> list[RE.ServerEvent]:
        item_id = self.item_id_of(utterance_id)
        item = RE.ItemOut(id=item_id, type="message", role="user",
                         content=[RE.ContentOut(type="input_audio", transcript=text)])
        if item_id in self.items:
            self.items[item_id] = item
        out: list[RE.ServerEvent] = []
        sent = self._captioned.pop(item_id, "")
        if len(text) > len(sent) and text.startswith(sent):
            out.append(RE.TranscriptionDelta(item_id=item_id, delta=text[len(sent):]))
        out += [RE.TranscriptionCompleted(item_id=item_id, transcript=text,
                                         usage=RE.TranscriptionUsage(seconds=round(audio_ms / 1000.0, 3))),
                RE.ItemDone(item=item)]
        return out

    def _error(self, ev: E.ErrorRaised) -> list[RE.ServerEvent]:
        if ev.utterance_id is not None:
            return [RE.TranscriptionFailed(item_id=self.item_id_of(ev.utterance_id),
                                          error=RE.ErrorDetail(type="server_error", code=ev.code, message=ev.message))]
        if ev.code in _WARNING_CODES:
            return [RE.Warning(code=ev.code, message=ev.message)]
        if ev.response_id is not None:
            r = self._current(ev.response_id)
            if r is not None:
                r.error = RE.ErrorDetail(type="server_error", code=ev.code, message=ev.message)
            return []
        return [RE.ErrorEvent(error=RE.ErrorDetail(code=_ERROR_CODES.get(ev.code, ev.code), message=ev.message,
                                                 event_id=ev.event_id))]


def stable_caption(text: str) -> str:
    """The part of a live caption sent as transcription deltas: every word but the last, without the punctuation
    that ends what is left ("Good morning, can you hear?" → "Good morning, can you")."""
    head = text.rstrip()
    cut = head.rfind(" ")
    return head[:cut].rstrip(CAPTION_TRAILING) if cut > 0 else ""
