"""The agents' loaded ``PassageIndex``es: one load per agent, bounded by rows, told of changes.

A server runs for weeks and sees agents come and go, so loaded indexes are kept least recently searched out, by
rows (~600 MB of 384-dim vectors at ``MAX_LOADED_ROWS``). New passages are appended to a loaded index; a change
it cannot follow (passages deleted or re-embedded) drops it, and the next search reloads it from the store.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Coroutine, Sequence
from typing import Any

import numpy as np

from voice_letta.agent.models import Passage
from voice_letta.agent.ports import CrossEmbedder, PassageTexts, Store
from voice_letta.agent.recall.build import build_index
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.plain import embedding_text
from voice_letta.agent.recall.results import end_of, start_of
from voice_letta.locks import KeyedLocks

log = logging.getLogger(__name__)

MAX_LOADED_ROWS = 400_000
INDEX_MIN_ROWS = 64  # an index counts at least this many rows however small
THREAD_THRESHOLD_VALUES = 2_000_000  # rows * dim above which ranking or appending runs in a thread (> ~2 ms)
# Reading a question costs ~0.1 ms a character (its terms, expansions and the value and time patterns): a longer one
# is ranked in a thread however small the index, so the event loop every session shares does not wait on it.
THREAD_QUERY_CHARS = 200
# Reading a passage's features costs ~10-40 us a character (recall/features.py: dozens of patterns): above this many
# characters appended at once the event loop every session shares would wait tens of milliseconds or more (a
# batch of 20,000-character passages: seconds), so they are read in a thread whatever the index's size.
THREAD_TEXT_CHARS = 1_000
NO_EMBEDDER = ("", 1)  # (model, dim) of a keyword-only index
TERMS_WRITE_BATCH = 5_000  # passages whose computed terms are written back per transaction
# Unjudged passages (stored before the cross-lingual lane, or while no index was loaded) that a loading search judges
# before it answers: e5 embeds those MiniLM cannot read at ~27 ms a line on 2 cores, so a new chat of a few dozen
# lines joins the lane at once, and an upgrade's or a long import's thousands do not hold that search for minutes:
# the most recent CROSS_JUDGE_INLINE go first, the rest join from the background, newest first, CROSS_JUDGE_CHUNK at
# a time (each chunk lets searches' own embeddings in between, see e5_embed.ENCODE_CHUNK).
CROSS_JUDGE_INLINE = 128
RELOAD_TRIES = 3  # loads a background reload starts at most (``forget``)
CROSS_JUDGE_CHUNK = 256


class LoadedIndexes:
    """Every agent's loaded index in one process (``MemorySearch`` ranks over them)."""

    def __init__(self, store: Store, cross: CrossEmbedder | None = None) -> None:
        self._store = store
        self.cross = cross  # the second, cross-lingual lane for indexes of its ``beside`` model (recall/cross.py)
        self.loaded: OrderedDict[str, PassageIndex] = OrderedDict()  # least recently searched first
        self.max_loaded_rows = MAX_LOADED_ROWS
        self._loading = KeyedLocks()
        self._loads: dict[str, asyncio.Task[PassageIndex]] = {}
        self.generation: defaultdict[str, int] = defaultdict(int)  # only while a load may be reading
        self._background: set[asyncio.Task[None]] = set()

    def get(self, agent_id: str) -> PassageIndex | None:
        """The agent's index if it is loaded (any model), without counting as a search."""
        return self.loaded.get(agent_id)

    async def add(self, agent_id: str, passages: Sequence[Passage]) -> None:
        """Append new passages to a loaded index (an index not loaded yet will read them from the store)."""
        index = self.loaded.get(agent_id)
        if index is None or not passages:
            return
        ok = [p.embedding is not None and p.embedding_model == index.model and len(p.embedding) == index.dim
              for p in passages]
        vectors = np.zeros((len(passages), index.dim), dtype=np.float32)
        for i, p in enumerate(passages):
            if ok[i]:
                vectors[i] = p.embedding
        args = ([p.id for p in passages], [p.text for p in passages], [p.synopsis for p in passages],
                [start_of(p) for p in passages],
                [end_of(p) for p in passages], vectors, ok)
        successors = [p.superseded_by for p in passages]
        found: list[tuple[str, np.ndarray]] = []
        if self.cross is not None and index.model == self.cross.beside:
            # judged before the rows go in, so a search never sees them without the second vector they need
            found = await self._judged(agent_id, [p.id for p in passages],
                                       [embedding_text(p.text, p.synopsis) for p in passages])
        if (index.size * index.dim > THREAD_THRESHOLD_VALUES or len(passages) > 200
                or sum(len(p.text) + len(p.synopsis or "") for p in passages) > THREAD_TEXT_CHARS):
            await asyncio.to_thread(functools.partial(index.add, *args, superseded_by=successors))
        else:
            index.add(*args, superseded_by=successors)
        _add_cross(index, found)

    def supersede(self, agent_id: str, old_ids: Sequence[str], new_id: str) -> None:
        """The store marked ``old_ids`` superseded by ``new_id``: a loaded index learns it (other processes reload
        on the change-log row)."""
        index = self.loaded.get(agent_id)
        if index is not None and old_ids:
            index.supersede(old_ids, new_id)

    def forget(self, agent_id: str, *, reload: bool = False) -> None:
        """Drop an agent's index (passages deleted or re-embedded); the next search reloads it. A load already
        reading the old rows still answers its callers but is not kept. ``reload``: when the index was loaded (the
        agent is in use), load it again now, in the background: one passage edited or deleted at 100k passages
        made the next search load them all (~4-5 s, mostly ``build_index``), a search in a voice turn."""
        dropped = self.loaded.pop(agent_id, None)
        if agent_id in self._loads:
            self.generation[agent_id] += 1
        else:
            self.generation.pop(agent_id, None)
        if reload and dropped is not None:
            self.spawn(self._reload(agent_id, dropped.model, dropped.dim))

    async def _reload(self, agent_id: str, model: str, dim: int) -> None:
        """The agent's index loaded again, as a search would load it; a load that was reading when the passages
        changed is not kept, so another starts (a few at most: a search loads what a burst of edits left)."""
        for _ in range(RELOAD_TRIES):
            await self.index(agent_id, model, dim)
            if agent_id in self.loaded:
                return

    async def index(self, agent_id: str, model: str, dim: int) -> PassageIndex:
        """The agent's index for this embedding model, loaded once however many callers ask at the same time."""
        index = self.loaded.get(agent_id)
        if index is not None and (index.model, index.dim) == (model, dim):
            self.loaded.move_to_end(agent_id)
            return index
        # One load per agent, in a task of its own: a caller that gives up (a turn that ended without searching
        # cancels its prefetch) must not throw away a load that takes seconds at 100k passages.
        task = self._loads.get(agent_id)
        if task is None:
            task = self._loads[agent_id] = asyncio.create_task(self._load(agent_id, model, dim))
            task.add_done_callback(lambda t: self._load_done(agent_id, t))
        index = await asyncio.shield(task)
        if (index.model, index.dim) != (model, dim):  # a load for the agent's previous model
            return await self.index(agent_id, model, dim)
        return index

    def _load_done(self, agent_id: str, task: asyncio.Task[PassageIndex]) -> None:
        if self._loads.get(agent_id) is task:
            del self._loads[agent_id]
            self.generation.pop(agent_id, None)
        if not task.cancelled() and task.exception() is not None:  # retrieved here; awaiters see it too
            log.warning("loading the memory index of agent %s failed: %s", agent_id, task.exception())

    async def _load(self, agent_id: str, model: str, dim: int) -> PassageIndex:
        async with self._loading(agent_id):
            index = self.loaded.get(agent_id)
            if index is not None and (index.model, index.dim) == (model, dim):
                return index
            generation = self.generation[agent_id]
            texts = await self._store.load_passage_texts(agent_id)
            loaded = await self._store.load_passage_vectors(agent_id, model, dim)

            built, missing = await asyncio.to_thread(build_index, texts, loaded, model, dim)
            if missing:  # passages stored before terms were (or by an older tokenizer): store them once
                self.spawn(self._store_terms(agent_id, missing))
            if self.cross is not None and model == self.cross.beside:
                await self._load_cross(agent_id, built, texts)
            if built.other_models and model != NO_EMBEDDER[0]:
                log.warning("agent %s: %d passages were embedded with another model than %s; they are found by "
                            "keyword only", agent_id, built.other_models, model)
            if self.generation[agent_id] == generation:  # not forgotten (passages changed) while we read
                self._keep(agent_id, built)
            return built

    async def _load_cross(self, agent_id: str, index: PassageIndex, texts: PassageTexts) -> None:
        """The second vectors of a loading index; passages the lane has not judged yet (stored before it, or while
        no index was loaded) are judged once and the verdicts stored: the most recent ``CROSS_JUDGE_INLINE`` now,
        the rest by a background task while the index stays loaded."""
        assert self.cross is not None
        got = await self._store.load_cross_vectors(agent_id, self.cross.model, self.cross.dim)
        if got.ids:
            index.add_cross(got.ids, np.frombuffer(got.vectors, dtype="<f4").reshape(len(got.ids), got.dim))
        at = {pid: i for i, pid in enumerate(texts.ids)}
        todo = [at[pid] for pid in got.unjudged if pid in at]  # in the store's order: oldest first
        if not todo:
            return
        await self._judge_cross(agent_id, index, texts, todo[-CROSS_JUDGE_INLINE:])
        if len(todo) > CROSS_JUDGE_INLINE:
            self.spawn(self._catch_up_cross(agent_id, index, texts, todo[:-CROSS_JUDGE_INLINE]))

    async def _catch_up_cross(self, agent_id: str, index: PassageIndex, texts: PassageTexts, rows: list[int]) -> None:
        """Judge the rest of a loaded index's unjudged passages, newest first, while that index is the one kept (a
        forgotten or reloaded index stops here: its next load judges what is left)."""
        for end in range(len(rows), 0, -CROSS_JUDGE_CHUNK):
            if self.loaded.get(agent_id) is not index:
                return
            await self._judge_cross(agent_id, index, texts, rows[max(0, end - CROSS_JUDGE_CHUNK):end], background=True)

    async def _judge_cross(self, agent_id: str, index: PassageIndex, texts: PassageTexts, rows: list[int], *,
                           background: bool = False) -> None:
        found = await self._judged(agent_id, [texts.ids[i] for i in rows],
                                   [embedding_text(texts.texts[i], texts.synopses[i]) for i in rows], background)
        if background:  # the index's lock is held by a ranking search: wait for it in a thread, not on the loop
            await asyncio.to_thread(_add_cross, index, found)
        else:
            _add_cross(index, found)

    async def _judged(self, agent_id: str, ids: list[str], texts: list[str], background: bool = False
                      ) -> list[tuple[str, np.ndarray]]:
        """The lane's verdicts on these passages, stored; the (id, second vector) of those that need one."""
        assert self.cross is not None
        cross = self.cross
        judged = await cross.judge(texts, background=background)
        verdicts = [(pid, None if v is None else v.tolist()) for pid, v in zip(ids, judged, strict=True)]
        for start in range(0, len(verdicts), TERMS_WRITE_BATCH):
            await self._store.set_cross_vectors(agent_id, verdicts[start:start + TERMS_WRITE_BATCH], model=cross.model)
        return [(pid, v) for pid, v in zip(ids, judged, strict=True) if v is not None]

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` in a task of its own that ``aclose`` cancels; a failure is logged."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)
        return task

    async def _store_terms(self, agent_id: str, missing: list[tuple[str, bytes]]) -> None:
        for start in range(0, len(missing), TERMS_WRITE_BATCH):
            await self._store.set_passage_terms(agent_id, missing[start:start + TERMS_WRITE_BATCH])
        log.info("agent %s: stored the keyword terms of %d passages", agent_id, len(missing))

    def _keep(self, agent_id: str, index: PassageIndex) -> None:
        self.loaded[agent_id] = index
        self.loaded.move_to_end(agent_id)
        rows = sum(max(i.size, INDEX_MIN_ROWS) for i in self.loaded.values())
        while rows > self.max_loaded_rows and len(self.loaded) > 1:
            _, dropped = self.loaded.popitem(last=False)
            rows -= max(dropped.size, INDEX_MIN_ROWS)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("memory background task failed: %s", task.exception())

    async def settle(self) -> None:
        """Wait for the background tasks running now (terms written back after a load; benches and tests)."""
        await asyncio.gather(*self._background)

    async def aclose(self) -> None:
        """Stop index loads and background tasks still running (server shutdown, before the store closes)."""
        tasks: list[asyncio.Task[Any]] = [*self._background, *self._loads.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _add_cross(index: PassageIndex, found: list[tuple[str, np.ndarray]]) -> None:
    if found:
        index.add_cross([pid for pid, _ in found], np.stack([v for _, v in found]))
