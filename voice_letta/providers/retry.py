"""Retries with exponential backoff and jitter, then one fallback model, never duplicating output.

``RetryingChatModel(inner, config, fallback=None)`` streams from ``inner``. When it raises a retryable
``ProviderError`` *before yielding anything*, the request is tried again after
``min(max_delay_s, base_delay_s * 2**attempt)`` scaled by a random factor in [0.5, 1.0] (or the
provider's ``Retry-After``, capped at ``max_delay_s``), up to ``config.max_retries`` times. Then the
fallback model, if any, is tried once under the same rule. An error after the first delta, a
non-retryable error, or an error with nothing left to try propagates unchanged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable

from voice_letta.agent.models import LLMConfig
from voice_letta.agent.ports import ChatDelta, ChatModel, ChatRequest
from voice_letta.errors import ProviderError

log = logging.getLogger(__name__)

DEFAULT_BASE_DELAY_S = 0.25
DEFAULT_MAX_DELAY_S = 4.0


async def _aclose(iterator: AsyncIterator[ChatDelta]) -> None:
    """Close an abandoned stream now (its HTTP response with it), not when it is garbage-collected."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


class RetryingChatModel:
    def __init__(
        self,
        inner: ChatModel,
        config: LLMConfig,
        fallback: ChatModel | None = None,
        *,
        base_delay_s: float = DEFAULT_BASE_DELAY_S,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        owns_models: bool = False,
    ) -> None:
        self.inner = inner
        self.config = config
        self.fallback = fallback
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._sleep = sleep
        self._rng = rng
        self._owns_models = owns_models

    def __repr__(self) -> str:
        return f"RetryingChatModel({self.inner!r}, retries={self.config.max_retries}, fallback={self.fallback!r})"

    def backoff_s(self, attempt: int, error: ProviderError | None = None) -> float:
        delay = min(self._max_delay_s, self._base_delay_s * (2**attempt)) * (0.5 + 0.5 * self._rng())
        retry_after = getattr(error, "retry_after_s", None)
        if isinstance(retry_after, int | float) and retry_after > delay:
            delay = min(float(retry_after), self._max_delay_s)
        return float(delay)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        attempt = 0
        while True:
            yielded = False
            try:
                deltas = self.inner.stream(request)
                try:
                    async for delta in deltas:
                        yielded = True
                        yield delta
                finally:
                    await _aclose(deltas)
                return
            except ProviderError as exc:
                if yielded or not exc.retryable:
                    raise
                if attempt < self.config.max_retries:
                    delay = self.backoff_s(attempt, exc)
                    attempt += 1
                    log.warning(
                        "LLM %s failed (%s); retry %d/%d in %.2fs",
                        self.config.model, exc.code, attempt, self.config.max_retries, delay,
                    )
                    await self._sleep(delay)
                    continue
                if self.fallback is None:
                    raise
                log.warning("LLM %s failed (%s) after %d retries; trying the fallback model",
                            self.config.model, exc.code, attempt)
                break
        assert self.fallback is not None
        fallback_config = getattr(self.fallback, "config", None)
        fallback_request = (
            dataclasses.replace(request, config=fallback_config)
            if isinstance(fallback_config, LLMConfig)
            else request
        )
        deltas = self.fallback.stream(fallback_request)
        try:
            async for delta in deltas:
                yield delta
        finally:
            await _aclose(deltas)

    async def aclose(self) -> None:
        """Closes the wrapped models only if ``owns_models`` (the registry owns the ones it builds)."""
        if self._owns_models:
            await self.inner.aclose()
            if self.fallback is not None:
                await self.fallback.aclose()
