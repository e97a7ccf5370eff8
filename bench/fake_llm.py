"""An instant OpenAI-compatible chat-completions server for benchmarks, meant to run in its own process.

    python bench/fake_llm.py            # prints "PORT <api port> <control port>", serves until stdin closes

``POST /v1/chat/completions`` (any model, ``stream: true``) answers at once with the same chunks every time:
a role chunk, ``"Sure."``, ``" Here is the answer."``, a finish chunk, a usage chunk and ``[DONE]``, as HTTP/1.1
chunked SSE over keep-alive connections; the role chunk and the first content chunk go out in one write,
the rest on the next event-loop iteration, as a real stream's next delta would. ``GET /v1/models`` lists
``fake-model``. A request whose ``tool_choice`` names a function (the sleeptime agent's steps) gets a call of that
function instead, so memory jobs run to completion against it. It is a raw ``asyncio.Protocol`` with pre-built
bytes so that, on a 2-core machine, the fake
takes as little CPU as possible away from the server under test (aiohttp's server costs ~5x more a request).

Stamps: when the newest user message contains ``request <n>``, the fake records ``fake_in`` (request fully
read) and ``fake_first`` (first content chunk written) for ``<n>`` with ``time.perf_counter()``
(CLOCK_MONOTONIC: comparable across processes). Connecting to the control port returns the stamps collected
since the last call as JSON and clears them. A bench subtracts ``fake_first - fake_in`` (the model's own
time) from the server's time to first content, as the in-process mode subtracts its fake model's time.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import Any, ClassVar

from bench_common import until_stdin_closes  # bench/ is sys.path[0]: this file runs as a script

REPLY = ("Sure.", " Here is the answer.")
LIFETIME_S = 3600.0  # stops by itself after this, whatever happens

_BENCH_ID = re.compile(rb"request (\d+)")
_CONTENT_LENGTH = re.compile(rb"content-length: *(\d+)")
_NAMED_TOOL = re.compile(rb'"tool_choice": ?(\{|"required")')  # a sleeptime step (voice turns send "auto")
perf = time.perf_counter


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _event(obj: dict[str, Any]) -> bytes:
    return _chunked(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")


def build_reply() -> tuple[bytes, bytes]:
    """(headers + role chunk + first content chunk, the rest of the stream through the last chunk)."""
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-model"}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    first = head + _event(choice({"role": "assistant", "content": ""})) + _event(choice({"content": REPLY[0]}))
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110,
             "prompt_tokens_details": {"cached_tokens": 0}}
    rest = (_event(choice({"content": REPLY[1]})) + _event(choice({}, "stop"))
            + _event({**base, "choices": [], "usage": usage}) + _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    return first, rest


# each run archives its first line as one passage (so every job leaves one visible effect) and rewrites the block
_TOOL_ARGS = {"store_memories": {"chunks": [{"start_index": 0, "end_index": 0, "context": "archived by the fake"}]},
              "rethink_user_memory": {"new_memory": ""}}  # "" keeps the block (a made-up one is refused)


def tool_call_reply(body: bytes) -> bytes:
    """The whole stream of a reply that calls the tool the request's ``tool_choice`` names (the sleeptime agent
    names each step; ``finish_rethinking_memory`` when it lets the model choose), so memory jobs complete."""
    request = json.loads(body)
    choice = request.get("tool_choice")
    name = choice["function"]["name"] if isinstance(choice, dict) else "finish_rethinking_memory"
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": "fake-model"}
    call = {"index": 0, "id": "call_fake", "type": "function",
            "function": {"name": name, "arguments": json.dumps(_TOOL_ARGS.get(name, {}))}}
    out = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
           + _event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call]},
                                          "finish_reason": None}]})
           + _event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}))
    return out + _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n"


_MODELS = b'{"object":"list","data":[{"id":"fake-model","object":"model","created":0,"owned_by":"fake"}]}'
_MODELS_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(_MODELS), _MODELS))


class FakeLLM(asyncio.Protocol):
    first, rest = build_reply()
    marks: ClassVar[dict[str, dict[str, float]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = self.buf[:end].lower()
            match = _CONTENT_LENGTH.search(head)
            size = int(match.group(1)) if match else 0
            if len(self.buf) < end + 4 + size:
                return
            body = self.buf[end + 4 : end + 4 + size]
            self.buf = self.buf[end + 4 + size :]
            arrived = perf()
            if b" /v1/models" in head.split(b"\r\n", 1)[0]:
                self.transport.write(_MODELS_RESPONSE)
                continue
            if _NAMED_TOOL.search(body):
                self.transport.write(tool_call_reply(body))  # a sleeptime run asking for one named tool
                continue
            self.transport.write(self.first)
            written = perf()
            if found := _BENCH_ID.findall(body):
                self.marks[found[-1].decode()] = {"fake_in": arrived, "fake_first": written}
            asyncio.get_running_loop().call_soon(self.transport.write, self.rest)


async def fetch_marks(control_port: int) -> dict[str, dict[str, float]]:
    """The stamps the fake collected since the last call (and clear them)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", control_port)
    try:
        writer.write(b"marks\n")
        marks: dict[str, dict[str, float]] = json.loads(await reader.read())
        return marks
    finally:
        writer.close()


async def start_fake_llm() -> tuple[asyncio.subprocess.Process, str, int]:
    """Start this fake in a subprocess: (process, base URL ending in /v1, control port). Close its stdin to stop it."""
    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    _, api, ctl = line.split()
    return proc, f"http://127.0.0.1:{int(api)}/v1", int(ctl)


async def stop_fake_llm(proc: asyncio.subprocess.Process) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeLLM, "127.0.0.1", 0)

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        out, FakeLLM.marks = FakeLLM.marks, {}
        writer.write(json.dumps(out).encode())
        await writer.drain()
        writer.close()

    ctl = await asyncio.start_server(control, "127.0.0.1", 0)
    print(f"PORT {server.sockets[0].getsockname()[1]} {ctl.sockets[0].getsockname()[1]}", flush=True)
    await until_stdin_closes(LIFETIME_S)
    server.close()
    ctl.close()


if __name__ == "__main__":
    asyncio.run(main())
