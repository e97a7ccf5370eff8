"""Changing an agent's embedding model: refused when this server cannot run it, else passages re-embedded in batches.

Real server, real SQLite, the real local MiniLM, and OpenAI embeddings through the real ``openai`` SDK against a
fake ``/v1/embeddings`` that speaks the wire format.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.fakes.openai_audio_server import FakeOpenAIAudio, fake_vector
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent

FACTS = [("The user's dog is a corgi named Biscuit.", "Pets"),
         ("The user works night shifts as a nurse.", "Work"),
         ("The user's favourite food is ramen.", "Food")]


async def archive_facts_then_switch_to_openai(server: Running, fake_audio: FakeOpenAIAudio) -> tuple[str, Any]:
    """An agent with FACTS archived by the local MiniLM, then switched to OpenAI embeddings (64-d).

    Returns the agent's id and the PUT answer. Needs FAKE_EMBED_KEY in the environment.
    """
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}"
    for text, synopsis in FACTS:
        status, body = await server.request("POST", f"{base}/archival", json={"text": text, "synopsis": synopsis})
        assert status == 201 and body["embedding_model"] == "all-MiniLM-L6-v2"
    status, body = await server.request("PUT", f"{base}/embedding", json={
        "provider": "openai", "model": "text-embedding-3-small", "dim": 64, "base_url": fake_audio.base_url,
        "api_key_env": "FAKE_EMBED_KEY"})
    assert status == 200, body
    return str(agent["id"]), body


async def test_switch_to_openai_embeddings_then_back_re_embedding_in_batches(
    server: Running, fake_audio: FakeOpenAIAudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EMBED_KEY", "sk-fake-embed")
    agent_id, body = await archive_facts_then_switch_to_openai(server, fake_audio)
    base = f"/v1/agents/{agent_id}"
    assert body["to_reembed"] == 3 and body["embedding"]["model"] == "text-embedding-3-small"
    status, found = await server.request("GET", f"{base}/archival/search", params={"query": "corgi"})
    assert found["keyword_only"] == 3  # old vectors are not comparable: keyword search only, and counted
    assert [p["text"] for p in found["data"]] == [FACTS[0][0]]

    status, step = await server.request("POST", f"{base}/archival/reembed", json={"limit": 2})
    assert status == 200, step
    assert step == {"reembedded": 2, "remaining": 1, "embedding_model": "text-embedding-3-small", "embedding_dim": 64}
    status, step = await server.request("POST", f"{base}/archival/reembed")  # empty body: default limit
    assert (step["reembedded"], step["remaining"]) == (1, 0)
    status, step = await server.request("POST", f"{base}/archival/reembed", json={})
    assert (step["reembedded"], step["remaining"]) == (0, 0)
    sent = [t for req in fake_audio.embedding_requests for t in req["input"]]
    assert sent == [f"{s}\n{t}" for t, s in FACTS]  # oldest first, each passage once
    assert all(req["model"] == "text-embedding-3-small" and req["dimensions"] == 64
               for req in fake_audio.embedding_requests)
    status, listed = await server.request("GET", f"{base}/archival")
    assert {(p["embedding_model"], p["embedding_dim"]) for p in listed["data"]} == {("text-embedding-3-small", 64)}
    stored = await server.store.list_passages(agent_id)
    assert stored[0].embedding is not None
    assert np.allclose(stored[0].embedding, fake_vector(f"{FACTS[0][1]}\n{FACTS[0][0]}", 64), atol=1e-6)
    status, found = await server.request("GET", f"{base}/archival/search", params={"query": "anything at all"})
    assert found["keyword_only"] == 0

    # back to the local model: every passage is re-embedded by MiniLM and found by meaning again
    status, body = await server.request("PUT", f"{base}/embedding", json={"provider": "local"})
    assert status == 200 and body["to_reembed"] == 3
    status, step = await server.request("POST", f"{base}/archival/reembed", json={"limit": 10})
    assert (step["reembedded"], step["remaining"], step["embedding_dim"]) == (3, 0, 384)
    status, found = await server.request("GET", f"{base}/archival/search", params={"query": "what pet do I have?"})
    assert found["keyword_only"] == 0 and found["data"][0]["text"] == FACTS[0][0]


async def test_bad_embedding_changes_are_refused_and_change_nothing(server: Running) -> None:
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}"
    status, body = await server.request("PUT", f"{base}/embedding",
                                        json={"provider": "local", "model": "bge-small", "dim": 384})
    assert status == 400 and "all-MiniLM-L6-v2" in body["error"]["message"]
    for bad in ({"provider": "local", "dim": 0}, {"provider": "cohere"}, {"provider": "local", "extra": 1}):
        status, body = await server.request("PUT", f"{base}/embedding", json=bad)
        assert status == 400 and body["error"]["code"] == "invalid_request", bad
    status, again = await server.request("GET", base)
    assert again["embedding"] == agent["embedding"]
    status, _ = await server.request("PUT", "/v1/agents/agent-nope/embedding", json={"provider": "local"})
    assert status == 404
    for bad_limit in (0, 2001, "many"):
        status, body = await server.request("POST", f"{base}/archival/reembed", json={"limit": bad_limit})
        assert status == 400, bad_limit
    status, _ = await server.request("POST", "/v1/agents/agent-nope/archival/reembed", json={})
    assert status == 404


async def test_a_failing_embedding_provider_is_a_typed_error_and_nothing_changes(
    server: Running, fake_audio: FakeOpenAIAudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EMBED_KEY", "sk-fake-embed")
    agent_id, _ = await archive_facts_then_switch_to_openai(server, fake_audio)
    base = f"/v1/agents/{agent_id}"
    fake_audio.fail_next = [(401, "Incorrect API key provided", {})]  # not retried by the SDK
    status, body = await server.request("POST", f"{base}/archival/reembed", json={})
    assert status >= 400 and body["error"]["code"].startswith("provider"), body
    assert "sk-fake-embed" not in str(body)  # the key never leaks into an error
    status, listed = await server.request("GET", f"{base}/archival")
    assert {p["embedding_model"] for p in listed["data"]} == {"all-MiniLM-L6-v2"}  # untouched
    status, step = await server.request("POST", f"{base}/archival/reembed", json={})  # the provider is back
    assert status == 200 and (step["reembedded"], step["remaining"]) == (3, 0)
