"""The embedded model (SmolLM2 via llama.cpp) for real: the prompt warm-up and the small-model prompt rules."""

from __future__ import annotations

import asyncio
import re

import pytest

pytest.importorskip("llama_cpp")

from voice_letta.agent.models import AgentState, Block, LLMConfig, ProviderName
from voice_letta.agent.ports import ChatMessage, ChatRequest
from voice_letta.agent.prompt import compile_system_prompt
from voice_letta.agent.tools import voice_tools
from voice_letta.errors import ConfigError
from voice_letta.providers.local_llm import LocalChatModel, local_model_path

try:
    local_model_path()
except ConfigError as e:  # pragma: no cover - depends on the machine
    pytest.skip(f"no local GGUF: {e}", allow_module_level=True)


def default_agent(temperature: float) -> AgentState:
    return AgentState(
        id="agent-local", name="local",
        llm=LLMConfig(provider=ProviderName.LOCAL, model="smollm2", temperature=temperature, max_tokens=48),
        blocks=[Block(id="b1", label="persona", value="I am a friendly, concise voice assistant with a long memory.",
                      limit=5000, description="Who you are and how you speak. Guides your behaviour."),
                Block(id="b2", label="human", value="Name: Sam. Has a sister in Paris.", limit=5000,
                      description="Key facts about the person you are talking with.")])


def request(agent: AgentState, *turns: ChatMessage) -> ChatRequest:
    specs = tuple(t.spec for t in voice_tools(agent))
    return ChatRequest((ChatMessage("system", compile_system_prompt(agent)), *turns), agent.llm, tools=specs,
                       tool_choice="auto")


@pytest.mark.timeout(600)
async def test_a_warmed_prompt_leaves_only_the_new_words_to_evaluate() -> None:
    agent = default_agent(0.0)
    model = LocalChatModel(agent.llm)
    history = (ChatMessage("user", "Hi, I am Sam."), ChatMessage("assistant", "Hello Sam, nice to meet you."))
    evaluated = await model.warm(request(agent, *history))
    assert evaluated >= 0
    assert await model.warm(request(agent, *history)) == 0  # already in the cache
    usage = None
    async for delta in model.stream(request(agent, *history, ChatMessage("user", "What is my name?"))):
        usage = delta.usage or usage
    assert usage is not None
    new_tokens = usage.prompt_tokens - usage.cached_tokens
    assert new_tokens < 40, usage  # the user's few words and the headers, not the ~700-token prefix


@pytest.mark.timeout(900)
async def test_replies_speak_no_markup_from_the_prompt() -> None:
    agent = default_agent(0.8)
    model = LocalChatModel(agent.llm)
    system = compile_system_prompt(agent)
    prompt_tags = {tag.lower() for tag in re.findall(r"</?([A-Za-z_][A-Za-z0-9_-]*)>", system)} | {"tool_call"}
    assert {"persona", "human", "memory_blocks"} <= prompt_tags  # the prompt the model saw has them
    for question in ("Who are you?", "Tell me about yourself.", "What do you know about me?",
                     "What is your persona?", "Say your memory out loud.", "hello"):
        text = ""
        async for delta in model.stream(request(agent, ChatMessage("user", question))):
            text += delta.content or ""
        lowered = text.lower()
        # The promise is about the prompt's own markup (a closing tag, a tag the prompt contains, a ChatML marker);
        # a sampled reply may still invent a placeholder such as "<video_name>" (CI once drew one at 0.8), which
        # speakable() keeps out of the speech with the web address around it.
        assert "</" not in text and "<|" not in text, (question, text)
        echoed = [tag for tag in prompt_tags if f"<{tag}" in lowered]
        assert not echoed, (question, text, echoed)
        assert not lowered.lstrip().startswith(("persona", "human:", "assistant:", "user:")), (question, text)
        assert "You can use these tools" not in text and "To call a tool" not in text, (question, text)


@pytest.mark.timeout(600)
async def test_a_cancelled_warm_up_stops_its_prefill_at_the_next_chunk() -> None:
    """A shutdown cancels the start-up warm-up; the model's worker thread must stop too (it is no daemon: the
    process waited for a whole prefill and was ended by the exit watchdog)."""
    from voice_letta.providers.local_llm import _get_model, local_model_path

    agent = default_agent(0.0)
    model = LocalChatModel(agent.llm)
    loaded = await _get_model(local_model_path())
    # a long history the cache has never seen: dozens of 32-token chunks to prefill
    history = tuple(ChatMessage("user" if i % 2 else "assistant", f"Line {i}: the {i}th note about gardening, "
                                f"tomatoes number {i * 7}, and the weather on day {i}.") for i in range(60))
    task = asyncio.create_task(model.warm(request(agent, *history)))
    while not loaded.lock.locked():  # noqa: ASYNC110 -- a thread's lock: nothing to await; the prefill has begun
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wrap_future(loaded.executor.submit(lambda: None))  # the cancelled warm-up's thread has returned
    # what the cancelled prefill left undone is evaluated now (0 if it had run to its end after the cancel)
    assert await model.warm(request(agent, *history)) > 5 * 32
