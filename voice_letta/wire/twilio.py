"""Twilio Media Streams (bidirectional ``<Connect><Stream>``), sans-I/O: JSON text in, typed events and JSON out.

Inbound (Twilio → us), every message a JSON text frame with an ``event`` discriminator:
``connected``, ``start`` (``streamSid``, ``callSid``, ``customParameters`` from ``<Parameter>``),
``media`` (base64 G.711 µ-law, 8 kHz mono, 20 ms), ``dtmf``, ``mark`` (the echo of a mark we sent, once
the audio queued before it has played *or* was dropped by ``clear``) and ``stop``. The pydantic models use
``extra="ignore"`` (Twilio adds fields); unknown events are ignored; malformed known events raise
``ProtocolViolation`` and the driver logs them and goes on.

Outbound (us → Twilio): ``media`` in exactly 20 ms frames (160 µ-law bytes; the last frame of a response is
padded with µ-law silence), a ``mark`` after every ``mark_every_ms`` of audio and at the end of a response,
and ``clear``.

``TwilioCodec`` is the stateful part. It knows the stream id and, per response, a ``PlayoutLedger`` whose
segments are the audio chunks between marks. A mark is named ``<response_id>:<cumulative_ms>``; its echo
becomes ``PlaybackReached(response_id, played_ms)`` unless it came back after ``send_clear()`` (Twilio
returns every pending mark on ``clear``, played or not: ``PlayoutLedger.clear_sent()`` semantics), so
"heard" errs towards less, by at most one mark interval.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Annotated, Literal
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from voice_letta.core.codecs import pcm16_to_ulaw, ulaw_to_pcm16
from voice_letta.core.playout import PlayoutLedger
from voice_letta.errors import ProtocolViolation
from voice_letta.wire._json import json_object, refuse_nul

SAMPLE_RATE_HZ = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE_HZ * FRAME_MS // 1000  # µ-law: one byte a sample → 160
ULAW_SILENCE = b"\xff"
DEFAULT_MARK_EVERY_MS = 100
MAX_TEXT_FRAME_BYTES = 65_536  # a 20 ms media message is ~400 bytes; anything this big is not Twilio's
MAX_LEDGERS = 4  # responses whose late mark echoes are still recognised


# --- inbound wire models (third-party: extra="ignore") ---------------------------------------------------
class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class MediaFormat(_In):
    encoding: str = "audio/x-mulaw"
    sample_rate: int = Field(default=SAMPLE_RATE_HZ, alias="sampleRate")
    channels: int = 1


class StartInfo(_In):
    stream_sid: str | None = Field(default=None, alias="streamSid")
    account_sid: str = Field(default="", alias="accountSid")
    call_sid: str = Field(default="", alias="callSid")
    tracks: list[str] = Field(default_factory=list)
    custom_parameters: dict[str, str] = Field(default_factory=dict, alias="customParameters")
    media_format: MediaFormat = Field(default_factory=MediaFormat, alias="mediaFormat")


class ConnectedMsg(_In):
    event: Literal["connected"]
    protocol: str | None = None
    version: str | None = None


class StartMsg(_In):
    event: Literal["start"]
    sequence_number: str | None = Field(default=None, alias="sequenceNumber")
    stream_sid: str = Field(alias="streamSid", min_length=1)
    start: StartInfo


class MediaInfo(_In):
    track: str = "inbound"
    chunk: str | None = None
    timestamp: str | None = None
    payload: str


class MediaMsg(_In):
    event: Literal["media"]
    sequence_number: str | None = Field(default=None, alias="sequenceNumber")
    stream_sid: str | None = Field(default=None, alias="streamSid")
    media: MediaInfo


class DtmfInfo(_In):
    track: str | None = None
    digit: str = Field(pattern=r"^[0-9A-D*#]$")  # one key of the telephone keypad (A-D: the fourth DTMF column)


class DtmfMsg(_In):
    event: Literal["dtmf"]
    stream_sid: str | None = Field(default=None, alias="streamSid")
    dtmf: DtmfInfo


class MarkInfo(_In):
    name: str = Field(max_length=256)


class MarkMsg(_In):
    event: Literal["mark"]
    stream_sid: str | None = Field(default=None, alias="streamSid")
    mark: MarkInfo


class StopMsg(_In):
    event: Literal["stop"]
    stream_sid: str | None = Field(default=None, alias="streamSid")


InboundMessage = Annotated[ConnectedMsg | StartMsg | MediaMsg | DtmfMsg | MarkMsg | StopMsg,
                           Field(discriminator="event")]
KNOWN_EVENTS = ("connected", "start", "media", "dtmf", "mark", "stop")
_INBOUND: TypeAdapter[InboundMessage] = TypeAdapter(InboundMessage)


def parse_inbound(text: str) -> InboundMessage | None:
    """One Twilio text frame → a typed message; ``None`` for an unknown event; ``ProtocolViolation`` if malformed."""
    raw = json_object(text, max_bytes=MAX_TEXT_FRAME_BYTES, what="Twilio frames")
    event = raw.get("event")
    if not isinstance(event, str):
        raise ProtocolViolation("Twilio message without a string 'event'", code="invalid_event")
    if event not in KNOWN_EVENTS:
        return None
    try:
        message = _INBOUND.validate_python(raw)
        if event == "start":  # its custom parameters name the agent and caller, which reach the store
            refuse_nul(text, raw)
        return message
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())[1:]) or event
        raise ProtocolViolation(f"invalid Twilio {event}: {where}: {err.get('msg', 'invalid')}",
                                code="invalid_event") from exc
    except ProtocolViolation as exc:
        raise ProtocolViolation(f"invalid Twilio {event}: {exc.message}", code="invalid_event") from exc


# --- events the codec reports (past-tense facts) ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CallConnected:
    protocol: str | None


@dataclass(frozen=True, slots=True)
class CallStarted:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str]
    encoding: str
    sample_rate_hz: int


@dataclass(frozen=True, slots=True)
class AudioReceived:
    pcm16: bytes  # 8 kHz PCM16 LE mono
    timestamp_ms: int | None


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackReached:
    """A mark echo that counts: the caller has heard ``played_ms`` of response ``response_id``."""

    response_id: str
    played_ms: float


@dataclass(frozen=True, slots=True)
class CallStopped:
    pass


TwilioEvent = CallConnected | CallStarted | AudioReceived | DtmfReceived | PlaybackReached | CallStopped


# --- the stateful codec --------------------------------------------------------------------------------------
def mark_name(response_id: str, cumulative_ms: float) -> str:
    return f"{response_id}:{round(cumulative_ms)}"


class TwilioCodec:
    """Twilio Media Streams in both directions for one call; see the module docstring."""

    def __init__(self, *, mark_every_ms: int = DEFAULT_MARK_EVERY_MS) -> None:
        if mark_every_ms < FRAME_MS or mark_every_ms % FRAME_MS:
            raise ValueError(f"mark_every_ms must be a positive multiple of {FRAME_MS}")
        self.mark_every_ms = mark_every_ms
        self.stream_sid: str | None = None
        self.call_sid: str | None = None
        self.response_id: str | None = None
        self._ledgers: dict[str, PlayoutLedger] = {}
        self._partial = bytearray()  # µ-law bytes of an unfinished 20 ms frame
        self._sent_ms = 0.0  # audio of the current response sent as media
        self._marked_ms = 0.0  # position of the last mark sent

    # -- inbound --------------------------------------------------------------------------------------------
    def receive_text(self, text: str) -> list[TwilioEvent]:
        msg = parse_inbound(text)
        match msg:
            case None:
                return []
            case ConnectedMsg():
                return [CallConnected(msg.protocol)]
            case StartMsg():
                self.stream_sid = msg.stream_sid
                self.call_sid = msg.start.call_sid
                fmt = msg.start.media_format
                return [CallStarted(msg.stream_sid, msg.start.call_sid, msg.start.account_sid,
                                    dict(msg.start.custom_parameters), fmt.encoding, fmt.sample_rate)]
            case MediaMsg():
                if msg.media.track not in ("inbound", "inbound_track"):
                    return []
                try:
                    ulaw = base64.b64decode(msg.media.payload, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise ProtocolViolation("Twilio media payload is not base64", code="invalid_event") from exc
                ts = msg.media.timestamp
                return [AudioReceived(ulaw_to_pcm16(ulaw), int(ts) if ts and ts.isascii() and ts.isdigit() else None)]
            case DtmfMsg():
                return [DtmfReceived(msg.dtmf.digit)]
            case MarkMsg():
                return self._on_mark(msg.mark.name)
            case StopMsg():
                return [CallStopped()]
        return []  # pragma: no cover - the union is exhaustive

    def _on_mark(self, name: str) -> list[TwilioEvent]:
        response_id, _, _ = name.rpartition(":")
        ledger = self._ledgers.get(response_id)
        if ledger is None or not ledger.on_mark(name):
            return []  # unknown, or returned by a clear: not evidence of playback
        return [PlaybackReached(response_id, ledger.heard_ms)]

    # -- outbound -------------------------------------------------------------------------------------------
    def begin_response(self, response_id: str) -> None:
        """The audio that follows belongs to ``response_id``."""
        self.response_id = response_id
        self._ledgers[response_id] = PlayoutLedger()
        while len(self._ledgers) > MAX_LEDGERS:
            del self._ledgers[next(iter(self._ledgers))]
        self._partial.clear()
        self._sent_ms = 0.0
        self._marked_ms = 0.0

    def send_audio(self, pcm16: bytes) -> list[str]:
        """8 kHz PCM16 of the current response → ``media`` messages of exactly 20 ms, with periodic marks."""
        if self.response_id is None or not pcm16:
            return []
        self._partial += pcm16_to_ulaw(pcm16)
        out: list[str] = []
        while len(self._partial) >= FRAME_BYTES:
            out.append(self._media(bytes(self._partial[:FRAME_BYTES])))
            del self._partial[:FRAME_BYTES]
            self._sent_ms += FRAME_MS
            if self._sent_ms - self._marked_ms >= self.mark_every_ms:
                out.append(self._mark())
        return out

    def end_response(self) -> list[str]:
        """The response's audio is complete: pad and send the last frame, then a final mark."""
        if self.response_id is None:
            return []
        out: list[str] = []
        if self._partial:
            tail_ms = len(self._partial) * 1000.0 / SAMPLE_RATE_HZ
            out.append(self._media(bytes(self._partial) + ULAW_SILENCE * (FRAME_BYTES - len(self._partial))))
            self._partial.clear()
            self._sent_ms += tail_ms
        if self._sent_ms > self._marked_ms:
            out.append(self._mark())
        self.response_id = None
        return out

    def send_clear(self) -> list[str]:
        """Barge-in: Twilio drops its buffered audio; marks echoed from now on do not count as heard."""
        for ledger in self._ledgers.values():
            ledger.clear_sent()
        self._partial.clear()
        self.response_id = None
        return [json.dumps({"event": "clear", "streamSid": self._sid()})]

    def heard_ms(self, response_id: str) -> float:
        """Audio of ``response_id`` confirmed played by a mark echo (0 if unknown)."""
        ledger = self._ledgers.get(response_id)
        return ledger.heard_ms if ledger is not None else 0.0

    @property
    def response_sent_ms(self) -> float:
        return self._sent_ms

    def _sid(self) -> str:
        if self.stream_sid is None:
            raise ProtocolViolation("no Twilio 'start' yet: the stream id is unknown", code="invalid_state")
        return self.stream_sid

    def _media(self, ulaw: bytes) -> str:
        return json.dumps({"event": "media", "streamSid": self._sid(),
                           "media": {"payload": base64.b64encode(ulaw).decode("ascii")}})

    def _mark(self) -> str:
        assert self.response_id is not None
        ledger = self._ledgers[self.response_id]
        ledger.add_segment("", self._sent_ms - self._marked_ms)
        name = mark_name(self.response_id, self._sent_ms)
        ledger.mark_sent(name, self._sent_ms)
        self._marked_ms = self._sent_ms
        return json.dumps({"event": "mark", "streamSid": self._sid(), "mark": {"name": name}})


# --- TwiML -----------------------------------------------------------------------------------------------
def twiml_connect_stream(stream_url: str, parameters: dict[str, str] | None = None) -> str:
    """``<Response><Connect><Stream url=…>`` with ``<Parameter>``s: a bidirectional Media Stream.

    (``<Start><Stream>`` would be one-way: the caller would hear nothing.)
    """
    params = "".join(f"<Parameter name={_attr(k)} value={_attr(v)}/>" for k, v in (parameters or {}).items())
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f"<Response><Connect><Stream url={_attr(stream_url)}>{params}</Stream></Connect></Response>")


def _attr(value: str) -> str:
    return '"' + escape(value, {'"': "&quot;"}) + '"'


def twiml_say(text: str) -> str:
    """A spoken message and hang-up (used when the call cannot be bridged)."""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Say>{escape(text)}</Say><Hangup/></Response>'
