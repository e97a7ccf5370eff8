"""Session events → OpenAI Realtime server events (docs/protocol.md §Realtime). Synchronous, no I/O.

``RealtimeRenderer.render(event)`` returns the Realtime events for one session event, in order, and keeps
the conversation as the client sees it: item ids (a user audio item per utterance, an assistant message and
one item per client function call per response), output indexes, what each assistant item said and how
much of its audio went out (``audio(pcm)`` makes the ``response.output_audio.delta`` of one paced frame).

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

from voice_letta.session import events as E
from voice_letta.session.settings import Settings
from voice_letta.wire import realtime as R
from voice_letta.wire import realtime_events as RE

MAX_ITEMS = 512  # conversation items kept for retrieve/truncate
RATE_LIMIT_WINDOW = 1_000_000  # no limits are enforced; rate_limits.updated reports this fixed window
_ERROR_CODES = {"response_in_progress": "conversation_already_has_active_response", "invalid_event": "invalid_value"}
_WARNING_CODES = frozenset({"tts_unavailable", "vad_unavailable"})
CAPTION_TRAILING = " \t,.;:!?…-–—"


@dataclass
class _Call:
    item_id: str
    output_index: int
    call_id: str
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Resp:
    id: str
    modalities: tuple[E.Modality, ...]
    metadata: dict[str, str] | None
    output: R.AudioFormatType = "audio/pcm"  # its audio format: a session.update applies from the next response
    next_index: int = 0
    message: RE.ItemOut | None = None
    message_index: int = 0
    text: list[str] = field(default_factory=list)
    audio_ms: float = 0.0  # audio sent for its message
    audio_done: bool = False
    calls: dict[int, _Call] = field(default_factory=dict)
    error: RE.ErrorDetail | None = None

    @property
    def audio(self) -> bool:
        return "audio" in self.modalities


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


class RealtimeRenderer:
    def __init__(self, session_id: str, model: str) -> None:
        self.session_id = session_id
        self.model = model
        self.formats = Formats()
        self.items: OrderedDict[str, RE.ItemOut] = OrderedDict()
        self.item_response: dict[str, str] = {}  # assistant item id → response id
        self.audio_sent_ms: dict[str, float] = {}  # assistant item id → ms of its audio sent
        self.last_item_id: str | None = None
        self.response: _Resp | None = None
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
            instructions=s.instructions or "", tools=f.tools,
            audio=RE.AudioOut(
                input=RE.AudioInputOut(format=_fmt(f.input), turn_detection=td,
                                      transcription=RE.TranscriptionOut(model=f.transcription_model,
                                                                       language=f.transcription_language)),
                output=RE.AudioOutputOut(format=_fmt(f.output), voice=s.voice or f.voice)))

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
                started = self.response = _Resp(ev.response_id, ev.modalities, ev.metadata, self.formats.output)
                limits = [RE.RateLimit(name=n, limit=RATE_LIMIT_WINDOW, remaining=RATE_LIMIT_WINDOW, reset_seconds=0.0)
                          for n in ("requests", "tokens")]
                return [RE.ResponseCreated(response=self._response_out(started, "in_progress")),
                        RE.RateLimitsUpdated(rate_limits=limits)]
            case E.TextOut():
                return self._text(ev)
            case E.AudioStarted():
                current = self._current(ev.response_id)
                return self._open_message(current) if current is not None else []
            case E.AudioFinished():
                current = self._current(ev.response_id)
                if current is None or current.message is None or current.audio_done:
                    return []
                current.audio_done = True
                return [RE.AudioDone(response_id=current.id, item_id=current.message.id,
                                    output_index=current.message_index)]
            case E.ToolCallOut() if ev.client:
                return self._tool_call(ev)
            case E.PlaybackCleared():
                return self._release()
            case E.ResponseEnded():
                return [*self._release(), *self._end(ev)]
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
        rate = R.PCM_RATE_HZ if r.output == "audio/pcm" else R.G711_RATE_HZ
        ms = len(pcm16) / 2 * 1000.0 / rate
        r.audio_ms += ms
        self.audio_sent_ms[r.message.id] = r.audio_ms
        return RE.AudioDelta(response_id=r.id, item_id=r.message.id, output_index=r.message_index,
                            delta=R.encode_audio(pcm16, r.output))

    # -- helpers --------------------------------------------------------------------------------------
    def _agent_speaking(self) -> bool:
        r = self.response
        return r is not None and r.audio and r.message is not None and r.audio_ms > 0

    def _release(self) -> list[RE.ServerEvent]:
        held, self._held, self._held_utterance = self._held, [], None
        return held

    def _current(self, response_id: str) -> _Resp | None:
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

    def _text(self, ev: E.TextOut) -> list[RE.ServerEvent]:
        r = self._current(ev.response_id)
        if r is None:
            return []
        out = self._open_message(r)
        r.text.append(ev.text)
        assert r.message is not None
        if r.audio:
            out.append(RE.AudioTranscriptDelta(response_id=r.id, item_id=r.message.id, output_index=r.message_index,
                                              delta=ev.text))
        else:
            out.append(RE.TextDelta(response_id=r.id, item_id=r.message.id, output_index=r.message_index,
                                   delta=ev.text))
        return out

    def _open_message(self, r: _Resp) -> list[RE.ServerEvent]:
        if r.message is not None:
            return []
        item = RE.ItemOut(id=R.new_item_id(), type="message", role="assistant", status="in_progress", content=[])
        r.message, r.message_index = item, r.next_index
        r.next_index += 1
        self.item_response[item.id] = r.id
        previous = self.add_item(item)
        part = RE.PartOut(type="audio", transcript="") if r.audio else RE.PartOut(type="text", text="")
        return [RE.OutputItemAdded(response_id=r.id, output_index=r.message_index, item=item),
                RE.ItemAdded(item=item, previous_item_id=previous),
                RE.ContentPartAdded(response_id=r.id, item_id=item.id, output_index=r.message_index, part=part)]

    def _tool_call(self, ev: E.ToolCallOut) -> list[RE.ServerEvent]:
        r = self._current(ev.response_id)
        if r is None:
            return []
        call = r.calls.get(ev.index)
        out: list[RE.ServerEvent] = []
        if call is None:
            call = r.calls[ev.index] = _Call(R.new_item_id(), r.next_index, ev.call_id or R.new_call_id())
            r.next_index += 1
            call.name = ev.name or ""
            item = RE.ItemOut(id=call.item_id, type="function_call", status="in_progress", call_id=call.call_id,
                             name=call.name, arguments="")
            previous = self.add_item(item)
            out += [RE.OutputItemAdded(response_id=r.id, output_index=call.output_index, item=item),
                    RE.ItemAdded(item=item, previous_item_id=previous)]
        elif ev.name and not call.name:
            call.name = ev.name
        if ev.arguments:
            call.arguments.append(ev.arguments)
            out.append(RE.FunctionArgumentsDelta(response_id=r.id, item_id=call.item_id,
                                                output_index=call.output_index, call_id=call.call_id,
                                                delta=ev.arguments))
        return out

    def _end(self, ev: E.ResponseEnded) -> list[RE.ServerEvent]:
        r = self._current(ev.response_id)
        if r is None:
            return []
        self.response = None
        out: list[RE.ServerEvent] = []
        final: list[tuple[int, RE.ItemOut]] = []
        cut = ev.status == "cancelled"
        if r.message is not None:
            said = "".join(r.text).strip()
            kept = ev.heard_text if cut and ev.heard_text is not None else said
            m, i = r.message, r.message_index
            if r.audio:
                if not r.audio_done:
                    out.append(RE.AudioDone(response_id=r.id, item_id=m.id, output_index=i))
                out += [RE.AudioTranscriptDone(response_id=r.id, item_id=m.id, output_index=i, transcript=said),
                        RE.ContentPartDone(response_id=r.id, item_id=m.id, output_index=i,
                                          part=RE.PartOut(type="audio", transcript=said))]
                content = [RE.ContentOut(type="output_audio", transcript=kept)]
            else:
                out += [RE.TextDone(response_id=r.id, item_id=m.id, output_index=i, text=said),
                        RE.ContentPartDone(response_id=r.id, item_id=m.id, output_index=i,
                                          part=RE.PartOut(type="text", text=said))]
                content = [RE.ContentOut(type="output_text", text=kept)]
            item = m.model_copy(update={"status": "incomplete" if cut else "completed", "content": content})
            final.append((i, item))
        for call in r.calls.values():
            args = "".join(call.arguments)
            out.append(RE.FunctionArgumentsDone(response_id=r.id, item_id=call.item_id, output_index=call.output_index,
                                               call_id=call.call_id, name=call.name, arguments=args))
            final.append((call.output_index, RE.ItemOut(id=call.item_id, type="function_call", call_id=call.call_id,
                                                       name=call.name, arguments=args,
                                                       status="incomplete" if cut else "completed")))
        final.sort(key=lambda p: p[0])
        for index, item in final:
            if item.id in self.items:
                self.items[item.id] = item
            out += [RE.OutputItemDone(response_id=r.id, output_index=index, item=item), RE.ItemDone(item=item)]
        status: RE.ResponseStatusType = "completed" if ev.status == "completed" else ev.status
        details = None
        if cut:
            # the client's response.cancel, or the user's next turn (speech over the agent, or a new utterance
            # finished while the agent was still writing: ``superseded``)
            details = RE.StatusDetails(type="cancelled", reason="client_cancelled"
                                       if ev.finish_reason == "client_cancelled" else "turn_detected")
        elif ev.status == "failed":
            details = RE.StatusDetails(type="failed", error=r.error or RE.ErrorDetail(type="server_error",
                                                                                   code="internal_error",
                                                                                   message="the response failed"))
        elif ev.finish_reason == "length":
            status, details = "incomplete", RE.StatusDetails(type="incomplete", reason="max_output_tokens")
        done = self._response_out(r, status, [item for _, item in final], details, ev.usage)
        out.append(RE.ResponseDone(response=done))
        return out

    def _response_out(self, r: _Resp, status: RE.ResponseStatusType, output: list[RE.ItemOut] | None = None,
                      details: RE.StatusDetails | None = None, usage: dict[str, int] | None = None) -> RE.ResponseOut:
        return RE.ResponseOut(
            id=r.id, status=status, status_details=details, output=output or [], conversation_id=self.session_id,
            output_modalities=list(r.modalities), metadata=r.metadata,
            audio=RE.ResponseAudioOut(output=RE.ResponseAudioOutOut(format=_fmt(r.output),
                                                                  voice=self.formats.voice)),
            usage=_usage(usage) if usage is not None else None)

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


def _fmt(kind: R.AudioFormatType) -> RE.AudioFormatOut:
    return RE.AudioFormatOut(type=kind, rate=R.PCM_RATE_HZ if kind == "audio/pcm" else None)


def _usage(u: dict[str, int]) -> RE.Usage:
    prompt, completion, cached = u.get("prompt_tokens", 0), u.get("completion_tokens", 0), u.get("cached_tokens", 0)
    return RE.Usage(total_tokens=u.get("total_tokens", prompt + completion), input_tokens=prompt,
                   output_tokens=completion,
                   input_token_details=RE.TokenDetailsIn(text_tokens=prompt, cached_tokens=cached,
                                                        cached_tokens_details={"text_tokens": cached,
                                                                               "audio_tokens": 0, "image_tokens": 0}),
                   output_token_details=RE.TokenDetailsOut(text_tokens=completion))
