"""MCP servers as tool sources, through the official ``mcp`` SDK (2.x ``Client``).

``McpManager`` keeps one live connection per registered server. Each connection lives in a task of its
own, because the SDK's transports are anyio context managers that must be entered and exited in the same
task; calls from any task go through the connected ``Client``. When a call fails because the connection
is gone (``CONNECTION_CLOSED``, a broken stream, a refused HTTP request), the manager reconnects once and
retries the call once.

The registry of servers is kept in memory and, if ``registry_path`` is given, mirrored to a JSON file
(written atomically) that ``load()`` reads back at start. Discovered tools become ``EXTERNAL_MCP``
``Tool`` models whose ids are stable for a (server, tool) pair. Stdio servers start inside the tool sandbox
unless the operator trusts them (mcp_sandbox.py); calls go through ``McpExecutor`` (mcp_executor.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from voice_letta.agent.models import Tool, ToolNetwork, ToolOptions, ToolType
from voice_letta.errors import NotFoundError, ToolError
from voice_letta.tools_runtime.mcp_sandbox import McpSandbox, stdio_parameters

log = logging.getLogger(__name__)

McpTransport = Literal["stdio", "streamable_http", "sse"]
CONNECT_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 5.0
_TOOL_NS = uuid.UUID("5b0f4c5e-3c55-4d7e-9a53-7d0e0f6b8e11")


class McpServerConfig(BaseModel):
    """How to reach one MCP server: a command over stdio, or a URL (streamable HTTP or SSE)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    transport: McpTransport = "stdio"
    command: list[str] | None = None
    url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)  # the whole environment of a stdio server (+ PATH, HOME…)
    headers: dict[str, str] = Field(default_factory=dict)  # for SSE servers
    # A sandboxed stdio server sees no host files but the runtimes'; these host paths are added read-only.
    files: list[Annotated[str, StringConstraints(pattern=r"^/")]] = Field(default_factory=list, max_length=32)
    network: ToolNetwork = Field(default_factory=ToolNetwork)  # a sandboxed stdio server's outbound allowlist

    @model_validator(mode="after")
    def _check(self) -> McpServerConfig:
        if self.transport == "stdio":
            if not self.command or self.url:
                raise ValueError("a stdio MCP server needs command (and no url)")
        elif not self.url or self.command:
            raise ValueError(f"a {self.transport} MCP server needs url (and no command)")
        elif not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be http:// or https://")
        return self


def mcp_tool_id(server: str, tool: str) -> str:
    return f"tool-{uuid.uuid5(_TOOL_NS, f'{server}/{tool}').hex}"


def _is_connection_failure(exc: BaseException) -> bool:
    """True when the connection itself failed (worth one reconnect), not the tool or the request."""
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED

    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_connection_failure(e) for e in exc.exceptions)
    import anyio

    names = {c.__name__ for c in type(exc).__mro__}
    return (
        isinstance(exc, OSError | EOFError | anyio.ClosedResourceError | anyio.BrokenResourceError)
        or bool(names & {"TransportError", "HTTPError", "StreamableHTTPError", "RemoteProtocolError", "ConnectError"})
        or (isinstance(exc, RuntimeError) and "async context manager" in str(exc))
    )


