"""The speaking half of a session: one response = the agent's turn → sentences → TTS → the writer.

A response runs as one cancellable task (``run_response``). The agent (LLM + tools) and a speaker run side
by side: text deltas go through the ``SentenceSplitter`` to TTS one segment at a time, each segment's audio
is resampled to the output rate and pushed to the writer (``Outbound``), and its text and length go to the
response's ``PlayoutLedger``, which later says what the listener heard. Cancelling the task (barge-in) stops
the agent, which stores the partial reply as interrupted; the session then truncates it to what was heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Protocol

from voice_letta.agent.events import (
    ContentDelta,
    ToolCallFragment,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnFinished,
    TurnStarted,
)
from voice_letta.agent.loop import TurnInput, VoiceAgent
from voice_letta.agent.models import TurnRecord
from voice_letta.core.audio import pcm16_ms
from voice_letta.core.playout import PlayoutLedger
from voice_letta.core.resample import StreamResampler
from voice_letta.errors import VoiceLettaError
from voice_letta.session import events as E
from voice_letta.session.metrics import BARGE_INS_TOTAL, MetricsSink, TurnClock
from voice_letta.session.outbound import Outbound
from voice_letta.session.sentences import SentenceSplitter, speakable
from voice_letta.session.settings import Settings
from voice_letta.session.speech import SpeechEngines

log = logging.getLogger(__name__)

FINAL_REPORT_WAIT_S = 0.3  # after playback.clear, how long to wait for the client's final report
MS_PER_CHAR_GUESS = 65.0  # speech length of a character, for a segment cut before its audio was complete


@dataclass(eq=False)
class Response:
    id: str
    clock: TurnClock
    ledger: PlayoutLedger = field(default_factory=PlayoutLedger)
    task: asyncio.Task[None] | None = None
    turn_id: str | None = None
    reported_ms: float | None = None
    final_report: asyncio.Event = field(default_factory=asyncio.Event)
    audio_started: bool = False
    first_audio_at: float | None = None
    finish: TurnFinished | None = None
    done: bool = False
    modalities: tuple[E.Modality, ...] = ("audio",)
    metadata: dict[str, str] | None = None
    said: list[str] = field(default_factory=list)  # every piece of text the response produced
    truncate: E.Truncate | None = None  # the client heard only this much of it (applied when it ends)
    started: bool = False  # its task ran (a cancel can come before: response.create then response.cancel)
    taken: tuple[E.AddInput, ...] = ()  # the pending input it took, given back if it is cut before storing it
    input_stored: bool = False  # the agent stored that input (TurnInput.on_stored)

    def mark_stored(self) -> None:
        self.input_stored = True

    @property
    def said_text(self) -> str:
        return "".join(self.said).strip()


class ResponderHost(Protocol):
    id: str
    settings: Settings
    agent: VoiceAgent
    speech: SpeechEngines
    metrics: MetricsSink

    @property
    def out(self) -> Outbound | None: ...

    def emit(self, event: E.SessionEvent) -> None: ...

    def error(self, exc: VoiceLettaError, *, response_id: str | None = None) -> None: ...

    def response_finished(self, resp: Response) -> None: ...

    def give_back_input(self, items: tuple[E.AddInput, ...]) -> None: ...


class _Retryable(VoiceLettaError):
    retryable = True


def usage_of(finish: TurnFinished | TurnRecord | None) -> dict[str, int]:
    if finish is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cached_tokens": 0}
    u = finish.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens or u.prompt_tokens + u.completion_tokens, "cached_tokens": u.cached_tokens}


def route_of(finish: TurnFinished | TurnRecord | None) -> dict[str, object] | None:
    """Who answered (provider, model, fallback, first_token_ms) and whether the usage is an estimate."""
    if isinstance(finish, TurnRecord):
        if finish.provider is None:
            return None
        return {"provider": finish.provider, "model": finish.model, "fallback": finish.fallback_used,
                "first_token_ms": finish.first_token_ms, "usage_estimated": finish.usage.estimated}
    if finish is None or finish.route is None:
        return None
    r = finish.route
    return {"provider": r.provider, "model": r.model, "fallback": r.fallback_used, "first_token_ms": r.first_token_ms,
            "usage_estimated": finish.usage.estimated}


async def run_response(host: ResponderHost, resp: Response, inp: TurnInput) -> None:
    """The turn task: agent → sentences → TTS → writer, then ``ResponseEnded``."""
    resp.started = True
    out, agent_id = host.out, host.settings.agent_id
    assert out is not None and agent_id is not None
    host.emit(E.ResponseStarted(resp.id, agent_id, resp.modalities, resp.metadata))
    segments: asyncio.Queue[str | None] = asyncio.Queue()
    status: E.ResponseStatus = "completed"
    try:
        async with asyncio.TaskGroup() as tg:
            if "audio" in resp.modalities:
                tg.create_task(_speak(host, resp, segments))
            tg.create_task(host.agent.prefetch_memory(agent_id, inp.user_text))
            await _think(host, resp, inp, segments)
        await out.audio_drained()
    except* VoiceLettaError as group:  # the agent could not even start (store down, agent deleted)
        exc = group.exceptions[0]
        assert isinstance(exc, VoiceLettaError)
        host.error(exc, response_id=resp.id)
        status = "failed"
    except* Exception as group:  # a bug: end the response in-band, keep the session
        log.error("session %s: response %s failed", host.id, resp.id, exc_info=group.exceptions[0])
        host.error(VoiceLettaError("internal error while responding"), response_id=resp.id)
        status = "failed"
    if resp.finish is not None and resp.finish.finish_reason == "error":
        status = "failed"
    resp.done = True
    finish = resp.finish.finish_reason if resp.finish is not None else "error"
    resp.clock.export(host.metrics)
    timings = {**resp.clock.timings_ms(),
               **{f"agent.{k}": round(v, 1) for k, v in (resp.finish.timings_ms if resp.finish else {}).items()}}
    heard: str | None = None
    if resp.truncate is not None:  # the client stopped playing it early (a Realtime truncate while running)
        heard = await truncate_to(host, resp, resp.truncate, notify=False)
    host.emit(E.ResponseEnded(resp.id, resp.turn_id, status, finish, usage_of(resp.finish), timings,
                              route=route_of(resp.finish),
                              text=resp.said_text, heard_text=heard, audio_ms=resp.ledger.synthesized_ms))
    host.response_finished(resp)


def heard_of(resp: Response, cmd: E.Truncate) -> str:
    """The words of ``resp`` the listener heard, by audio position or by the text the client kept."""
    if cmd.heard_ms is not None and "audio" in resp.modalities:
        return resp.ledger.heard_text_at(cmd.heard_ms)
    said = resp.said_text
    if cmd.heard_text is None:
        return said
    kept: list[str] = []
    for mine, theirs in zip(said.split(), cmd.heard_text.split(), strict=False):
        if mine != theirs:
            break
        kept.append(mine)
    return " ".join(kept)


async def truncate_to(host: ResponderHost, resp: Response, cmd: E.Truncate, *, notify: bool = True) -> str:
    """Rewrite a response's stored reply to the words the listener heard (``heard_of``)."""
    heard = heard_of(resp, cmd)
    agent_id = host.settings.agent_id
    if resp.turn_id is not None and agent_id is not None:
        try:
            await host.agent.truncate_reply(agent_id, resp.turn_id, heard)
        except VoiceLettaError as exc:
            log.warning("session %s: truncating turn %s failed: %s", host.id, resp.turn_id, exc.code)
    if notify:
        host.emit(E.ResponseTruncated(resp.id, cmd.heard_ms, heard))
    return heard


