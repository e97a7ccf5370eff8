"""Runs one Python tool inside its sandbox: read the job, import the user's module, call, report.

Imported once by the tool server, so a sandbox's tool process (a fork of it) starts warm; it may be started before
its call is known and then waits on stdin for ONE job line: ``{"entrypoint", "args", "env", "source"}``. The result
goes to file descriptor 3 as one JSON object: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"type":
..., "message": ...}}``. ``serve`` never returns.
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
JOB_FD = 0
MAX_JOB_BYTES = 16 * 1024 * 1024


def _write_result(payload: dict[str, Any]) -> None:
    try:
        data = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        payload = {"ok": payload.get("ok", False), "result": repr(payload.get("result"))}
        data = json.dumps(payload, ensure_ascii=False)
    view = memoryview(data.encode("utf-8", "replace"))
    while view:
        n = os.write(RESULT_FD, view)
        view = view[n:]


def read_job() -> dict[str, Any] | None:
    """The job line from stdin; None when stdin closes first (a warm sandbox that is no longer needed)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = os.read(JOB_FD, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n") or size > MAX_JOB_BYTES:
            break
    raw = b"".join(chunks)
    if not raw.strip():
        return None
    job: dict[str, Any] = json.loads(raw)
    return job


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


def serve() -> None:
    job = read_job()
    if job is None:
        os._exit(0)
    with open(MODULE_FILE, "w", encoding="utf-8") as f:
        f.write(job["source"])
    os.environ.clear()
    os.environ.update(job["env"])
    run(job["entrypoint"], job["args"])


def run(entrypoint: str, args: dict[str, Any]) -> None:
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.getcwd())
    owner = os.getpid()
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
    if os.getpid() != owner:  # a process the tool forked got here: only the tool itself reports
        os._exit(0 if payload["ok"] else 1)
    try:
        _write_result(payload)
    except BaseException:
        code = 71
    os._exit(code)
