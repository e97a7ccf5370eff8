"""Start one MCP stdio server inside the voice-letta sandbox; the MCP client talks to this process's stdio.

    VOICE_LETTA_SANDBOX_SPAWN='{"socket": ..., "command": [...], "env": {...}, ...}' python -I sandbox/mcp_launch.py

The MCP SDK spawns this launcher instead of the server's command. The launcher connects to the tool server and
sends a ``spawn`` request with its own stdin, stdout and stderr attached (SCM_RIGHTS), then closes its copies of
stdin and stdout: the sandboxed server reads and writes the MCP client's pipes itself. The launcher only waits,
and exits with the server's exit code. When the client ends the session it kills the launcher; the closed
connection makes the tool server kill the sandbox. Standard library only.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

SPAWN_ENV = "VOICE_LETTA_SANDBOX_SPAWN"


def _lines(sock: socket.socket):  # type: ignore[no-untyped-def]
    buf = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield json.loads(line)


def main() -> int:
    spec = json.loads(os.environ.pop(SPAWN_ENV))
    path = spec.pop("socket")
    for delay in (0.05, 0.2, 0.5, 1.0, 2.0, None):  # the tool server may be restarting
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if delay is None:
                sys.stderr.write("voice-letta sandbox: the tool server is not reachable\n")
                return 69
            time.sleep(delay)
    request = {"v": 2, "op": "spawn", "id": "mcp", **spec}
    socket.send_fds(sock, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # the server owns the pipes now; this process must not read a byte of them
    os.dup2(null, 1)
    for answer in _lines(sock):
        if not answer.get("ok"):
            err = answer.get("error") or {}
            sys.stderr.write(f"voice-letta sandbox: cannot start the MCP server: {err.get('message')}\n")
            return 70
        if answer.get("event") == "exited":
            code = answer.get("code")
            return code if isinstance(code, int) and code >= 0 else 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
