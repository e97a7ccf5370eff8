"""core/ is sans-I/O: no asyncio, no clock, no sockets, no threads; third-party imports from a short list."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import voice_letta.core

CORE = Path(voice_letta.core.__file__).parent
FORBIDDEN = {"asyncio", "time", "socket", "threading", "subprocess", "selectors", "concurrent", "os"}
THIRD_PARTY_ALLOWED = {"numpy", "soxr", "pydantic", "webrtcvad", "voice_letta"}
VOICE_LETTA_ALLOWED = ("voice_letta.core", "voice_letta.errors", "voice_letta.config")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_only_stdlib_numpy_soxr_pydantic_webrtcvad() -> None:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        for name in _imports(path):
            top = name.split(".")[0]
            assert top not in FORBIDDEN, f"{path.name} imports {name}"
            if top == "voice_letta":
                assert name.startswith(VOICE_LETTA_ALLOWED), f"{path.name} imports {name}"
            elif top not in sys.stdlib_module_names:
                assert top in THIRD_PARTY_ALLOWED, f"{path.name} imports {name}"


def test_core_modules_stay_small() -> None:
    for path in CORE.glob("*.py"):
        assert len(path.read_text().splitlines()) < 400, path.name
