"""SIGTERM finishes or stores every turn in flight, ends HTTP streams cleanly, closes voice sockets with 1001,
hands a running memory job back without spending an attempt, and the next start resumes it; GET /ready."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Pause, Text, ToolCall
from tests.integration.agent.conftest import openai_llm, start_server
from tests.integration.memory.conftest import finish_call, rethink_call, sleeptime_requests, store_call
from tests.integration.serve_process import ServerProcess
from voice_letta.server.lifecycle import DRAINING

TAG = "VOICE_LETTA_TEST_SERVER_TAG"


class Served(ServerProcess):
    """A server whose every process (supervisor, workers, helpers) carries a tag in its environment."""

    ready_path = "/ready"
    start_timeout_s = 90.0

    def __init__(self, db: Path) -> None:
        super().__init__(db)
        self.tag = f"{os.getpid()}-{self.port}"

    def env(self) -> dict[str, str]:
        return {**super().env(), TAG: self.tag}

    def processes(self) -> list[int]:
        """Processes started by this server (the supervisor, workers, helpers) still alive."""
        found = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    tagged = f"{TAG}={self.tag}".encode() in f.read()
                with open(f"/proc/{entry}/stat") as f:
                    zombie = f.read().rsplit(")", 1)[-1].split()[0] == "Z"
            except (OSError, ValueError):
                continue
            if tagged and not zombie:
                found.append(int(entry))
        return found

    async def start(self, *extra: str, workers: int = 1) -> None:
        await super().start("--no-default-agent", "--workers", str(workers), *extra)

    async def kill(self) -> None:
        await super().kill()
        for pid in self.processes():  # whatever a failed test left
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
async def served(tmp_path: Path) -> Any:
    server = Served(tmp_path / "voice.db")
    try:
        yield server
    finally:
        await server.kill()


async def read_stream(resp: aiohttp.ClientResponse, started: asyncio.Event) -> tuple[str, list[dict[str, Any]]]:
    text, errors = "", []
    async for raw in resp.content:
        line = raw.decode().strip()
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            return text, errors
        event = json.loads(line[6:])
        if "error" in event:
            errors.append(event["error"])
        for choice in event.get("choices", []):
            text += choice["delta"].get("content") or ""
        if text:  # the model answered (the role chunk goes out before the model is asked)
            started.set()
    raise AssertionError("the stream ended without [DONE]")


@pytest.mark.timeout(180)
async def test_sigterm_mid_stream_ends_streams_cleanly_and_keeps_every_turn(served: Served,
                                                                          fake_openai: FakeOpenAIServer) -> None:
    await served.start("--shutdown-grace-s", "1.5")
    _, slow = await served.request("POST", "/v1/agents", json={"name": "slow", "llm": openai_llm(fake_openai)})
    _, quick = await served.request("POST", "/v1/agents", json={"name": "quick", "llm": openai_llm(fake_openai)})
    _, voice = await served.request("POST", "/v1/agents", json={"name": "voice", "llm": openai_llm(fake_openai)})
    fake_openai.script([Text("Part one. "), Pause(60), Text("never said")],
                       [Text("Quick "), Pause(0.6), Text("answer.")])
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(f"ws://127.0.0.1:{served.port}/v1/voice?agent={voice['id']}",
                                protocols=("voice-letta.v1",))
        assert (await ws.receive_json())["type"] == "session.created"
        started = [asyncio.Event(), asyncio.Event()]
        streams = []
        for agent, flag in zip((slow, quick), started, strict=True):
            resp = await s.post(f"{served.url}/v1/chat/completions", json={
                "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": "Go."}]})
            streams.append(asyncio.create_task(read_stream(resp, flag)))
            await flag.wait()
        assert served.proc is not None
        served.proc.send_signal(signal.SIGTERM)
        (slow_text, slow_errors), (quick_text, quick_errors) = await asyncio.gather(*streams)
        close = await ws.receive()
        assert close.type == aiohttp.WSMsgType.CLOSE and close.data == 1001, close
        await ws.close()
    assert slow_text == "Part one. " and [e["code"] for e in slow_errors] == ["server_shutting_down"]
    assert quick_text == "Quick answer." and quick_errors == []  # finished within the grace
    async with asyncio.timeout(30):
        assert await served.proc.wait() == 0

    await served.start()
    _, turns = await served.request("GET", f"/v1/agents/{slow['id']}/turns")
    assert [t["status"] for t in turns["data"]] == ["cancelled"]
    _, messages = await served.request("GET", f"/v1/agents/{slow['id']}/messages")
    assert [(m["role"], m["content"], m["interrupted"]) for m in messages["data"]] == [
        ("user", "Go.", False), ("assistant", "Part one.", True)]
    _, turns = await served.request("GET", f"/v1/agents/{quick['id']}/turns")
    assert [t["status"] for t in turns["data"]] == ["completed"]


SLOW_TOOL = '''
def check_stock(item: str) -> str:
    """Check the stock of an item in the warehouse.

    Args:
        item: The item to check.
    """
    import time
    time.sleep(50)
    return f"{item}: 3 left."
'''


@pytest.mark.timeout(180)
async def test_sigterm_during_a_tool_call_ends_the_turn_within_the_grace_and_keeps_it(
        served: Served, fake_openai: FakeOpenAIServer) -> None:
    """A tool still running when the grace ends is cancelled: the stream ends cleanly, the filler said and the
    call are stored (the call without a result, which the next turn's context leaves out), nothing else."""
    await served.start("--shutdown-grace-s", "1.5")
    status, tool = await served.request("POST", "/v1/tools", json={
        "source_type": "python", "source": SLOW_TOOL, "options": {"timeout_s": 55}})
    assert status == 201, tool
    _, agent = await served.request("POST", "/v1/agents", json={
        "name": "stock", "llm": openai_llm(fake_openai), "tool_ids": [tool["id"]]})
    fake_openai.script([ToolCall("check_stock", json.dumps({"pre_exec_msg": "Let me check.", "item": "bolts"}))])
    started = asyncio.Event()
    async with aiohttp.ClientSession() as s:
        resp = await s.post(f"{served.url}/v1/chat/completions", json={
            "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": "Any bolts?"}]})
        stream = asyncio.create_task(read_stream(resp, started))
        await started.wait()  # the filler was said: the tool is about to run
        await asyncio.sleep(0.5)
        assert served.proc is not None
        sent = asyncio.get_running_loop().time()
        served.proc.send_signal(signal.SIGTERM)
        text, errors = await stream
        ended_after = asyncio.get_running_loop().time() - sent
    assert text == "Let me check." and [e["code"] for e in errors] == ["server_shutting_down"]
    assert ended_after < 20  # the grace (1.5 s) and the cut, not the tool's 50 s
    assert len(fake_openai.requests) == 1  # the tool never returned: no second model call
    async with asyncio.timeout(30):
        assert await served.proc.wait() == 0

    await served.start()
    _, turns = await served.request("GET", f"/v1/agents/{agent['id']}/turns")
    assert [t["status"] for t in turns["data"]] == ["cancelled"]
    _, messages = await served.request("GET", f"/v1/agents/{agent['id']}/messages")
    rows = [(m["role"], m["content"], [c["name"] for c in m["tool_calls"] or []]) for m in messages["data"]]
    assert rows == [("user", "Any bolts?", []), ("assistant", "Let me check.", ["check_stock"])]
    fake_openai.script([Text("Sorry, I could not check that. Ask me again?")])
    status, body = await served.request("POST", "/v1/chat/completions", json={
        "model": agent["id"], "messages": [{"role": "user", "content": "Any bolts?"}, {
            "role": "assistant", "content": "Let me check."}, {"role": "user", "content": "Hello?"}]})
    assert status == 200, body
    sent_messages = fake_openai.requests[-1]["messages"]
    assert not any(m.get("tool_calls") for m in sent_messages)  # the call without a result is left out
    assert sent_messages[-1]["content"].endswith("Hello?")


