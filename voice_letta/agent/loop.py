"""VoiceAgent: one user turn → a stream of AgentEvents, with durable persistence and spoken fillers.

Order of a turn: persist the input first; stream the model; speak each tool's ``pre_exec_msg`` as soon as
its first words arrive; run tools (validated, in parallel, bounded); loop at most ``max_tool_rounds`` times
within a wall-clock budget; persist the reply. Whatever happens (provider failure, budget, the consumer
going away) the listener gets words and the store keeps what was said, marked ``interrupted`` if cut.

The parts: this module (the turn's frame: lease and input, budget, every failure mapped to an ending),
``rounds`` (the model/tool rounds, failover notices and the hold line), ``turn_persist`` (begin/end in the store,
usage estimates, replays) and ``turn_state`` (the turn's input and running state).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from voice_letta import config as C
from voice_letta import ids, logctx
from voice_letta.agent.context import to_chat_messages
from voice_letta.agent.events import AgentEvent, TurnError, TurnFinished, TurnStarted
from voice_letta.agent.memory_search import MemorySearch
from voice_letta.agent.models import AgentState, Message, TurnRecord
from voice_letta.agent.ports import ChatMessage, ChatModelFactory, ChatRequest, MemoryHooks, Store, ToolExecutor
from voice_letta.agent.prompt import SystemPromptCache
from voice_letta.agent.rounds import NO_INPUT_CUE, ModelRounds
from voice_letta.agent.tools import ExposedTool
from voice_letta.agent.turn_persist import FALLBACK_SENTENCE
from voice_letta.agent.turn_state import TurnInput, TurnState
from voice_letta.errors import BudgetExceeded, ConflictError, ProviderError, StorageError, VoiceLettaError
from voice_letta.locks import KeyedLocks

log = logging.getLogger(__name__)

AGENT_DELETED = "agent_deleted"  # error code of a turn whose agent was deleted while it ran


def spoken_rows(messages: list[Message], turn_id: str) -> list[Message]:
    """What the agent said in a turn: its assistant rows after the turn's input, in order. Assistant text a chat
    client sent that the agent never produced (a framework's own greeting) is stored with the input, before the
    user's words, and is not part of it."""
    rows = [m for m in messages if m.turn_id == turn_id]
    start = max((i for i, m in enumerate(rows) if m.role == "user"), default=-1) + 1
    return [m for m in rows[start:] if m.role == "assistant" and m.content]


class VoiceAgent(ModelRounds):
    """Runs turns for any agent in the store. One instance per process.

    Turns of one agent are serialized across every process sharing the database by the agent's lease
    (``Store.begin_turn``/``end_turn``), held under ``holder``, this process's worker id; the per-agent asyncio
    lock in front of it only keeps this process's own turns of an agent from polling the database.
    """

    def __init__(
        self,
        store: Store,
        models: ChatModelFactory,
        *,
        tools: ToolExecutor | None = None,
        prompts: SystemPromptCache | None = None,
        memory_search: MemorySearch | None = None,
        memory: MemoryHooks | None = None,
        clock: Callable[[], float] = time.time,
        holder: str | None = None,
        lease_s: float = C.AGENT_LEASE_S,
    ) -> None:
        self.store = store
        self.holder = holder or ids.worker_id()
        self.lease_s = lease_s
        self.models = models
        self.tools = tools
        self.prompts = prompts or SystemPromptCache()
        self.memory_search = memory_search or MemorySearch(store)
        self.memory = memory
        self.clock = clock
        self.started_at = clock()
        self._lock = KeyedLocks()  # one per agent, kept only while in use (agents come and go for weeks)
        self._tool_cache: dict[tuple[object, ...], list[ExposedTool]] = {}
        self._chars_per_token: dict[str, float] = {}  # per model, learned from real usage (estimates)
        self._ended: OrderedDict[str, TurnRecord] = OrderedDict()  # recent turn records, for turn_record()

    async def truncate_reply(self, agent_id: str, turn_id: str, heard_text: str) -> None:
        """Keep only what the listener heard of a turn's spoken reply (barge-in), marking it interrupted.

        A turn's spoken text is its assistant rows in order (filler rows, then the answer); ``heard_text`` is
        a prefix of that text, as reported by the client's playback (see core.playout.PlayoutLedger).
        """
        async with self._lock(agent_id):
            rows = spoken_rows(await self.store.list_messages(agent_id, limit=200), turn_id)
            remaining = len(" ".join(heard_text.split()))
            for m in rows:
                text = " ".join((m.content or "").split())
                if remaining >= len(text):
                    remaining -= len(text) + 1
                    continue
                kept = text[:max(remaining, 0)].rstrip()
                remaining = -1
                await self.store.update_message(m.id, content=kept, interrupted=True)

    async def store_input(self, agent_id: str, inp: TurnInput) -> None:
        """Store input a live session accepted but never answered (it ended first), as a turn's input."""
        async with self._lock(agent_id):
            agent = await self.store.get_agent(agent_id)
            await self._persist_input(agent, inp, ids.turn_id())

    def wants_prefetch(self, agent_id: str, user_text: str | None) -> bool:
        """Whether ``prefetch_memory`` would do anything: a driver need not start a task for it otherwise."""
        return bool(user_text) and self.memory_search.wants_prefetch(agent_id)

    async def prefetch_memory(self, agent_id: str, user_text: str | None) -> None:
        """Embed the user's words while the model starts, so a search_memory call in this turn skips that step.

        Drivers run this beside ``run_turn`` (they own the tasks). It never raises: it is only a head start.
        """
        if not user_text or not self.memory_search.wants_prefetch(agent_id):
            return
        try:
            await self.memory_search.prefetch(agent_id, user_text)
        except Exception:
            log.warning("memory prefetch failed for agent %s", agent_id, exc_info=True)

    async def warm_memory(self, agent_id: str) -> None:
        """Load the agent's memory index ahead of its first search (a session opened). Never raises."""
        try:
            await self.memory_search.warm(agent_id)
        except Exception:
            log.warning("memory warm-up failed for agent %s", agent_id, exc_info=True)

    async def warm_prompt(self, agent_id: str) -> int:
        """Have the agent's model prefill its next turn's prompt prefix (system prompt, tools, history) when it
        can (the embedded model: ``warm``), so the first turn of a session, or the first after memory changed
        the system prompt, is as fast as the ones after it. Returns the tokens evaluated; never raises."""
        try:
            agent = await self.store.get_agent(agent_id)
            model: Any = self.models.for_config(agent.llm)
            links = getattr(model, "links", None)  # a fallback chain: its first model answers first
            target = links[0].model() if links else model
            warm = getattr(target, "warm", None)
            if warm is None:
                return 0
            history = await self.store.list_messages(agent.id, in_context=True)
            messages = (ChatMessage("system", self.prompts.get(agent)), *to_chat_messages(history))
            specs = tuple(e.spec for e in self._voice_tools(agent))
            return int(await warm(ChatRequest(messages, agent.llm, tools=specs, tool_choice="auto")))
        except Exception:
            log.warning("prompt warm-up failed for agent %s", agent_id, exc_info=True)
            return 0

    async def end_session(self, agent_id: str) -> None:
        """A live conversation ended (hang-up, tab closed): let the memory layer archive it."""
        if self.memory is not None:
            await self.memory.session_ended(agent_id)

    async def run_turn(self, agent_id: str, inp: TurnInput) -> AsyncGenerator[AgentEvent, None]:
        """Stream one turn. Closing the iterator early (barge-in) persists the partial reply as interrupted."""
        # One generator for the lock, the turn record and its log context (each layer of async generators costs
        # every event of the turn a hand-over and every turn a registration with the loop).
        async with self._lock(agent_id):
            t0 = self.clock()
            agent = await self.store.get_agent(agent_id)
            # validated, not model_construct: pydantic's model_construct is Python and ~10x slower (130 against 10 us)
            turn = TurnRecord(id=ids.turn_id(), agent_id=agent_id, fingerprint=inp.fingerprint,
                              idempotency_key=inp.idempotency_key)
            log_token = logctx.bind(agent_id=agent_id, turn_id=turn.id)  # every log line of the turn names both
            try:
                async for event in self._run_bound(agent, inp, turn, t0):
                    yield event
            finally:
                logctx.unbind(log_token)

    async def _run_bound(self, agent: AgentState, inp: TurnInput, turn: TurnRecord, t0: float
                         ) -> AsyncIterator[AgentEvent]:
        agent_id = agent.id
        # The input is stored with the turn record (fingerprint) in the transaction that takes the lease, so a
        # retry after a crash finds this turn and does not store the input again.
        begun = await self._begin(turn, self._input_rows(agent, inp, turn.id), inp.replaces_abandoned, inp.on_stored)
        previous = begun.previous
        if previous is not None and (previous.status == "completed" or previous.fingerprint != turn.fingerprint):
            try:
                if previous.fingerprint != turn.fingerprint:
                    raise ConflictError(f"Idempotency-Key {inp.idempotency_key!r} was already used for a different "
                                        "request; use a new key for new input", code="idempotency_key_reused")
                async for event in self._replay(agent, previous):
                    yield event
            finally:
                await asyncio.shield(self.store.release_agent(agent_id, holder=self.holder, lease=begun.lease))
            return
        if previous is not None:  # a retry of a turn that failed, was cut off or died: same record, input kept
            turn = previous.model_copy(update={"error": None, "ended_at": None, "stop_reason": None,
                                               "status": "running"})
            logctx.bind(turn_id=turn.id)  # undone with the rest when the turn ends
        state = TurnState(turn=turn, lease=begun.lease, history=begun.history, started=t0)
        try:
            yield TurnStarted(turn_id=turn.id, agent_id=agent_id, model=agent.llm.model)
            async with asyncio.timeout(agent.turn_budget_s):
                async for event in self._rounds(agent, inp, state, retry=previous is not None):
                    yield event
        except StorageError as exc:
            if not await self._agent_gone(agent_id):
                async for event in self._fail(agent, state, exc):
                    yield event
            else:  # deleted while it was talking: nothing is left to store into
                for event in self._deleted_events(agent_id, state):
                    yield event
        except (ProviderError, BudgetExceeded, TimeoutError, VoiceLettaError) as exc:
            # a model call that hung until the budget (or failed) while the agent was deleted: say what happened
            if await self._agent_gone(agent_id):
                for event in self._deleted_events(agent_id, state):
                    yield event
                return
            async for event in self._fail(agent, state, exc):
                yield event
        except Exception as exc:  # a bug must still end the turn in-band, never with an empty stream
            log.exception("turn %s failed", turn.id)
            async for event in self._fail(agent, state, exc):
                yield event
        finally:
            if not state.finished:
                # The consumer went away (barge-in, disconnect) or we were cancelled: keep what was said.
                await asyncio.shield(self._persist_interrupted(agent, state))
            # Memory upkeep runs after the last event went out, so it never delays the reply's end.
            window = state.window()
            if self._upkeep_due(agent, window):
                await asyncio.shield(self._memory_upkeep(agent_id, window))

    def _deleted_events(self, agent_id: str, state: TurnState) -> list[AgentEvent]:
        state.finished = True
        return [TurnError(AGENT_DELETED, f"agent {agent_id} was deleted during this turn", False),
                TurnFinished(state.turn.id, "error", self._usage_so_far(state), dict(state.turn.timings_ms), None,
                             state.route)]

    # -- input -------------------------------------------------------------------------------------------

    def _input_rows(self, agent: AgentState, inp: TurnInput, turn_id: str) -> list[Message]:
        now = self.clock()
        rows: list[Message] = []
        if inp.unknown_assistant_text:
            rows.append(Message(id=ids.message_id(), agent_id=agent.id, role="assistant",
                                content=inp.unknown_assistant_text, turn_id=turn_id, kind="greeting",
                                created_at=now))
        for call_id, content in inp.tool_results:
            rows.append(Message(id=ids.message_id(), agent_id=agent.id, role="tool", content=content,
                                tool_call_id=call_id, turn_id=turn_id, created_at=now))
        if inp.user_text or inp.images:
            rows.append(Message(id=ids.message_id(), agent_id=agent.id, role="user", content=inp.user_text or "",
                                turn_id=turn_id, created_at=now if inp.said_at is None else inp.said_at,
                                images=list(inp.images)))
        return rows

    async def _persist_input(self, agent: AgentState, inp: TurnInput, turn_id: str) -> None:
        rows = self._input_rows(agent, inp, turn_id)
        if rows:
            await self.store.append_messages(rows)


__all__ = ["AGENT_DELETED", "FALLBACK_SENTENCE", "NO_INPUT_CUE", "TurnInput", "VoiceAgent"]
