"""A provider key from a .env file written on Windows (``docker run --env-file`` keeps each line's ``\\r``): the
SDK refused to send "Bearer sk-…\\r" ("Forbidden control character detected in headers"), so every turn failed
with the spoken apology and nothing told the operator why (real server, the openai SDK, a fake provider)."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import Text
from tests.integration.agent.conftest import Running, openai_llm
from voice_letta.server.keys import MODELS


async def test_a_provider_key_with_a_carriage_return_still_reaches_the_provider(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = server.app[MODELS]._env  # type: ignore[attr-defined]  # the environment the server's models read
    monkeypatch.setitem(env, "FAKE_OPENAI_KEY_CRLF", "sk-fake\r")
    agent = await server.create_agent(name="crlf", llm=openai_llm(server.fake, api_key_env="FAKE_OPENAI_KEY_CRLF"))
    server.fake.script([Text("Hello there.")])
    done = await server.client().chat.completions.create(model=agent["id"],
                                                         messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "Hello there."  # before: "Sorry, I'm having trouble answering…"


async def test_a_provider_base_url_with_a_carriage_return_still_reaches_the_provider(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = server.app[MODELS]._env  # type: ignore[attr-defined]
    monkeypatch.setitem(env, "OPENAI_BASE_URL", server.fake.base_url + "\r")  # a gateway's URL from a CRLF .env
    agent = await server.create_agent(name="crlf-url", llm={"provider": "openai", "model": "fake-model",
                                                             "api_key_env": "FAKE_OPENAI_KEY", "max_retries": 0})
    server.fake.script([Text("Hello there.")])
    done = await server.client().chat.completions.create(model=agent["id"],
                                                         messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "Hello there."


async def test_a_provider_key_in_quotes_reaches_the_provider_without_them(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = server.app[MODELS]._env  # type: ignore[attr-defined]
    monkeypatch.setitem(env, "FAKE_OPENAI_KEY_QUOTED", '"sk-fake-quoted"')  # docker run --env-file keeps the quotes
    agent = await server.create_agent(name="quoted", llm=openai_llm(server.fake, api_key_env="FAKE_OPENAI_KEY_QUOTED"))
    server.fake.script([Text("Hello there.")])
    await server.client().chat.completions.create(model=agent["id"], messages=[{"role": "user", "content": "hi"}])
    assert server.fake.headers[-1]["Authorization"] == "Bearer sk-fake-quoted"  # before: 'Bearer "sk-fake-quoted"'
