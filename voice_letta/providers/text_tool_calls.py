"""Tool calls a remote model wrote as text: Hermes-style ``<tool_call>{"name": …, "arguments": …}</tool_call>``.

Qwen, Hermes, Mistral-Nemo fine-tunes and many others call tools by writing that block. The serving stack turns it
into a real ``tool_calls`` delta only when it runs a tool-call parser: vLLM without ``--enable-auto-tool-choice
--tool-call-parser hermes``, SGLang without ``--tool-call-parser``, an Ollama model whose template has no tool
section, a llama.cpp server without ``--jinja``, all stream the block as content. The agent's spoken filter
(``agent/spoken.py``) keeps it from being said, but the call was lost: the user asked for something a tool does,
the model called it, and nothing happened.

``TextToolCalls`` sits on the content of such a stream: text outside blocks goes on as content (a possible start of
``<tool_call>`` held back until it is known); a complete block whose JSON names a tool **offered in this request**
becomes a tool-call delta (its own index after any real calls, a fresh ``call_…`` id, the arguments as JSON text),
and the response's ``finish_reason`` becomes ``tool_calls``. Anything else (a name not offered, which a model
may make up or copy from an example; JSON that does not parse; a block never closed past ``MAX_CALL_CHARS``)
goes on as content, exactly as before: the spoken filter drops it. Only offered names are honoured so that text can
never reach a tool the request did not offer (a tool dropped for a capped round, ``tool_choice: "none"``).
A block still open at the end of the stream is a call when its JSON is complete (a server that stops at
``</tool_call>`` as a stop string). Llama-3-style ``{"name": …, "parameters": …}`` is read the same way.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from voice_letta.agent.ports import ChatDelta, ToolCallDelta
from voice_letta.ids import tool_call_id

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
MAX_CALL_CHARS = 20_000  # a block longer than this is not a call: it goes on as text


class TextToolCalls:
    """Streaming (sans-I/O): ``feed(delta)`` returns the deltas to pass on now, ``flush()`` the rest at the end.

    ``offered`` maps each name a call may carry to our tool name (the request's API names, ``providers/tool_names``,
    and our own names, which a model may copy from the conversation)."""

    __slots__ = ("_held", "_next_index", "_offered", "called")

    def __init__(self, offered: Mapping[str, str]) -> None:
        self._offered = offered
        self._held = ""  # text from a possible or open "<tool_call>"
        self._next_index = 0  # the index a text call gets: after every real call of the stream
        self.called = False

    def feed(self, delta: ChatDelta) -> list[ChatDelta]:
        for tc in delta.tool_calls:
            self._next_index = max(self._next_index, tc.index + 1)
        if not self._held and (not delta.content or "<" not in delta.content):  # most deltas: passed on as they are
            return [self._finish(delta)]
        text, calls = self._scan((self._held + (delta.content or "")), final=False)
        out = [ChatDelta(content=text or None, tool_calls=(*calls, *delta.tool_calls),
                         finish_reason=None, usage=delta.usage, route=delta.route, notice=delta.notice)]
        if delta.finish_reason is not None:  # the model's end: what is held is settled first
            out += self.flush()
            out.append(self._finish(ChatDelta(finish_reason=delta.finish_reason)))
        return [d for d in out if _carries(d)]

    def flush(self) -> list[ChatDelta]:
        if not self._held:
            return []
        text, calls = self._scan(self._held, final=True)
        return [ChatDelta(content=text or None, tool_calls=tuple(calls))] if text or calls else []

    def _finish(self, delta: ChatDelta) -> ChatDelta:
        if self.called and delta.finish_reason == "stop":
            return dataclasses.replace(delta, finish_reason="tool_calls")
        return delta

    def _scan(self, buf: str, *, final: bool) -> tuple[str, list[ToolCallDelta]]:
        self._held = ""
        text: list[str] = []
        calls: list[ToolCallDelta] = []
        i = 0
        while i < len(buf):
            j = buf.find(OPEN, i)
            if j < 0:
                keep = 0 if final else _partial_open(buf, i)
                text.append(buf[i:len(buf) - keep])
                self._held = buf[len(buf) - keep:] if keep else ""
                break
            text.append(buf[i:j])
            end = buf.find(CLOSE, j + len(OPEN))
            if end < 0:
                block = buf[j:]
                if final:
                    call = self._call(block[len(OPEN):])
                    if call is None:
                        text.append(block)
                    else:
                        calls.append(call)
                elif len(block) > MAX_CALL_CHARS:
                    text.append(block)  # never closed: not a call; the spoken filter has its own cap
                else:
                    self._held = block
                break
            call = self._call(buf[j + len(OPEN):end])
            if call is None:
                text.append(buf[j:end + len(CLOSE)])
            else:
                calls.append(call)
            i = end + len(CLOSE)
        return "".join(text), calls

    def _call(self, body: str) -> ToolCallDelta | None:
        try:
            obj: Any = json.loads(body)
        except ValueError:
            return None
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            return None
        name = self._offered.get(obj["name"])
        if name is None:
            return None
        args: Any = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, str):  # some models write the arguments as a JSON string, as the API does
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                return None
        if not isinstance(args, dict):
            return None
        self.called = True
        index, self._next_index = self._next_index, self._next_index + 1
        return ToolCallDelta(index=index, id=tool_call_id(), name=name, arguments=json.dumps(args))


def _partial_open(buf: str, start: int) -> int:
    """How many characters at the end of ``buf`` (from ``start`` on) may be the start of ``<tool_call>``."""
    lt = buf.rfind("<", max(start, len(buf) - len(OPEN) + 1))
    if lt < 0:
        return 0
    return len(buf) - lt if OPEN.startswith(buf[lt:]) else 0


def _carries(delta: ChatDelta) -> bool:
    return bool(delta.content or delta.tool_calls or delta.finish_reason or delta.usage or delta.route
                or delta.notice)
