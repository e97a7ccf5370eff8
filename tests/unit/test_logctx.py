"""Log lines name the agent, session, turn and request they are about; JSON lines for log pipelines."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from voice_letta import logctx


def record(message: str = "hello", exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    rec = logging.LogRecord("voice_letta.test", logging.WARNING, __file__, 1, message, None, exc_info)
    logctx.ContextFilter().filter(rec)
    return rec


def test_bound_ids_reach_text_and_json_lines() -> None:
    with logctx.bound(agent_id="agent-1", turn_id="turn-2"):
        rec = record("LLM %s failed")
        assert rec.log_context == " [agent=agent-1 turn=turn-2]"
        line = json.loads(logctx.JsonFormatter().format(rec))
    assert line["agent_id"] == "agent-1" and line["turn_id"] == "turn-2" and "session_id" not in line
    assert line["level"] == "WARNING" and line["logger"] == "voice_letta.test" and line["ts"].endswith("+00:00")
    assert record().log_context == ""  # unbound again


def test_exceptions_are_one_json_field() -> None:
    line = json.loads(logctx.JsonFormatter().format(record(exc=True)))
    assert "ValueError: boom" in line["exc"]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(TypeError):
        logctx.bind(user="x")


async def test_tasks_started_inside_inherit_the_ids_and_siblings_do_not_see_them() -> None:
    seen: dict[str, str | None] = {}

    async def child(name: str) -> None:
        await asyncio.sleep(0)
        seen[name] = logctx.current().session_id

    async def session(sid: str) -> None:
        with logctx.bound(session_id=sid):
            await asyncio.gather(child(sid + "-a"), child(sid + "-b"))

    await asyncio.gather(session("s1"), session("s2"))
    assert seen == {"s1-a": "s1", "s1-b": "s1", "s2-a": "s2", "s2-b": "s2"}
    assert logctx.current().session_id is None