async def _think(host: ResponderHost, resp: Response, inp: TurnInput, segments: asyncio.Queue[str | None]) -> None:
    assert host.settings.agent_id is not None
    loop = asyncio.get_running_loop()
    splitter = SentenceSplitter()
    last_kind = "content"

    def put(segs: list[str]) -> None:
        for seg in segs:
            segments.put_nowait(seg)

    try:
        stream = host.agent.run_turn(host.settings.agent_id, inp)
        async with contextlib.aclosing(stream) as events:
            async for ev in events:
                match ev:
                    case TurnStarted():
                        resp.turn_id = ev.turn_id
                        host.emit(E.TurnOpened(resp.id, ev.turn_id))
                    case ContentDelta():
                        now = loop.time()
                        resp.clock.stamp("first_token", now)
                        resp.clock.stamp("first_content", now)
                        resp.said.append(ev.text)
                        host.emit(E.TextOut(resp.id, ev.text, ev.kind))
                        kind = "filler" if ev.kind == "filler" else "content"
                        if kind != last_kind:
                            put(splitter.flush())
                            last_kind = kind
                        put(splitter.feed(ev.text))
                    case ToolCallFragment():
                        resp.clock.stamp("first_token", loop.time())
                        host.emit(E.ToolCallOut(resp.id, ev.index, ev.call_id, ev.name, ev.arguments,
                                                ev.client_tool))
                        if last_kind == "filler":
                            put(splitter.flush_if_terminal())
                    case ToolStarted():
                        put(splitter.flush())
                        host.emit(E.ServerToolStarted(resp.id, ev.call_id, ev.name, ev.filler))
                    case ToolFinished():
                        host.emit(E.ServerToolFinished(resp.id, ev.call_id, ev.name, ev.ok,
                                                       round(ev.duration_ms, 1), ev.output_preview))
                    case TurnError():
                        host.error(VoiceLettaError(ev.message, code=ev.code) if not ev.retryable
                                   else _Retryable(ev.message, code=ev.code), response_id=resp.id)
                    case TurnFinished():
                        resp.finish = ev
                        reason = "stop" if ev.finish_reason in ("error", "cancelled") else ev.finish_reason
                        host.emit(E.TextFinished(resp.id, reason))
        put(splitter.flush())
    finally:
        segments.put_nowait(None)


