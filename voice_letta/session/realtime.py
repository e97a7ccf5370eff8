"""The OpenAI Realtime adapter: a session transport that speaks the GA Realtime protocol (docs/protocol.md §Realtime).

``RealtimeTransport`` sits between one WebSocket and one ``VoiceSession``, as the Twilio bridge does for a
phone call: the engine underneath (VAD, STT, the agent with its memory and tools, TTS, pacing, barge-in) is
the same as ``/v1/voice``. Inbound, each client event is parsed (``wire.realtime``) and becomes engine input:
base64 audio → PCM frames, ``session.update`` → ``UpdateSession`` (``realtime_in``), conversation items →
``AddInput``, ``response.create`` → ``CreateResponse``, ``conversation.item.truncate`` → ``Truncate``.
Outbound, ``realtime_out.RealtimeRenderer`` turns the session's events and paced audio frames into Realtime
server events. Replies that need no engine work (item acknowledgements, refused events) are sent at once.

Fields the server accepts but does not act on are reported once per session and field, as a
``voice_letta.warning`` event (clients ignore unknown event types; an ``error`` would stop some of them).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from typing import Protocol

from voice_letta.agent.models import ImagePart
from voice_letta.session import events as E
from voice_letta.session.realtime_in import DEFAULT_SESSION, session_update, tool_choice_of, tool_specs
from voice_letta.session.realtime_out import Formats, RealtimeRenderer
from voice_letta.wire import native as W
from voice_letta.wire import realtime as R
from voice_letta.wire import realtime_events as RE

log = logging.getLogger(__name__)

MAX_CHUNK_BYTES = 48_000  # engine frames of appended audio (the native frame limit is 96,000 bytes)
MIN_COMMIT_MS = 100.0  # OpenAI refuses to commit less audio than this

_Inbound = bytes | W.ClientMessage | E.Command


class RealtimeSocket(Protocol):
    async def receive_text(self) -> str | None:
        """The next text frame; None once the socket closed."""
        ...

    async def send_text(self, text: str) -> None: ...


class RealtimeTransport:
    """``session.transport.EventTransport`` over a Realtime WebSocket; see the module docstring."""

    def __init__(self, socket: RealtimeSocket, *, session_id: str, model: str, aliases: tuple[str, ...] = (),
                 instructions_used: bool = True, images_used: bool = False) -> None:
        """``model``: the agent's name as shown in the session; ``aliases``: other names of it (its id);
        ``instructions_used``: whether the agent appends client instructions (else they are reported);
        ``images_used``: whether the agent's model takes images (else image content is reported and left out)."""
        self.socket = socket
        self.renderer = RealtimeRenderer(session_id, model)
        self._aliases = {model, *aliases}
        self._instructions_used = instructions_used
        self._images_used = images_used
        self._inbox: deque[_Inbound] = deque()
        self._reported: set[str] = set()
        self._keys = itertools.count(1)
        # our event id → (formats, client event id, the formats asked for before it)
        self._updates: dict[str, tuple[Formats, str | None, Formats]] = {}
        # The formats of the last session.update received: the next update builds on them, and appended audio is
        # decoded in them (the engine applies updates in order), not in the ones the session reports, which
        # follow only once the engine has applied the update.
        self._requested = self.renderer.formats
        self._created = False
        self._closed = False
        self._creating = 0  # response.create sent to the engine, response not yet started
        # Message text accepted and waiting for a response (MAX_PENDING_TEXT_CHARS), what each response.create not
        # yet started takes, and what each started response took until its turn stored it (a response cut before
        # that gives its input back: it waits again).
        self._waiting_chars = 0
        self._create_takes: deque[int] = deque()
        self._response_takes: dict[str, int] = {}
        self._buffered_ms = 0.0  # audio appended since the last commit, clear or committed utterance
        self._deferred_delete: tuple[str, str, bool] | None = None  # (item id, response id, audio)
        self._lock = asyncio.Lock()
        update, formats, _ = session_update(DEFAULT_SESSION, self.renderer.formats, event_id="vl-init")
        self._updates["vl-init"] = (formats, None, formats)
        self._requested = formats
        self._inbox.append(update)

    # -- inbound ----------------------------------------------------------------------------------------
    async def receive(self) -> _Inbound | None:
        while not self._inbox:
            if self._closed:
                return None
            text = await self.socket.receive_text()
            if text is None:
                self._closed = True
                self._apply_deferred_delete()
                continue
            try:
                await self._on_text(text)
            except R.RealtimeViolation as exc:
                await self._send([RE.error_event(exc)])
        return self._inbox.popleft()

    async def _on_text(self, text: str) -> None:
        ev = R.parse_client(text)
        if unsupported := R.unsupported_fields(ev):
            await self._warn_once([f"{ev.type}: {path}" for path in unsupported],
                                  "accepted but not supported by this server (ignored)")
        if self._deferred_delete is not None and not (
                isinstance(ev, R.ConversationItemCreate) and ev.item.id == self._deferred_delete[0]):
            self._apply_deferred_delete()
        try:
            await self._dispatch(ev)
        except R.RealtimeViolation as exc:
            exc.event_id = exc.event_id or ev.event_id
            raise

    async def _dispatch(self, ev: R.ClientEvent) -> None:
        match ev:
            case R.SessionUpdate():
                key = f"vl-{next(self._keys)}"
                update, formats, notes = session_update(ev.session, self._requested, event_id=key)
                self._updates[key] = (formats, ev.event_id, self._requested)
                self._requested = formats
                self._inbox.append(update)
                if ev.session.model is not None and ev.session.model not in self._aliases:
                    notes.append("session.model cannot change the agent of a session (open a new connection)")
                if ev.session.instructions and not self._instructions_used:
                    notes.append("session.instructions are ignored: this agent's client_system_prompt is 'ignore'")
                if notes:
                    await self._note_once(notes)
            case R.InputAudioBufferAppend():
                pcm = R.decode_audio(ev.audio, self._requested.input)
                rate = R.PCM_RATE_HZ if self._requested.input == "audio/pcm" else R.G711_RATE_HZ
                self._buffered_ms += len(pcm) / 2 * 1000.0 / rate
                for i in range(0, len(pcm), MAX_CHUNK_BYTES):
                    self._inbox.append(pcm[i:i + MAX_CHUNK_BYTES])
            case R.InputAudioBufferCommit():
                if self._buffered_ms < MIN_COMMIT_MS:
                    raise R.RealtimeViolation(
                        f"Error committing input audio buffer: buffer too small. Expected at least "
                        f"{MIN_COMMIT_MS:.0f}ms of audio, but buffer only has {self._buffered_ms:.2f}ms of audio.",
                        code="input_audio_buffer_commit_empty")
                self._buffered_ms = 0.0
                self._inbox.append(W.InputAudioCommit(type="input_audio.commit", event_id=ev.event_id))
            case R.InputAudioBufferClear():
                self._buffered_ms = 0.0
                self._inbox.append(W.InputAudioClear(type="input_audio.clear", event_id=ev.event_id))
                await self._send([RE.Cleared()])
            case R.OutputAudioBufferClear():
                await self._warn_once(["output_audio_buffer.clear"], "is for WebRTC/SIP connections; over a "
                                      "WebSocket stop playback locally and send conversation.item.truncate")
            case R.ConversationItemCreate():
                await self._item_create(ev)
            case R.ConversationItemTruncate():
                self._truncate(ev)
            case R.ConversationItemDelete():
                await self._delete(ev)
            case R.ConversationItemRetrieve():
                item = self.renderer.items.get(ev.item_id)
                if item is None:
                    raise R.RealtimeViolation(f"Item with item_id not found: {ev.item_id}",
                                              code="item_retrieve_invalid_item_id", param="item_id")
                await self._send([RE.ItemRetrieved(item=item)])
            case R.ResponseCreate():
                await self._response_create(ev)
            case R.ResponseCancel():
                if self.renderer.response is None and not self._creating:
                    raise R.RealtimeViolation("Cancellation failed: no active response found",
                                              code="response_cancel_not_active")
                self._inbox.append(W.ResponseCancel(type="response.cancel", response_id=ev.response_id,
                                                    event_id=ev.event_id))

    async def _item_create(self, ev: R.ConversationItemCreate) -> None:
        item, renderer = ev.item, self.renderer
        item_id = item.id or R.new_item_id()
        if item_id in renderer.items:
            raise R.RealtimeViolation(f"Item with id {item_id} already exists", code="item_create_duplicate_item_id",
                                      param="item.id")
        if ev.previous_item_id not in (None, "root", renderer.last_item_id):
            await self._warn_once(["conversation.item.create: previous_item_id"],
                                  "items are always added at the end of the conversation")
        out: RE.ItemOut
        match item:
            case R.MessageItem():
                text = item.text()
                images = tuple(ImagePart(url=c.image_url, detail=c.detail) for c in item.content
                               if c.type == "input_image" and c.image_url) if item.role == "user" else ()
                if images and not self._images_used:
                    await self._warn_once(["conversation.item.create: input_image"],
                                          "this agent's model does not take images (left out)")
                    images = ()
                if not text and not images:
                    raise R.RealtimeViolation("A message item needs text (input_text / output_text / transcript)"
                                              " or, for a model that takes them, an input_image.",
                                              code="invalid_value", param="item.content")
                deferred = self._deferred_delete
                edit = item.role == "assistant" and deferred is not None and deferred[0] == item_id
                if not edit:
                    self._admit_text(len(text))
                if edit and deferred is not None:
                    self._deferred_delete = None  # delete + re-create = the client's edit of what was heard
                    self._inbox.append(E.Truncate(deferred[1], heard_text=text))
                    renderer.item_response[item_id] = deferred[1]
                elif item.role == "user":
                    self._inbox.append(E.AddInput(user_text=text or None, images=images))
                elif item.role == "assistant":
                    self._inbox.append(E.AddInput(assistant_text=text))
                else:
                    self._inbox.append(E.AddInput(system_text=text))
                kind = {"user": "input_text", "system": "input_text", "assistant": "output_text"}[item.role]
                content = [RE.ContentOut(type=kind, text=text)] if text else []  # type: ignore[arg-type]
                content += [RE.ContentOut(type="input_image") for _ in images]
                out = RE.ItemOut(id=item_id, type="message", role=item.role, content=content)
            case R.FunctionCallOutputItem():
                if not any(i.type == "function_call" and i.call_id == item.call_id for i in renderer.items.values()):
                    # OpenAI's words; the model would be given a result of nothing (on Anthropic: no message)
                    raise R.RealtimeViolation(f"Tool call ID '{item.call_id}' not found in conversation.",
                                              code="invalid_value", param="item.call_id")
                self._inbox.append(E.AddInput(tool_result=(item.call_id, item.output)))
                out = RE.ItemOut(id=item_id, type="function_call_output", call_id=item.call_id, output=item.output)
            case R.FunctionCallItem():
                await self._warn_once(["conversation.item.create: function_call"],
                                      "function calls are made by the agent; a client-created one is not stored")
                out = RE.ItemOut(id=item_id, type="function_call", call_id=item.call_id or R.new_call_id(),
                                name=item.name, arguments=item.arguments)
        previous = renderer.add_item(out)
        await self._send([RE.ItemAdded(item=out, previous_item_id=previous), RE.ItemDone(item=out,
                                                                                       previous_item_id=previous)])

    def _admit_text(self, chars: int) -> None:
        """Refuse an item whose text would make the input waiting for the next response longer than one turn may be
        (nothing of it is accepted: the client learns it at once and can answer what is waiting first)."""
        waiting = self._waiting_chars + sum(self._create_takes)
        if waiting + chars > R.MAX_PENDING_TEXT_CHARS:
            raise R.RealtimeViolation(
                f"Input waiting for a response is limited to {R.MAX_PENDING_TEXT_CHARS:,} characters of message "
                f"text; {waiting:,} are waiting and this item has {chars:,}. Send response.create to answer what "
                "is waiting, then add more.", code="input_too_large", param="item.content")
        self._waiting_chars += chars

    def _truncate(self, ev: R.ConversationItemTruncate) -> None:
        response_id = self.renderer.item_response.get(ev.item_id)
        if response_id is None:
            raise R.RealtimeViolation(f"Only an assistant message of this session can be truncated: {ev.item_id}",
                                      code="invalid_value", param="item_id")
        if ev.content_index != 0:
            raise R.RealtimeViolation("Invalid value: content_index must be 0.", code="invalid_value",
                                      param="content_index")
        sent_ms = self.renderer.audio_sent_ms.get(ev.item_id, 0.0)
        if ev.audio_end_ms > sent_ms + 1.0:
            raise R.RealtimeViolation(f"Audio content of {sent_ms:.0f}ms is already shorter than "
                                      f"{ev.audio_end_ms}ms", code="invalid_value", param="audio_end_ms")
        self._inbox.append(E.Truncate(response_id, heard_ms=float(ev.audio_end_ms)))

    async def _delete(self, ev: R.ConversationItemDelete) -> None:
        renderer = self.renderer
        item = renderer.items.pop(ev.item_id, None)
        if item is None:
            raise R.RealtimeViolation(f"Item with item_id not found: {ev.item_id}",
                                      code="item_delete_invalid_item_id", param="item_id")
        if renderer.last_item_id == ev.item_id:
            renderer.last_item_id = next(reversed(renderer.items), None)
        response_id = renderer.item_response.pop(ev.item_id, None)
        if response_id is not None:  # nothing of it was heard, unless it is re-created at once (an edit)
            self._deferred_delete = (ev.item_id, response_id, item.content is not None and any(
                c.type == "output_audio" for c in item.content))
        else:
            await self._warn_once(["conversation.item.delete"], "removes an item from this connection's view; "
                                  "what was said stays in the agent's memory")
        await self._send([RE.ItemDeleted(item_id=ev.item_id)])

    def _apply_deferred_delete(self) -> None:
        if self._deferred_delete is not None:
            _, response_id, audio = self._deferred_delete
            self._deferred_delete = None
            self._inbox.append(E.Truncate(response_id, heard_ms=0.0) if audio else E.Truncate(response_id,
                                                                                           heard_text=""))

    async def _response_create(self, ev: R.ResponseCreate) -> None:
        p = ev.response or R.ResponseParams()
        if p.conversation not in (None, "auto") or p.input is not None:
            raise R.RealtimeViolation("Out-of-band responses (conversation 'none', explicit input) are not "
                                      "supported: a response always joins the conversation.",
                                      code="invalid_value", param="response.conversation")
        if p.instructions and not self._instructions_used:
            await self._warn_once(["response.instructions"], "ignored: this agent's client_system_prompt is 'ignore'")
        choice = tool_choice_of(p.tool_choice, "response.tool_choice") if p.tool_choice is not None else None
        self._creating += 1
        self._create_takes.append(self._waiting_chars)  # the response takes everything waiting before it
        self._waiting_chars = 0
        self._inbox.append(E.CreateResponse(
            instructions=p.instructions, modalities=tuple(p.output_modalities) if p.output_modalities else None,
            tools=tool_specs(p.tools, "response.tools") if p.tools is not None else None, tool_choice=choice,
            metadata=p.metadata, event_id=ev.event_id))

    # -- outbound ---------------------------------------------------------------------------------------
    async def send_event(self, event: E.SessionEvent) -> None:
        renderer = self.renderer
        out: list[RE.ServerEvent] = []
        match event:
            case E.SessionChanged():
                pending = self._updates.pop(event.event_id or "", None)
                if pending is not None:
                    renderer.formats = pending[0]
                session = renderer.session_out(event.settings)
                out.append(RE.SessionUpdated(session=session) if self._created else RE.SessionCreated(session=session))
                self._created = True
            case E.ErrorRaised() if event.event_id in self._updates:
                _, client_event_id, before = self._updates.pop(event.event_id or "")
                self._requested = before  # the engine refused it: the formats stay what they were
                event = E.ErrorRaised(event.code, event.message, event.retryable, client_event_id)
            case E.ErrorRaised() if event.code == "response_in_progress":
                self._creating = max(0, self._creating - 1)
                if self._create_takes:  # refused: what it would have taken still waits
                    self._waiting_chars += self._create_takes.popleft()
            case E.ResponseStarted():
                self._creating = max(0, self._creating - 1)
                if self._create_takes:
                    self._response_takes[event.response_id] = self._create_takes.popleft()
                else:  # started by speech: it takes what waits too
                    self._response_takes[event.response_id], self._waiting_chars = self._waiting_chars, 0
            case E.TurnOpened():
                self._response_takes.pop(event.response_id, None)  # stored
            case E.ResponseEnded():
                self._waiting_chars += self._response_takes.pop(event.response_id, 0)  # cut before its turn began
            case E.UtteranceCommitted():
                self._buffered_ms = 0.0
        out += renderer.render(event)
        if out:
            await self._send(out)

    async def send_bytes(self, data: bytes) -> None:
        delta = self.renderer.audio(data)
        if delta is not None:
            await self._send([delta])

    async def _send(self, events: list[RE.ServerEvent]) -> None:
        async with self._lock:
            for ev in events:
                await self.socket.send_text(RE.encode(ev))

    async def _note_once(self, notes: list[str]) -> None:
        """Settings served differently than asked (each note once per session)."""
        new = [n for n in notes if n not in self._reported]
        if new:
            self._reported.update(new)
            await self._send([RE.Warning(code="approximated", message=n) for n in new])

    async def _warn_once(self, fields: list[str], why: str) -> None:
        new = [f for f in fields if f not in self._reported]
        if new:
            self._reported.update(new)
            await self._send([RE.Warning(code="unsupported", message=f"{', '.join(new)}: {why}", fields=new)])
