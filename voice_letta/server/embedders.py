"""The embedder registry: one embedder per embedding config, and the local model in a niced side process for
bulk work (the sleeptime agent's passages), off the cores that serve voice turns."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from voice_letta import config as C
from voice_letta.agent.models import EmbeddingConfig
from voice_letta.agent.ports import Embedder
from voice_letta.errors import ConfigError
from voice_letta.procs import child_init
from voice_letta.providers.registry import check_base_url

BACKGROUND_NICE = 5  # a job may take a few times longer under CPU contention; voice work comes first


_background_ready = False


def _background_setup() -> None:
    """In the background embedding process: yield the CPU to the server (it dies with the server: ``child_init``
    arranged that before this ran, with the server's pid read in the server, not here)."""
    global _background_ready
    if _background_ready:
        return
    _background_ready = True
    with contextlib.suppress(OSError):
        os.nice(BACKGROUND_NICE)


def _background_encode(texts: list[str]) -> list[list[float]]:
    _background_setup()
    from voice_letta.providers.local_embed import load_model

    vectors: list[list[float]] = load_model(threads=1).encode(texts).tolist()  # a niced side process: one core
    return vectors


class BackgroundLocalEmbedder:
    """The local MiniLM in a separate, lower-priority process, for the sleeptime agent's embeddings.

    Measured (docs/benchmarks.md): in-process embedding threads made concurrent voice turns ~2x slower on a
    2-core machine (CPU and GIL); in their own niced process they do not. Query embeddings on the hot path
    stay in-process (no IPC hop). The process starts on first use and loads the model once.
    """

    model = C.LOCAL_EMBED_MODEL
    dim = C.LOCAL_EMBED_DIM

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        pool = self._ready_pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _background_encode, list(texts))
        except BrokenProcessPool:
            # The side process died (the OOM killer, a crash in onnxruntime, a stray kill): a broken pool refuses
            # every later call, so every memory job failed until the server restarted (QA, session 19). Start a
            # new process and run this call once more; a second death is the job's failure (it is retried).
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            return await asyncio.get_running_loop().run_in_executor(self._ready_pool(), _background_encode,
                                                                    list(texts))

    def _ready_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # The initializer (voice_letta/procs.py, which imports nothing heavy) runs before this module (and
            # numpy) is imported in the child: one BLAS thread there (with OpenBLAS's default two threads, MiniLM
            # took 324 ms instead of 11-15 ms per sentence whenever another process kept one of our two cores
            # busy), and the child dies with this process, whose pid it is given.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=child_init,
                                             initargs=(os.getpid(), "OPENBLAS_NUM_THREADS", "1"))
        return self._pool

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


class EmbedderRegistry:
    """``EmbedderFactory``: one embedder per embedding config, built on first use (the local model loads lazily).

    ``override`` (tests, a preconfigured adapter) is returned for every config. ``background=True`` builds the
    local model in a separate low-priority process (for the sleeptime agent, off the hot path).
    """

    def __init__(self, override: Embedder | None = None, *, background: bool = False, env: Any = os.environ) -> None:
        self._override = override
        self._background = background
        self._env = env
        self._cache: dict[tuple[Any, ...], Embedder] = {}

    def for_config(self, config: EmbeddingConfig) -> Embedder:
        if self._override is not None:
            return self._override
        key = (config.provider, config.model, config.dim, config.base_url, config.api_key_env)
        embedder = self._cache.get(key)
        if embedder is None:
            embedder = self._cache[key] = self._build(config)
        return embedder

    def _build(self, config: EmbeddingConfig) -> Embedder:
        if config.provider == "local":
            if config.model != C.LOCAL_EMBED_MODEL or config.dim != C.LOCAL_EMBED_DIM:
                raise ConfigError(f"the local embedder is {C.LOCAL_EMBED_MODEL} ({C.LOCAL_EMBED_DIM}-d); "
                                  f"got {config.model} ({config.dim}-d)")
            if self._background:
                return BackgroundLocalEmbedder()
            from voice_letta.providers.local_embed import LocalEmbedder

            return LocalEmbedder()
        from voice_letta.providers.openai_embed import OpenAIEmbedder

        key_env = config.api_key_env or "OPENAI_API_KEY"
        key = self._env.get(key_env, "").strip()  # a Windows-written .env file leaves "\r" at the end
        if not key:  # the openai SDK refuses to build a client without one (it was a 500 at the first insert)
            raise ConfigError(f"no API key for the openai embedder (model {config.model!r}): {key_env} is not set "
                              "on this server")
        if config.base_url is not None:  # as an LLM's: a URL no client can connect to fails every insert and search
            check_base_url(config.base_url)
        return OpenAIEmbedder(model=config.model, dim=config.dim, api_key=key, base_url=config.base_url)

    async def aclose(self) -> None:
        for embedder in self._cache.values():
            close = getattr(embedder, "aclose", None)
            if close is not None:
                await close()
        self._cache.clear()
