"""The one argument-validation and result-formatting path shared by the sandbox and MCP executors."""

from __future__ import annotations

import json
import time
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from voice_letta.agent.models import Tool
from voice_letta.agent.ports import ToolResult
from voice_letta.errors import ToolError

FILLER_ARG = "pre_exec_msg"  # the spoken filler line the agent adds to every tool; never reaches the tool


def check_schema(schema: Any) -> dict[str, Any]:
    """Raise ``ToolError`` unless ``schema`` is a valid JSON schema of an object."""
    if not isinstance(schema, dict):
        raise ToolError("the parameters schema must be a JSON object", code="invalid_tool_schema")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ToolError(f"invalid JSON schema at {path}: {exc.message}", code="invalid_tool_schema") from exc
    if schema.get("type") != "object":
        raise ToolError('the parameters schema must have "type": "object"', code="invalid_tool_schema")
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise ToolError("properties must be an object", code="invalid_tool_schema")
    missing = [r for r in schema.get("required", []) if r not in props]
    if missing:
        raise ToolError(f"required names no property: {', '.join(missing)}", code="invalid_tool_schema")
    return schema


def check_arguments(tool: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
    """Drop the filler argument and validate the rest against the tool's schema (``ToolError`` if bad)."""
    if not isinstance(arguments, dict):
        raise ToolError("tool arguments must be a JSON object", code="invalid_arguments")
    args = {k: v for k, v in arguments.items() if k != FILLER_ARG}
    validator = jsonschema.Draft202012Validator(tool.parameters)
    errors = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path)
        prefix = f"argument {where!r}: " if where else ""
        raise ToolError(f"invalid arguments for {tool.name}: {prefix}{first.message}", code="invalid_arguments")
    return args


def format_output(result: Any) -> str:
    """What the model sees: a string result as is, anything else as compact JSON."""
    if result is None:
        return "None"
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


def format_error(kind: str, message: str, started: float) -> ToolResult:
    return ToolResult(
        ok=False,
        output=f"Error: {kind}: {message}",
        error=kind,
        duration_ms=(time.monotonic() - started) * 1000.0,
    )
