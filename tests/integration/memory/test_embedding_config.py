"""An agent's embedding config, checked from outside through the real server (found by QA, session 4).

- ``{"provider": "openai"}`` alone (PUT, or a PATCH from the local model) meant the local model's name and size
  (all-MiniLM-L6-v2, 384-d) sent to OpenAI; now it is text-embedding-3-small at its native 1536 (and a named OpenAI
  model gets its own size).
- An openai embedder with no API key on the server was accepted by PUT …/embedding, then every insert and re-embed
  was a 500 (the SDK refuses to build a client); now the PUT, the PATCH and POST /v1/agents refuse it (400
  ``invalid_config``, naming the variable) and nothing changes.
- POST /v1/agents took an embedding model this server cannot run (a local "bge-small"), which PUT and PATCH refuse.
- ``GET …/messages?in_context=maybe`` listed every message as if no filter had been given; now a 400 naming it.
"""

from __future__ import annotations

import pytest

from tests.fakes.openai_audio_server import FakeOpenAIAudio
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent


async def test_openai_embeddings_default_to_an_openai_model_at_its_native_size(
    server: Running, fake_audio: FakeOpenAIAudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EMBED_KEY", "sk-fake-embed")
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}"
    openai = {"provider": "openai", "base_url": fake_audio.base_url, "api_key_env": "FAKE_EMBED_KEY"}
    status, body = await server.request("PUT", f"{base}/embedding", json=openai)
    assert status == 200, body
    assert (body["embedding"]["model"], body["embedding"]["dim"]) == ("text-embedding-3-small", 1536)
    status, passage = await server.request("POST", f"{base}/archival", json={"text": "The user's dog is Biscuit."})
    assert status == 201, passage
    assert (passage["embedding_model"], passage["embedding_dim"]) == ("text-embedding-3-small", 1536)
    assert fake_audio.embedding_requests[-1]["model"] == "text-embedding-3-small"
    assert "dimensions" not in fake_audio.embedding_requests[-1]  # the native size is not asked for

    status, body = await server.request("PUT", f"{base}/embedding", json={**openai, "model": "text-embedding-3-large"})
    assert status == 200 and body["embedding"]["dim"] == 3072
    status, body = await server.request("PUT", f"{base}/embedding", json={**openai, "dim": 256})
    assert status == 200 and (body["embedding"]["model"], body["embedding"]["dim"]) == ("text-embedding-3-small", 256)
    status, body = await server.request("PUT", f"{base}/embedding", json={"provider": "local"})
    assert status == 200 and (body["embedding"]["model"], body["embedding"]["dim"]) == ("all-MiniLM-L6-v2", 384)

    # PATCH is a merge patch, but another provider starts from its own defaults, not the old model's name and size
    status, body = await server.request("PATCH", base, json={"embedding": openai})
    assert status == 200, body
    assert (body["embedding"]["model"], body["embedding"]["dim"]) == ("text-embedding-3-small", 1536)
    status, body = await server.request("PATCH", base, json={"embedding": {"dim": 512}})
    assert status == 200 and (body["embedding"]["model"], body["embedding"]["dim"]) == ("text-embedding-3-small", 512)
    status, body = await server.request("PATCH", base, json={"embedding": {"provider": "local"}})
    assert status == 200 and body["embedding"] == {"provider": "local", "model": "all-MiniLM-L6-v2", "dim": 384,
                                                   "base_url": None, "api_key_env": None}


async def test_an_embedder_this_server_cannot_run_is_refused_everywhere_and_changes_nothing(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QA_NO_SUCH_KEY", raising=False)
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}"
    keyless = {"provider": "openai", "api_key_env": "QA_NO_SUCH_KEY"}
    status, body = await server.request("PUT", f"{base}/embedding", json=keyless)
    assert status == 400 and body["error"]["code"] == "invalid_config", body
    assert "QA_NO_SUCH_KEY" in body["error"]["message"]
    status, body = await server.request("PATCH", base, json={"embedding": keyless})
    assert status == 400 and body["error"]["code"] == "invalid_config", body
    status, again = await server.request("GET", base)
    assert again["embedding"] == agent["embedding"]
    status, passage = await server.request("POST", f"{base}/archival", json={"text": "The user likes green tea."})
    assert status == 201 and passage["embedding_model"] == "all-MiniLM-L6-v2"

    status, before = await server.request("GET", "/v1/agents")
    for embedding in (keyless, {"provider": "local", "model": "bge-small", "dim": 384}):
        status, body = await server.request("POST", "/v1/agents", json={"name": "refused", "embedding": embedding})
        assert status == 400 and body["error"]["code"] == "invalid_config", (embedding, body)
    status, after = await server.request("GET", "/v1/agents")
    assert [a["id"] for a in after["data"]] == [a["id"] for a in before["data"]]  # nothing was created


async def test_the_in_context_filter_takes_only_true_or_false(server: Running) -> None:
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}"
    status, imported = await server.request("POST", f"{base}/messages/import", json={
        "messages": [{"role": "user", "content": "I grew up in Porto.", "said_at": 1_700_000_000}], "archive": False})
    assert status == 202, imported
    for flag, expected in (("true", 0), ("false", 1)):
        status, body = await server.request("GET", f"{base}/messages", params={"in_context": flag})
        assert status == 200 and len(body["data"]) == expected, (flag, body)
    for bad in ("maybe", "1", "True", ""):
        status, body = await server.request("GET", f"{base}/messages", params={"in_context": bad})
        assert status == 400 and body["error"]["param"] == "in_context", (bad, body)


async def test_an_embedding_base_url_no_client_can_connect_to_is_refused(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As an LLM's ``base_url`` (test_llm_keys.py): ``http://256.1.1.1`` as the OpenAI embedder's address was taken,
    and every archival insert and search of the agent failed after (QA session 9)."""
    monkeypatch.setenv("FAKE_EMBED_KEY", "sk-fake-embed")
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}"
    for bad in ("http://256.1.1.1", "ftp://embeddings.example.com", "http://a b"):
        embedding = {"provider": "openai", "base_url": bad, "api_key_env": "FAKE_EMBED_KEY"}
        for method, path, body in (("PUT", f"{base}/embedding", embedding), ("PATCH", base, {"embedding": embedding}),
                                   ("POST", "/v1/agents", {"name": "refused", "embedding": embedding})):
            status, refused = await server.request(method, path, json=body)
            assert status == 400 and refused["error"]["code"] == "invalid_config", (method, bad, refused)
            assert "base_url" in refused["error"]["message"]
    status, passage = await server.request("POST", f"{base}/archival", json={"text": "The user likes green tea."})
    assert status == 201 and passage["embedding_model"] == "all-MiniLM-L6-v2"
