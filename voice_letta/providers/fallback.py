"""One failover mechanism for every model call: a first-token deadline, a fallback chain, retries, cooldowns.

An agent's ``llm`` and its ``fallback``, ``fallback.fallback``, … form a chain. ``FallbackChatModel.stream``:

- **Order.** Models in chain order, except that a model cooling down after a failure goes to the end (it is
  still tried when every model is cooling). ``ModelHealth`` keeps the cooldowns of the whole registry.
- **First-token deadline** (the request's ``first_token_timeout_s``, else the model's own; a "token" is the
  first content or tool-call delta). A model with another model after it is abandoned at the deadline (its
  HTTP response closed) and the next one starts; the caller gets ``ModelNotice("failover")``. The last model
  is not abandoned: the caller gets ``ModelNotice("stalled")`` and the wait goes on, bounded by the model's
  ``timeout_s`` (the SDK read timeout) and the turn's budget, so a slow-but-alive model never loses its work.
- **Errors before any output** move to the next model: timeouts, 429, 5xx, lost connections, 401/403
  (``ProviderAuthFailed``), 404 (``ProviderModelNotFound``), a model that cannot be built (a missing key).
  A plain 400 (our request is wrong, so every model would refuse it) is raised at once.
- **Retries** happen only on the last model, for retryable errors, up to its ``max_retries``, with
  exponential backoff and jitter (``providers/retry.py``); a timeout after a stall is not retried. For voice,
  the next model now beats the same model again later (LiveKit's FallbackAdapter: max_retry_per_llm=0).
- **After the first delta nothing is retried**: an error then is raised as is, never duplicating speech.
- **No NUL in model output.** The NUL character (U+0000) is dropped from every content and tool-call delta
  (``without_nul``): input holding it is refused at the door, PostgreSQL cannot store it, and no client, TTS or
  tool wants it; a broken fine-tune or a quantised server can stream it.
- Just before a model's first delta the caller gets ``ChatDelta(route=ModelRoute(...))``: who answers, how
  far down the chain, after how many attempts, with what time to first token.

An optional ``ChatObserver`` sees every attempt (outcome, error code, time to first token) and every usage
delta, which the server turns into Prometheus metrics. Anchors: LiveKit's ``llm.FallbackAdapter`` and
LiteLLM's Router (the router is the only retry loop; SDKs run with ``max_retries=0``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from voice_letta import config as C
from voice_letta.agent.models import LLMConfig, ProviderName, Usage
from voice_letta.agent.ports import ChatDelta, ChatModel, ChatModelFactory, ChatRequest, ModelNotice, ModelRoute
from voice_letta.errors import (
    ConfigError,
    ProviderAuthFailed,
    ProviderBadRequest,
    ProviderError,
    ProviderModelNotFound,
    ProviderTimeout,
)
from voice_letta.providers.retry import DEFAULT_BASE_DELAY_S, DEFAULT_MAX_DELAY_S, backoff_s

log = logging.getLogger(__name__)

Outcome = Literal["ok", "error", "stalled", "cancelled"]
FIRST_TOKEN_TIMEOUT = "first_token_timeout"


@dataclass(frozen=True, slots=True)
class AttemptReport:
    provider: str
    model: str
    index: int  # position in the configured chain
    outcome: Outcome
    code: str | None  # error code (or first_token_timeout) when the attempt failed
    first_token_s: float | None
    duration_s: float


class ChatObserver(Protocol):
    def attempt(self, report: AttemptReport) -> None: ...

    def usage(self, provider: str, model: str, usage: Usage) -> None: ...


def health_key(config: LLMConfig) -> str:
    """Which endpoint a config talks to: one cooldown state however many agents or chains use it."""
    return "|".join((config.provider.value, config.model, config.base_url or "", config.api_key_env or "",
                     config.api_version or ""))


class ModelHealth:
    """Cooldowns of failing models (LiteLLM's "cooldown", LiveKit's "unavailable"), shared by a registry.

    A failure cools the model down for ``base_s`` seconds, doubling per consecutive failure up to ``max_s``;
    auth and not-found failures start at ``hard_base_s`` (up to ``hard_max_s``); a ``Retry-After`` is a floor.
    A success ends it. A cooled-down model is still tried, last, and after its cooldown it is first again.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        base_s: float = C.COOLDOWN_BASE_S,
        max_s: float = C.COOLDOWN_MAX_S,
        hard_base_s: float = C.COOLDOWN_HARD_BASE_S,
        hard_max_s: float = C.COOLDOWN_HARD_MAX_S,
    ) -> None:
        self._clock = clock
        self._base_s, self._max_s = base_s, max_s
        self._hard_base_s, self._hard_max_s = hard_base_s, hard_max_s
        self._until: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    def cooling(self, key: str) -> bool:
        until = self._until.get(key)
        return until is not None and self._clock() < until

    def failed(self, key: str, error: BaseException) -> float:
        """Record a failure; returns the cooldown in seconds."""
        n = self._failures.get(key, 0) + 1
        self._failures[key] = n
        hard = isinstance(error, ProviderAuthFailed | ProviderModelNotFound | ConfigError)
        base, cap = (self._hard_base_s, self._hard_max_s) if hard else (self._base_s, self._max_s)
        cooldown: float = min(cap, base * float(2 ** (n - 1)))
        retry_after = getattr(error, "retry_after_s", None)
        if isinstance(retry_after, int | float) and retry_after > cooldown:
            cooldown = min(float(retry_after), self._hard_max_s)
        self._until[key] = self._clock() + cooldown
        return cooldown

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
        self._until.pop(key, None)

    def state(self) -> dict[str, float]:
        """Seconds of cooldown left per endpoint key (only those cooling)."""
        now = self._clock()
        return {k: round(u - now, 3) for k, u in self._until.items() if u > now}


