"""A small MCP server for tests: ``python echo_server.py stdio`` or ``python echo_server.py http PORT``.

Built on the official SDK's ``MCPServer`` (FastMCP's name in mcp 2.x).
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("echo", log_level="ERROR")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str, shout: bool = False) -> str:
    """Echo text back.

    Args:
        text: what to say
        shout: upper-case it
    """
    return text.upper() if shout else text


@server.tool()
def whoami() -> int:
    """The server's process id (tests kill it to check reconnection)."""
    return os.getpid()


@server.tool()
def fail(reason: str) -> str:
    """Always raises."""
    raise ValueError(reason)


@server.tool()
def probe(path: str, host: str, port: int) -> dict:
    """What this server can reach: its environment, a host file, a TCP connection (sandbox tests)."""
    import socket

    seen: dict = {"env": sorted(os.environ), "uid": os.getuid(), "root": sorted(os.listdir("/"))}
    try:
        with open(path) as f:
            seen["file"] = f.read()
    except OSError as exc:
        seen["file"] = type(exc).__name__
    try:
        socket.create_connection((host, port), timeout=3).close()
        seen["dial"] = "connected"
    except OSError as exc:
        seen["dial"] = type(exc).__name__
    return seen


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if mode == "stdio":
        server.run("stdio")
    elif mode == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif mode == "sse":
        server.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode}")
