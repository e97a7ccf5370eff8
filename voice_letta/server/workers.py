"""``voice-letta serve --workers N``: N server processes behind one port, and the supervisor that runs them.

Layout. The supervisor binds the address once with ``SO_REUSEPORT`` and keeps that socket (bound, never
listening: it reserves the port and turns port 0 into a real one), migrates the database and creates the first-run
agent, then starts N workers (fresh interpreters: ``python -m voice_letta.server.workers``). Each worker builds the
whole app (``create_app``) and listens on the same address with ``SO_REUSEPORT``, so the kernel spreads incoming
connections over the workers; a WebSocket or a keep-alive connection stays with the worker that accepted it.
Where ``SO_REUSEPORT`` does not exist, the supervisor listens itself and the workers accept on that inherited
socket instead.

Everything that must hold across processes lives in the database: an agent's turns run one at a time through a
lease (``Store.begin_turn``), memory jobs are leased to the worker that runs them, and other processes' writes
reach each worker's caches and live sessions through the change log (``server/changes.py``).

Failures. A worker that exits (a crash, an OOM kill, ``kill -9``) is restarted; before that the supervisor frees
what it held (``Store.release_holder``: its agents' leases, its running memory jobs become claimable at once),
so nothing waits for a lease to expire. A worker dies with the supervisor (``PR_SET_PDEATHSIG``, else a thread
watching its parent). SIGTERM or SIGINT stops the workers with SIGTERM (each finishes within its
``shutdown_timeout``) and then exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field

from voice_letta import config as C
from voice_letta import logctx
from voice_letta.ids import WORKER_ID_ENV
from voice_letta.procs import PARENT_PID_ENV, die_with_parent

log = logging.getLogger(__name__)

CONFIG_ENV = "VOICE_LETTA_WORKER_CONFIG"  # the worker's ServerConfig as JSON
LISTEN_FD_ENV = "VOICE_LETTA_LISTEN_FD"  # without SO_REUSEPORT: the inherited listening socket
STOP_TIMEOUT_S = 20.0  # after SIGTERM, a worker that has not exited by then is killed
RESTART_DELAY_S = (0.5, 10.0)  # first and longest delay before restarting a worker that keeps dying


def describe_database(cfg: C.ServerConfig) -> str:
    """The database for a log line: a PostgreSQL URL without its password, or the SQLite file."""
    if cfg.database_url is None:
        return str(cfg.db_path)
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", cfg.database_url)


def default_workers() -> int:
    return os.cpu_count() or 1


# --- the supervisor ----------------------------------------------------------------------------------------


@dataclass
class _Worker:
    index: int
    worker_id: str = ""
    proc: asyncio.subprocess.Process | None = None
    started: float = 0.0
    failures: int = 0
    exits: list[float] = field(default_factory=list)


def reserve_port(host: str, port: int) -> tuple[socket.socket, bool]:
    """A socket bound to ``host:port`` that keeps the port for the workers: (socket, uses SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reuse_port = hasattr(socket, "SO_REUSEPORT")
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if not reuse_port:
        sock.listen(1024)
        sock.set_inheritable(True)
    return sock, reuse_port


async def _accepting(host: str, port: int, pool: list[_Worker], stopping: asyncio.Event) -> None:
    """Until a worker accepts on the port. The supervisor's socket only holds the port (SO_REUSEPORT, no listen), so
    "listening on" printed at once met "connection refused" while the workers loaded (80 s at load 12)."""
    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    while not stopping.is_set() and any(w.proc is not None and w.proc.returncode is None for w in pool):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(target, port), 2.0)
        except (OSError, TimeoutError):
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket for a single-process server (what ``web.run_app(host=, port=)`` would open)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _bootstrap(cfg: C.ServerConfig) -> None:
    """Once, before any worker starts: migrate the database and create the first-run agent."""
    from voice_letta.server.app import open_configured_store

    store = await open_configured_store(cfg)
    try:
        if cfg.create_default_agent and not await store.list_agents():
            from voice_letta.agent.prompt import SystemPromptCache
            from voice_letta.agent.service import AgentCreate, AgentService
            from voice_letta.agent.zones import host_zone

            zone = await asyncio.to_thread(host_zone)  # the machine's: a laptop user's own days
            agent = await AgentService(store, SystemPromptCache()).create(AgentCreate(name="assistant", timezone=zone))
            log.info("created the default agent %s (embedded local model)", agent.id)
    finally:
        await store.aclose()


async def _release(cfg: C.ServerConfig, worker_id: str) -> None:
    from voice_letta.server.app import open_configured_store

    try:
        store = await open_configured_store(cfg)
        try:
            freed = await store.release_holder(worker_id, now=time.time())
        finally:
            await store.aclose()
        if freed:
            log.info("freed %d leases and memory jobs of worker %s", freed, worker_id)
    except Exception:  # the leases expire by themselves; this only makes it immediate
        log.warning("could not free the leases of worker %s", worker_id, exc_info=True)


