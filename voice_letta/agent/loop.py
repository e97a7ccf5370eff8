"""VoiceAgent: one user turn → a stream of AgentEvents, with durable persistence and spoken fillers.

Order of a turn: persist the input first; stream the model; speak each tool's ``pre_exec_msg`` as soon as
its first words arrive; run tools (validated, in parallel, bounded); loop at most ``max_tool_rounds`` times
within a wall-clock budget; persist the reply. Whatever happens (provider failure, budget, the consumer
going away) the listener gets words and the store keeps what was said, marked ``interrupted`` if cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from voice_letta import config as C
from voice_letta import ids, logctx
from voice_letta.agent.context import to_chat_messages
from voice_letta.agent.events import (
    AgentEvent,
    ContentDelta,
    ToolCallFragment,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnFinished,
    TurnRoute,
    TurnStarted,
)
from voice_letta.agent.filler import StreamingFieldExtractor
from voice_letta.agent.memory_search import MemorySearch
from voice_letta.agent.models import AgentState, ImagePart, Message, ToolCall, TurnRecord, Usage
from voice_letta.agent.ports import (
    ChatMessage,
    ChatModelFactory,
    ChatRequest,
    MemoryHooks,
    Store,
    ToolExecutor,
    ToolResult,
    ToolSpec,
    TurnBegun,
)
from voice_letta.agent.prompt import SystemPromptCache, volatile_note
from voice_letta.agent.spoken import SpokenTextFilter, strip_markers
from voice_letta.agent.tools import (
    PRE_EXEC_MSG,
    SEARCH_MEMORY,
    DriverTool,
    ExposedTool,
    client_tool,
    driver_tool,
    parse_arguments,
    voice_tools,
)
from voice_letta.errors import (
    BudgetExceeded,
    ConflictError,
    NotFoundError,
    ProviderError,
    StorageError,
    VoiceLettaError,
)
from voice_letta.locks import KeyedLocks

log = logging.getLogger(__name__)

FALLBACK_SENTENCE = "Sorry, I'm having trouble answering right now. Could you say that again?"
AGENT_DELETED = "agent_deleted"  # error code of a turn whose agent was deleted while it ran
ENDED_TURNS_KEPT = 256  # turn records kept in memory for turn_record()
EMPTY_REPLY_SENTENCE = "Sorry, I don't have an answer for that."
#: A response with no new input (the agent speaks first): this cue rides on the request, never stored.
NO_INPUT_CUE = "[No new words from the user. Speak now, as your instructions and the conversation call for.]"
LEASE_POLL_MIN_S = 0.005  # waiting for an agent's lease held by another process: first poll, then doubling
LEASE_POLL_MAX_S = 0.1
MAX_TOOL_OUTPUT_CHARS = 4000
TOOL_TIMEOUT_MARGIN_S = 5.0


@dataclass(frozen=True, slots=True)
class TurnInput:
    """The new input of one turn. Empty ``user_text`` with ``tool_results`` resumes after client tools."""

    user_text: str | None = None
    client_tools: tuple[ToolSpec, ...] = ()
    tool_results: tuple[tuple[str, str], ...] = ()  # (tool_call_id, content) of client-executed tools
    extra_instructions: str | None = None  # client system prompt, when the agent appends it
    fingerprint: str | None = None  # idempotency key: a retried request must not be stored twice
    unknown_assistant_text: str | None = None  # assistant words the client spoke that we never produced
    show_server_tool_calls: bool = True  # stream our own tool-call deltas to the consumer
    # Per-call settings (None: the agent's own): the first-token deadline of each model call (0: none), and
    # the sampling temperature and output token limit of this turn's model calls.
    first_token_timeout_s: float | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    said_at: float | None = None  # when the user's words were said (epoch seconds); None: now
    idempotency_key: str | None = None  # the client's key: a request with a known key is that turn's retry
    images: tuple[ImagePart, ...] = ()  # images attached to the user's words (stored with them)
    # The input is everything the client has after its last assistant message (HTTP): it replaces the input of
    # the agent's previous turn if that one was cut off before any output (a framework's preemptive generation).
    replaces_abandoned: bool = False
    # Tools the driver runs itself for this turn (a phone call's end_call / transfer_call).
    driver_tools: tuple[DriverTool, ...] = ()
    # With no user input: ``say`` is spoken as is (a fixed greeting; no model call; stored as the agent's reply),
    # ``cue`` replaces the generic one-off cue the model gets (a greeting to write). Neither is a user message.
    say: str | None = None
    cue: str | None = None
    # Called once the input is in the store (with the turn record, or earlier for a retry): a driver that cancels
    # a turn before that (a voice session's response.cancel right after response.create) keeps the input itself.
    on_stored: Callable[[], None] | None = field(default=None, compare=False, repr=False)


@dataclass
class _Call:
    index: int
    id: str = ""
    name: str = ""
    args: list[str] = field(default_factory=list)
    extractor: StreamingFieldExtractor = field(default_factory=lambda: StreamingFieldExtractor(PRE_EXEC_MSG))
    unspoken: SpokenTextFilter = field(default_factory=SpokenTextFilter)

    @property
    def arguments(self) -> str:
        return "".join(self.args)


@dataclass
class _TurnState:
    turn: TurnRecord
    lease: int = 0  # the agent lease token from begin_turn, given back by end_turn
    history: list[Message] = field(default_factory=list)  # in-context messages when the turn began
    # rows this turn stored after begin_turn (tool rounds, the reply): with history, the window after the turn,
    # handed to the memory layer so it need not read it back (None: unknown, e.g. the end did not go through)
    added: list[Message] | None = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)  # text already streamed and not yet persisted
    finished: bool = False
    started: float = 0.0
    source: object = None  # which piece the last spoken text came from
    last_char: str = " "
    usage: Usage = field(default_factory=Usage)  # reported by the model calls so far
    route: TurnRoute | None = None
    held: bool = False  # the hold line was spoken
    produced: bool = False  # the model produced something (words or a tool call) in this turn
    # the model call in flight: its prompt size and what it produced so far, to estimate a cut call's usage
    call_model: str | None = None
    call_prompt_chars: int = 0
    call_output_chars: int = 0
    call_usage_seen: bool = True  # False while a call that has started answering has not reported usage

    def note_added(self, rows: list[Message]) -> None:
        if self.added is not None:
            self.added.extend(rows)

    def window(self) -> list[Message] | None:
        """The agent's in-context messages right after this turn ended, when known."""
        return None if self.added is None or not self.finished else [*self.history, *self.added]

    def speak(self, text: str, source: object) -> str:
        """Record streamed text; separate consecutive pieces (answer, filler, answer) with a space for TTS."""
        if source != self.source and self.source is not None and text and not text[0].isspace() \
                and not self.last_char.isspace():
            text = " " + text
        self.source = source
        if text:
            self.spoken.append(text)
            self.last_char = text[-1]
        return text

    def take_spoken(self) -> str:
        text = "".join(self.spoken).strip()
        self.spoken.clear()
        return text


