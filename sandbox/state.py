"""What every monitor of one tool server shares: probed capabilities, the sandbox launcher, the uid pool, settings,
and the TypeScript compiler (esbuild, cached by source hash; it parses and prints, it never runs the code)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from jail.caps import Capabilities
from jail.spawn import Launcher
from jail.uids import UidPool

PROTOCOL_VERSION = 2
HERE = os.path.dirname(os.path.abspath(__file__))
TS_DIR = os.path.join(HERE, "typescript")


class BadRequest(Exception):
    pass


def esbuild_path() -> str | None:
    plat = {"linux": "linux", "darwin": "darwin"}.get(sys.platform, sys.platform)
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(os.uname().machine, os.uname().machine)
    for candidate in (
        os.path.join(TS_DIR, "node_modules", "@esbuild", f"{plat}-{arch}", "bin", "esbuild"),
        os.path.join(TS_DIR, "node_modules", ".bin", "esbuild"),
    ):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def node_flags(node: str | None) -> list[str]:
    """Flags every sandboxed node gets. WebAssembly (undici's HTTP parser, so fetch) reserves ~10 GiB of guard
    pages per memory, which RLIMIT_AS forbids: ``--disable-wasm-trap-handler`` (Node >= 20.15) uses explicit
    bounds checks instead. Checked once, by running node with it."""
    flags = ["--disallow-code-generation-from-strings"]
    if node is None:
        return flags
    probe = subprocess.run([node, "--disable-wasm-trap-handler", "-e", "0"], capture_output=True, timeout=30,
                           check=False, env={"PATH": "/usr/bin:/bin"})
    if probe.returncode == 0:
        flags.append("--disable-wasm-trap-handler")
    return flags


@dataclass
class ServerState:
    caps: Capabilities
    launcher: Launcher
    pool: UidPool | None
    cache_dir: str
    node: str | None
    allow_private: tuple[str, ...] = ()
    proxy_uid: int | None = None
    warm: bool = True
    max_timeout_s: float = 600.0
    runner_js: str = os.path.join(TS_DIR, "runner.mjs")
    node_flags: tuple[str, ...] = ("--disallow-code-generation-from-strings",)
    server_pid: int = field(default_factory=os.getpid)  # the tool server (ping answers with it)

    def isolation(self) -> dict[str, Any]:
        return self.caps.as_dict() | {"warm_typescript": self.warm and self.node is not None}

    def compile_typescript(self, source: str) -> str:
        digest = hashlib.sha256(source.encode()).hexdigest()
        target = os.path.join(self.cache_dir, f"{digest}.mjs")
        if os.path.exists(target):
            with open(target, encoding="utf-8") as f:
                return f.read()
        exe = esbuild_path()
        if exe is None:
            raise BadRequest("esbuild is not installed: run `npm ci` in sandbox/typescript")
        proc = subprocess.run(
            [exe, "--loader=ts", "--format=esm", "--target=node18", "--log-level=error"],
            input=source.encode(), capture_output=True, timeout=30, check=False, env={"PATH": "/usr/bin:/bin"},
        )
        if proc.returncode != 0:
            raise BadRequest("TypeScript does not compile: " + proc.stderr.decode(errors="replace")[:2000])
        js = proc.stdout.decode()
        tmp = f"{target}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(js)
        os.replace(tmp, target)
        return js
