"""A real voice server on 127.0.0.1:0 for the ``voice-letta talk`` client (run as a subprocess), and helpers."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# the same factory as the session tests (imported, so pytest offers it here too)
from tests.integration.session.conftest import voice_server_factory  # noqa: F401

ROOT = Path(__file__).resolve().parents[3]


async def run_talk(*args: str, env: dict[str, str] | None = None, timeout_s: float = 120.0) -> tuple[int, str, str]:
    """``voice-letta talk ...`` as a real process (the server runs on this loop, so never block it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_letta.cli", "talk", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        env={**os.environ, **(env or {})})
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def pulse_null_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A PulseAudio daemon with a null sink whose monitor is the default source: a real-time virtual sound card.

    Yields the environment a client needs (``XDG_RUNTIME_DIR``); skips when PulseAudio is not installed.
    """
    if not shutil.which("pulseaudio") or not shutil.which("pactl") or not shutil.which("paplay"):
        pytest.skip("PulseAudio not installed (apt-get install -y pulseaudio pulseaudio-utils libasound2-plugins)")
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError) as exc:
        pytest.skip(f"sounddevice/PortAudio unavailable: {exc}")
    run_dir = tmp_path_factory.mktemp("pulse-run")
    run_dir.chmod(0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir), "HOME": str(run_dir)}
    started = subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--disallow-exit", "-n",
         "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=nullsink",
         "--load=module-always-sink"], env=env, capture_output=True, timeout=30)
    pid_file = run_dir / "pulse" / "pid"
    if started.returncode != 0 or not pid_file.exists():
        pytest.skip(f"PulseAudio did not start: {started.stderr.decode()[-300:]}")
    pid = int(pid_file.read_text().split()[0])
    try:
        subprocess.run(["pactl", "set-default-source", "nullsink.monitor"], env=env, check=True, timeout=10)
        subprocess.run(["pactl", "set-default-sink", "nullsink"], env=env, check=True, timeout=10)
        yield {"XDG_RUNTIME_DIR": str(run_dir), "HOME": str(run_dir)}
    finally:
        os.kill(pid, signal.SIGTERM)
