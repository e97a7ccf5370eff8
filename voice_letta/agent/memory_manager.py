"""MemoryManager: the voice agent's ``MemoryHooks``, a durable hand-off queue and its background workers.

Flow:
- ``turn_completed`` (called by the voice loop after the reply is stored and the agent's lease given back)
  plans an eviction with ``agent.buffer.plan_eviction``. If the window is over its limits it enqueues a
  job in ``memory_jobs`` *and* evicts the range in one transaction, so a crash can never evict lines
  that no job will archive, nor hand over lines that are still in context.
- ``session_ended`` (when ``agent.handoff_on_session_end``) hands over the messages said since the last
  hand-off, without evicting them.
- Workers claim jobs with one atomic status transition (pending → running) that skips agents with a job
  already running, so each agent's jobs run one at a time and in order. A job that fails goes back to
  pending with exponential back-off until ``max_attempts``, then 'failed'. A claimed job is leased to this
  worker (renewed by the server's lease heartbeat); a running job whose lease ran out (its process died) is
  claimed again by any worker, and complete/fail are fenced on the attempt, so several server processes can
  share one database. A re-run stores no passage twice
  (``insert_job_passages`` is keyed by the job) and a block rewrite is a merge with the current value.
- Every message seq is handed over at most once: a job records ``through_seq`` and later hand-offs start
  after the highest one (the watermark). The store refuses (ConflictError) a hand-off that another process
  enqueued first; the hand-off is then planned again from the new state.

Evicted lines stay in the messages table (in_context = 0), so ``search_memory`` finds them by keyword
from the moment they leave the window, before and after the job archives them. Nothing here ever sets
``in_context`` except through an eviction of a computed seq range.

The worker tasks are owned by whoever calls ``start()`` / ``aclose()`` (the server's cleanup context).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from voice_letta import config as C
from voice_letta import ids
from voice_letta.agent.buffer import plan_eviction, token_budget
from voice_letta.agent.bus import MemoryBus, MemoryUpdated
from voice_letta.agent.imports import IMPORT_PART_CONTEXT_SHARE, ImportPart, handoff_parts, import_parts, piece
from voice_letta.agent.memory_search import MemorySearch
from voice_letta.agent.models import AgentState, Message, Passage
from voice_letta.agent.ports import (
    ChatModelFactory,
    Embedder,
    EmbedderFactory,
    HandoffRange,
    JobKind,
    KeyedImport,
    MemoryJob,
    Store,
)
from voice_letta.agent.prompt import SystemPromptCache
from voice_letta.agent.sleeptime import (
    DEFAULT_MAX_STEPS,
    RunResult,
    SleeptimeRun,
    Transcript,
    build_transcript,
    render_line,
)
from voice_letta.errors import ConflictError, NotFoundError
from voice_letta.locks import KeyedLocks

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_BASE_S = 5.0
IDLE_POLL_S = 5.0  # also picks up retries whose back-off has passed
RELATED_QUERIES = 12  # user lines of a hand-off that search for archived memories they may update
RELATED_LIMIT = 8  # archived memories shown to the sleeptime model


class MemoryManager:
    """Implements ``agent.ports.MemoryHooks`` for every agent of the process."""

    def __init__(
        self,
        store: Store,
        models: ChatModelFactory,
        embedders: EmbedderFactory,
        *,
        prompts: SystemPromptCache,
        bus: MemoryBus,
        search: MemorySearch | None = None,
        workers: int = DEFAULT_WORKERS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_base_s: float = DEFAULT_RETRY_BASE_S,
        max_steps: int = DEFAULT_MAX_STEPS,
        clock: Callable[[], float] = time.time,
        holder: str | None = None,
        lease_s: float = C.AGENT_LEASE_S,
        affinity_s: float = C.JOB_AFFINITY_S,
    ) -> None:
        self.store = store
        self.models = models
        self.embedders = embedders
        self.prompts = prompts
        self.bus = bus
        self.search = search
        self.workers = workers
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.max_steps = max_steps
        self.clock = clock
        self.holder = holder or ids.worker_id()  # jobs run here are leased to this worker (ids.worker_id)
        self.lease_s = lease_s
        self.affinity_s = affinity_s
        self._wake = asyncio.Event()
        # Hand-offs of one agent (a turn's eviction, a session's end) read the watermark and enqueue as one step.
        self._handoff_locks = KeyedLocks()  # one per agent while in use
        self._tasks: list[asyncio.Task[None]] = []
        self.completed: list[tuple[int, RunResult]] = []  # (job id, result) of this process, newest last

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        requeued = await self.store.requeue_running_jobs(now=self.clock())
        if requeued:
            log.info("re-queued %d memory jobs left running by a previous process", requeued)
        self._tasks = [asyncio.create_task(self._worker(), name=f"memory-worker-{i}") for i in range(self.workers)]
        self._wake.set()

    async def aclose(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- MemoryHooks -----------------------------------------------------------------------------------------
    async def turn_completed(self, agent_id: str, window: Sequence[Message] | None = None) -> None:
        async with self._handoff_locks(agent_id):
            try:
                await self._turn_completed(agent_id, window)
            except ConflictError:  # another process handed the same lines over first: plan again from its state
                await self._turn_completed(agent_id)

    def upkeep_due(self, agent: AgentState, window: Sequence[Message]) -> bool:
        """Would ``turn_completed(agent.id, window)`` hand anything over (the window over its limits)? The voice loop
        asks first and skips the call when not: no task around it on almost every turn."""
        return plan_eviction(window, agent.buffer,
                             budget_tokens=token_budget(agent.buffer, agent.llm.context_window)) is not None

    async def session_ended(self, agent_id: str) -> None:
        async with self._handoff_locks(agent_id):
            try:
                await self._session_ended(agent_id)
            except ConflictError:
                await self._session_ended(agent_id)

    async def _turn_completed(self, agent_id: str, window: Sequence[Message] | None = None) -> None:
        agent = await self.store.get_agent(agent_id)
        if window is None:  # the loop knows the window after its own turns; others read it back
            window = await self.store.list_messages(agent_id, in_context=True)
        plan = plan_eviction(window, agent.buffer,
                             budget_tokens=token_budget(agent.buffer, agent.llm.context_window))
        if plan is None:
            return
        await self._handoff(agent, "eviction", plan.evicted, plan.kept, evict_through_seq=plan.through_seq)

    async def _session_ended(self, agent_id: str) -> None:
        agent = await self.store.get_agent(agent_id)
        if not agent.handoff_on_session_end:
            return
        watermark = await self.store.handoff_watermark(agent_id)
        said = [m for m in await self.store.list_messages(agent_id, after_seq=watermark) if m.kind != "imported"]
        if not any(m.role == "user" and (m.content or "").strip() for m in said):
            return  # nothing the user said since the last hand-off (a greeting alone is not worth a run)
        await self._handoff(agent, "session_end", said, (), evict_through_seq=None)

    async def import_messages(self, agent_id: str, messages: Sequence[Message], *, archive: bool = True,
                              keyed: KeyedImport | None = None) -> tuple[list[Message], list[MemoryJob]]:
        """Store a past conversation out of context (found by keyword at once) and, with ``archive``, hand it to
        the sleeptime agent as "import" jobs (chunks, synopses, block rewrite), like any hand-off: one job per
        part that fits the sleeptime model (``import_parts``), run in order, so a later part can supersede what an
        earlier one archived.

        The lines, their jobs and (``keyed``) the request key's first response are one store transaction
        (``Store.import_messages``): a process killed in between leaves none of them, never lines that no job
        will archive. The jobs do not move the hand-off watermark (their ``through_seq`` is the current one):
        lines said before the import and not yet handed over still are, and later hand-offs skip imported rows."""
        agent = await self.store.get_agent(agent_id)
        window = (agent.sleeptime_llm or agent.llm).context_window

        def parts(stored: list[Message]) -> list[HandoffRange]:
            return [HandoffRange(older_from_seq=part.messages[0].seq, older_through_seq=part.messages[-1].seq,
                                 from_char=part.chars[0] if part.chars else None,
                                 to_char=part.chars[1] if part.chars else None)
                    for part in import_parts(stored, budget_tokens=int(window * IMPORT_PART_CONTEXT_SHARE))]

        async with self._handoff_locks(agent_id):
            rows = [m.model_copy(update={"agent_id": agent_id, "in_context": False, "kind": "imported"})
                    for m in messages]
            # without what an earlier import stored; in one transaction with the jobs and the key's response
            stored, jobs = await self.store.import_messages(rows, parts=parts if archive else None, now=self.clock(),
                                                            keyed=keyed)
        for job in jobs:
            p = job.payload
            log.info("agent %s: memory job %d (import) archives seq %d..%d%s", agent_id, job.id, p.older_from_seq,
                     p.older_through_seq, "" if p.from_char is None else f" characters {p.from_char}..{p.to_char}")
        if jobs:
            self._wake.set()
        return stored, jobs

    async def _handoff(
        self, agent: AgentState, kind: JobKind, older: Sequence[Message], newer: Sequence[Message], *,
        evict_through_seq: int | None,
    ) -> None:
        watermark = await self.store.handoff_watermark(agent.id)
        fresh = [m for m in older if m.seq > watermark and m.kind != "imported"]
        if not any(render_line(m) is not None for m in fresh):
            if evict_through_seq is not None:  # already archived (e.g. by a session-end job): just evict
                await self.store.evict_messages(agent.id, through_seq=evict_through_seq)
            return
        window = (agent.sleeptime_llm or agent.llm).context_window
        parts = handoff_parts(fresh, budget_tokens=int(window * IMPORT_PART_CONTEXT_SHARE)) or [ImportPart(fresh)]
        # Parts over the budget (a long hand-off, a message longer than a run) are jobs of their own, in order.
        # Only the last moves the watermark past the last line and evicts: after a crash between two enqueues the
        # next hand-off starts where the enqueued parts end; a piece before the end of its message leaves the
        # watermark before it (``through_seq`` = its seq - 1), so pieces enqueued already are skipped by range.
        queued = await self._queued_pieces(agent.id) if any(p.chars for p in parts) else set()
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            first, end = part.messages[0], part.messages[-1]
            chars = part.chars or (None, None)
            through = fresh[-1].seq if last else end.seq
            if part.chars is not None and part.chars[1] < len(first.content or "") and not last:
                if (first.seq, *part.chars) in queued:
                    continue
                through = first.seq - 1
            payload = HandoffRange(
                older_from_seq=first.seq, older_through_seq=end.seq,
                newer_from_seq=newer[0].seq if newer else None, newer_through_seq=newer[-1].seq if newer else None,
                from_char=chars[0], to_char=chars[1])
            job = await self.store.enqueue_memory_job(
                agent.id, kind, payload, through_seq=through, evict_through_seq=evict_through_seq if last else None,
                now=self.clock())
            log.info("agent %s: memory job %d (%s) hands over seq %d..%d%s", agent.id, job.id, kind,
                     payload.older_from_seq, payload.older_through_seq,
                     f" characters {chars[0]}..{chars[1]}" if part.chars else "")
        self._wake.set()

    async def _queued_pieces(self, agent_id: str) -> set[tuple[int, int, int]]:
        """(seq, from_char, to_char) of the pieces of a message not yet handed over whole (a crash cut its hand-off
        short): enqueued already, not again."""
        return {(j.payload.older_from_seq, j.payload.from_char, j.payload.to_char)
                for j in await self.store.list_memory_jobs(agent_id)
                if j.payload.from_char is not None and j.payload.to_char is not None
                and j.kind != "import" and j.through_seq < j.payload.older_from_seq}

    # -- workers ------------------------------------------------------------------------------------------------
    async def _worker(self) -> None:
        while True:
            self._wake.clear()
            try:
                job = await self.store.claim_memory_job(
                    now=self.clock(), holder=self.holder, lease_s=self.lease_s, affinity_s=self.affinity_s)
            except Exception:
                log.exception("claiming a memory job failed")
                job = None
            if job is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_POLL_S):
                        await self._wake.wait()
                continue
            await self._run_job(job)
            self._wake.set()  # the agent may have more jobs queued behind this one

    async def _run_job(self, job: MemoryJob) -> None:
        try:
            result = await self.run_job(job)
        except asyncio.CancelledError:
            # Shutting down: give the job back so the next start runs it (a re-run is idempotent).
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release_memory_job(job.id, now=self.clock(), attempt=job.attempts))
            raise
        except NotFoundError as exc:  # the agent or its target block is gone: nothing to retry
            await self.store.fail_memory_job(job.id, exc.message, retry_at=None, now=self.clock(),
                                             attempt=job.attempts)
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:1000]
            retry_at = None
            if job.failures < self.max_attempts:  # runs cut short by a crash or a shutdown do not count
                retry_at = self.clock() + self.retry_base_s * 2 ** (job.failures - 1)
            log.warning("memory job %d of agent %s failed (attempt %d): %s", job.id, job.agent_id, job.attempts,
                        error)
            await self.store.fail_memory_job(job.id, error, retry_at=retry_at, now=self.clock(), attempt=job.attempts)
            return
        if await self.store.complete_memory_job(job.id, now=self.clock(), attempt=job.attempts):
            self.completed.append((job.id, result))
        else:  # our lease ran out and another worker claimed the job again; its run counts (it stores nothing twice)
            log.warning("memory job %d was claimed again while it ran here; the other run completes it", job.id)

    async def run_job(self, job: MemoryJob) -> RunResult:
        """Run one claimed job: the sleeptime agent over its transcript, then refresh prompt and listeners."""
        agent = await self.store.get_agent(job.agent_id)
        p = job.payload
        messages = await self.store.list_messages(job.agent_id, after_seq=p.older_from_seq - 1)
        # An import job archives only imported rows; other jobs never re-archive them (an import can land between
        # the lines of a conversation that is handed over later).
        importing = job.kind == "import"
        messages = [m for m in messages if (m.kind == "imported") == importing]
        older = [m for m in messages if p.older_from_seq <= m.seq <= p.older_through_seq]
        if p.from_char is not None and p.to_char is not None:  # a piece of one message too long for a run (imports.py)
            older = [piece(m, (p.from_char, p.to_char)) for m in older]
        newer = [] if p.newer_from_seq is None or p.newer_through_seq is None else [
            m for m in messages if p.newer_from_seq <= m.seq <= p.newer_through_seq]
        transcript = build_transcript(older, newer)
        if not transcript.older:
            return RunResult()
        embedder = self.embedders.for_config(agent.embedding)
        run = SleeptimeRun(self.store, self.models, embedder, max_steps=self.max_steps, clock=self.clock)
        related = await self._related(agent.id, transcript, embedder)
        result = await run.run(agent, job.id, job.kind, transcript, related)
        if result.passages and self.search is not None:
            await self.search.index_passages(agent.id, result.passages)
            for new_id, old_ids in result.superseded.items():
                self.search.supersede(agent.id, old_ids, new_id)
        if result.rewrites or result.passages:
            fresh = await self.store.get_agent(agent.id)
            self.prompts.rebuild_system_prompt(fresh, force=True)
            self.bus.publish(MemoryUpdated(fresh.id, tuple(fresh.blocks), passages_added=len(result.passages)))
        return result

    async def _related(self, agent_id: str, transcript: Transcript, embedder: Embedder | None = None
                       ) -> list[Passage]:
        """The agent's current archived memories that the (Older) lines may update (``MemorySearch.related`` of the
        user's lines, up to RELATED_QUERIES, longest first), oldest first: shown to the sleeptime model, which names
        the ones a chunk replaces. The lines are embedded by ``embedder``, the job's own (the background process
        for the local model), not in the server process: there, with its event loop, they cost a worker up to a
        fifth of its CPU under load (docs/benchmarks.md)."""
        if self.search is None:
            return []
        said = [line.text.split(": ", 1)[1] for line in transcript.older if line.text.startswith("user: ")]
        said = sorted((s for s in said if len(s.split()) >= 3), key=len, reverse=True)[:RELATED_QUERIES]
        found = await self.search.related(agent_id, said, limit=RELATED_LIMIT, query_embedder=embedder)
        return sorted(found, key=lambda p: p.start_at or p.created_at)

    # -- for tests and tools --------------------------------------------------------------------------------------
    async def wait_idle(self, agent_id: str, *, timeout_s: float = 60.0, poll_s: float = 0.02) -> list[MemoryJob]:
        """Wait until the agent has no pending or running job; return its jobs. (For tests and benches: the
        generous default is for a loaded 2-core CI machine, where a job's background embedder process alone can
        take several seconds to start.)"""
        async with asyncio.timeout(timeout_s):
            while True:
                jobs = await self.store.list_memory_jobs(agent_id)
                if all(j.status in ("done", "failed") for j in jobs):
                    return jobs
                await asyncio.sleep(poll_s)


__all__ = ["MemoryManager"]
