"""ProviderRegistry + FallbackChatModel: retries, no duplicated output, fallback, caching, keys.

The failover rules themselves (deadline, 401/404/429/5xx, cooldowns) are tested in test_fallback_chain.py.
"""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import Cut, FakeOpenAIServer, HttpError, Text
from tests.integration.providers.helpers import collect, request, text_of
from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.agent.ports import ChatDelta, ChatModel, ChatRequest
from voice_letta.errors import ConfigError, ProviderBadRequest, ProviderRateLimited, ProviderUnavailable
from voice_letta.providers.anthropic_chat import AnthropicChatModel
from voice_letta.providers.fallback import FallbackChatModel
from voice_letta.providers.openai_chat import OpenAIChatModel
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.providers.retry import backoff_s

ENV = {"OPENAI_API_KEY": "sk-openai-test-123456", "ANTHROPIC_API_KEY": "sk-ant-test-123456"}


@pytest.fixture
async def registry():
    reg = ProviderRegistry(env=ENV, retry_base_delay_s=0.001, retry_max_delay_s=0.01)
    yield reg
    await reg.aclose()


def openai_config(server: FakeOpenAIServer, **kw) -> LLMConfig:
    kw.setdefault("model", "fake-model")
    return LLMConfig(provider=ProviderName.OPENAI, base_url=server.base_url, **kw)


async def test_429_then_success_is_retried_without_duplicate_output(fake_openai, registry):
    fake_openai.script([HttpError(429, "slow down")], [HttpError(503)], [Text("Hello"), Text(" again.")])
    model = registry.for_config(openai_config(fake_openai, max_retries=2))
    deltas = await collect(model, request(openai_config(fake_openai, max_retries=2)))
    assert text_of(deltas) == "Hello again."
    assert len(fake_openai.requests) == 3
    assert sum(1 for d in deltas if d.usage) == 1


async def test_retries_exhausted_reraise_the_provider_error(fake_openai, registry):
    fake_openai.script([HttpError(429)], [HttpError(429)])
    cfg = openai_config(fake_openai, max_retries=1)
    with pytest.raises(ProviderRateLimited):
        await collect(registry.for_config(cfg), request(cfg))
    assert len(fake_openai.requests) == 2


async def test_error_after_content_is_raised_not_retried(fake_openai, registry):
    fake_openai.script([Text("The answer is"), HttpError(500, "boom")], [Text("never sent")])
    cfg = openai_config(fake_openai, max_retries=3)
    seen: list[str] = []
    with pytest.raises(ProviderUnavailable):
        async for d in registry.for_config(cfg).stream(request(cfg)):
            seen.append(d.content or "")
    assert "".join(seen) == "The answer is"
    assert len(fake_openai.requests) == 1


async def test_cut_after_content_is_raised_not_retried(fake_openai, registry):
    fake_openai.script([Text("Half"), Cut()])
    cfg = openai_config(fake_openai, max_retries=3)
    with pytest.raises(ProviderUnavailable):
        await collect(registry.for_config(cfg), request(cfg))
    assert len(fake_openai.requests) == 1


async def test_plain_bad_request_is_not_retried_nor_sent_to_fallback(fake_openai, registry):
    fake_openai.script([HttpError(400, "bad schema")])
    cfg = openai_config(fake_openai, max_retries=3, fallback=openai_config(fake_openai, model="fallback-model"))
    with pytest.raises(ProviderBadRequest):
        await collect(registry.for_config(cfg), request(cfg))
    assert len(fake_openai.requests) == 1


async def test_fallback_model_takes_over_without_retrying_the_first(fake_openai, fake_anthropic, registry):
    fake_openai.script([HttpError(503)], [HttpError(503)])
    fake_anthropic.script([Text("From the fallback.")])
    fallback = LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-fake", base_url=fake_anthropic.base_url)
    cfg = openai_config(fake_openai, max_retries=1, fallback=fallback)
    deltas = await collect(registry.for_config(cfg), request(cfg))
    assert text_of(deltas) == "From the fallback."
    assert len(fake_openai.requests) == 1  # voice: the next model now, not the same one again later
    assert fake_anthropic.requests[0]["model"] == "claude-fake"
    routes = [d.route for d in deltas if d.route]
    assert [(r.provider, r.model, r.index, r.attempt) for r in routes] == [("anthropic", "claude-fake", 1, 2)]


async def test_fallback_failure_propagates(fake_openai, registry):
    fake_openai.script([HttpError(503)], [HttpError(502)])
    cfg = openai_config(fake_openai, max_retries=0, fallback=openai_config(fake_openai, model="fb", max_retries=0))
    with pytest.raises(ProviderUnavailable):
        await collect(registry.for_config(cfg), request(cfg))
    assert [r["model"] for r in fake_openai.requests] == ["fake-model", "fb"]


