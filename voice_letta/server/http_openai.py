"""``POST /v1/chat/completions`` with ``model`` = agent id: the OpenAI protocol over a stateful agent.

Voice frameworks that use it as a "custom LLM" resend their system prompt and the whole history each turn,
retry failed requests, give up after 10 s of silence and send their own tools. The server's memory is
authoritative: only what follows the last assistant message is new input (see docs/protocol.md §HTTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass

from aiohttp import web
from pydantic import ValidationError

from voice_letta import ids, logctx
from voice_letta.agent.events import (
    AgentEvent,
    ContentDelta,
    ReplyDone,
    ToolCallFragment,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnFinished,
    TurnStarted,
)
from voice_letta.agent.loop import FALLBACK_SENTENCE
from voice_letta.agent.models import AgentState, Usage
from voice_letta.errors import VoiceLettaError, invalid_body
from voice_letta.server import lifecycle
from voice_letta.server.http_openai_reply import Completion, usage_json
from voice_letta.server.keys import AGENT, CONFIG, METRICS
from voice_letta.server.metrics import Metrics
from voice_letta.server.openai_input import ParsedTurn, parse_turn, resolve_agent
from voice_letta.server.request_log import REQUEST_ID_HEADER
from voice_letta.wire import openai_chat as W
from voice_letta.wire._json import refuse_nul, without_bom

log = logging.getLogger(__name__)
DISCONNECT_POLL_S = 0.05
routes = web.RouteTableDef()


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    received = time.perf_counter()
    raw = without_bom(await request.read())
    try:
        body = W.ChatCompletionRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid_body(exc) from exc
    refuse_nul(raw)
    agent = await resolve_agent(request, body.model)
    W.check_sampling(body, context_window=agent.llm.context_window)
    parsed = await parse_turn(request, body, agent)
    request.app[METRICS].inc("voice_letta_http_turns_total")
    if parsed.stream:
        return await _stream(request, agent, parsed, received)
    return await _complete(request, agent, parsed)


def failure_events(code: str, message: str, retryable: bool) -> list[AgentEvent]:
    """Events for a turn that could not even start: still never an empty stream."""
    return [TurnStarted("", "", ""), TurnError(code, message, retryable),
            ContentDelta(FALLBACK_SENTENCE, kind="fallback"), TurnFinished("", "error", Usage())]


@dataclass(frozen=True, slots=True)
class _StartFailed:
    """The turn failed before its input was stored: the client gets an HTTP error, not a 200."""

    error: VoiceLettaError


class _Tick:
    """Put in a waiting stream's queue by the ``_Ticker``: time to look at the connection and the keep-alive."""


_TICK = _Tick()
_Q = AgentEvent | _StartFailed | _Tick | None  # what the producer queues for the writer (None: the turn is over)


