"""Which agent, session, turn and request a log line is about, and the text and JSON log formats.

Code that starts work for an agent binds the ids it knows (``bind(agent_id=..., turn_id=...)``); they live in a
context variable, so every log line of that task and of the tasks it starts afterwards carries them:

    with bound(session_id=session.id, agent_id=agent.id):
        await session.run()          # "... voice_letta.session: barge-in [agent=agent-1 session=s-2 turn=t-3]"

``configure(fmt="json")`` makes every line one JSON object: ``ts`` (ISO 8601, UTC), ``level``, ``logger``,
``pid`` (``serve --workers`` runs several processes), ``message``, the bound ids (``agent_id``, ``session_id``,
``turn_id``, ``request_id``) when set, and ``exc`` (the traceback) for exceptions. ``voice-letta serve
--log-format json`` (or ``VOICE_LETTA_LOG_FORMAT=json``) selects it. Never log audio, prompts or keys.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

LOG_FORMAT_ENV = "VOICE_LETTA_LOG_FORMAT"
FIELDS = ("agent_id", "session_id", "turn_id", "request_id")
_SHORT = {"agent_id": "agent", "session_id": "session", "turn_id": "turn", "request_id": "request"}


@dataclass(frozen=True, slots=True)
class LogContext:
    agent_id: str | None = None
    session_id: str | None = None
    turn_id: str | None = None
    request_id: str | None = None


_EMPTY = LogContext()
_CURRENT: contextvars.ContextVar[LogContext] = contextvars.ContextVar(
    "voice_letta_log_context", default=_EMPTY)  # LogContext is frozen: one shared empty value is safe


def current() -> LogContext:
    return _CURRENT.get()


_FIELD_SET = frozenset(FIELDS)


def bind(**ids: str | None) -> contextvars.Token[LogContext]:
    """Add ids to this task's log context (``None`` values are ignored); ``unbind(token)`` restores it.

    Built field by field: ``dataclasses.replace`` walks the class's fields each time, twice on every HTTP turn."""
    if not ids.keys() <= _FIELD_SET:
        unknown = {k for k, v in ids.items() if v is not None} - _FIELD_SET
        if unknown:
            raise TypeError(f"unknown log context fields: {sorted(unknown)}")
    cur = _CURRENT.get()
    get = ids.get
    return _CURRENT.set(LogContext(
        cur.agent_id if (agent_id := get("agent_id")) is None else agent_id,
        cur.session_id if (session_id := get("session_id")) is None else session_id,
        cur.turn_id if (turn_id := get("turn_id")) is None else turn_id,
        cur.request_id if (request_id := get("request_id")) is None else request_id))


def unbind(token: contextvars.Token[LogContext]) -> None:
    with contextlib.suppress(ValueError):  # reset from another context (a generator closed elsewhere): harmless
        _CURRENT.reset(token)


@contextlib.contextmanager
def bound(**ids: str | None) -> Iterator[LogContext]:
    token = bind(**ids)
    try:
        yield _CURRENT.get()
    finally:
        unbind(token)


class ContextFilter(logging.Filter):
    """Copies the bound ids onto every record (``record.agent_id`` …, ``record.log_context`` for text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _CURRENT.get()
        parts = []
        for name in FIELDS:
            value = getattr(ctx, name)
            setattr(record, name, value)
            if value is not None:
                parts.append(f"{_SHORT[name]}={value}")
        record.log_context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s%(log_context)s"


def configure(fmt: Literal["text", "json"] = "text", level: int = logging.INFO) -> None:
    """The root logger: one handler on stderr, the context filter, text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