async def _speak(host: ResponderHost, resp: Response, segments: asyncio.Queue[str | None]) -> None:
    out, tts = host.out, host.speech.tts
    assert out is not None
    warned = False
    resampler: StreamResampler | None = None
    stream = 0
    while (seg := await segments.get()) is not None:
        words = speakable(seg)
        if tts is None or not words:
            if tts is None and not warned:
                host.error(VoiceLettaError("no text-to-speech engine on this server: text only",
                                           code="tts_unavailable"), response_id=resp.id)
                warned = True
            resp.ledger.add_segment(seg, 0.0)
            continue
        if not resp.audio_started:
            resp.audio_started = True

            def first_audio(at: float) -> None:
                resp.first_audio_at = at
                resp.clock.stamp("first_audio", at)

            stream = out.begin_response(first_audio)
            host.emit(E.AudioStarted(resp.id, out.sample_rate_hz))
        pushed_ms = 0.0
        try:
            async for part in tts.synthesize(words, voice=host.settings.voice):
                if resampler is None or resampler.in_rate_hz != part.sample_rate_hz \
                        or resampler.out_rate_hz != out.sample_rate_hz:
                    resampler = StreamResampler(part.sample_rate_hz, out.sample_rate_hz, quality="MQ")
                pcm = resampler.feed(part.pcm16)
                pushed_ms += pcm16_ms(len(pcm), out.sample_rate_hz)
                await out.push_audio(pcm, stream)
            if resampler is not None:
                tail = resampler.flush()
                pushed_ms += pcm16_ms(len(tail), out.sample_rate_hz)
                await out.push_audio(tail, stream)
            resp.ledger.add_segment(seg, pushed_ms)
        except asyncio.CancelledError:
            # Cut mid-segment: its full length is unknown; guess it from the speech rate so far.
            done = [s for s in resp.ledger.segments if s.audio_ms > 0]
            rate = (sum(s.audio_ms for s in done) / max(1, sum(len(s.text.strip()) for s in done))
                    if done else MS_PER_CHAR_GUESS)
            resp.ledger.add_segment(seg, max(pushed_ms, len(seg.strip()) * rate))
            raise
        except VoiceLettaError as exc:
            host.error(exc, response_id=resp.id)
            resp.ledger.add_segment(seg, pushed_ms)
    if resp.audio_started:
        out.send_after_audio(E.AudioFinished(resp.id, round(resp.ledger.synthesized_ms, 1)), stream)


async def cut(host: ResponderHost, resp: Response, reason: str, *, wait_report: bool = True) -> None:
    """Stop a running response at once and keep only what the listener heard of it (barge-in, cancel)."""
    out = host.out
    assert out is not None and resp.task is not None
    ahead_ms = out.ahead_ms()
    sent_ms = out.clear()
    resp.done = True
    if resp.audio_started:
        host.emit(E.PlaybackCleared(resp.id))
    resp.task.cancel()
    await asyncio.wait([resp.task])
    if not resp.started:  # cancelled before its task ran: it still began and ended, as far as the client knows
        host.emit(E.ResponseStarted(resp.id, host.settings.agent_id or "", resp.modalities, resp.metadata))
    if not resp.input_stored and resp.taken:
        # Cut before the agent stored its input (waiting for the agent, or never run): nothing accepted is lost,
        # the next response takes it (or the session's end stores it).
        host.give_back_input(resp.taken)
    if reason == "barge_in":
        host.metrics.inc(BARGE_INS_TOTAL)
    if sent_ms > 0 and wait_report and not resp.final_report.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FINAL_REPORT_WAIT_S):
                await resp.final_report.wait()
    # Never more than we wrote; with no report at all, only what has had time to play out of it.
    heard_ms = min(resp.reported_ms, sent_ms) if resp.reported_ms is not None else max(0.0, sent_ms - ahead_ms)
    resp.ledger.on_played(heard_ms)
    heard = resp.ledger.heard_text() if "audio" in resp.modalities else resp.said_text
    agent_id = host.settings.agent_id
    if resp.turn_id is not None and agent_id is not None:
        try:
            await host.agent.truncate_reply(agent_id, resp.turn_id, heard)
        except VoiceLettaError as exc:
            log.warning("session %s: truncating turn %s failed: %s", host.id, resp.turn_id, exc.code)
    # The turn's events stopped before TurnFinished: what it cost (estimated where cut) is in its record.
    spent = resp.finish or (host.agent.turn_record(resp.turn_id) if resp.turn_id is not None else None)
    host.emit(E.ResponseEnded(resp.id, resp.turn_id, "cancelled", reason, usage_of(spent),
                              resp.clock.timings_ms(), text=resp.said_text, heard_text=heard,
                              audio_ms=resp.ledger.synthesized_ms, route=route_of(spent)))
    host.response_finished(resp)
