"""Image parts: passed to providers that take them (and kept in the agent's history), a clear 400 otherwise."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.ollama_server import DEFAULT_SHOW, FakeOllamaServer
from tests.fakes.openai_server import Pause, Text
from tests.integration.agent.conftest import Running, anthropic_llm, openai_llm
from voice_letta.providers.fallback import IMAGE_NOTE

PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAcCBlCwAAAABJ"
       "RU5ErkJggg==")


def with_image(text: str | None, url: str = PNG, **image: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts.append({"type": "image_url", "image_url": {"url": url, **image}})
    return [{"role": "user", "content": parts}]


async def say(server: Running, agent_id: str, messages: list[dict[str, Any]]) -> str:
    completion = await server.client().chat.completions.create(model=agent_id, messages=messages)  # type: ignore[arg-type]
    return completion.choices[0].message.content or ""


async def test_openai_gets_the_image_and_it_stays_in_the_history(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("A red square.")], [Text("It was red.")])
    assert await say(server, agent["id"], with_image("What is this?", detail="low")) == "A red square."
    sent = server.fake.requests[-1]["messages"][-1]
    assert sent["role"] == "user"
    assert sent["content"][0]["type"] == "text" and sent["content"][0]["text"].endswith("What is this?")
    assert sent["content"][1] == {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}}
    rows = await server.store.list_messages(agent["id"])
    assert rows[0].images[0].url == PNG and rows[0].content == "What is this?"
    await say(server, agent["id"], [*with_image("What is this?", detail="low"),
                                    {"role": "assistant", "content": "A red square."},
                                    {"role": "user", "content": "What colour was it?"}])
    history = server.fake.requests[-1]["messages"]
    assert history[1]["content"][1]["image_url"]["url"] == PNG  # follow-ups can refer to it
    assert history[-1]["content"].endswith("What colour was it?")


async def test_anthropic_gets_a_base64_image_block(server: Running) -> None:
    claude = FakeAnthropicServer()
    await claude.start()
    try:
        agent = await server.create_agent(llm=anthropic_llm(claude))
        claude.script([Text("A square.")])
        assert await say(server, agent["id"], with_image(None)) == "A square."  # an image alone is input too
        blocks = claude.requests[-1]["messages"][-1]["content"]
        assert blocks[0] == {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                         "data": PNG.split(",", 1)[1]}}
        claude.script([Text("A cat.")])
        await say(server, agent["id"], with_image("And this?", url="https://example.com/cat.jpg"))
        assert claude.requests[-1]["messages"][-1]["content"][0]["source"] == {
            "type": "url", "url": "https://example.com/cat.jpg"}
    finally:
        await claude.aclose()


async def test_a_model_without_vision_gets_a_clear_400_and_nothing_is_stored(server: Running) -> None:
    agent = await server.create_agent(llm={**openai_llm(server.fake), "provider": "vllm"})
    with pytest.raises(openai.BadRequestError) as info:
        await say(server, agent["id"], [{"role": "user", "content": "hi"}, *with_image("What is this?")])
    body: Any = info.value.body
    assert body["code"] == "image_not_supported" and body["param"] == "messages.1"
    assert await server.store.list_messages(agent["id"]) == [] and server.fake.requests == []
    # a server the operator knows to take images
    status, _ = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"llm": {"vision": True}})
    assert status == 200
    assert await say(server, agent["id"], with_image("What is this?")) == "OK."


async def test_ollama_vision_capability_decides(server: Running) -> None:
    show = {**DEFAULT_SHOW, "llava:7b": {"capabilities": ["completion", "vision"]}}
    ollama = FakeOllamaServer(show=show)
    await ollama.start()
    try:
        seeing = await server.create_agent(name="sees", llm={"provider": "ollama", "model": "llava:7b",
                                                             "base_url": ollama.root_url})
        blind = await server.create_agent(name="blind", llm={"provider": "ollama", "model": "qwen2.5:0.5b",
                                                             "base_url": ollama.root_url})
        assert await say(server, seeing["id"], with_image("What is this?")) == "OK."
        assert ollama.requests[-1]["messages"][-1]["content"][1]["type"] == "image_url"
        with pytest.raises(openai.BadRequestError):
            await say(server, blind["id"], with_image("What is this?"))
    finally:
        await ollama.aclose()


async def test_a_fallback_without_vision_is_told_an_image_was_there(server: Running) -> None:
    blind = {**openai_llm(server.fake, model="text-only"), "provider": "vllm"}
    agent = await server.create_agent(llm=openai_llm(server.fake, first_token_timeout_s=0.3, fallback=blind))
    server.fake.script([Pause(10)], [Text("I cannot see images.")])
    assert (await say(server, agent["id"], with_image("What is this?"))).endswith("I cannot see images.")
    last = server.fake.requests[-1]
    assert last["model"] == "text-only"
    assert isinstance(last["messages"][-1]["content"], str) and IMAGE_NOTE in last["messages"][-1]["content"]


@pytest.mark.parametrize(("part", "code"), [
    ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "unsupported_content"),
    ({"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}, "invalid_image"),
    ({"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}}, "invalid_image"),
    ({"type": "image_url"}, "unsupported_content"),
])
async def test_other_content_parts_are_refused_not_dropped(server: Running, part: dict[str, Any], code: str) -> None:
    agent = await server.create_agent()
    with pytest.raises(openai.BadRequestError) as info:
        await say(server, agent["id"], [{"role": "user", "content": [{"type": "text", "text": "hi"}, part]}])
    body: Any = info.value.body
    assert body["code"] == code and body["param"].startswith("messages.0.content.1")