@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", ["sigterm_twice", "supervisor_killed"])
async def test_a_repeated_sigterm_does_not_cut_the_shutdown_short(served: Served, fake_openai: FakeOpenAIServer,
                                                                  how: str) -> None:
    """A second SIGTERM used to abort the graceful shutdown half-way: the stream was dropped and the process
    waited for its database thread for good. A supervisor killed with SIGKILL delivers its workers' parent-death
    SIGTERM once per thread it had, so every kill -9 of `serve --workers N` left its workers running."""
    await served.start(workers=1 if how == "sigterm_twice" else 2)
    _, agent = await served.request("POST", "/v1/agents", json={"name": "a", "llm": openai_llm(fake_openai)})
    fake_openai.script([Text("Still "), Pause(0.8), Text("here.")])
    started = asyncio.Event()
    async with aiohttp.ClientSession() as s:
        resp = await s.post(f"{served.url}/v1/chat/completions", json={
            "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": "Go."}]})
        stream = asyncio.create_task(read_stream(resp, started))
        await started.wait()
        assert served.proc is not None
        if how == "sigterm_twice":
            served.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            served.proc.send_signal(signal.SIGTERM)
        else:
            served.proc.kill()
        text, errors = await stream
    assert (text, errors) == ("Still here.", [])  # the turn in flight finished within the grace
    if how == "sigterm_twice":
        async with asyncio.timeout(30):
            assert await served.proc.wait() == 0
    async with asyncio.timeout(30):
        while served.processes():  # noqa: ASYNC110 (another process: no event) the workers and their helpers exit once their turn is done
            await asyncio.sleep(0.1)