async def test_registry_caches_one_model_per_distinct_config(fake_openai, registry):
    cfg = openai_config(fake_openai)
    a, b = registry.for_config(cfg), registry.for_config(cfg.model_copy())
    c = registry.for_config(openai_config(fake_openai, temperature=0.1))
    assert a is b and a is not c
    assert isinstance(a, FallbackChatModel) and isinstance(a.links[0].model(), OpenAIChatModel)
    assert a.links[0].model().client is not c.links[0].model().client  # type: ignore[attr-defined]
    assert registry.cached_models == 2


async def test_fifty_concurrent_streams_share_one_client(fake_openai, registry):
    import asyncio

    cfg = openai_config(fake_openai)
    results = await asyncio.gather(*(collect(registry.for_config(cfg), request(cfg)) for _ in range(50)))
    assert all(text_of(r) == "OK." for r in results)
    assert registry.cached_models == 1


async def test_anthropic_config_builds_anthropic_adapter(fake_anthropic, registry):
    cfg = LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-fake", base_url=fake_anthropic.base_url)
    model = registry.for_config(cfg)
    assert isinstance(model, FallbackChatModel) and isinstance(model.links[0].model(), AnthropicChatModel)
    assert text_of(await collect(model, request(cfg))) == "OK."


@pytest.mark.parametrize(
    ("provider", "env_var"),
    [(ProviderName.OPENAI, "OPENAI_API_KEY"), (ProviderName.ANTHROPIC, "ANTHROPIC_API_KEY"),
     (ProviderName.AZURE, "AZURE_OPENAI_API_KEY")],
)
async def test_missing_api_key_is_a_config_error_naming_the_variable(provider, env_var):
    reg = ProviderRegistry(env={"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9"})
    with pytest.raises(ConfigError, match=env_var):
        reg.for_config(LLMConfig(provider=provider, model="m"))
    await reg.aclose()


async def test_api_key_env_in_config_wins(fake_openai):
    reg = ProviderRegistry(env={"MY_KEY": "sk-mine-123456"})
    try:
        cfg = openai_config(fake_openai, api_key_env="MY_KEY")
        assert text_of(await collect(reg.for_config(cfg), request(cfg))) == "OK."
        with pytest.raises(ConfigError, match="OTHER_KEY"):
            reg.for_config(openai_config(fake_openai, api_key_env="OTHER_KEY"))
    finally:
        await reg.aclose()


class _ScriptedLocal:
    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.closed = False

    async def stream(self, request: ChatRequest):
        yield ChatDelta(content="local")
        yield ChatDelta(finish_reason="stop")

    async def aclose(self) -> None:
        self.closed = True


async def test_local_provider_uses_the_injected_factory():
    built: list[_ScriptedLocal] = []

    def factory(cfg: LLMConfig) -> ChatModel:
        built.append(_ScriptedLocal(cfg))
        return built[-1]

    reg = ProviderRegistry(local_factory=factory, env={})
    cfg = LLMConfig()
    assert text_of(await collect(reg.for_config(cfg), request(cfg))) == "local"
    reg.for_config(cfg)
    assert len(built) == 1
    await reg.aclose()
    assert built[0].closed
    with pytest.raises(ConfigError):
        ProviderRegistry(env={}).for_config(cfg)


async def test_retry_backoff_grows_and_honours_retry_after():
    from voice_letta.errors import ProviderRateLimited as RL

    def b(attempt: int, error: RL | None = None) -> float:
        return backoff_s(attempt, error, base_delay_s=0.1, max_delay_s=1.0, rng=lambda: 1.0)

    assert [b(i) for i in range(5)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    err = RL("x")
    err.retry_after_s = 0.7  # type: ignore[attr-defined]
    assert b(0, err) == 0.7
    assert backoff_s(3, base_delay_s=0.1, max_delay_s=1.0, rng=lambda: 0.0) == 0.4  # jitter: half at worst


async def test_retrying_stream_closed_early_closes_the_inner_stream(fake_openai, registry):
    fake_openai.script([Text("a"), Text("b"), Text("c")])
    cfg = openai_config(fake_openai)
    stream = registry.for_config(cfg).stream(request(cfg))
    route = await anext(stream)
    first = await anext(stream)
    await stream.aclose()
    assert route.route is not None and first.content == "a"
    # the server still answers the next request on the same client
    assert text_of(await collect(registry.for_config(cfg), request(cfg))) == "OK."


