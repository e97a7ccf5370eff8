"""Runs one Python tool inside an isolated worker: import the user's module from the cwd, call, report.

Imported once by the tool server (so forked workers start warm); ``run`` never returns.
The result goes to file descriptor 3 as one JSON object: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": {"type": ..., "message": ...}}``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import sys
import traceback
from typing import Any

MODULE_FILE = "tool_module.py"
RESULT_FD = 3


def _write_result(payload: dict[str, Any]) -> None:
    try:
        data = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        payload = {"ok": payload.get("ok", False), "result": repr(payload.get("result"))}
        data = json.dumps(payload, ensure_ascii=False)
    raw = data.encode("utf-8", "replace")
    view = memoryview(raw)
    while view:
        n = os.write(RESULT_FD, view)
        view = view[n:]


def _call(entrypoint: str, args: dict[str, Any]) -> Any:
    spec = importlib.util.spec_from_file_location("user_tool", os.path.join(os.getcwd(), MODULE_FILE))
    if spec is None or spec.loader is None:
        raise ImportError("cannot load the tool module")
    module = importlib.util.module_from_spec(spec)
    sys.modules["user_tool"] = module
    spec.loader.exec_module(module)
    fn = getattr(module, entrypoint, None)
    if not callable(fn):
        raise LookupError(f"the tool module defines no function {entrypoint!r}")
    result = fn(**args)
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def run(entrypoint: str, args: dict[str, Any]) -> None:
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.getcwd())
    code = 0
    try:
        result = _call(entrypoint, args)
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError):
            result = str(result)
        payload: dict[str, Any] = {"ok": True, "result": result}
    except MemoryError:
        payload = {"ok": False, "error": {"type": "MemoryError", "message": "the tool ran out of memory"}}
    except BaseException as exc:  # the tool's own failure, SystemExit included
        tb = traceback.format_exception(exc)
        payload = {
            "ok": False,
            "error": {"type": type(exc).__name__, "message": str(exc), "traceback": "".join(tb[-6:])},
        }
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    try:
        _write_result(payload)
    except BaseException:
        code = 71
    os._exit(code)