@dataclass(frozen=True, slots=True)
class ChainLink:
    index: int  # position in the configured chain
    config: LLMConfig  # this model's own settings (its ``fallback`` is not used)
    key: str  # health key
    model: Callable[[], ChatModel]  # built lazily (and cached) by the registry; may raise ConfigError


VISION_PROVIDERS = frozenset({ProviderName.OPENAI, ProviderName.AZURE, ProviderName.ANTHROPIC})
IMAGE_NOTE = "<context>The user attached an image here, which you cannot see.</context>"


async def accepts_images(config: LLMConfig, model: ChatModel | None = None) -> bool:
    """Does this model take image input? ``config.vision`` when set; OpenAI, Azure and Anthropic do; an Ollama
    model does when ``/api/show`` lists ``vision``; any other server only when ``vision: true`` says so."""
    if config.vision is not None:
        return config.vision
    if config.provider in VISION_PROVIDERS:
        return True
    capabilities = getattr(model, "capabilities", None)
    if capabilities is not None:
        caps = await capabilities()
        return caps is not None and "vision" in caps
    return False


def without_images(request: ChatRequest) -> ChatRequest:
    """The request for a model that cannot see images: each image becomes a note that one was there."""
    messages = tuple(
        dataclasses.replace(m, images=(), content=f"{IMAGE_NOTE}\n{m.content or ''}".rstrip()) if m.images else m
        for m in request.messages)
    return dataclasses.replace(request, messages=messages)


def fails_over(error: BaseException) -> bool:
    """Does this error (before any output) move the chain to its next model?"""
    if isinstance(error, ProviderAuthFailed | ProviderModelNotFound):
        return True
    if isinstance(error, ProviderBadRequest):
        return False  # our request is wrong: every model would refuse it
    return isinstance(error, ProviderError | ConfigError)


