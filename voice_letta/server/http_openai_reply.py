"""The JSON of a chat-completions reply: the usage object, and a non-streaming reply gathered from a turn's events."""

from __future__ import annotations

import time

from aiohttp import web

from voice_letta import ids
from voice_letta.agent.events import (
    AgentEvent,
    ContentDelta,
    ReplyDone,
    ToolCallFragment,
    TurnError,
    TurnFinished,
)
from voice_letta.agent.loop import AGENT_DELETED
from voice_letta.errors import NotFoundError
from voice_letta.wire import openai_chat as W


def usage_json(finished: ReplyDone | TurnFinished) -> dict[str, object]:
    """OpenAI's usage object, plus which model answered (``voice_letta``; the SDK keeps it in ``model_extra``)."""
    u, route = finished.usage, finished.route
    out = W.usage_dict(u.prompt_tokens, u.completion_tokens, u.cached_tokens)
    out["voice_letta"] = {
        "provider": route.provider if route else None, "model": route.model if route else None,
        "fallback": route.fallback_used if route else False,
        "first_token_ms": route.first_token_ms if route else None, "estimated": u.estimated,
    }
    return out


class Completion:
    """A non-streaming reply, gathered from the turn's events."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.finish = "stop"
        self.usage: dict[str, object] = W.usage_dict(0, 0)
        self.error: TurnError | None = None

    def add(self, event: AgentEvent) -> None:
        match event:
            case ContentDelta(text=text):
                self.content.append(text)
            case ToolCallFragment():
                call = self.calls.setdefault(event.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = event.call_id or call["id"]
                call["name"] = event.name or call["name"]
                call["arguments"] += event.arguments or ""
            case TurnError():
                self.error = event
            case ReplyDone() | TurnFinished():
                self.finish = "stop" if event.finish_reason in ("error", "cancelled") else event.finish_reason
                self.usage = usage_json(event)
            case _:
                pass

    def response(self, agent_id: str) -> web.Response:
        error = self.error
        if error is not None and error.code == AGENT_DELETED:
            raise NotFoundError(error.message, code=AGENT_DELETED)
        message: dict[str, object] = {"role": "assistant", "content": "".join(self.content) or None, "refusal": None}
        if self.calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for _, c in sorted(self.calls.items())]
        body: dict[str, object] = {
            "id": ids.completion_id(), "object": "chat.completion", "created": int(time.time()), "model": agent_id,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish}],
            "usage": self.usage,
        }
        if error is not None:
            body["voice_letta_error"] = {"code": error.code, "message": error.message, "retryable": error.retryable}
        return web.json_response(body)
