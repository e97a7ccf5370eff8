"""Identifiers: a readable prefix plus 128 random bits, e.g. ``agent-3f2a…``."""

from __future__ import annotations

import functools
import os
import socket
import uuid

WORKER_ID_ENV = "VOICE_LETTA_WORKER_ID"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def agent_id() -> str:
    return new_id("agent")


def block_id() -> str:
    return new_id("block")


def message_id() -> str:
    return new_id("msg")


def passage_id() -> str:
    return new_id("passage")


def tool_id() -> str:
    return new_id("tool")


def turn_id() -> str:
    return new_id("turn")


def tool_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


@functools.cache
def worker_id() -> str:
    """This server process among all that share a database: host, pid and a random part (or, in a worker that
    ``serve --workers`` started, the id its supervisor gave it in ``VOICE_LETTA_WORKER_ID``)."""
    return os.environ.get(WORKER_ID_ENV) or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
