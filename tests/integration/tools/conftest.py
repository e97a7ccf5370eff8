from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voice_letta.config import SandboxSettings
from voice_letta.store import open_store
from voice_letta.tools_runtime import McpManager, SandboxExecutor, SandboxSupervisor, ToolService
from voice_letta.tools_runtime.mcp_sandbox import McpSandbox

SECRET = "s3cr3t-do-not-leak"


@pytest.fixture
async def supervisor(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SandboxSupervisor]:
    monkeypatch.setenv("VOICE_LETTA_TEST_SECRET", SECRET)  # in the server process; tools must not see it
    sup = SandboxSupervisor()
    await sup.start()
    yield sup
    await sup.aclose()


@pytest.fixture
async def executor(supervisor: SandboxSupervisor) -> AsyncIterator[SandboxExecutor]:
    ex = SandboxExecutor(supervisor, settings=SandboxSettings(memory_mb=128))
    yield ex
    await ex.aclose()


@pytest.fixture
async def service(tmp_path: Path, executor: SandboxExecutor) -> AsyncIterator[ToolService]:
    store = await open_store(tmp_path / "db.sqlite")
    mcp = McpManager(registry_path=tmp_path / "mcp.json", sandbox=McpSandbox.of(executor.supervisor))
    yield ToolService(store, sandbox=executor, mcp=mcp)
    await mcp.aclose()
    await store.aclose()
