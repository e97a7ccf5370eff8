"""Sandbox settings from VOICE_LETTA_SANDBOX_* and `serve --sandbox-*` flags, and the minimum isolation level."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from voice_letta.cli import build_parser, sandbox_settings
from voice_letta.config import SandboxSettings
from voice_letta.errors import ConfigError
from voice_letta.tools_runtime.sandbox_supervisor import SandboxSupervisor


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_MEMORY_MB", "512")
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_DISK_MB", "32")
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_TIMEOUT_S", "12.5")
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_HIDE", "/srv/secrets, /opt/keys")
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_ISOLATION", "strict")
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_ALLOW_PRIVATE", "127.0.0.1:8080")
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_WARM", "0")
    monkeypatch.setenv("VOICE_LETTA_TRUSTED_MCP", "files")
    s = SandboxSettings.from_env()
    assert (s.memory_mb, s.disk_mb, s.timeout_s, s.isolation, s.warm) == (512, 32, 12.5, "strict", 0)
    assert s.hidden_paths == [Path("/srv/secrets"), Path("/opt/keys")]
    assert s.allow_private == ["127.0.0.1:8080"] and s.trusted_mcp == ["files"]


def test_bad_environment_values_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_MEMORY_MB", "lots")
    with pytest.raises(ValueError, match="VOICE_LETTA_SANDBOX_MEMORY_MB"):
        SandboxSettings.from_env()
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_MEMORY_MB", "256")
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_ISOLATION", "paranoid")
    with pytest.raises(ValueError):
        SandboxSettings.from_env()


def test_flags_override_numbers_and_extend_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_HIDE", "/srv/a")
    monkeypatch.setenv("VOICE_LETTA_SANDBOX_MEMORY_MB", "512")
    args = build_parser().parse_args([
        "serve", "--sandbox-memory-mb", "128", "--sandbox-hide", "/srv/b", "--sandbox-expose", "/data",
        "--sandbox-isolation", "standard", "--sandbox-allow-private", "10.0.0.0/8:443", "--trust-mcp", "fs",
        "--sandbox-warm", "1", "--sandbox-timeout-s", "5",
    ])
    s = sandbox_settings(args)
    assert s.memory_mb == 128 and s.isolation == "standard" and s.warm == 1 and s.timeout_s == 5
    assert s.hidden_paths == [Path("/srv/a"), Path("/srv/b")] and s.expose_paths == [Path("/data")]
    assert s.allow_private == ["10.0.0.0/8:443"] and s.trusted_mcp == ["fs"]


def _supervisor(required: str, level: str) -> SandboxSupervisor:
    sup = SandboxSupervisor(SandboxSettings(isolation=required),  # type: ignore[arg-type]
                            socket_path=Path("/nonexistent/s"), work_root=Path("/nonexistent/w"))
    sup.isolation = {"level": level, "pid_namespace": level != "basic", "notes": ["why it is so"]}
    return sup


def test_a_level_below_the_required_one_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match=r"'standard' here, below the required 'strict'.*why it is so"):
        _supervisor("strict", "standard")._check_level()
    _supervisor("standard", "strict")._check_level()
    _supervisor("auto", "basic")._check_level()


def test_the_level_in_force_is_logged_and_a_weak_one_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="voice_letta.tools_runtime.sandbox_supervisor")
    _supervisor("auto", "strict")._check_level()
    _supervisor("auto", "basic")._check_level()
    strict, basic = caplog.records[-2:]
    assert strict.levelno == logging.INFO and "isolation level strict" in strict.getMessage()
    assert basic.levelno == logging.WARNING and "isolation level basic" in basic.getMessage()
    assert "why it is so" in basic.getMessage()
