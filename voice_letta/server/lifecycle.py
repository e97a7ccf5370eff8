"""Graceful shutdown and readiness.

**Shutdown** (SIGTERM or SIGINT; aiohttp stops accepting connections, then runs ``on_shutdown``, then waits up
to its ``shutdown_timeout`` for requests in flight):

- ``DRAINING`` is set first, so ``GET /ready`` answers 503 and new work is not started here;
- voice and Realtime sockets are closed with 1001 (``app.close_sockets``); each session's turn in flight is
  cut and stored as interrupted, with what was heard;
- a chat-completions stream in flight gets ``ServerConfig.shutdown_grace_s`` (default 8 s, inside aiohttp's
  10 s) to finish its turn; one still running then is cut (its partial reply stored as interrupted, its tool
  calls cancelled) and the stream is ended properly: a finish chunk, an in-band error
  ``server_shutting_down`` (retryable) and ``[DONE]``, instead of a dropped connection;
- a memory job in flight is handed back (pending again, not counted as a failed attempt) when the memory
  manager closes, and the next start runs it.

**Signals** (``run``, what ``serve`` and each ``--workers`` worker use instead of ``web.run_app``'s own handlers):
the first SIGTERM or SIGINT starts the graceful shutdown; a repeated SIGTERM is ignored (a killed supervisor can
deliver its parent-death signal once per thread it had, and systemd or a container runtime may send SIGTERM twice:
a second one used to abort the shutdown half-way and leave the process waiting for its database thread for good);
a second SIGINT (Ctrl-C twice) exits at once. A signal during start-up (the store opening, models loading) is
kept until the start-up is done (at most ``START_UP_WAIT_S``) and then starts the same shutdown. Once the shutdown
is over, a watchdog ends the process if something still holds it (``EXIT_WATCHDOG_S``): no server process outlives
its shutdown.

**Readiness** ``GET /ready`` (no key needed, like ``/health``): 200 ``{"status": "ready", "checks": {...}}`` when
the database answers, the configured speech engines are there and the tool sandbox (when enabled) runs; else
503 with ``"status": "unavailable"`` (or ``"draining"`` during shutdown) and the failing check. ``/health`` stays
the liveness check: 200 as long as the process serves HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from typing import Any

from aiohttp import web
from aiohttp.web_runner import GracefulExit

from voice_letta.server.keys import CONFIG, STORE

DRAINING = web.AppKey("draining", asyncio.Event)
READY_DB_TIMEOUT_S = 2.0
SHUTTING_DOWN = "server_shutting_down"
EXIT_WATCHDOG_S = 5.0  # after the shutdown ended: the longest the interpreter may take to exit
START_UP_WAIT_S = 30.0  # a signal during start-up waits this long for it to finish, then cuts it

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app[DRAINING] = asyncio.Event()

    async def start_draining(app: web.Application) -> None:
        app[DRAINING].set()

    app.on_shutdown.insert(0, start_draining)  # before the sockets close: /ready says so at once
    app.router.add_routes(routes)


def draining(request: web.Request) -> bool:
    event = request.app.get(DRAINING)
    return event is not None and event.is_set()


async def _database(app: web.Application) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(READY_DB_TIMEOUT_S):
            await app[STORE].busy_lease_holders()  # one small indexed query: the database answers
    except Exception as exc:  # any failure means "not ready"; the reason is named, not raised
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _speech(app: web.Application) -> dict[str, Any]:
    from voice_letta.server.keys import SPEECH

    speech = app.get(SPEECH)
    if speech is None:
        return {"ok": False, "error": "not started"}
    # An engine named "none" was turned off on purpose; a configured one that could not be built is a failure.
    stt_ok = speech.stt is not None or speech.stt_name == "none"
    tts_ok = speech.tts is not None or speech.tts_name == "none"
    return {"ok": stt_ok and tts_ok, "stt": speech.stt_name if speech.stt is not None else None,
            "tts": speech.tts_name if speech.tts is not None else None}


def _sandbox(app: web.Application) -> dict[str, Any]:
    from voice_letta.server.keys import TOOLS

    if not app[CONFIG].enable_sandbox:
        return {"ok": True, "enabled": False}
    tools = app.get(TOOLS)
    if tools is None:
        return {"ok": False, "enabled": True, "error": "not started"}
    status = tools.sandbox_status()
    running = bool(status.get("running"))
    return {"ok": running, "enabled": True, "running": running}


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    app = request.app
    checks = {"database": await _database(app), "speech": _speech(app), "sandbox": _sandbox(app)}
    if draining(request):
        status = "draining"
    elif all(c["ok"] for c in checks.values()):
        status = "ready"
    else:
        status = "unavailable"
    return web.json_response({"status": status, "checks": checks}, status=200 if status == "ready" else 503)


def run(app: web.Application, **kwargs: Any) -> None:
    """``web.run_app(app, **kwargs)`` with the signal handling above, then the exit watchdog."""
    loop = asyncio.new_event_loop()
    state: dict[str, Any] = {"stopping": False, "started": False, "pending": None}

    def on_signal(sig: signal.Signals) -> None:
        if not state["started"]:
            # During start-up nothing is served yet, but the start-up steps are half done (the store open, the
            # sandbox running, models loading in threads): stopping here left them half closed, an asyncio ERROR
            # ("aclose(): asynchronous generator is already running") and an exit only by the watchdog, 5 s later.
            # So the shutdown waits for the start-up to finish, then runs as usual.
            if state["pending"] is None:
                state["pending"] = sig
                log.info("%s during start-up: shutting down as soon as it is done", sig.name)
                loop.call_later(START_UP_WAIT_S, stuck, sig)
            elif sig == signal.SIGINT:
                log.warning("SIGINT again: exiting at once")
                os._exit(130)
            return
        if not state["stopping"]:
            state["stopping"] = True
            log.info("%s: shutting down gracefully", sig.name)
            raise GracefulExit()
        if sig == signal.SIGINT:
            log.warning("SIGINT again: exiting at once")
            os._exit(130)
        log.info("%s again during the graceful shutdown: ignored (SIGKILL ends the process at once)", sig.name)

    def stuck(sig: signal.Signals) -> None:  # a start-up that hangs (a database that does not answer) is cut
        if not state["started"]:
            log.warning("start-up still running %.0f s after %s: stopping it", START_UP_WAIT_S, sig.name)
            state["started"] = True
            on_signal(sig)

    async def started(app: web.Application) -> None:  # the last start-up step (after every cleanup context's)
        state["started"] = True
        if state["pending"] is not None:
            loop.call_soon(on_signal, state["pending"])

    app.on_startup.append(started)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        web.run_app(app, loop=loop, handle_signals=False, **kwargs)
    finally:
        exit_watchdog()


def exit_watchdog(seconds: float = EXIT_WATCHDOG_S) -> None:
    """End the process ``seconds`` from now if it has not exited by then (a thread that never ends, say a
    database connection a failed shutdown left open, would otherwise hold the interpreter's exit for good)."""

    def expire() -> None:
        log.warning("the process did not exit %.0f s after its shutdown: ending it", seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
