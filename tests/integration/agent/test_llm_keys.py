"""A chat model the server has no key for is refused when the agent is created or changed (found by QA, session 5).

It was accepted (201 / 200), and then every turn of that agent failed with a spoken apology: the provider adapter is
built at the first turn and the openai/anthropic SDKs refuse to build a client without a key. Embeddings were already
refused this way (test_embedding_config.py). Now POST /v1/agents and PATCH refuse ``llm``, ``sleeptime_llm`` and a
fallback model with no key (400 ``invalid_config`` naming the variable), and nothing is created or changed.
"""

from __future__ import annotations

from tests.integration.agent.conftest import Running


async def test_a_model_without_a_key_on_this_server_is_refused_at_create_and_patch(server: Running) -> None:
    # the test server's provider registry sees only FAKE_OPENAI_KEY and FAKE_ANTHROPIC_KEY
    keyed = {"provider": "openai", "model": "gpt-fake", "base_url": server.fake.base_url,
             "api_key_env": "FAKE_OPENAI_KEY"}
    keyless_openai = {"provider": "openai", "model": "gpt-4o-mini"}  # OPENAI_API_KEY is not set
    # (a PATCH is a merge patch: {"model": ...} alone keeps the agent's provider, base_url and key variable)
    keyless_anthropic = {"provider": "anthropic", "model": "claude-fake", "api_key_env": "NO_SUCH_KEY_ENV"}
    status, before = await server.request("GET", "/v1/agents")

    for body, named in (({"llm": keyless_openai}, "OPENAI_API_KEY"),
                        ({"llm": keyed, "sleeptime_llm": keyless_anthropic}, "NO_SUCH_KEY_ENV"),
                        ({"llm": {**keyed, "fallback": keyless_anthropic}}, "NO_SUCH_KEY_ENV")):
        status, refused = await server.request("POST", "/v1/agents", json={"name": "refused", **body})
        assert status == 400 and refused["error"]["code"] == "invalid_config", (body, refused)
        assert named in refused["error"]["message"]
    status, after = await server.request("GET", "/v1/agents")
    assert [a["id"] for a in after["data"]] == [a["id"] for a in before["data"]]  # nothing was created

    # a model the server can reach, and one that needs no key (a local OpenAI-compatible server), are accepted
    status, agent = await server.request("POST", "/v1/agents", json={"name": "keyed", "llm": keyed})
    assert status == 201, agent
    status, ollama = await server.request("POST", "/v1/agents", json={
        "name": "ollama", "llm": {"provider": "ollama", "model": "llama3.2", "base_url": "http://127.0.0.1:9"}})
    assert status == 201, ollama

    base = f"/v1/agents/{agent['id']}"
    for patch in ({"llm": {"api_key_env": "NO_SUCH_KEY_ENV"}}, {"llm": {"provider": "anthropic", "model": "claude"}},
                  {"sleeptime_llm": keyless_anthropic}, {"fallback": keyless_anthropic}):
        status, refused = await server.request("PATCH", base, json=patch)
        assert status == 400 and refused["error"]["code"] == "invalid_config", (patch, refused)
    status, unchanged = await server.request("GET", base)
    assert unchanged["llm"] == agent["llm"] and unchanged["sleeptime_llm"] == agent["sleeptime_llm"]
    # a change that keeps a reachable model, and an unrelated change, still go through
    status, patched = await server.request("PATCH", base, json={"llm": {"temperature": 0.3}, "name": "renamed"})
    assert status == 200 and patched["llm"]["temperature"] == 0.3 and patched["name"] == "renamed", patched

    # the agent still talks: its turn reaches the fake through the key it names
    reply = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content


async def test_a_base_url_no_client_can_connect_to_is_refused_at_create_and_patch(server: Running) -> None:
    """``http://256.1.1.1``, ``http://[::1``, ``ftp://x``, ``http://a b`` as an agent's ``base_url`` were stored (201),
    and every turn then failed with the spoken apology (the SDK's URL parser refused it inside the turn); the model
    list route answered ``?base_url=http://256.1.1.1`` with a 500 (found from outside, QA session 9)."""
    good = {"provider": "vllm", "model": "m", "base_url": server.fake.base_url}
    agent = await server.create_agent(llm=good)
    for bad in ("http://256.1.1.1", "http://[::1", "ftp://x", "http://a b", "http://1.2.3.4:99999", "http://%E9.com"):
        for body in ({"llm": {**good, "base_url": bad}}, {"llm": good, "sleeptime_llm": {**good, "base_url": bad}},
                     {"llm": {**good, "fallback": {**good, "base_url": bad}}}):
            status, refused = await server.request("POST", "/v1/agents", json={"name": "refused", **body})
            assert status == 400 and refused["error"]["code"] == "invalid_config", (body, refused)
            assert "base_url" in refused["error"]["message"]
        status, refused = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"llm": {"base_url": bad}})
        assert status == 400 and refused["error"]["code"] == "invalid_config", refused
        status, refused = await server.request("GET", "/v1/providers/vllm/models", params={"base_url": bad})
        assert status == 400 and refused["error"]["param"] == "base_url", refused
    status, kept = await server.request("GET", f"/v1/agents/{agent['id']}")
    assert kept["llm"]["base_url"] == server.fake.base_url
    for fine in ("http://[::1]:11434", "https://my-resource.openai.azure.com/", "http://host.docker.internal:8000/v1"):
        status, changed = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"llm": {"base_url": fine}})
        assert status == 200 and changed["llm"]["base_url"] == fine, changed


async def test_max_tokens_that_leave_no_room_in_the_window_are_refused(server: Running) -> None:
    """``llm.max_tokens`` 10**20 (or above ``context_window``) was stored; a provider refuses such a request, so every
    turn would end in the spoken apology (found from outside, QA session 9)."""
    good = {"provider": "vllm", "model": "m", "base_url": server.fake.base_url}
    agent = await server.create_agent(llm=good)
    for llm in ({**good, "max_tokens": 10**20}, {**good, "max_tokens": 9000}, {**good, "context_window": 4096,
                                                                             "max_tokens": 4096}):
        status, refused = await server.request("POST", "/v1/agents", json={"name": "refused", "llm": llm})
        assert status == 400 and refused["error"]["code"] == "invalid_config", (llm, refused)
        assert "max_tokens" in refused["error"]["message"]
    status, refused = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"llm": {"max_tokens": 10**20}})
    assert status == 400 and refused["error"]["code"] == "invalid_config", refused
    status, changed = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"llm": {"max_tokens": 1024}})
    assert status == 200 and changed["llm"]["max_tokens"] == 1024
