"""Inspect TypeScript tool source at registration (never running it) with ``sandbox/typescript/inspect.mjs``.

The TypeScript compiler parses the source in a ``node`` child process; syntax errors come back with
line and column. A schema is derived only where the mapping is sound (primitives, arrays of them,
literal unions); otherwise the caller must pass one, and a passed schema must match the parameters.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_letta.errors import ToolError
from voice_letta.tools_runtime.validation import FILLER_ARG, check_schema

INSPECT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class TypeScriptToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    arg_order: tuple[str, ...]


async def inspect_typescript(source: str, sandbox_dir: Path, node: str | None = None) -> dict[str, Any]:
    node = node or shutil.which("node")
    script = sandbox_dir / "typescript" / "inspect.mjs"
    if node is None:
        raise ToolError("node is not installed: TypeScript tools are unavailable", code="typescript_unavailable")
    if not (sandbox_dir / "typescript" / "node_modules" / "typescript").is_dir():
        raise ToolError("run `npm ci` in sandbox/typescript to enable TypeScript tools", code="typescript_unavailable")
    proc = await asyncio.create_subprocess_exec(
        node,
        str(script),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    try:
        async with asyncio.timeout(INSPECT_TIMEOUT_S):
            out, err = await proc.communicate(source.encode())
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise ToolError("inspecting the TypeScript source timed out", code="invalid_tool_source") from exc
    if proc.returncode != 0:
        raise ToolError(
            f"cannot inspect TypeScript source: {err.decode(errors='replace')[-500:]}", code="invalid_tool_source"
        )
    report: dict[str, Any] = json.loads(out)
    return report


def spec_from_report(
    report: dict[str, Any], *, name: str | None, description: str | None, parameters: dict[str, Any] | None
) -> TypeScriptToolSpec:
    diags = report.get("diagnostics") or []
    if diags:
        text = "; ".join(f"line {d['line']}, column {d['column']}: {d['message']}" for d in diags[:5])
        raise ToolError(f"syntax error in TypeScript source: {text}", code="invalid_tool_source")
    funcs = [f for f in report.get("functions", []) if f.get("exported")]
    if name is not None:
        funcs = [f for f in funcs if f["name"] == name]
        if not funcs:
            raise ToolError(f"no exported function named {name!r} in the TypeScript source", code="invalid_tool_source")
    elif not funcs:
        raise ToolError("no exported function found in the TypeScript source", code="invalid_tool_source")
    elif len(funcs) > 1:
        exported = ", ".join(f["name"] for f in funcs)
        raise ToolError(f"several exported functions ({exported}) and no name given", code="invalid_tool_source")
    fn = funcs[0]
    params = fn["params"]
    for p in params:
        if p["destructured"] or p["rest"]:
            raise ToolError(
                f"{fn['name']}: destructured and rest parameters are not supported", code="invalid_tool_source"
            )
        if p["name"] == FILLER_ARG:
            raise ToolError(f"{fn['name']}: the parameter name {FILLER_ARG!r} is reserved", code="invalid_tool_source")
    names = [p["name"] for p in params]
    if parameters is not None:
        schema = check_schema(parameters)
        declared = list(schema.get("properties", {}))
        if set(declared) != set(names):
            raise ToolError(
                f"schema parameters {sorted(declared)} do not match the parameters of {fn['name']}: {sorted(names)}",
                code="invalid_tool_schema",
            )
        optional = {p["name"] for p in params if p["optional"]}
        bad = [r for r in schema.get("required", []) if r in optional]
        if bad:
            raise ToolError(f"schema requires optional parameters: {', '.join(bad)}", code="invalid_tool_schema")
        # Arguments are passed positionally in the order of "properties": make it the function's order.
        schema = {**schema, "properties": {n: schema["properties"][n] for n in names}}
    else:
        props: dict[str, Any] = {}
        for p in params:
            if p["type"] is None:
                raise ToolError(
                    f"cannot derive a JSON schema for parameter {p['name']!r} of type {p['typeText'] or 'any'}; "
                    "pass parameters_schema",
                    code="invalid_tool_schema",
                )
            props[p["name"]] = dict(p["type"])
            if p.get("description"):
                props[p["name"]]["description"] = p["description"]
        schema = {"type": "object", "properties": props, "required": [p["name"] for p in params if not p["optional"]]}
    return TypeScriptToolSpec(
        name=fn["name"],
        description=(description if description is not None else fn.get("description", "")).strip(),
        parameters=schema,
        arg_order=tuple(names),
    )