class _Ticker:
    """One timer for all open streams of an event loop, instead of a timeout around every wait of every stream.

    aiohttp reports a vanished client only on the next write, and a barge-in must stop generation at once, so a
    stream that waits for the agent looks at its connection every ``DISCONNECT_POLL_S``: each tick puts a ``_TICK``
    into the queue of every stream whose queue is empty (its writer waits, or is about to). The timer runs only
    while streams are open: a turn shorter than a tick schedules one timer and cancels it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queues: set[asyncio.Queue[_Q]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, queue: asyncio.Queue[_Q]) -> None:
        self._queues.add(queue)
        if self._timer is None:
            self._timer = self._loop.call_later(DISCONNECT_POLL_S, self._tick)

    def discard(self, queue: asyncio.Queue[_Q]) -> None:
        self._queues.discard(queue)
        if not self._queues and self._timer is not None:  # no wake-up of an idle loop for nothing
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        for queue in self._queues:
            if queue.empty():
                queue.put_nowait(_TICK)
        if self._queues:
            self._timer = self._loop.call_later(DISCONNECT_POLL_S, self._tick)


_TICKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Ticker] = weakref.WeakKeyDictionary()


def _ticker() -> _Ticker:
    loop = asyncio.get_running_loop()
    ticker = _TICKERS.get(loop)
    if ticker is None:
        ticker = _TICKERS[loop] = _Ticker(loop)
    return ticker


class _EventStream(web.StreamResponse):
    """The SSE response: its headers go out with the first bytes of the body (the role chunk), in one send instead
    of two. Every send on the hot path is a syscall and wakes the client. aiohttp's own ``web.Response`` buffers its
    headers through the same class attribute; on an aiohttp without it they simply go out at ``prepare``."""

    _send_headers_immediately = False


async def _stream(request: web.Request, agent: AgentState, parsed: ParsedTurn, received: float) -> web.StreamResponse:
    cid, created, model = ids.completion_id(), int(time.time()), agent.id
    resp = _EventStream(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                       "X-Accel-Buffering": "no",
                                       REQUEST_ID_HEADER: logctx.current().request_id or ""})
    queue: asyncio.Queue[_Q] = asyncio.Queue(maxsize=256)
    # Set once the reply's last bytes are written. The turn's end is stored only after that (the producer does not
    # ask for the event after ReplyDone until then): a turn recorded as completed was delivered, so a process
    # killed before the end of the stream leaves the turn unfinished, and the client's resend is its retry.
    delivered = asyncio.Event()

    async def produce() -> None:
        started = False
        try:
            async for event in request.app[AGENT].run_turn(agent.id, parsed.inp):
                started = True
                await queue.put(event)
                if type(event) is ReplyDone:
                    await delivered.wait()
        except VoiceLettaError as exc:  # failed before the turn could start (e.g. the store is down)
            if not started:
                await queue.put(_StartFailed(exc))
            else:
                for event in failure_events(exc.code, exc.message, getattr(exc, "retryable", False)):
                    await queue.put(event)
        except Exception:
            log.exception("turn for agent %s failed", agent.id)
            if not started:
                await queue.put(_StartFailed(VoiceLettaError("internal error")))
            else:
                for event in failure_events("internal_error", "internal error", False):
                    await queue.put(event)
        finally:
            await queue.put(None)

    producer = asyncio.create_task(produce())
    prefetch = _prefetch(request, agent.id, parsed)
    ticker = _ticker()
    ticker.add(queue)
    keepalive_s = request.app[CONFIG].sse_keepalive_s
    metrics = request.app[METRICS]
    tool_indexes: dict[int, int] = {}  # model index → index among the tool calls we show
    error: TurnError | None = None
    done = False
    first_out = True
    try:
        # 200 goes out once the turn has started, i.e. the user's words are stored: a crash in between cannot
        # lose a message the client was told was accepted. Only when the agent is busy with another turn for
        # longer than the keep-alive interval do the headers go out first, so the client does not time out.
        pending: list[AgentEvent | _StartFailed | _Tick | None] = []
        waited_until = time.monotonic() + keepalive_s
        while not pending and time.monotonic() < waited_until:
            pending = await _next_events(queue)
            if not pending and (request.transport is None or request.transport.is_closing()):
                raise ConnectionResetError("client went away") from None
        if pending and isinstance(pending[0], _StartFailed):
            raise pending[0].error  # error_middleware answers with its status and an OpenAI-style body
        await resp.prepare(request)
        if not pending:  # the agent is still busy: the headers (and a comment) go out now, not with the first chunk
            await resp.write(W.SSE_KEEPALIVE)
        last_write = time.monotonic()
        ended = False
        drain_until: float | None = None
        while not ended:
            if drain_until is None and lifecycle.draining(request):
                drain_until = time.monotonic() + request.app[CONFIG].shutdown_grace_s
            if drain_until is not None and time.monotonic() >= drain_until:
                # Shutting down and the turn is still running: cut it (its partial reply is stored as
                # interrupted) and end the stream properly instead of letting the connection drop.
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await producer
                await resp.write(W.sse(W.chunk(cid, created, model, finish_reason="stop")) + _tail(TurnError(
                    lifecycle.SHUTTING_DOWN, "the server is shutting down; send the request again", True), metrics))
                with contextlib.suppress(ConnectionResetError):
                    await resp.write_eof()
                return resp
            if pending:
                batch, pending = pending, []
            else:
                # Poll briefly: aiohttp only reports a vanished client on the next write, and a barge-in
                # must stop generation (and mark the reply interrupted) at once, not at the next token.
                batch = await _next_events(queue)
                if not batch:
                    if request.transport is None or request.transport.is_closing():
                        raise ConnectionResetError("client went away") from None
                    if time.monotonic() - last_write >= keepalive_s:
                        await resp.write(W.SSE_KEEPALIVE)  # LiveKit gives up after 10 s without bytes
                        last_write = time.monotonic()
                    continue
            events: list[object] = []
            for event in batch:
                if event is None:
                    ended = True
                    break
                if isinstance(event, _StartFailed):  # the headers went out while the agent was busy
                    events += failure_events(event.error.code, event.error.message,
                                             getattr(event.error, "retryable", False))
                else:
                    events.append(event)
            out: list[bytes] = []
            for ev in events:
                match ev:
                    case TurnStarted():
                        out.append(W.sse(W.chunk(cid, created, model, role=True, content="")))
                    case ContentDelta(text=text):
                        if first_out:
                            metrics.observe("voice_letta_http_first_content_seconds", time.perf_counter() - received)
                            first_out = False
                        out.append(W.sse(W.chunk(cid, created, model, content=text)))
                    case ToolCallFragment():
                        index = tool_indexes.setdefault(ev.index, len(tool_indexes))
                        delta = W.tool_call_delta(index, ev.call_id, ev.name, ev.arguments)
                        out.append(W.sse(W.chunk(cid, created, model, tool_call=delta)))
                    case ToolStarted() | ToolFinished():
                        pass
                    case TurnError():
                        error = ev
                    case ReplyDone() | TurnFinished():
                        finish = "stop" if ev.finish_reason in ("error", "cancelled") else ev.finish_reason
                        out.append(W.sse(W.chunk(cid, created, model, finish_reason=finish)))
                        if parsed.include_usage:
                            out.append(W.sse(W.usage_chunk(cid, created, model, usage_json(ev))))
                        out.append(_tail(error, metrics))
                        done = True
                        break  # TurnFinished after ReplyDone: the stream has ended
            if done:
                # the last events and the end of the body in one write (each write is a syscall and wakes the
                # client), before the turn's end is stored; the agent may still do memory upkeep after it. A cut here
                # raises ConnectionResetError: the reply is kept as interrupted (see below)
                await resp.write_eof(b"".join(out))
                delivered.set()
                break
            if out:  # one write for what the agent produced meanwhile: each write is a syscall on the hot path
                await resp.write(b"".join(out))
                last_write = time.monotonic()
        if not done:
            await resp.write(_tail(error, metrics))
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        await producer  # memory upkeep after the reply; it never raises (errors become events)
    except ConnectionResetError:
        # The client went away (a barge-in drops the request): cancelling the producer makes the agent
        # persist the partial reply as interrupted.
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
        return resp
    finally:
        ticker.discard(queue)
        for task in (producer, prefetch):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
    return resp


def _prefetch(request: web.Request, agent_id: str, parsed: ParsedTurn) -> asyncio.Task[None] | None:
    """A head start for a possible search_memory call, in a task beside the turn; none (no task to create and
    cancel on every turn) unless the agent's index is not loaded yet or its archive is large."""
    voice_agent = request.app[AGENT]
    if not voice_agent.wants_prefetch(agent_id, parsed.inp.user_text):
        return None
    return asyncio.create_task(voice_agent.prefetch_memory(agent_id, parsed.inp.user_text))