class _Connection:
    """One connected ``mcp.Client``, owned by a task that enters and leaves its context."""

    def __init__(self, config: McpServerConfig, stdio: Callable[[McpServerConfig], Any]) -> None:
        self.config = config
        self._stdio = stdio
        self.client: Any = None
        self.tools: list[Any] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _target(self) -> Any:
        cfg = self.config
        if cfg.transport == "stdio":
            return self._stdio(cfg)
        assert cfg.url
        if cfg.transport == "sse":
            from mcp.client.sse import sse_client

            return sse_client(cfg.url, headers=cfg.headers or None)
        return cfg.url

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done() and self.client is not None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._task = asyncio.create_task(self._run(ready), name=f"mcp-{self.config.name}")
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await asyncio.shield(ready)
        except BaseException:
            await self.close()
            raise

    async def _run(self, ready: asyncio.Future[None]) -> None:
        from mcp import Client

        try:
            async with Client(self._target()) as client:
                tools: list[Any] = []
                cursor: str | None = None
                for _ in range(100):
                    page = await client.list_tools(cursor=cursor)
                    tools.extend(page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        break
                self.client, self.tools = client, tools
                ready.set_result(None)
                await self._stop.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.set_exception(ToolError("MCP connection cancelled", code="mcp_unavailable"))
            raise
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.warning("MCP server %s: connection ended: %r", self.config.name, exc)
        finally:
            self.client = None

    async def close(self) -> None:
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        except Exception:
            pass


class McpManager:
    """Registered MCP servers, their discovered tools, and calls to them."""

    def __init__(
        self,
        *,
        registry_path: Path | None = None,
        sandbox: McpSandbox | None = None,
        trusted: Collection[str] = (),
    ) -> None:
        """Stdio servers run in ``sandbox`` unless their name is in ``trusted`` (the operator's --trust-mcp)."""
        self.registry_path = registry_path
        self.sandbox = sandbox
        self.trusted = frozenset(trusted)
        self._configs: dict[str, McpServerConfig] = {}
        self._conns: dict[str, _Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.reconnects = 0

    # --- registry --------------------------------------------------------------------------------------
    async def load(self) -> list[Tool]:
        """Connect every server in the registry file; a server that fails stays registered (logged)."""
        if self.registry_path is None or not self.registry_path.exists():
            return []
        raw = await asyncio.to_thread(self.registry_path.read_text, "utf-8")
        tools: list[Tool] = []
        for item in json.loads(raw).get("servers", []):
            cfg = McpServerConfig.model_validate(item)
            self._configs[cfg.name] = cfg
            try:
                tools += await self._connect(cfg)
            except ToolError as exc:
                log.warning("MCP server %s did not connect: %s", cfg.name, exc.message)
        return tools

    async def _save(self) -> None:
        if self.registry_path is None:
            return
        data = {"v": 1, "servers": [c.model_dump() for c in self._configs.values()]}
        path = self.registry_path

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=2), "utf-8")
            os.replace(tmp, path)

        await asyncio.to_thread(write)

    def list_servers(self) -> list[McpServerConfig]:
        return list(self._configs.values())

    def is_sandboxed(self, name: str) -> bool:
        cfg = self._configs.get(name)
        return cfg is not None and cfg.transport == "stdio" and name not in self.trusted

    def is_connected(self, name: str) -> bool:
        conn = self._conns.get(name)
        return conn is not None and conn.alive

    async def add_server(
        self,
        name: str,
        *,
        command: list[str] | None = None,
        url: str | None = None,
        transport: McpTransport | None = None,
        env: dict[str, str] | None = None,
        files: list[str] | None = None,
        network_allow: list[str] | None = None,
    ) -> list[Tool]:
        """Register and connect a server; returns its tools. ``ToolError`` if it cannot be reached."""
        if name in self._configs:
            raise ToolError(f"an MCP server named {name!r} is already registered", code="mcp_server_exists")
        try:
            cfg = McpServerConfig(
                name=name,
                command=command,
                url=url,
                env=env or {},
                transport=transport or ("stdio" if command else "streamable_http"),
                files=files or [],
                network=ToolNetwork(allow=network_allow or []),
            )
        except ValueError as exc:
            raise ToolError(f"invalid MCP server: {exc}", code="invalid_mcp_server") from exc
        tools = await self._connect(cfg)
        self._configs[name] = cfg
        await self._save()
        return tools

    async def remove_server(self, name: str) -> None:
        if name not in self._configs:
            raise NotFoundError(f"no MCP server named {name!r}")
        del self._configs[name]
        conn = self._conns.pop(name, None)
        if conn is not None:
            await conn.close()
        await self._save()

    async def list_tools(self, name: str) -> list[Tool]:
        conn = await self._connection(name)
        return [self._tool_model(name, t) for t in conn.tools]

    # --- connections -----------------------------------------------------------------------------------
    async def _connect(self, cfg: McpServerConfig) -> list[Tool]:
        conn = _Connection(cfg, lambda c: stdio_parameters(c, self.sandbox, self.trusted))
        try:
            await conn.open()
        except ToolError:
            raise
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise ToolError(
                f"cannot connect to MCP server {cfg.name!r}: {describe(exc)}", code="mcp_unavailable"
            ) from exc
        old = self._conns.get(cfg.name)
        self._conns[cfg.name] = conn
        if old is not None:
            await old.close()
        return [self._tool_model(cfg.name, t) for t in conn.tools]

    async def reconnect(self, name: str) -> list[Tool]:
        cfg = self._configs.get(name)
        if cfg is None:
            raise NotFoundError(f"no MCP server named {name!r}")
        async with self._locks.setdefault(name, asyncio.Lock()):
            self.reconnects += 1
            return await self._connect(cfg)

    async def _connection(self, name: str) -> _Connection:
        if name not in self._configs:
            raise NotFoundError(f"no MCP server named {name!r}")
        conn = self._conns.get(name)
        if conn is None or not conn.alive:
            await self.reconnect(name)
            conn = self._conns[name]
        return conn

    @staticmethod
    def _tool_model(server: str, tool: Any) -> Tool:
        schema = dict(tool.input_schema or {"type": "object", "properties": {}})
        schema.pop("title", None)
        return Tool(
            id=mcp_tool_id(server, tool.name),
            name=tool.name,
            type=ToolType.EXTERNAL_MCP,
            description=(tool.description or "").strip(),
            parameters=schema,
            source_type="mcp",
            mcp_server=server,
            options=ToolOptions(),
        )

    # --- calls -----------------------------------------------------------------------------------------
    async def call_tool(self, server: str, tool: str, arguments: dict[str, Any], *, timeout_s: float = 30.0) -> Any:
        """Call a tool; on a connection failure reconnect once and retry once. Returns ``CallToolResult``."""
        conn = await self._connection(server)
        try:
            return await self._call(conn, tool, arguments, timeout_s)
        except Exception as exc:
            if not _is_connection_failure(exc):
                raise
            log.info("MCP server %s: %s; reconnecting", server, describe(exc))
        async with self._locks.setdefault(server, asyncio.Lock()):
            if self._conns.get(server) is conn:
                self.reconnects += 1
                await self._connect(self._configs[server])
        return await self._call(self._conns[server], tool, arguments, timeout_s)

    @staticmethod
    async def _call(conn: _Connection, tool: str, arguments: dict[str, Any], timeout_s: float) -> Any:
        client = conn.client
        if client is None:
            raise RuntimeError("Client must be used within an async context manager")
        async with asyncio.timeout(timeout_s):
            return await client.call_tool(tool, arguments, read_timeout_seconds=timeout_s)

    async def aclose(self) -> None:
        conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            await conn.close()


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return describe(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}"
