"""How a turn begins and ends in the store: the agent's lease taken with the stored input (``begin_turn``), and
every ending (finished, failed, cut off, replayed) written with the turn record in one transaction
(``end_turn``), with its usage (estimated for a model call cut before it reported any) and route."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Literal

from voice_letta import config as C
from voice_letta import ids
from voice_letta.agent.events import (
    AgentEvent,
    ContentDelta,
    ToolCallFragment,
    TurnError,
    TurnFinished,
    TurnStarted,
)
from voice_letta.agent.memory_search import MemorySearch
from voice_letta.agent.models import AgentState, Message, TurnRecord, Usage
from voice_letta.agent.ports import BeginCancelled, ChatModelFactory, MemoryHooks, Store, ToolExecutor, TurnBegun
from voice_letta.agent.prompt import SystemPromptCache
from voice_letta.agent.tools import own_tool_names
from voice_letta.agent.turn_state import TurnState, finish_reason_of
from voice_letta.errors import NotFoundError, StorageError, VoiceLettaError

log = logging.getLogger(__name__)

FALLBACK_SENTENCE = "Sorry, I'm having trouble answering right now. Could you say that again?"
ENDED_TURNS_KEPT = 256  # turn records kept in memory for turn_record()
LEASE_POLL_MIN_S = 0.005  # waiting for an agent's lease held by another process: first poll, then doubling
LEASE_POLL_MAX_S = 0.1


class TurnPersistence:
    """VoiceAgent's part that stores turns (a mixin: VoiceAgent sets the attributes below)."""

    store: Store
    holder: str
    lease_s: float
    models: ChatModelFactory
    tools: ToolExecutor | None
    prompts: SystemPromptCache
    memory_search: MemorySearch
    memory: MemoryHooks | None
    clock: Callable[[], float]
    started_at: float  # when this process's VoiceAgent was made (clock time): the replay window's restart credit
    _chars_per_token: dict[str, float]
    _ended: OrderedDict[str, TurnRecord]

    def turn_record(self, turn_id: str) -> TurnRecord | None:
        """The record of a turn that ended recently in this process, as stored: what a cut-off turn cost (its
        usage, estimated for a model call cut before it reported any) and who answered it. A session reads it
        after cancelling a turn, whose events stopped before ``TurnFinished``."""
        return self._ended.get(turn_id)

    def _remember(self, turn: TurnRecord) -> None:
        self._ended[turn.id] = turn.model_copy()
        self._ended.move_to_end(turn.id)
        while len(self._ended) > ENDED_TURNS_KEPT:
            self._ended.popitem(last=False)

    async def _begin(self, turn: TurnRecord, rows: list[Message], supersede: bool = False,
                     stored: Callable[[], None] | None = None) -> TurnBegun:
        """``Store.begin_turn``, waiting while another process's turn of the agent holds its lease. ``stored`` is
        called once the rows are committed (also when the wait is cancelled after the transaction ran)."""
        delay = LEASE_POLL_MIN_S
        while True:
            begun = await self._begin_once(turn, rows, supersede, stored)
            if begun is not None:
                if stored is not None:
                    stored()
                return begun
            await asyncio.sleep(delay)
            delay = min(delay * 2, LEASE_POLL_MAX_S)

    async def _begin_once(self, turn: TurnRecord, rows: list[Message], supersede: bool,
                          stored: Callable[[], None] | None = None) -> TurnBegun | None:
        now = self.clock()
        call = self.store.begin_turn(
            turn, rows, holder=self.holder, lease_s=self.lease_s, now=now, supersede_abandoned=supersede,
            replay_window_s=self._replay_window_s(now))
        if getattr(self.store, "begin_turn_survives_cancel", False):
            # The store finishes the transaction when cancelled and says what it did: no task needed around it.
            try:
                return await call
            except BeginCancelled as cut:
                await self._give_back(turn, cut.begun, stored)
                # Re-raised as a plain CancelledError: Python 3.11's TaskGroup (and asyncio.timeout) know a
                # cancellation by its exact type and took the subclass for an error (an ExceptionGroup that ended a
                # Realtime session whose response the next utterance cut during begin_turn).
                raise asyncio.CancelledError() from None
        task = asyncio.ensure_future(call)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._give_back(turn, await task, stored)
            raise

    async def _give_back(self, turn: TurnRecord, begun: TurnBegun | None, stored: Callable[[], None] | None) -> None:
        """Cancelled while ``begin_turn`` ran: if it took the lease, give it back at once (and record the turn as cut
        off) instead of leaving the agent locked until the lease expires."""
        if begun is None:
            return
        if stored is not None:
            stored()
        cut = (begun.previous or turn).model_copy(update={
            "stop_reason": "cancelled", "error": "cancelled", "ended_at": self.clock(), "status": "abandoned"})
        with contextlib.suppress(Exception):
            await self.store.end_turn(turn.agent_id, cut, [], holder=self.holder, lease=begun.lease)

    def _replay_window_s(self, now: float) -> float:
        """How long after it completed a key-less resend of the agent's latest turn is taken for a retry.

        ``REPLAY_WINDOW_S``, but time the server was down does not count: during this process's first
        ``REPLAY_WINDOW_S``, a turn that completed up to ``RETRY_WINDOW_S`` before the process started is still
        recognised (a client resending the request a crash or restart cut off, once the server is back).
        """
        uptime = now - self.started_at
        return C.REPLAY_WINDOW_S if uptime > C.REPLAY_WINDOW_S else uptime + C.RETRY_WINDOW_S

    def _upkeep_due(self, agent: AgentState, window: list[Message] | None) -> bool:
        """Has memory upkeep anything to do after this turn? A memory layer that can tell at once (``upkeep_due``)
        spares the turn a task (the shield around the upkeep) when it has not, as after almost every turn."""
        if self.memory is None:
            return False
        due = getattr(self.memory, "upkeep_due", None)
        return window is None or due is None or bool(due(agent, window))

    async def _memory_upkeep(self, agent_id: str, window: list[Message] | None = None) -> None:
        if self.memory is None:
            return
        try:
            await self.memory.turn_completed(agent_id, window)
        except Exception:  # memory upkeep must never fail a turn that was already answered
            log.exception("memory hook failed for agent %s", agent_id)

    async def _fail(self, agent: AgentState, state: TurnState, exc: BaseException) -> AsyncIterator[AgentEvent]:
        if isinstance(exc, VoiceLettaError):
            code, message = exc.code, exc.message
            retryable = bool(getattr(exc, "retryable", False))
        elif isinstance(exc, TimeoutError):
            code, message, retryable = "budget_exceeded", f"the turn exceeded {agent.turn_budget_s:g} s", True
        else:
            code, message, retryable = "internal_error", "internal error", False
        state.turn.error = f"{code}: {message}"
        yield TurnError(code, message, retryable)
        text = state.speak(FALLBACK_SENTENCE, "fallback")
        yield ContentDelta(text, kind="fallback")
        usage = self._usage_so_far(state)
        try:
            reply_id = await self._finish(agent, state, "error", usage, reply_kind="fallback")
        except StorageError:
            if not await self._agent_gone(agent.id):
                raise
            state.finished, reply_id = True, None  # deleted meanwhile: nothing to store into
        yield TurnFinished(state.turn.id, "error", usage, dict(state.turn.timings_ms), reply_id, state.route)

    def _reply_row(self, agent: AgentState, state: TurnState, kind: Literal["normal", "fallback", "greeting"],
                   interrupted: bool = False) -> Message | None:
        text = "".join(state.spoken).strip()
        if not text:
            return None
        return Message(id=ids.message_id(), agent_id=agent.id, role="assistant", content=text,
                       turn_id=state.turn.id, created_at=self.clock(), kind=kind, interrupted=interrupted)

    async def _agent_gone(self, agent_id: str) -> bool:
        try:
            await self.store.get_agent(agent_id)
        except NotFoundError:
            return True
        except StorageError:
            return False
        return False

    async def _persist_interrupted(self, agent: AgentState, state: TurnState) -> None:
        try:
            await self._save_interrupted(agent, state)
        except StorageError:
            if not await self._agent_gone(agent.id):
                raise
            log.info("turn %s: agent %s was deleted; nothing to keep", state.turn.id, agent.id)

    async def _save_interrupted(self, agent: AgentState, state: TurnState) -> None:
        reply = self._reply_row(agent, state, "normal", interrupted=True)
        state.turn.stop_reason = "cancelled"
        state.turn.ended_at = self.clock()
        state.turn.error = "cancelled"
        # Nothing came out (no word, no tool call): abandoned, and replaceable by the client's next request.
        state.turn.status = "cancelled" if state.produced else "abandoned"
        state.turn.usage = self._usage_so_far(state)
        self._record_route(state)
        state.note_added(await self.store.end_turn(agent.id, state.turn, [reply] if reply else [],
                                                   holder=self.holder, lease=state.lease))
        self._remember(state.turn)
        state.spoken.clear()
        state.finished = True

    def _learn_token_size(self, state: TurnState, usage: Usage) -> None:
        """Characters per prompt token of the model that answered, for estimating cut-off calls."""
        if usage.prompt_tokens > 0 and state.call_prompt_chars > 0 and state.call_model:
            ratio = min(8.0, max(1.0, state.call_prompt_chars / usage.prompt_tokens))
            old = self._chars_per_token.get(state.call_model)
            self._chars_per_token[state.call_model] = ratio if old is None else 0.8 * old + 0.2 * ratio
            if len(self._chars_per_token) > 256:
                self._chars_per_token.clear()

    def _usage_so_far(self, state: TurnState) -> Usage:
        """What the turn's model calls cost, with an estimate for a call cut off before it reported usage.

        Only a call that started answering is estimated (the provider read its prompt); the estimate divides the
        prompt's and the output's characters by the model's characters per token seen in earlier calls (4 until
        one reported usage).
        """
        usage = state.usage.model_copy()
        if not state.call_usage_seen and state.call_prompt_chars:
            ratio = self._chars_per_token.get(state.call_model or "", 4.0)
            prompt = round(state.call_prompt_chars / ratio)
            completion = round(state.call_output_chars / ratio)
            usage.add(Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
                            estimated=True))
        return usage

    def _record_route(self, state: TurnState) -> None:
        if state.route is not None:
            state.turn.provider, state.turn.model = state.route.provider, state.route.model
            state.turn.fallback_used = state.route.fallback_used
            state.turn.first_token_ms = state.route.first_token_ms

    async def _finish(self, agent: AgentState, state: TurnState, reason: str, usage: Usage,
                      reply_kind: Literal["normal", "fallback", "greeting"] = "normal") -> str | None:
        """Store the reply and the turn record and give the agent's lease back (one transaction)."""
        self._record_route(state)
        reply = self._reply_row(agent, state, reply_kind)
        state.turn.status = "failed" if reason == "error" else "completed"
        state.turn.stop_reason = reason
        state.turn.usage = usage
        state.turn.ended_at = self.clock()
        state.turn.timings_ms["total_ms"] = self._ms(state.started)
        state.note_added(await self.store.end_turn(agent.id, state.turn, [reply] if reply else [],
                                                   holder=self.holder, lease=state.lease))
        self._remember(state.turn)
        state.spoken.clear()
        state.finished = True
        return reply.id if reply else None

    async def _replay(self, agent: AgentState, turn: TurnRecord) -> AsyncIterator[AgentEvent]:
        """A client retried a turn that already completed: answer with what was said and the calls of the client's
        own tools it ended with (a replay without them said ``finish_reason: "tool_calls"`` and gave the client
        nothing to call), store nothing."""
        rows = [m for m in await self.store.list_messages(agent.id, limit=50)
                if m.turn_id == turn.id and m.role == "assistant"]
        said = " ".join(m.content or "" for m in rows).strip()
        yield TurnStarted(turn_id=turn.id, agent_id=agent.id, model=agent.llm.model)
        if said:
            yield ContentDelta(said)
        ours = own_tool_names(agent)
        calls = [c for m in rows if m.kind == "client_tool" for c in m.tool_calls or () if c.name not in ours]
        for index, call in enumerate(calls):
            yield ToolCallFragment(index, call.id, call.name, call.arguments, True)
        yield TurnFinished(turn.id, finish_reason_of(turn.stop_reason), turn.usage, dict(turn.timings_ms), None)

    def _ms(self, since: float) -> float:
        # Milliseconds to 3 places: an integer count of microseconds over 1000 (``round(x, 3)`` goes through a
        # decimal string conversion, ~10x the instructions)
        return round((self.clock() - since) * 1_000_000) / 1000

    def _mark(self, timings: dict[str, float], key: str, since: float) -> None:
        """``timings[key]``, the first time only (``setdefault`` read the clock on every delta of the stream)."""
        if key not in timings:
            timings[key] = self._ms(since)
