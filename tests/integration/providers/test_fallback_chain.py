"""The failover mechanism through the real openai and anthropic SDKs against fake servers.

A model that stalls (no first token within its deadline), answers 5xx, 429, 401 or 404 hands the request to
the next model of its chain; the last model is waited for (with a "stalled" notice) and retried; a failing
model cools down so the next request starts with the healthy one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer, HttpError, Pause, Text
from tests.integration.providers.helpers import collect, request, text_of
from voice_letta.agent.models import LLMConfig, ProviderName, Usage
from voice_letta.agent.ports import ChatDelta
from voice_letta.errors import ConfigError, ProviderAuthFailed, ProviderModelNotFound, ProviderUnavailable
from voice_letta.providers.fallback import AttemptReport, FallbackChatModel, ModelHealth
from voice_letta.providers.registry import ProviderRegistry

ENV = {"OPENAI_API_KEY": "sk-openai-test-123456", "ANTHROPIC_API_KEY": "sk-ant-test-123456"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.attempts: list[AttemptReport] = []
        self.usages: list[tuple[str, str, Usage]] = []

    def attempt(self, report: AttemptReport) -> None:
        self.attempts.append(report)

    def usage(self, provider: str, model: str, usage: Usage) -> None:
        self.usages.append((provider, model, usage))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def observer() -> Recorder:
    return Recorder()


@pytest.fixture
async def registry(clock: Clock, observer: Recorder):
    reg = ProviderRegistry(env=ENV, retry_base_delay_s=0.001, retry_max_delay_s=0.01,
                           health=ModelHealth(clock=clock), observer=observer)
    yield reg
    await reg.aclose()


@pytest.fixture
async def second_openai():
    server = FakeOpenAIServer()
    await server.start()
    yield server
    await server.aclose()


def oa(server: FakeOpenAIServer, model: str = "primary", **kw: Any) -> LLMConfig:
    return LLMConfig(provider=ProviderName.OPENAI, model=model, base_url=server.base_url, **kw)


def an(server: FakeAnthropicServer, model: str = "claude-fake", **kw: Any) -> LLMConfig:
    return LLMConfig(provider=ProviderName.ANTHROPIC, model=model, base_url=server.base_url, **kw)


def notices(deltas: list[ChatDelta]) -> list[tuple[str, str, str | None]]:
    return [(d.notice.kind, d.notice.code, d.notice.next_model) for d in deltas if d.notice]


def routes(deltas: list[ChatDelta]) -> list[tuple[str, str, int]]:
    return [(d.route.provider, d.route.model, d.route.index) for d in deltas if d.route]


async def test_stalled_openai_model_hands_over_to_anthropic_at_the_deadline(fake_openai, fake_anthropic, registry,
                                                                          observer):
    fake_openai.script([Pause(30), Text("too late")])
    fake_anthropic.script([Text("From Claude.")])
    cfg = oa(fake_openai, first_token_timeout_s=0.3, fallback=an(fake_anthropic))
    started = time.monotonic()
    deltas = await collect(registry.for_config(cfg), request(cfg))
    elapsed = time.monotonic() - started
    assert text_of(deltas) == "From Claude."
    assert 0.3 <= elapsed < 5  # at the deadline, not after the primary's 30 s
    assert notices(deltas) == [("failover", "first_token_timeout", "claude-fake")]
    assert routes(deltas) == [("anthropic", "claude-fake", 1)]
    assert [(a.model, a.outcome, a.code) for a in observer.attempts] == [
        ("primary", "stalled", "first_token_timeout"), ("claude-fake", "ok", None)]
    assert observer.attempts[1].first_token_s is not None
    assert [(p, m) for p, m, _ in observer.usages] == [("anthropic", "claude-fake")]


async def test_stalled_anthropic_model_hands_over_to_openai(fake_openai, fake_anthropic, registry):
    fake_anthropic.script([Pause(30), Text("too late")])  # message_start arrives, then nothing
    fake_openai.script([Text("From GPT.")])
    cfg = an(fake_anthropic, first_token_timeout_s=0.3, fallback=oa(fake_openai, model="gpt-fallback"))
    deltas = await collect(registry.for_config(cfg), request(cfg))
    assert text_of(deltas) == "From GPT."
    assert notices(deltas) == [("failover", "first_token_timeout", "gpt-fallback")]


@pytest.mark.parametrize(
    ("error", "code"),
    [(HttpError(503, "down"), "provider_unavailable"), (HttpError(500, "boom"), "provider_unavailable"),
     (HttpError(429, "slow down"), "provider_rate_limited"), (HttpError(401, "revoked key"), "provider_auth_failed"),
     (HttpError(404, "no such model"), "provider_model_not_found")],
)
async def test_openai_errors_fail_over_to_anthropic(fake_openai, fake_anthropic, registry, error, code):
    fake_openai.script([error])
    fake_anthropic.script([Text("Fallback answer.")])
    cfg = oa(fake_openai, max_retries=2, fallback=an(fake_anthropic))
    deltas = await collect(registry.for_config(cfg), request(cfg))
    assert text_of(deltas) == "Fallback answer."
    assert notices(deltas) == [("failover", code, "claude-fake")]
    assert len(fake_openai.requests) == 1  # not retried: the fallback answers now


@pytest.mark.parametrize(
    ("error", "code"),
    [(HttpError(529, "Overloaded"), "provider_unavailable"), (HttpError(429), "provider_rate_limited"),
     (HttpError(401, "invalid x-api-key"), "provider_auth_failed"),
     (HttpError(404, "model: claude-nope"), "provider_model_not_found")],
)
async def test_anthropic_errors_fail_over_to_openai(fake_openai, fake_anthropic, registry, error, code):
    fake_anthropic.script([error])
    fake_openai.script([Text("Fallback answer.")])
    cfg = an(fake_anthropic, fallback=oa(fake_openai, model="gpt-fallback"))
    deltas = await collect(registry.for_config(cfg), request(cfg))
    assert text_of(deltas) == "Fallback answer."
    assert notices(deltas) == [("failover", code, "gpt-fallback")]


async def test_last_model_that_stalls_is_waited_for_with_a_notice(fake_openai, registry, observer):
    fake_openai.script([Pause(0.6), Text("Slow but fine.")])
    cfg = oa(fake_openai, first_token_timeout_s=0.2)
    deltas = await collect(registry.for_config(cfg), request(cfg))
    assert text_of(deltas) == "Slow but fine."
    assert notices(deltas) == [("stalled", "first_token_timeout", None)]
    assert len(fake_openai.requests) == 1  # its work is not thrown away
    assert [a.outcome for a in observer.attempts] == ["ok"]
    # the notice comes before any output, the route just before the first delta
    kinds = ["notice" if d.notice else "route" if d.route else "delta" for d in deltas]
    assert kinds[:2] == ["notice", "route"]


async def test_three_model_chain_walks_to_the_one_that_works(fake_openai, second_openai, fake_anthropic, registry):
    fake_openai.script([HttpError(401, "revoked")])
    second_openai.script([Pause(30)])
    fake_anthropic.script([Text("Third time lucky.")])
    cfg = oa(fake_openai, fallback=oa(second_openai, model="second", first_token_timeout_s=0.2,
                                      fallback=an(fake_anthropic)))
    deltas = await collect(registry.for_config(cfg), request(cfg))
    assert text_of(deltas) == "Third time lucky."
    assert notices(deltas) == [("failover", "provider_auth_failed", "second"),
                               ("failover", "first_token_timeout", "claude-fake")]
    assert routes(deltas) == [("anthropic", "claude-fake", 2)]


async def test_a_failed_model_cools_down_and_is_tried_again_later(fake_openai, fake_anthropic, registry, clock):
    fake_openai.script([HttpError(503)])
    cfg = oa(fake_openai, fallback=an(fake_anthropic))
    model = registry.for_config(cfg)
    assert text_of(await collect(model, request(cfg))) == "OK."
    assert len(fake_openai.requests) == 1
    # cooling down: the next turns go straight to the fallback, with no wasted attempt
    for _ in range(2):
        deltas = await collect(model, request(cfg))
        assert routes(deltas) == [("anthropic", "claude-fake", 1)] and not notices(deltas)
    assert len(fake_openai.requests) == 1
    clock.now += 5.1  # the first cooldown is 5 s
    deltas = await collect(model, request(cfg))
    assert routes(deltas) == [("openai", "primary", 0)]
    assert len(fake_openai.requests) == 2
    assert registry.health.state() == {}


async def test_cooldowns_grow_and_honour_retry_after(fake_openai, fake_anthropic, registry, clock):
    fake_openai.script([HttpError(429, retry_after_s=30)])
    cfg = oa(fake_openai, fallback=an(fake_anthropic))
    model = registry.for_config(cfg)
    await collect(model, request(cfg))
    assert list(registry.health.state().values()) == [30.0]
    clock.now += 31
    fake_openai.script([HttpError(503)])
    await collect(model, request(cfg))
    assert list(registry.health.state().values()) == [10.0]  # second failure in a row: 5 s doubled


async def test_all_models_cooling_still_tries_them_all(fake_openai, fake_anthropic, registry):
    fake_openai.script([HttpError(503)], [HttpError(503)])
    fake_anthropic.script([HttpError(503)], [Text("Back.")])
    cfg = oa(fake_openai, max_retries=0, fallback=an(fake_anthropic, max_retries=0))
    model = registry.for_config(cfg)
    with pytest.raises(ProviderUnavailable):
        await collect(model, request(cfg))
    deltas = await collect(model, request(cfg))
    assert text_of(deltas) == "Back."
    assert len(fake_openai.requests) == 2


async def test_last_model_is_retried_with_backoff(fake_openai, fake_anthropic, registry):
    fake_openai.script([HttpError(503)])
    fake_anthropic.script([HttpError(529)], [HttpError(429)], [Text("Third try.")])
    cfg = oa(fake_openai, fallback=an(fake_anthropic, max_retries=2))
    deltas = await collect(registry.for_config(cfg), request(cfg))
    assert text_of(deltas) == "Third try."
    assert len(fake_anthropic.requests) == 3
    assert [d.route.attempt for d in deltas if d.route] == [4]


async def test_auth_failure_of_the_only_model_is_raised_not_retried(fake_openai, registry):
    fake_openai.script([HttpError(401, "revoked")])
    cfg = oa(fake_openai, max_retries=3)
    with pytest.raises(ProviderAuthFailed):
        await collect(registry.for_config(cfg), request(cfg))
    fake_openai.script([HttpError(404, "gone")])
    cfg404 = oa(fake_openai, model="other", max_retries=3)
    with pytest.raises(ProviderModelNotFound):
        await collect(registry.for_config(cfg404), request(cfg404))
    assert len(fake_openai.requests) == 2


async def test_per_call_deadline_beats_the_models_own(fake_openai, fake_anthropic, registry):
    fake_openai.script([Pause(1.0), Text("late")], [Pause(1.0), Text("Waited.")])
    fake_anthropic.script([Text("Fell back.")])
    cfg = oa(fake_openai, first_token_timeout_s=30, fallback=an(fake_anthropic))
    import dataclasses

    fast = dataclasses.replace(request(cfg), first_token_timeout_s=0.2)
    assert text_of(await collect(registry.for_config(cfg), fast)) == "Fell back."
    registry.health.succeeded("openai|primary|" + fake_openai.base_url + "||")
    off = dataclasses.replace(request(cfg), first_token_timeout_s=0)  # 0: no deadline for this call
    deltas = await collect(registry.for_config(cfg), off)
    assert text_of(deltas) == "Waited." and not notices(deltas)


async def test_a_fallback_without_its_key_is_skipped(fake_openai, fake_anthropic, second_openai):
    reg = ProviderRegistry(env={"OPENAI_API_KEY": "sk-x-123456"}, retry_base_delay_s=0.001)
    try:
        fake_openai.script([HttpError(503)])
        cfg = oa(fake_openai, fallback=an(fake_anthropic, fallback=oa(second_openai, model="third")))
        deltas = await collect(reg.for_config(cfg), request(cfg))  # no ANTHROPIC_API_KEY: that link fails
        assert text_of(deltas) == "OK."
        assert notices(deltas) == [("failover", "provider_unavailable", "claude-fake"),
                                   ("failover", "invalid_config", "third")]
        with pytest.raises(ConfigError):  # the agent's own model must be buildable at once
            reg.for_config(an(fake_anthropic))
    finally:
        await reg.aclose()


async def test_error_after_output_is_not_failed_over(fake_openai, fake_anthropic, registry):
    fake_openai.script([Text("Half an ans"), HttpError(500, "boom")])
    cfg = oa(fake_openai, fallback=an(fake_anthropic))
    seen: list[ChatDelta] = []
    with pytest.raises(ProviderUnavailable):
        async for d in registry.for_config(cfg).stream(request(cfg)):
            seen.append(d)
    assert text_of(seen) == "Half an ans"
    assert fake_anthropic.requests == []


async def test_closing_the_stream_while_waiting_on_a_stalled_model_cancels_the_wait(fake_openai, registry):
    fake_openai.script([Pause(30), Text("never")])
    cfg = oa(fake_openai, first_token_timeout_s=0.1)
    stream = registry.for_config(cfg).stream(request(cfg))
    first = await anext(stream)
    assert first.notice is not None and first.notice.kind == "stalled"
    before = len(asyncio.all_tasks())
    await stream.aclose()
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) < before  # the waiter task is gone
    assert text_of(await collect(registry.for_config(cfg), request(cfg))) == "OK."  # client still works


def test_chain_is_bounded_and_listed_in_order():
    cfg = LLMConfig(model="a", fallback=LLMConfig(model="b", fallback=LLMConfig(model="c")))
    assert [c.model for c in cfg.chain()] == ["a", "b", "c"]
    assert all(c.fallback is None for c in cfg.chain())
    deep: dict[str, Any] = {"model": "last"}
    for i in range(5):
        deep = {"model": f"m{i}", "fallback": deep}
    with pytest.raises(ValueError, match="at most 4"):
        LLMConfig.model_validate(deep)


def test_fallback_model_repr_names_the_chain(fake_openai):
    reg = ProviderRegistry(env=ENV)
    model = reg.for_config(oa(fake_openai, fallback=oa(fake_openai, model="b")))
    assert isinstance(model, FallbackChatModel)
    assert repr(model) == "FallbackChatModel(openai/primary -> openai/b)"