async def _aclose(iterator: AsyncIterator[ChatDelta]) -> None:
    """Close an abandoned stream now (its HTTP response with it), not when it is garbage-collected."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


def without_nul(delta: ChatDelta) -> ChatDelta:
    """``delta`` without the NUL character in its content and tool-call fragments (the same object when it has
    none: one C-level search per field)."""
    content, calls = delta.content, delta.tool_calls
    if calls:
        if any("\x00" in (c.name or "") or "\x00" in (c.arguments or "") or "\x00" in (c.id or "") for c in calls):
            calls = tuple(dataclasses.replace(c, id=_strip(c.id), name=_strip(c.name), arguments=_strip(c.arguments))
                          for c in calls)
    elif content is None or "\x00" not in content:
        return delta
    if content is not None and "\x00" in content:
        content = content.replace("\x00", "")
    if content is delta.content and calls is delta.tool_calls:
        return delta
    return dataclasses.replace(delta, content=content, tool_calls=calls)


def _strip(text: str | None) -> str | None:
    return None if text is None else text.replace("\x00", "")


_END = ChatDelta()  # sentinel: the stream ended before any delta


async def _next(iterator: AsyncIterator[ChatDelta]) -> ChatDelta:
    return await anext(iterator, _END)


class _Stall(Exception):
    pass


class FallbackChatModel:
    """A ``ChatModel`` over a chain of models (see the module docstring)."""

    def __init__(
        self,
        links: Sequence[ChainLink],
        *,
        health: ModelHealth | None = None,
        observer: ChatObserver | None = None,
        base_delay_s: float = DEFAULT_BASE_DELAY_S,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not links:
            raise ValueError("a chain needs at least one model")
        self.links = tuple(links)
        self.health = health or ModelHealth(clock=clock)
        self.observer = observer
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._sleep = sleep
        self._rng = rng
        self._clock = clock

    @property
    def config(self) -> LLMConfig:
        return self.links[0].config

    def __repr__(self) -> str:
        chain = " -> ".join(f"{link.config.provider.value}/{link.config.model}" for link in self.links)
        return f"FallbackChatModel({chain})"

    def order(self) -> list[ChainLink]:
        """Healthy models in chain order, then the cooling ones (all of them, if all are cooling)."""
        healthy = [link for link in self.links if not self.health.cooling(link.key)]
        return healthy + [link for link in self.links if link not in healthy]

    def backoff_s(self, attempt: int, error: ProviderError | None = None) -> float:
        return backoff_s(attempt, error, base_delay_s=self._base_delay_s, max_delay_s=self._max_delay_s,
                         rng=self._rng)

    async def accepts_images(self) -> bool:
        """Does the agent's own model take image input (see ``accepts_images``)?"""
        return await accepts_images(self.links[0].config, self.links[0].model())

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        order = self.order()
        attempts = 0
        has_images = any(m.images for m in request.messages)
        for pos, link in enumerate(order):
            last = pos == len(order) - 1
            cfg = link.config
            deadline = request.first_token_timeout_s
            if deadline is None:
                deadline = cfg.first_token_timeout_s
            if not deadline or deadline <= 0:
                deadline = None
            link_request = dataclasses.replace(request, config=cfg)
            retries = 0
            if has_images:
                try:
                    if not await accepts_images(cfg, link.model()):
                        link_request = without_images(link_request)
                except ConfigError:
                    pass  # the link cannot be built: its attempt below says so
            while True:
                attempts += 1
                started = self._clock()
                first_s: float | None = None
                yielded = stalled = False
                outcome: Outcome = "cancelled"
                code: str | None = None
                error: BaseException | None = None
                try:
                    inner = link.model().stream(link_request)
                    try:
                        if deadline is None:
                            first = await _next(inner)
                        elif not last:
                            scope = asyncio.timeout(deadline)
                            try:
                                async with scope:
                                    first = await _next(inner)
                            except TimeoutError:
                                if scope.expired():
                                    raise _Stall from None
                                raise
                        else:
                            waiter = asyncio.ensure_future(_next(inner))
                            try:
                                done, _ = await asyncio.wait((waiter,), timeout=deadline)
                                if not done:
                                    stalled = True
                                    log.warning("LLM %s/%s: no first token after %.1fs; still waiting (no model "
                                                "left to fall back to)", cfg.provider.value, cfg.model, deadline)
                                    yield ChatDelta(notice=ModelNotice("stalled", cfg.provider.value, cfg.model,
                                                                       FIRST_TOKEN_TIMEOUT))
                                first = await waiter
                            finally:
                                if not waiter.done():
                                    waiter.cancel()
                                    await asyncio.gather(waiter, return_exceptions=True)
                        if first is not _END:
                            first_s = self._clock() - started
                            yield ChatDelta(route=ModelRoute(cfg.provider.value, cfg.model, link.index, attempts,
                                                             round(first_s * 1_000_000) / 1000))
                            yielded = True
                            observer = self.observer
                            if first.usage is not None and observer is not None:
                                observer.usage(cfg.provider.value, cfg.model, first.usage)
                            yield without_nul(first)
                            async for delta in inner:
                                if delta.usage is not None and observer is not None:
                                    observer.usage(cfg.provider.value, cfg.model, delta.usage)
                                yield without_nul(delta)
                    finally:
                        await _aclose(inner)
                    outcome = "ok"
                except _Stall:
                    error = ProviderTimeout(f"{cfg.provider.value}: no first token within {deadline:g} s",
                                            code=FIRST_TOKEN_TIMEOUT)
                    outcome, code = "stalled", FIRST_TOKEN_TIMEOUT
                except (ProviderError, ConfigError) as exc:
                    error, outcome, code = exc, "error", exc.code
                finally:
                    self._report(link, outcome, code, first_s, started)
                if outcome == "ok":
                    self.health.succeeded(link.key)
                    return
                assert error is not None
                if yielded:  # output already went out: a retry would say it twice
                    if fails_over(error):
                        self.health.failed(link.key, error)
                    raise error
                if not fails_over(error):
                    raise error
                if not last:
                    cooldown = self.health.failed(link.key, error)
                    nxt = order[pos + 1].config
                    log.warning("LLM %s/%s failed (%s); cooling down %.0fs; trying %s/%s", cfg.provider.value,
                                cfg.model, code, cooldown, nxt.provider.value, nxt.model)
                    yield ChatDelta(notice=ModelNotice("failover", cfg.provider.value, cfg.model, code or "error",
                                                       nxt.provider.value, nxt.model))
                    break
                retryable = isinstance(error, ProviderError) and error.retryable
                if retryable and not stalled and retries < cfg.max_retries:
                    delay = self.backoff_s(retries, error if isinstance(error, ProviderError) else None)
                    retries += 1
                    log.warning("LLM %s/%s failed (%s); retry %d/%d in %.2fs", cfg.provider.value, cfg.model, code,
                                retries, cfg.max_retries, delay)
                    await self._sleep(delay)
                    continue
                self.health.failed(link.key, error)
                raise error

    def _report(self, link: ChainLink, outcome: Outcome, code: str | None, first_s: float | None,
                started: float) -> None:
        if self.observer is None:
            return
        try:
            self.observer.attempt(AttemptReport(link.config.provider.value, link.config.model, link.index, outcome,
                                                code, first_s, self._clock() - started))
        except Exception:  # metrics must never break a turn
            log.exception("chat observer failed")

    async def aclose(self) -> None:
        """The registry owns the models of the chain and closes them; nothing to do here."""


class ChainFactory(ChatModelFactory, Protocol):
    """A ``ChatModelFactory`` whose models are fallback chains (``ProviderRegistry``)."""

    health: ModelHealth