class VoiceAgent:
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
        self._lock = KeyedLocks()  # one per agent, kept only while in use (agents come and go for weeks)
        self._tool_cache: dict[tuple[object, ...], list[ExposedTool]] = {}
        self._chars_per_token: dict[str, float] = {}  # per model, learned from real usage (estimates)
        self._ended: OrderedDict[str, TurnRecord] = OrderedDict()  # recent turn records, for turn_record()

    def _voice_tools(self, agent: AgentState) -> list[ExposedTool]:
        """Schemas and validators per agent tool set: tools are immutable once registered."""
        key = (agent.id, agent.llm.strict, tuple(t.id for t in agent.tools))
        tools = self._tool_cache.get(key)
        if tools is None:
            if len(self._tool_cache) > 1024:
                self._tool_cache.clear()
            tools = self._tool_cache[key] = voice_tools(agent)
        return tools

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

    async def truncate_reply(self, agent_id: str, turn_id: str, heard_text: str) -> None:
        """Keep only what the listener heard of a turn's spoken reply (barge-in), marking it interrupted.

        A turn's spoken text is its assistant rows in order (filler rows, then the answer); ``heard_text`` is
        a prefix of that text, as reported by the client's playback (see core.playout.PlayoutLedger).
        """
        async with self._lock(agent_id):
            rows = [m for m in await self.store.list_messages(agent_id, limit=200)
                    if m.turn_id == turn_id and m.role == "assistant" and m.content]
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
        async with self._lock(agent_id):
            async for event in self._run(agent_id, inp):
                yield event

    async def _run(self, agent_id: str, inp: TurnInput) -> AsyncIterator[AgentEvent]:
        t0 = self.clock()
        agent = await self.store.get_agent(agent_id)
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
        state = _TurnState(turn=turn, lease=begun.lease, history=begun.history, started=t0)
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
                state.finished = True
                yield TurnError(AGENT_DELETED, f"agent {agent_id} was deleted during this turn", False)
                yield TurnFinished(state.turn.id, "error", self._usage_so_far(state), dict(state.turn.timings_ms),
                                   None, state.route)
        except (ProviderError, BudgetExceeded, TimeoutError, VoiceLettaError) as exc:
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
            await asyncio.shield(self._memory_upkeep(agent_id, state.window()))

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
        call = asyncio.ensure_future(self.store.begin_turn(
            turn, rows, holder=self.holder, lease_s=self.lease_s, now=self.clock(), supersede_abandoned=supersede))
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            # Cancelled while the transaction ran: if it took the lease, give it back at once (and record the
            # turn as cut off) instead of leaving the agent locked until the lease expires.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                begun = await call
                if begun is not None:
                    if stored is not None:
                        stored()
                    cut = (begun.previous or turn).model_copy(update={
                        "stop_reason": "cancelled", "error": "cancelled", "ended_at": self.clock(),
                        "status": "abandoned"})
                    await self.store.end_turn(turn.agent_id, cut, [], holder=self.holder, lease=begun.lease)
            raise

    async def _memory_upkeep(self, agent_id: str, window: list[Message] | None = None) -> None:
        if self.memory is None:
            return
        try:
            await self.memory.turn_completed(agent_id, window)
        except Exception:  # memory upkeep must never fail a turn that was already answered
            log.exception("memory hook failed for agent %s", agent_id)

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

    def _context(self, agent: AgentState, inp: TurnInput, state: _TurnState, retry: bool) -> list[ChatMessage]:
        system = self.prompts.get(agent)
        if inp.extra_instructions and agent.client_system_prompt == "append":
            system += f"\n\n<client_instructions>\n{inp.extra_instructions}\n</client_instructions>"
        history, turn_id = state.history, state.turn.id
        if retry:  # drop what a failed earlier attempt of this very turn produced
            history = [m for m in history if m.turn_id != turn_id or m.role == "user" or m.role == "tool"]
        messages = [ChatMessage("system", system), *to_chat_messages(history)]
        # The time changes every turn, so it rides on the newest user message (never stored), keeping the
        # prompt prefix byte-stable for provider caches.
        if messages[-1].role == "user":
            last = messages[-1]
            messages[-1] = ChatMessage("user", f"{volatile_note(self.clock())}\n{last.content}", images=last.images)
        elif not inp.tool_results:
            messages.append(ChatMessage("user", f"{volatile_note(self.clock())}\n{inp.cue or NO_INPUT_CUE}"))
        return messages

    # -- the model/tool loop -----------------------------------------------------------------------------

    async def _rounds(
        self, agent: AgentState, inp: TurnInput, state: _TurnState, *, retry: bool
    ) -> AsyncIterator[AgentEvent]:
        exposed = (self._voice_tools(agent) + [driver_tool(t, strict=agent.llm.strict) for t in inp.driver_tools]
                   + [client_tool(s) for s in inp.client_tools])
        by_name = {e.spec.name: e for e in exposed}
        specs = tuple(e.spec for e in exposed)
        messages = self._context(agent, inp, state, retry)
        model = self.models.for_config(agent.llm)
        usage = state.usage
        timings = state.turn.timings_ms
        timings["input_persisted_ms"] = self._ms(state.started)
        if inp.say and not inp.user_text:
            # A fixed line (the agent's greeting): said and stored as its reply, no model call.
            yield ContentDelta(state.speak(inp.say, "greeting"))
            reply_id = await self._finish(agent, state, "stop", usage, reply_kind="greeting")
            yield TurnFinished(state.turn.id, "stop", usage, dict(timings), reply_id, state.route)
            return
        rounds = 0
        while True:
            calls: dict[int, _Call] = {}
            content: list[str] = []
            finish: str | None = None
            unspoken = SpokenTextFilter()
            request = ChatRequest(tuple(messages), agent.llm, tools=specs,
                                  tool_choice="auto" if rounds < agent.max_tool_rounds else "none",
                                  first_token_timeout_s=inp.first_token_timeout_s, temperature=inp.temperature,
                                  max_tokens=inp.max_tokens, cache_key=agent.id)
            timings.setdefault("llm_request_ms", self._ms(state.started))
            state.call_model = agent.llm.model
            state.call_prompt_chars = _prompt_chars(request)
            state.call_output_chars = 0
            state.call_usage_seen = True
            async for delta in model.stream(request):
                if delta.route is not None:
                    route = delta.route
                    state.call_model = route.model
                    state.call_usage_seen = False  # the model read the prompt: it costs, reported or not
                    fallback = route.index > 0 or (state.route is not None and state.route.fallback_used)
                    state.route = TurnRoute(route.provider, route.model, fallback, route.first_token_ms)
                    continue
                if delta.notice is not None:
                    notice = delta.notice
                    if notice.kind == "failover" and notice.next_model is not None:
                        state.call_model = notice.next_model
                    if not state.held and state.source is None and self.clock() - state.started >= C.HOLD_AFTER_S:
                        # Nothing said yet and the listener has been waiting: tell them we are on it.
                        state.held = True
                        timings.setdefault("hold_ms", self._ms(state.started))
                        yield ContentDelta(state.speak(C.HOLD_SENTENCE, "hold"), kind="filler")
                    continue
                timings.setdefault("llm_first_token_ms", self._ms(state.started))
                if delta.content or delta.tool_calls:
                    state.produced = True
                if delta.content:
                    state.call_output_chars += len(delta.content)
                    said = unspoken.feed(delta.content)  # context notes a small model copied: never spoken
                    if said:
                        text = state.speak(said, ("content", rounds))
                        content.append(said)
                        timings.setdefault("first_content_ms", self._ms(state.started))
                        yield ContentDelta(text)
                for frag in delta.tool_calls:
                    call = calls.setdefault(frag.index, _Call(frag.index))
                    call.id = frag.id or call.id
                    call.name = frag.name or call.name
                    tool = by_name.get(call.name)
                    is_client = tool is not None and tool.client
                    if is_client or inp.show_server_tool_calls:
                        yield ToolCallFragment(frag.index, frag.id, frag.name, frag.arguments, is_client)
                    if frag.arguments:
                        call.args.append(frag.arguments)
                        state.call_output_chars += len(frag.arguments)
                        if tool is not None and tool.filler:
                            spoken = call.unspoken.feed(call.extractor.feed(frag.arguments))
                            if spoken:
                                text = state.speak(spoken, ("filler", rounds, frag.index))
                                timings.setdefault("first_filler_ms", self._ms(state.started))
                                timings.setdefault("first_content_ms", self._ms(state.started))
                                yield ContentDelta(text, kind="filler")
                if delta.finish_reason:
                    finish = delta.finish_reason
                if delta.usage:
                    usage.add(delta.usage)
                    state.call_usage_seen = True
                    self._learn_token_size(state, delta.usage)
            tail = unspoken.flush()  # text held back in case it was a marker, and was not
            if tail:
                content.append(tail)
                yield ContentDelta(state.speak(tail, ("content", rounds)))
            state.turn.steps += 1
            if not calls:
                if not "".join(content).strip() and not "".join(state.spoken).strip() and rounds == 0:
                    text = state.speak(EMPTY_REPLY_SENTENCE, "fallback")
                    yield ContentDelta(text, kind="fallback")
                reply_id = await self._finish(agent, state, finish or "stop", usage)
                yield TurnFinished(state.turn.id, _finish_reason(finish), usage, dict(timings), reply_id,
                                   state.route)
                return
            tool_calls = [ToolCall(id=c.id or ids.tool_call_id(), name=c.name, arguments=c.arguments)
                          for c in sorted(calls.values(), key=lambda c: c.index)]
            spoken_text = state.take_spoken()
            state.note_added(await self.store.append_messages([Message(
                id=ids.message_id(), agent_id=agent.id, role="assistant", content=spoken_text or None,
                tool_calls=tool_calls, turn_id=state.turn.id, created_at=self.clock(),
                kind="client_tool" if any(_is_client(by_name, c.name) for c in tool_calls) else "normal")]))
            messages.append(ChatMessage("assistant", spoken_text or None, tool_calls=tuple(tool_calls)))
            server_calls = [c for c in tool_calls if not _is_client(by_name, c.name)]
            fillers = {c.id or "": strip_markers(c.extractor.value) or None for c in calls.values()}
            for c in server_calls:
                yield ToolStarted(c.id, c.name, fillers.get(c.id))
            started = time.perf_counter()
            results = await asyncio.gather(*(self._execute(agent, inp, by_name, c) for c in server_calls))
            timings[f"tools_round{rounds + 1}_ms"] = (time.perf_counter() - started) * 1000
            rows = []
            for c, result in zip(server_calls, results, strict=True):
                yield ToolFinished(c.id, c.name, result.ok, result.duration_ms, result.output[:200])
                rows.append(Message(id=ids.message_id(), agent_id=agent.id, role="tool", content=result.output,
                                    tool_call_id=c.id, name=c.name, turn_id=state.turn.id,
                                    created_at=self.clock()))
                messages.append(ChatMessage("tool", result.output, tool_call_id=c.id, name=c.name))
            if rows:
                state.note_added(await self.store.append_messages(rows))
            if len(server_calls) < len(tool_calls):
                # The client runs its own tools; it comes back with their results in a new request.
                await self._finish(agent, state, "tool_calls", usage)
                yield TurnFinished(state.turn.id, "tool_calls", usage, dict(timings), None, state.route)
                return
            if any(r.ok and (d := by_name[c.name].driver) is not None and d.ends_turn
                   for c, r in zip(server_calls, results, strict=True) if c.name in by_name):
                # e.g. end_call: its filler was the goodbye; no model call after it
                reply_id = await self._finish(agent, state, "stop", usage)
                yield TurnFinished(state.turn.id, "stop", usage, dict(timings), reply_id, state.route)
                return
            rounds += 1

    async def _execute(
        self, agent: AgentState, inp: TurnInput, by_name: dict[str, ExposedTool], call: ToolCall
    ) -> ToolResult:
        started = time.perf_counter()
        exposed = by_name.get(call.name)
        if exposed is None:
            known = ", ".join(sorted(by_name))
            return ToolResult(False, f"Error: there is no tool named {call.name!r}. Tools: {known}.",
                              error="unknown_tool")
        args, error = parse_arguments(call.arguments)
        if args is not None and error is None:
            error = exposed.validate(args)
        if error is not None or args is None:
            return ToolResult(False, f"Error: invalid arguments for {call.name}: {error}. "
                              "Call the tool again with arguments that match its schema.", error="invalid_arguments")
        args.pop(PRE_EXEC_MSG, None)
        try:
            if call.name == SEARCH_MEMORY:
                output = await self.memory_search.search(agent.id, inp.user_text or "", args)
                result = ToolResult(True, output)
            elif exposed.driver is not None:
                result = ToolResult(True, await exposed.driver.run(args))
            elif self.tools is None or exposed.tool is None:
                result = ToolResult(False, f"Error: tool {call.name} cannot run on this server.", error="no_runtime")
            else:
                # The executor enforces the tool's own timeout and reports it; this is the backstop.
                async with asyncio.timeout(exposed.tool.options.timeout_s + TOOL_TIMEOUT_MARGIN_S):
                    result = await self.tools.execute(exposed.tool, args)
        except TimeoutError:
            result = ToolResult(False, f"Error: {call.name} timed out.", error="timeout")
        except VoiceLettaError as exc:
            result = ToolResult(False, f"Error: {call.name} failed: {exc.message}", error=exc.code)
        output = result.output if len(result.output) <= MAX_TOOL_OUTPUT_CHARS else (
            result.output[:MAX_TOOL_OUTPUT_CHARS] + " …[truncated]")
        return ToolResult(result.ok, output, result.error, (time.perf_counter() - started) * 1000)

    # -- endings -----------------------------------------------------------------------------------------

    async def _fail(self, agent: AgentState, state: _TurnState, exc: BaseException) -> AsyncIterator[AgentEvent]:
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

    def _reply_row(self, agent: AgentState, state: _TurnState, kind: Literal["normal", "fallback", "greeting"],
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

    async def _persist_interrupted(self, agent: AgentState, state: _TurnState) -> None:
        try:
            await self._save_interrupted(agent, state)
        except StorageError:
            if not await self._agent_gone(agent.id):
                raise
            log.info("turn %s: agent %s was deleted; nothing to keep", state.turn.id, agent.id)

    async def _save_interrupted(self, agent: AgentState, state: _TurnState) -> None:
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

    def _learn_token_size(self, state: _TurnState, usage: Usage) -> None:
        """Characters per prompt token of the model that answered, for estimating cut-off calls."""
        if usage.prompt_tokens > 0 and state.call_prompt_chars > 0 and state.call_model:
            ratio = min(8.0, max(1.0, state.call_prompt_chars / usage.prompt_tokens))
            old = self._chars_per_token.get(state.call_model)
            self._chars_per_token[state.call_model] = ratio if old is None else 0.8 * old + 0.2 * ratio
            if len(self._chars_per_token) > 256:
                self._chars_per_token.clear()

    def _usage_so_far(self, state: _TurnState) -> Usage:
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

    def _record_route(self, state: _TurnState) -> None:
        if state.route is not None:
            state.turn.provider, state.turn.model = state.route.provider, state.route.model
            state.turn.fallback_used = state.route.fallback_used
            state.turn.first_token_ms = state.route.first_token_ms

    async def _finish(self, agent: AgentState, state: _TurnState, reason: str, usage: Usage,
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
        """A client retried a turn that already completed: answer with what was said, store nothing."""
        rows = await self.store.list_messages(agent.id, limit=50)
        said = " ".join(m.content or "" for m in rows if m.turn_id == turn.id and m.role == "assistant").strip()
        yield TurnStarted(turn_id=turn.id, agent_id=agent.id, model=agent.llm.model)
        if said:
            yield ContentDelta(said)
        yield TurnFinished(turn.id, _finish_reason(turn.stop_reason), turn.usage, dict(turn.timings_ms), None)

    # -- helpers -----------------------------------------------------------------------------------------

    def _ms(self, since: float) -> float:
        return round((self.clock() - since) * 1000, 3)


def _prompt_chars(request: ChatRequest) -> int:
    n = sum(len(m.content or "") + sum(len(c.arguments) + len(c.name) for c in m.tool_calls)
            for m in request.messages)
    return n + sum(len(t.name) + len(t.description) + len(str(t.parameters)) for t in request.tools)


def _is_client(by_name: dict[str, ExposedTool], name: str) -> bool:
    tool = by_name.get(name)
    return tool is not None and tool.client


def _finish_reason(reason: str | None) -> Any:
    return reason if reason in ("stop", "length", "tool_calls", "content_filter", "error", "cancelled") else "stop"


__all__ = ["FALLBACK_SENTENCE", "TurnInput", "VoiceAgent"]
