"""The outcome of one tool call with everything a developer debugging it wants (``POST /v1/tools/{id}/run``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from voice_letta.agent.ports import ToolResult
from voice_letta.tools_runtime.validation import format_output

Outcome = Literal["ok", "error", "timeout", "memory", "killed"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "error", "timeout", "memory", "killed")


@dataclass(frozen=True, slots=True)
class ToolRun:
    """Everything about one call: how it ended, its result or error, captured output (capped), its duration.

    outcome: ``ok`` (returned a value), ``error`` (raised, bad arguments, exited without a result), ``timeout``,
    ``memory`` (over its memory limit) or ``killed`` (a signal: CPU or file-size limit, a crash, cancelled).
    """

    outcome: Outcome
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    stdout: str = ""
    stderr: str = ""
    truncated: dict[str, bool] = field(default_factory=dict)
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def as_result(self) -> ToolResult:
        """What the model sees: the result, or ``Error: Type: message``."""
        if self.ok:
            return ToolResult(ok=True, output=format_output(self.result), duration_ms=self.duration_ms)
        return ToolResult(ok=False, output=f"Error: {self.error_type}: {self.error_message}",
                          error=self.error_type or "Error", duration_ms=self.duration_ms)

    @classmethod
    def from_response(cls, response: dict[str, Any], started: float) -> ToolRun:
        error = response.get("error") or {}
        outcome: Outcome = "ok" if response.get("ok") else "error"
        if response.get("outcome") in OUTCOMES:
            outcome = response["outcome"]
        return cls(
            outcome=outcome,
            result=response.get("result"),
            error_type=error.get("type") if error else None,
            error_message=error.get("message") if error else None,
            stdout=str(response.get("stdout") or ""),
            stderr=str(response.get("stderr") or ""),
            truncated=dict(response.get("truncated") or {}),
            duration_ms=float(response.get("duration_ms") or (time.monotonic() - started) * 1000.0),
        )

    def as_json(self) -> dict[str, Any]:
        error = {"type": self.error_type, "message": self.error_message} if self.error_type else None
        return {"outcome": self.outcome, "ok": self.ok, "result": self.result, "error": error,
                "stdout": self.stdout, "stderr": self.stderr, "truncated": self.truncated,
                "duration_ms": round(self.duration_ms, 3)}

    @classmethod
    def failed(cls, type_: str, message: str, started: float) -> ToolRun:
        return cls("error", error_type=type_, error_message=message, duration_ms=(time.monotonic() - started) * 1000)
