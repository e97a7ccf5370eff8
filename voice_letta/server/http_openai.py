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

from aiohttp import web

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
from voice_letta.errors import VoiceLettaError
from voice_letta.server import lifecycle
from voice_letta.server.http_openai_reply import Completion, usage_json
from voice_letta.server.keys import AGENT, CONFIG, METRICS
from voice_letta.server.metrics import Metrics
from voice_letta.server.openai_input import ParsedTurn, parse_turn, resolve_agent
from voice_letta.server.request_log import REQUEST_ID_HEADER
from voice_letta.server.stream_watch import StreamWatch, stream_ticker
from voice_letta.wire import openai_chat as W
from voice_letta.wire._json import as_utf8, refuse_nul, validate_body

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    received = time.perf_counter()
    body, raw = validate_body(W.ChatCompletionRequest, as_utf8(await request.read(), request.charset))
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


class _EventStream(web.StreamResponse):
    """The SSE response: its headers go out with the first bytes of the body (the role chunk), in one send instead
    of two. Every send on the hot path is a syscall and wakes the client. aiohttp's own ``web.Response`` buffers its
    headers through the same class attribute; on an aiohttp without it they simply go out at ``prepare``."""

    _send_headers_immediately = False


async def _stream(request: web.Request, agent: AgentState, parsed: ParsedTurn, received: float) -> web.StreamResponse:
    """The handler's task drives the agent's turn itself and writes each event as it comes: no producer task and
    queue between them (each was a task switch per event and a task per turn). The ``stream_watch.Ticker`` cuts a
    wait for the agent when the client goes away or the shutdown grace ends, and sends keep-alives while the agent
    is busy.

    200 goes out once the turn has started, i.e. the user's words are stored: a crash in between cannot lose a
    message the client was told was accepted (only a keep-alive, when the agent is busy with another turn for longer
    than the keep-alive interval, sends the headers first). The turn's end is stored only after the reply's last
    bytes are written (the agent is not asked for the event after ``ReplyDone`` until then): a turn recorded as
    completed was delivered, so a process killed before the end of the stream leaves it unfinished, and the
    client's resend is its retry.
    """
    cid, created, model = ids.completion_id(), int(time.time()), agent.id
    resp = _EventStream(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                       "X-Accel-Buffering": "no",
                                       REQUEST_ID_HEADER: logctx.current().request_id or ""})
    turn = request.app[AGENT].run_turn(agent.id, parsed.inp)
    prefetch = _prefetch(request, agent.id, parsed)
    watch = StreamWatch(request, resp, request.app[CONFIG].sse_keepalive_s)
    ticker = stream_ticker()
    ticker.add(watch)
    metrics = request.app[METRICS]
    tool_indexes: dict[int, int] = {}  # model index → index among the tool calls we show
    error: TurnError | None = None
    started = done = ended = False
    first_out = True
    try:
        while not done:
            watch.waiting = True
            try:
                events: tuple[AgentEvent, ...] | list[AgentEvent] = (await turn.__anext__(),)
            except StopAsyncIteration:
                ended = True
                break
            except VoiceLettaError as exc:  # e.g. the store is down: before the turn started, an HTTP error
                ended = True
                if not started and not resp.prepared:
                    raise  # error_middleware answers with its status and an OpenAI-style body
                events = failure_events(exc.code, exc.message, getattr(exc, "retryable", False))
            except Exception:
                ended = True
                log.exception("turn for agent %s failed", agent.id)
                if not started and not resp.prepared:
                    raise VoiceLettaError("internal error") from None
                events = failure_events("internal_error", "internal error", False)
            finally:
                watch.waiting = False
            if watch.beat is not None:
                await watch.beat  # a keep-alive being written goes out whole first
            if watch.broken:
                raise ConnectionResetError("client went away")
            out: list[bytes] = []
            for ev in events:
                match ev:
                    case TurnStarted():
                        started = True
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
            if not resp.prepared:
                await resp.prepare(request)  # the headers leave with the first chunk (one send)
            if done:
                # the last events and the end of the body in one write (each write is a syscall and wakes the
                # client), before the turn's end is stored; the agent may still do memory upkeep after it. A cut
                # here raises ConnectionResetError: the reply is kept as interrupted (see below)
                ticker.discard(watch)
                await resp.write_eof(watch.take() + b"".join(out))
                break
            if not out:
                pass
            elif type(events[0]) is not TurnStarted:  # written once this step ends, with what follows in the step
                watch.send_soon(b"".join(out))
            else:  # the role chunk: the 200 says the input is stored; it goes out at once
                await resp.write(watch.take() + b"".join(out))
                watch.last_write = time.monotonic()
            if ended:
                break
            if watch.drain_until is not None and time.monotonic() >= watch.drain_until:
                await turn.aclose()  # shutting down while the agent keeps talking: as the ticker's cut
                ended = True
                await _end_drained(request, resp, cid, created, model, metrics, watch.take())
                return resp
        if not done:
            await resp.write(watch.take() + _tail(error, metrics))
            with contextlib.suppress(ConnectionResetError):
                await resp.write_eof()
        if not ended:
            async for _ in turn:  # the turn's end stored, then memory upkeep; it never raises (errors are events)
                pass
            ended = True
    except ConnectionResetError:
        # The client went away (a barge-in drops the request) while we wrote: closing the turn makes the agent
        # persist the partial reply as interrupted.
        ended = True
        with contextlib.suppress(Exception):
            await turn.aclose()
        return resp
    except asyncio.CancelledError:
        if watch.cut is None:
            raise  # cancelled from outside (the server's own shutdown)
        # The ticker cut the wait for the agent: the turn was cancelled (its partial reply kept as interrupted).
        ended = True
        watch.task.uncancel()
        if watch.cut == "drain":
            await _end_drained(request, resp, cid, created, model, metrics, watch.take())
        return resp
    finally:
        ticker.discard(watch)
        watch.take()
        if not ended:  # cancelled from outside while writing: closing the turn keeps what was said
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await turn.aclose()
        for task in (watch.beat, prefetch):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
    return resp


async def _end_drained(request: web.Request, resp: web.StreamResponse, cid: str, created: int, model: str,
                       metrics: Metrics, held: bytes) -> None:
    """End a stream the shutdown cut: the finish, the in-band error saying to send the request again, [DONE] (the
    headers first when the turn had not started yet: never an empty stream)."""
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await resp.prepare(request)
        await resp.write(held + W.sse(W.chunk(cid, created, model, finish_reason="stop")) + _tail(TurnError(
            lifecycle.SHUTTING_DOWN, "the server is shutting down; send the request again", True), metrics))
        await resp.write_eof()


def _prefetch(request: web.Request, agent_id: str, parsed: ParsedTurn) -> asyncio.Task[None] | None:
    """A head start for a possible search_memory call, in a task beside the turn; none (no task to create and
    cancel on every turn) unless the agent's index is not loaded yet or its archive is large."""
    voice_agent = request.app[AGENT]
    if not voice_agent.wants_prefetch(agent_id, parsed.inp.user_text):
        return None
    return asyncio.create_task(voice_agent.prefetch_memory(agent_id, parsed.inp.user_text))


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
