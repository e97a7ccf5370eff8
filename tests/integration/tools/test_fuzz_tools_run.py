"""Property-based fuzzing of POST /v1/tools/{id}/run and of tool options against a real server with the real
sandbox: random bodies and arguments get a typed 400 or a run with an outcome, never a 5xx.

The server runs on 127.0.0.1:0 in its own thread and event loop; Hypothesis drives it with ``http.client``."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voice_letta.config import SandboxSettings, ServerConfig
from voice_letta.server.app import create_app

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TOOL = '''
def greet(name: str, times: int = 1, loud: bool = False) -> str:
    """Greets someone.

    Args:
        name: who
        times: how often
        loud: upper case
    """
    text = " ".join([f"hi {name}"] * max(0, min(times, 5)))
    return text.upper() if loud else text
'''


@dataclass
class Live:
    port: int
    tool_id: str = ""

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            assert resp.status < 500, f"{method} {path} {body!r}: {resp.status} {raw[:300]!r}"
            return resp.status, json.loads(raw)
        finally:
            conn.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = Path(tmp_path_factory.mktemp("fuzz-tools")) / "voice.db"
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        cfg = ServerConfig(db_path=db, api_key=None, enable_sandbox=True,
                           sandbox=SandboxSettings(memory_mb=128, timeout_s=10))
        runner = web.AppRunner(create_app(cfg))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"], state["port"] = runner, runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(60)
    live = Live(state["port"])
    status, tool = live.request("POST", "/v1/tools", {"source_type": "python", "source": TOOL})
    assert status == 201, tool
    live.tool_id = tool["id"]
    yield live
    asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**66), max_value=2**66)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=10)
arguments = st.dictionaries(st.sampled_from(["name", "times", "loud", "pre_exec_msg", "other"]), json_values,
                            max_size=5)


@FUZZ
@given(body=st.one_of(st.builds(lambda a: {"arguments": a}, arguments), json_values))
def test_run_bodies_never_cause_a_server_error(live: Live, body: Any) -> None:
    status, data = live.request("POST", f"/v1/tools/{live.tool_id}/run", body)
    if status == 200:
        assert data["outcome"] == "ok", data  # arguments that fit the schema always run cleanly
        assert isinstance(data["result"], str)
    else:
        assert status == 400 and data["error"]["code"], data


@FUZZ
@given(options=st.dictionaries(st.sampled_from(["timeout_s", "env", "network", "filler", "allow"]),
                               json_values | st.fixed_dictionaries({"allow": st.lists(st.text(max_size=30))}),
                               max_size=3))
def test_tool_options_are_validated_never_a_server_error(live: Live, options: Any) -> None:
    source = "def opts() -> int:\n    return 1\n"
    status, data = live.request("POST", "/v1/tools", {"source_type": "python", "source": source, "options": options})
    assert status in (201, 400), data
    if status == 201:
        live.request("DELETE", f"/v1/tools/{data['id']}")
