"""The retry backoff: exponential with jitter, honouring the provider's ``Retry-After``, capped.

``backoff_s(attempt)`` is ``min(max_delay_s, base_delay_s * 2**attempt)`` scaled by a random factor in
[0.5, 1.0]; a ``retry_after_s`` on the error (from a 429/503 ``Retry-After`` header) raises it, up to
``max_delay_s``. Who retries what, and when the next model of a chain takes over instead, is
``providers/fallback.py``'s job.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from voice_letta.errors import ProviderError

DEFAULT_BASE_DELAY_S = 0.25
DEFAULT_MAX_DELAY_S = 4.0


def backoff_s(
    attempt: int,
    error: ProviderError | None = None,
    *,
    base_delay_s: float = DEFAULT_BASE_DELAY_S,
    max_delay_s: float = DEFAULT_MAX_DELAY_S,
    rng: Callable[[], float] = random.random,
) -> float:
    delay = min(max_delay_s, base_delay_s * (2**attempt)) * (0.5 + 0.5 * rng())
    retry_after = getattr(error, "retry_after_s", None)
    if isinstance(retry_after, int | float) and retry_after > delay:
        delay = min(float(retry_after), max_delay_s)
    return float(delay)