@pytest.mark.timeout(180)
async def test_a_memory_job_cut_by_sigterm_is_resumed_without_spending_an_attempt(
        served: Served, fake_openai: FakeOpenAIServer) -> None:
    await served.start()
    status, agent = await served.request("POST", "/v1/agents", json={
        "name": "durable", "llm": openai_llm(fake_openai),
        "sleeptime_llm": openai_llm(fake_openai, model="fake-sleeptime"),
        "buffer": {"max_messages": 6, "min_messages": 5},
        "blocks": [{"label": "persona", "value": "Helpful."}, {"label": "human", "value": "Unknown."}]})
    assert status == 201, agent
    lines = ["My name is Ada.", "I keep bees on my roof.", "I'm learning Portuguese.", "Good night."]
    fake_openai.script(*[[Text("Okay.")] for _ in lines])
    fake_openai.script([Pause(60), store_call((0, 3, "never"))])  # the job's first model call hangs
    for text in lines:
        status, body = await served.request("POST", "/v1/chat/completions", json={
            "model": agent["id"], "messages": [{"role": "user", "content": text}]})
        assert status == 200, body
    async with asyncio.timeout(30):
        while not sleeptime_requests(fake_openai):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert served.proc is not None
    served.proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        assert await served.proc.wait() == 0

    fake_openai.script([store_call((0, 3, "Ada, bees, Portuguese."))], [rethink_call("Name: Ada.")], [finish_call()])
    await served.start()  # the next start runs the job again
    async with asyncio.timeout(60):
        while True:
            _, jobs = await served.request("GET", f"/v1/agents/{agent['id']}/memory/jobs")
            if jobs["data"] and jobs["data"][0]["status"] == "done":
                break
            await asyncio.sleep(0.1)
    [job] = jobs["data"]
    assert job["attempts"] == 2 and job["error"] is None  # two runs; the cut one was no failure
    _, block = await served.request("GET", f"/v1/agents/{agent['id']}/blocks/human")
    assert block["value"] == "Name: Ada."


async def test_ready_reports_draining_and_what_is_not_ready(tmp_path: Path, fake_openai: Any) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key="k")
    try:
        running.api_key = None  # no key needed, like /health
        status, body = await running.request("GET", "/ready")
        assert status == 200, body
        assert body["status"] == "ready" and body["checks"]["database"]["ok"]
        assert body["checks"]["sandbox"] == {"ok": True, "enabled": False}
        running.app[DRAINING].set()  # what SIGTERM does first
        status, body = await running.request("GET", "/ready")
        assert status == 503 and body["status"] == "draining"
        running.app[DRAINING].clear()
        store = running.store

        async def broken() -> list[str]:
            raise OSError("disk gone")

        original = store.busy_lease_holders
        store.busy_lease_holders = broken  # type: ignore[method-assign]
        try:
            status, body = await running.request("GET", "/ready")
        finally:
            store.busy_lease_holders = original  # type: ignore[method-assign]
        assert status == 503 and body["status"] == "unavailable"
        assert body["checks"]["database"] == {"ok": False, "error": "OSError"}
    finally:
        await runner.cleanup()


SLOW_START = """
import asyncio, sys
from aiohttp import web
from voice_letta.server import lifecycle

async def slow_step(app):  # a start-up step that takes a while (the embedder or a speech model loading)
    print("starting", flush=True)
    await asyncio.sleep(1.5)
    print("started", flush=True)
    yield
    print("closed", flush=True)

app = web.Application()
app.cleanup_ctx.append(slow_step)
lifecycle.run(app, host="127.0.0.1", port=0, print=None)
"""


async def test_a_sigterm_during_start_up_lets_it_finish_then_shuts_down_cleanly(tmp_path: Path) -> None:
    """A SIGTERM while a start-up step runs used to cut that step in the middle (for the real server: an asyncio
    ERROR "aclose(): asynchronous generator is already running" and an exit only by the watchdog, rc 1, 5 s later).
    Now the step finishes, then the usual shutdown closes it, and the process exits 0."""
    import sys

    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", SLOW_START, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, env={**os.environ})
    assert proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"starting"
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    lines = [line for line in out.decode().splitlines() if line.strip()]
    assert proc.returncode == 0, out
    assert [line for line in lines if line in ("started", "closed")] == ["started", "closed"], out
    assert "ERROR" not in out.decode() and "did not exit" not in out.decode(), out