async def _next_events(queue: asyncio.Queue[_Q]) -> list[_Q]:
    """What the agent produced: everything queued now, else what comes next; [] when the ``_Ticker`` ticked first
    (within DISCONNECT_POLL_S)."""
    first = queue.get_nowait() if not queue.empty() else await queue.get()
    batch = [first]
    while first is not None and not queue.empty():
        first = queue.get_nowait()
        batch.append(first)
    return [item for item in batch if item is not _TICK]


def _tail(error: TurnError | None, metrics: Metrics) -> bytes:
    """The end of a stream: the in-band error (after the spoken fallback and the finish), then [DONE]."""
    tail = b""
    if error is not None:  # the OpenAI SDK raises this as an APIError after yielding the content
        metrics.inc("voice_letta_errors_total", code=error.code)
        tail = W.sse({"error": {"message": error.message, "type": "server_error", "code": error.code,
                                "param": None}})
    return tail + W.SSE_DONE


async def _complete(request: web.Request, agent: AgentState, parsed: ParsedTurn) -> web.Response:
    """The whole reply in one response, once the turn has ended: its end stored and memory upkeep done, so what the
    response says is what a read of the agent's state shows (the stream, for which time to first audio matters,
    ends before the turn's end is stored instead)."""
    reply = Completion()
    prefetch = _prefetch(request, agent.id, parsed)
    try:
        async for event in request.app[AGENT].run_turn(agent.id, parsed.inp):
            reply.add(event)
    finally:
        if prefetch is not None and not prefetch.done():
            prefetch.cancel()  # the work it started goes on in MemorySearch's own task
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await prefetch
    return reply.response(agent.id)