async def supervise(cfg: C.ServerConfig, workers: int) -> int:
    sock, reuse_port = reserve_port(cfg.host, cfg.port)
    cfg = cfg.model_copy(update={"port": sock.getsockname()[1]})
    await _bootstrap(cfg)
    worker_cfg = cfg.model_copy(update={"create_default_agent": False})
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    pool = [_Worker(i) for i in range(workers)]

    async def spawn(w: _Worker) -> None:
        w.worker_id = f"{socket.gethostname()}:{os.getpid()}:w{w.index}:{uuid.uuid4().hex[:6]}"
        env = {**os.environ, CONFIG_ENV: worker_cfg.model_dump_json(), WORKER_ID_ENV: w.worker_id,
               PARENT_PID_ENV: str(os.getpid())}  # read here: a worker cannot trust its own getppid()
        pass_fds: tuple[int, ...] = ()
        if not reuse_port:
            env[LISTEN_FD_ENV] = str(sock.fileno())
            pass_fds = (sock.fileno(),)
        w.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "voice_letta.server.workers", env=env,
                                                      pass_fds=pass_fds)
        w.started = time.monotonic()
        log.info("worker %d started (pid %d, id %s)", w.index, w.proc.pid, w.worker_id)

    for w in pool:
        await spawn(w)
    await _accepting(cfg.host, cfg.port, pool, stopping)
    print(f"voice-letta listening on http://{cfg.host}:{cfg.port} with {workers} workers "
          f"(database {describe_database(cfg)})", flush=True)
    try:
        while not stopping.is_set():
            waits = {asyncio.ensure_future(w.proc.wait()): w for w in pool if w.proc is not None}
            stop = asyncio.ensure_future(stopping.wait())
            done, _ = await asyncio.wait({*waits, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in (*waits, stop):
                if task not in done:
                    task.cancel()
            if stopping.is_set():
                break
            for task in done:
                exited = waits.get(task)
                if exited is None or exited.proc is None:
                    continue
                w, proc = exited, exited.proc
                log.warning("worker %d (pid %d) exited with %s; restarting it", w.index, proc.pid, proc.returncode)
                await _release(cfg, w.worker_id)
                quick = time.monotonic() - w.started < 10
                w.failures = w.failures + 1 if quick else 0
                delay = min(RESTART_DELAY_S[1], RESTART_DELAY_S[0] * 2 ** max(w.failures - 1, 0)) if quick else 0
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stopping.wait()
                if not stopping.is_set():
                    await spawn(w)
    finally:
        await _stop_all(cfg, pool)
        sock.close()
    return 0


async def _stop_all(cfg: C.ServerConfig, pool: list[_Worker]) -> None:
    running = [w for w in pool if w.proc is not None and w.proc.returncode is None]
    stop_s = max(STOP_TIMEOUT_S, C.shutdown_timeout_s(cfg) + 5)  # a worker's own graceful shutdown first
    for w in running:
        assert w.proc is not None
        with contextlib.suppress(ProcessLookupError):
            w.proc.send_signal(signal.SIGTERM)
    for w in running:
        assert w.proc is not None
        try:
            await asyncio.wait_for(w.proc.wait(), stop_s)
        except TimeoutError:
            log.warning("worker %d did not stop in %.0f s: killing it", w.index, stop_s)
            with contextlib.suppress(ProcessLookupError):
                w.proc.kill()
            await w.proc.wait()
            await _release(cfg, w.worker_id)


def run_supervisor(cfg: C.ServerConfig, workers: int) -> int:
    return asyncio.run(supervise(cfg, workers))


# --- a worker ----------------------------------------------------------------------------------------------


def worker_main() -> int:
    from voice_letta.server import lifecycle
    from voice_letta.server.app import create_app

    die_with_parent(signum=signal.SIGTERM)  # the supervisor's pid comes from it ($VOICE_LETTA_PARENT_PID)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    fmt = os.environ.get(logctx.LOG_FORMAT_ENV, "text")
    logctx.configure("json" if fmt == "json" else "text", logging.INFO)
    cfg = C.ServerConfig.model_validate_json(os.environ[CONFIG_ENV])
    app = create_app(cfg)
    fd = os.environ.get(LISTEN_FD_ENV)
    if fd is not None:
        sock = socket.socket(fileno=int(fd))
        lifecycle.run(app, sock=sock, print=None, shutdown_timeout=C.shutdown_timeout_s(cfg))
    else:
        lifecycle.run(app, host=cfg.host, port=cfg.port, reuse_port=True, print=None,
                      shutdown_timeout=C.shutdown_timeout_s(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
