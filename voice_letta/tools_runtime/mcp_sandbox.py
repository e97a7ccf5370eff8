"""Stdio MCP servers run inside the tool sandbox (docs/sandbox.md §MCP servers).

The MCP SDK starts ``sandbox/mcp_launch.py`` instead of the server's command; the launcher hands its stdin and
stdout to the tool server, which starts the command in a sandbox of its own (same isolation as a tool call: no
inherited environment, no host files but the runtimes and the server's ``files``, no network but its
``network.allow``), for as long as the MCP session lasts. A server the operator trusts (``serve --trust-mcp
NAME``) runs as before: a plain child process of the server, with the SDK's default environment.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_letta.errors import ToolError
from voice_letta.tools_runtime.sandbox_supervisor import PROTOCOL_VERSION, SANDBOX_DIR, SandboxSupervisor

if TYPE_CHECKING:
    from voice_letta.tools_runtime.mcp_manager import McpServerConfig

SPAWN_ENV = "VOICE_LETTA_SANDBOX_SPAWN"


@dataclass(frozen=True)
class McpSandbox:
    """Where the tool server listens, and the limits every sandboxed MCP server gets."""

    socket_path: Path
    memory_mb: int = 256
    disk_mb: int = 64
    python: str = sys.executable
    launcher: Path = SANDBOX_DIR / "mcp_launch.py"

    @classmethod
    def of(cls, supervisor: SandboxSupervisor) -> McpSandbox:
        s = supervisor.settings
        return cls(supervisor.socket_path, memory_mb=s.memory_mb, disk_mb=s.disk_mb)

    def parameters(self, cfg: McpServerConfig) -> Any:
        from mcp import StdioServerParameters

        spec = {
            "v": PROTOCOL_VERSION,
            "socket": str(self.socket_path),
            "command": cfg.command,
            "env": cfg.env,
            "files": cfg.files,
            "network": {"allow": list(cfg.network.allow)},
            "limits": {"memory_mb": self.memory_mb, "disk_mb": self.disk_mb},
        }
        return StdioServerParameters(command=self.python, args=["-I", str(self.launcher)],
                                     env={SPAWN_ENV: json.dumps(spec)})


def readable_by_anyone(path: str) -> bool:
    """What the tool server checks before binding a server's ``files`` (sandbox/handler.py): every directory
    above ``path`` searchable by others and the path readable by others; checked here too for a clear error."""
    try:
        st = os.stat(path)
        parents = Path(path).parents
        if any(not os.stat(parent).st_mode & stat.S_IXOTH for parent in parents):
            return False
    except OSError:
        return False
    need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else 0)
    return st.st_mode & need == need


def stdio_parameters(cfg: McpServerConfig, sandbox: McpSandbox | None, trusted: Collection[str]) -> Any:
    """How the SDK starts a stdio server: through the sandbox, or directly when the operator trusts it."""
    from mcp import StdioServerParameters

    assert cfg.command
    if cfg.name in trusted:
        return StdioServerParameters(command=cfg.command[0], args=cfg.command[1:], env=cfg.env or None)
    if sandbox is None:
        raise ToolError(f"stdio MCP servers run in the tool sandbox, which is off here; to run {cfg.name!r} "
                        f"unsandboxed as the server's user, start the server with --trust-mcp {cfg.name}",
                        code="mcp_unavailable")
    for path in cfg.files:
        if not readable_by_anyone(path):
            raise ToolError(f"{path} is not readable by every user of this machine; only such paths can be given to "
                            "a sandboxed server (an operator can add others with --sandbox-expose)",
                            code="invalid_mcp_server")
    return sandbox.parameters(cfg)
