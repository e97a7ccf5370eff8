"""The ``voice-letta`` command: serve, agents create|list|show|update|delete, chat (and talk, for push-to-talk audio).

The flags below are a stable contract that scripts depend on; see README.md §CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from voice_letta import config as C
from voice_letta import logctx


def _client_url(args: argparse.Namespace) -> str:
    return C.client_url(args.url)


def sandbox_settings(args: argparse.Namespace) -> C.SandboxSettings:
    """VOICE_LETTA_SANDBOX_* from the environment, overridden (numbers) or extended (lists) by --sandbox-* flags."""
    settings = C.SandboxSettings.from_env()
    update: dict[str, Any] = {}
    for name in ("memory_mb", "disk_mb", "timeout_s", "isolation", "warm", "cgroup"):
        value = getattr(args, f"sandbox_{name}")
        if value is not None:
            update[name] = value
    for name, flag in (("hidden_paths", "sandbox_hide"), ("expose_paths", "sandbox_expose"),
                       ("allow_private", "sandbox_allow_private"), ("trusted_mcp", "trust_mcp")):
        if getattr(args, flag):
            update[name] = [*getattr(settings, name), *getattr(args, flag)]
    return C.SandboxSettings.model_validate(settings.model_dump() | update)


def _port_taken(host: str, port: int, wait_s: float = 10.0) -> str | None:
    """Why ``host:port`` cannot be served, or None. The workers share their port with SO_REUSEPORT, which lets any
    process that sets it bind the same port: a second ``serve`` (another terminal, another database) started
    silently and the kernel split the requests between the two servers (agents appeared and vanished); with one
    worker it was a traceback. A bind without SO_REUSEPORT fails while anything listens there. A server killed
    just before still has workers closing for a moment (they stop when their supervisor dies): asked again for up
    to ``wait_s``, so a restart waits for them instead of failing."""
    if port == 0:
        return None
    if not 0 < port <= 65535:
        return "a port is 1-65535"
    deadline = time.monotonic() + wait_s
    while True:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no owner
            try:
                probe.bind((host, port))
                return None
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    return (exc.strerror or str(exc)).lower()
                if time.monotonic() > deadline:
                    return "address already in use (is another server running there? stop it, or choose another --port)"
        time.sleep(0.25)


def cmd_serve(args: argparse.Namespace) -> int:
    from voice_letta.errors import ConfigError
    from voice_letta.server import lifecycle
    from voice_letta.server.app import create_app
    from voice_letta.server.web_guard import WebPolicy
    from voice_letta.server.workers import default_workers, describe_database, listening_socket, run_supervisor

    extra: dict[str, Any] = {}
    if args.allowed_host:
        extra["allowed_hosts"] = C.env_list(C.ALLOWED_HOSTS_ENV) + args.allowed_host
    if args.allowed_origin:
        extra["allowed_origins"] = C.env_list(C.ALLOWED_ORIGINS_ENV) + args.allowed_origin
    if args.no_admin_api:
        extra["admin_api"] = False
    extra["sandbox"] = sandbox_settings(args)
    if args.db and C.is_database_url(args.db):
        extra["database_url"] = args.db
    if args.shutdown_grace_s is not None:
        extra["shutdown_grace_s"] = args.shutdown_grace_s
    db_path = C.db_file(args.db) if args.db and not C.is_database_url(args.db) else C.default_db_path()
    cfg = C.ServerConfig(host=args.host, port=args.port, db_path=db_path,
                         preload_local_models=not args.no_preload,
                         create_default_agent=not args.no_default_agent, **extra)
    if cfg.api_key is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        logging.warning("serving on %s without an API key: anyone who can reach it can use every agent; set %s",
                        args.host, C.API_KEY_ENV)
    logging.info("routes that run code (tools, MCP servers): %s", "on" if cfg.admin_api else "off (--no-admin-api)")
    try:  # before a worker starts or "listening" is printed: a bad --allowed-host was a traceback after that line
        WebPolicy.from_config(cfg)
    except ConfigError as exc:
        raise SystemExit(f"voice-letta serve: {exc}") from None
    if (taken := _port_taken(cfg.host, cfg.port)) is not None:
        raise SystemExit(f"voice-letta serve: cannot listen on {cfg.host}:{cfg.port}: {taken}")
    workers = args.workers if args.workers is not None else default_workers()
    if workers > 1:
        return run_supervisor(cfg, workers)  # N processes behind one port (server/workers.py)
    sock = listening_socket(cfg.host, cfg.port)  # bound here so that --port 0 can print the real port
    print(f"voice-letta listening on http://{cfg.host}:{sock.getsockname()[1]} (database {describe_database(cfg)})",
          flush=True)
    lifecycle.run(create_app(cfg), sock=sock, print=None, shutdown_timeout=C.shutdown_timeout_s(cfg))
    return 0


async def _request(method: str, url: str, body: Any = None) -> Any:
    import aiohttp

    headers = C.client_headers()
    async with aiohttp.ClientSession(headers=headers) as session, session.request(method, url, json=body) as resp:
        data = await resp.json(content_type=None)
        if resp.status >= 400:
            message = data.get("error", {}).get("message") if isinstance(data, dict) else data
            raise SystemExit(f"error {resp.status}: {message}")
        return data


async def _chat(args: argparse.Namespace) -> int:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

    client = openai.AsyncOpenAI(base_url=f"{_client_url(args)}/v1",
                                api_key=C.api_key_from_env() or "none", max_retries=0)
    history: list[ChatCompletionMessageParam] = []
    lines = [args.message] if args.message else None
    failed = False
    read = 0
    while True:
        if lines is not None:
            if not lines:
                break
            text = lines.pop(0)
        else:
            try:
                # A file written on Windows and piped in on Linux or WSL keeps its CR: "hello\r" was sent and stored.
                text = (await asyncio.to_thread(input, "" if args.json else "you> ")).removesuffix("\r")
            except EOFError:
                break
            read += 1
        if (byte := _undecoded_byte(text)) is not None:
            # Python reads bytes that are no UTF-8 (a file saved as Windows-1252 or Latin-1) as lone surrogates,
            # which the openai SDK cannot encode: the command died with a traceback, the rest of the file unsent.
            where = f"line {read} of the input" if lines is None else "the message"
            print(f"voice-letta chat: {where} is not UTF-8 text (byte 0x{byte:02x}), not sent: save it as UTF-8, "
                  "e.g. iconv -f windows-1252 -t utf-8", file=sys.stderr)
            failed = True
            continue
        if not text.strip():
            continue
        history.append({"role": "user", "content": text})
        reply: list[str] = []
        error: str | None = None
        try:
            stream = await client.chat.completions.create(model=args.agent, messages=history, stream=True)
            if not args.json:
                print("agent> ", end="", flush=True)
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    reply.append(chunk.choices[0].delta.content)
                    if not args.json:
                        print(chunk.choices[0].delta.content, end="", flush=True)
        except (openai.NotFoundError, openai.ConflictError, openai.AuthenticationError, openai.PermissionDeniedError,
                openai.APIConnectionError) as exc:
            # Nothing will work: the agent does not exist, the key is refused, the server is not there.
            await client.close()
            raise ChatError(_chat_failure(exc, args.agent)) from None
        except openai.APIError as exc:  # this turn failed (in-band error after the spoken fallback): go on
            failed = True
            error = exc.message
            print(f"\n[error: {exc.message}]", file=sys.stderr)
        if args.json:  # one JSON object per turn (JSON lines)
            print(json.dumps({"message": text, "reply": "".join(reply), "error": error}), flush=True)
        else:
            print()
        history.append({"role": "assistant", "content": "".join(reply)})
    await client.close()
    return 1 if failed else 0


def _undecoded_byte(text: str) -> int | None:
    """The first byte of ``text`` that was not UTF-8 where it was read (stdin, argv: Python keeps such a byte as a
    lone surrogate U+DC80..U+DCFF, "surrogateescape"), or None."""
    return next((ord(ch) - 0xDC00 for ch in text if "\udc80" <= ch <= "\udcff"), None)


class ChatError(Exception):
    """A ``chat`` failure that makes every request fail: printed as one line, exit status 1."""


def _chat_failure(exc: Exception, agent: str) -> str:
    import openai

    if isinstance(exc, openai.NotFoundError):
        return f"no agent named {agent!r} on this server (voice-letta agents list)"
    if isinstance(exc, openai.ConflictError):  # several agents have that name: the message lists their ids
        body = exc.body if isinstance(exc.body, dict) else {}
        return f"{body.get('message') or exc.message} (voice-letta agents list)"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"the server refused the request (HTTP {exc.status_code}): set {C.API_KEY_ENV} to its API key"
    return f"cannot reach the server: {exc}"


def cmd_chat(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_chat(args))
    except ChatError as exc:
        print(f"voice-letta chat: {exc}", file=sys.stderr)
        return 1


def cmd_talk(args: argparse.Namespace) -> int:
    try:
        from voice_letta.clients.ptt import main as talk_main
    except ImportError as exc:
        raise SystemExit(f"push-to-talk is not available: {exc}") from exc
    return talk_main(args)


def _positive_int(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("must be between 1 and 256")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-letta", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=C.DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=C.DEFAULT_PORT)
    serve.add_argument("--db", help=f"SQLite file, or a postgresql://user:password@host:port/database URL "
                       f"(default ${C.DB_ENV} or ~/.voice-letta/voice-letta.db)")
    serve.add_argument("--workers", type=_positive_int, default=None,
                       help="server processes behind the one port (default: one per CPU core; 1: a single process)")
    serve.add_argument("--no-preload", action="store_true", help="load local models on first use")
    serve.add_argument("--shutdown-grace-s", type=float, metavar="S",
                       help=f"on SIGTERM, how long HTTP streams may finish their turn (default {C.SHUTDOWN_GRACE_S:g}; "
                            "docs/operations.md §Shutdown)")
    serve.add_argument("--log-format", choices=("text", "json"),
                       help=f"log lines as text (default) or one JSON object each (${logctx.LOG_FORMAT_ENV})")
    serve.add_argument("--no-default-agent", action="store_true",
                       help="don't create the 'assistant' agent on an empty database")
    serve.add_argument("--allowed-host", action="append", metavar="NAME",
                       help="also answer for this Host name (repeatable; '.example.com' for a domain; "
                            f"also ${C.ALLOWED_HOSTS_ENV}, comma-separated)")
    serve.add_argument("--allowed-origin", action="append", metavar="ORIGIN",
                       help="let pages on this origin (https://app.example.com) call the server, with CORS "
                            f"(repeatable; also ${C.ALLOWED_ORIGINS_ENV})")
    serve.add_argument("--no-admin-api", action="store_true",
                       help=f"turn off the routes that run code: tools and MCP servers (also {C.ADMIN_API_ENV}=0)")
    sandbox = serve.add_argument_group(
        "tool sandbox", f"custom tools and stdio MCP servers (docs/sandbox.md); each also as {C.SANDBOX_ENV}*")
    sandbox.add_argument("--sandbox-memory-mb", type=int, metavar="MB", help="memory per call (default 256)")
    sandbox.add_argument("--sandbox-disk-mb", type=int, metavar="MB",
                         help="disk per call, /tmp /var/tmp /dev/shm /run/lock together (default 64)")
    sandbox.add_argument("--sandbox-timeout-s", type=float, metavar="S",
                         help="the longest any call may run; a tool's own timeout_s is capped by it (default 60)")
    sandbox.add_argument("--sandbox-hide", action="append", type=Path, metavar="PATH",
                         help="never visible to tools, even inside an exposed path (repeatable; the data directory "
                              "always is)")
    sandbox.add_argument("--sandbox-expose", action="append", type=Path, metavar="PATH",
                         help="a host path tools may read (repeatable); nothing else of the host is there")
    sandbox.add_argument("--sandbox-isolation", choices=("auto", *C.SANDBOX_LEVELS),
                         help="refuse to start below this level (default auto: take what the machine gives, "
                              "logged)")
    sandbox.add_argument("--sandbox-allow-private", action="append", metavar="ADDR:PORT",
                         help="a loopback/private/link-local destination tools may reach if they list it "
                              "(ADDR[/PREFIX]:PORT or :*; repeatable)")
    sandbox.add_argument("--sandbox-warm", type=int, metavar="N",
                         help="idle sandbox connections kept with warm runtimes (default 2; 0: none)")
    sandbox.add_argument("--sandbox-cgroup", type=Path, metavar="DIR",
                         help="a delegated cgroup v2 directory for per-call groups (default: found, else rlimits)")
    sandbox.add_argument("--trust-mcp", action="append", metavar="NAME",
                         help=f"run this stdio MCP server outside the sandbox, as the server's user (repeatable; "
                              f"also {C.TRUSTED_MCP_ENV})")
    serve.set_defaults(func=cmd_serve)

    def client_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", help=f"server URL (default ${C.URL_ENV} or {C.DEFAULT_URL})")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    from voice_letta.cli_agents import add_agent_commands

    add_agent_commands(sub, client_flags)  # agents create|list|show|update|delete (voice_letta/cli_agents.py)

    chat = sub.add_parser("chat", help="text conversation with an agent (streaming)")
    chat.add_argument("agent", help="agent id or name")
    chat.add_argument("-m", "--message", help="send one message and exit")
    client_flags(chat)
    chat.set_defaults(func=cmd_chat)

    talk = sub.add_parser("talk", help="push-to-talk voice client (microphone or WAV files)")
    talk.add_argument("agent", help="agent id or name")
    talk.add_argument("--input-file", help="WAV to send instead of the microphone")
    talk.add_argument("--output-file", help="write the reply audio to this WAV instead of the speakers")
    talk.add_argument("--identity", help="talk to your own agent made from AGENT as a template (one agent per "
                                         "person, like phone callers; docs/protocol.md)")
    client_flags(talk)
    talk.set_defaults(func=cmd_talk)
    return parser


def main(argv: list[str] | None = None) -> int:
    # One BLAS thread per process: the server already runs inference in worker threads, and OpenBLAS's own
    # threads fighting them on a 2-core machine made a MiniLM embedding 20x slower. Must precede numpy's import.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = build_parser().parse_args(argv)
    for arg in sys.argv[1:] if argv is None else argv:
        if (byte := _undecoded_byte(arg)) is not None:  # e.g. --name typed in a Latin-1 terminal: stored as U+FFFD
            raise SystemExit(f"voice-letta: the argument {arg.encode('utf-8', 'surrogateescape')!r} is not UTF-8 "
                             f"text (byte 0x{byte:02x}); set the terminal to UTF-8")
    # The server logs what it does; client commands print only their output (and warnings), unless -v.
    quiet = logging.INFO if args.command == "serve" else logging.WARNING
    fmt = getattr(args, "log_format", None) or os.environ.get(logctx.LOG_FORMAT_ENV, "text").strip().lower()
    if fmt not in ("text", "json"):
        raise SystemExit(f"{logctx.LOG_FORMAT_ENV} must be 'text' or 'json', not {fmt!r}")
    # Every line names the agent, session, turn and request it is about (voice_letta/logctx.py); serve's
    # workers (their own processes) read the format from the environment.
    os.environ[logctx.LOG_FORMAT_ENV] = fmt
    logctx.configure("json" if fmt == "json" else "text", logging.DEBUG if args.verbose else quiet)
    try:
        code = int(args.func(args))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader left (`voice-letta agents list | head -1`): stop quietly, like any command-line tool, instead
        # of a traceback; what is still buffered goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
