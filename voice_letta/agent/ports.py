"""Small Protocols the agent needs from the outside world, and the typed values that cross them.

Adapters in ``providers/`` and ``store/`` implement these; tests implement them in ten lines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from voice_letta import config as C
from voice_letta.agent.models import (
    AgentState,
    Block,
    EmbeddingConfig,
    ImagePart,
    LLMConfig,
    Message,
    Passage,
    Tool,
    ToolCall,
    TurnRecord,
    Usage,
)

# ---------------------------------------------------------------------------------------------------------
# Chat models: one streaming interface whose output is OpenAI ChatCompletionChunk-shaped deltas.
# ---------------------------------------------------------------------------------------------------------

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a provider request, in OpenAI chat terms."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    images: tuple[ImagePart, ...] = ()  # user messages: attached images (providers that take them)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema (object)
    strict: bool = False


ToolChoice = Literal["auto", "none", "required"] | str  # a str other than the three names one tool


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One model call. The optional fields are per-call settings; ``None`` means the model's own config."""

    messages: tuple[ChatMessage, ...]
    config: LLMConfig
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    first_token_timeout_s: float | None = None  # see providers/fallback.py; 0 turns the deadline off
    temperature: float | None = None
    max_tokens: int | None = None
    cache_key: str | None = None  # groups requests sharing a prompt prefix (the agent id), for provider caches


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None  # a fragment of the JSON arguments


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """Which model of the chain answers: sent once, just before that model's first delta."""

    provider: str
    model: str
    index: int  # position in the configured chain: 0 is the agent's own model, 1+ a fallback
    attempt: int  # 1-based count of attempts this request made, this one included
    first_token_ms: float


@dataclass(frozen=True, slots=True)
class ModelNotice:
    """Something a listener should hear about while waiting: the model stalled, or the next one takes over.

    ``failover``: ``provider``/``model`` failed (``code``) or missed the first-token deadline
    (``first_token_timeout``) and ``next_provider``/``next_model`` is tried now. ``stalled``: the last model of
    the chain missed the deadline; it is still being waited for.
    """

    kind: Literal["failover", "stalled"]
    provider: str
    model: str
    code: str
    next_provider: str | None = None
    next_model: str | None = None


@dataclass(frozen=True, slots=True)
class ChatDelta:
    content: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    route: ModelRoute | None = None  # metadata, no output (see ModelRoute)
    notice: ModelNotice | None = None  # metadata, no output (see ModelNotice)


@runtime_checkable
class ChatModel(Protocol):
    """A chat model. ``stream`` raises ``ProviderError`` subclasses, never SDK exceptions."""

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]: ...

    async def aclose(self) -> None: ...


class ChatModelFactory(Protocol):
    """Builds (or reuses) the chat model for one agent's LLM config. Never a shared mutable client."""

    def for_config(self, config: LLMConfig) -> ChatModel: ...


# ---------------------------------------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------------------------------------


class Embedder(Protocol):
    model: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


# ---------------------------------------------------------------------------------------------------------
# Tools that run outside the agent (sandbox, MCP)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolResult:
    ok: bool
    output: str  # what the model sees
    error: str | None = None
    duration_ms: float = 0.0


class ToolExecutor(Protocol):
    async def execute(self, tool: Tool, arguments: dict[str, Any]) -> ToolResult: ...


# ---------------------------------------------------------------------------------------------------------
# Store
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageHit:
    message: Message
    score: float  # higher is better


@dataclass(frozen=True, slots=True)
class PassageHit:
    passage: Passage
    score: float


@dataclass(frozen=True, slots=True)
class NewBlock:
    label: str
    value: str = ""
    limit: int | None = None
    description: str = ""
    read_only: bool = False


# --- memory jobs and vectors (sleeptime hand-off; see agent/memory_manager.py) --------------------------

class EmbedderFactory(Protocol):
    """The embedder for an agent's ``EmbeddingConfig`` (built once per config, loaded lazily)."""

    def for_config(self, config: EmbeddingConfig) -> Embedder: ...


JobKind = Literal["eviction", "session_end", "import"]
JobStatus = Literal["pending", "running", "done", "failed"]


@dataclass(frozen=True, slots=True)
class HandoffRange:
    """Which messages a hand-off covers, by ``seq``: ``older`` lines are archived, ``newer`` only inform."""

    older_from_seq: int
    older_through_seq: int
    newer_from_seq: int | None = None
    newer_through_seq: int | None = None


@dataclass(frozen=True, slots=True)
class MemoryJob:
    id: int
    agent_id: str
    kind: JobKind
    payload: HandoffRange
    through_seq: int
    status: JobStatus
    attempts: int
    run_after: float
    created_at: float
    updated_at: float
    error: str | None = None
    crashes: int = 0  # runs cut short by a crash or a shutdown: they are not failures

    @property
    def failures(self) -> int:
        """Runs that failed (or the one running now): what counts against the retry limit."""
        return self.attempts - self.crashes


@dataclass(frozen=True, slots=True)
class PassageVectors:
    """An agent's passage embeddings of one model, for an in-memory vector index (float32 rows)."""

    ids: tuple[str, ...]
    vectors: bytes  # len(ids) * dim float32 little-endian values, row-major
    dim: int
    start_at: tuple[float, ...]  # coalesce(start_at, end_at, created_at)
    end_at: tuple[float, ...]  # coalesce(end_at, start_at, created_at)
    other_models: int  # passages of this agent embedded with another model (or none), not included


@dataclass(frozen=True, slots=True)
class PassageTexts:
    """An agent's passages for its in-memory keyword index, in insertion order (no vectors)."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    synopses: tuple[str, ...]
    start_at: tuple[float, ...]  # coalesce(start_at, end_at, created_at)
    end_at: tuple[float, ...]  # coalesce(end_at, start_at, created_at)
    # each passage's stored keyword terms (``recall.text.encode_terms``), None where not stored yet
    terms: tuple[bytes | None, ...] = ()
    superseded_by: tuple[str | None, ...] = ()  # the passage that replaces each one, if any


def is_retry_of(latest: TurnRecord, now: float, *, replay_window_s: float, retry_window_s: float) -> bool:
    """Is a request equal to the agent's latest turn a retry of it (no Idempotency-Key)? A completed turn is
    replayed only shortly after it ended; one that failed, was cut off or died is run again for a while longer."""
    if latest.status == "completed" or (latest.ended_at is not None and latest.error is None):
        return latest.ended_at is not None and now - latest.ended_at <= replay_window_s
    return now - latest.started_at <= retry_window_s


@dataclass(frozen=True, slots=True)
class TurnBegun:
    """What ``Store.begin_turn`` found and did, in one transaction, once it held the agent's lease."""

    lease: int  # the lease token; ``end_turn`` / ``release_agent`` give the lease back only if it still matches
    previous: TurnRecord | None  # the agent's latest turn with this fingerprint; then nothing was inserted
    inserted: list[Message]  # the input rows as stored (with their seq)
    history: list[Message]  # the agent's in-context messages after the insert, in seq order


ChangeKind = Literal["agent", "passage_added", "passages", "memory_updated"]


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the change log: what another server process must hear about (see ``Store.changes_since``)."""

    id: int
    agent_id: str
    kind: ChangeKind  # agent: settings/blocks/tools; passage_added; passages: deleted or changed; memory_updated
    origin: str  # the worker that made the change
    at: float
    passage_id: str | None = None  # passage_added
    passages_added: int = 0  # memory_updated
    passages_removed: int = 0  # memory_updated
    reason: str = ""  # memory_updated


class Store(Protocol):
    """Persistence for agents, memory blocks, messages, passages, tools and turns (SQLite or PostgreSQL).

    Several server processes may share one database: one turn at a time per agent is a lease in the database
    (``begin_turn``/``end_turn``), memory jobs are leased to the worker that runs them.
    """

    # agents
    async def create_agent(self, agent: AgentState, blocks: Sequence[NewBlock | str]) -> AgentState:
        """Insert an agent; ``blocks`` are new blocks or ids of existing blocks to share."""
        ...

    async def get_agent(self, agent_id: str) -> AgentState: ...  # NotFoundError
    async def list_agents(self) -> list[AgentState]: ...
    async def update_agent(self, agent: AgentState) -> AgentState: ...
    async def delete_agent(self, agent_id: str) -> None: ...

    # blocks
    async def get_block(self, block_id: str) -> Block: ...
    async def list_blocks(self, agent_id: str) -> list[Block]: ...
    async def update_block(
        self, block_id: str, *, value: str, expected_version: int | None = None, **fields: Any
    ) -> Block:
        """Write a block; with ``expected_version`` it is a compare-and-set (ConflictError on mismatch)."""
        ...

    async def attach_block(self, agent_id: str, block_id: str) -> None: ...
    async def detach_block(self, agent_id: str, block_id: str) -> None: ...

    # messages
    async def append_messages(self, messages: Sequence[Message]) -> list[Message]: ...
    async def update_message(
        self, message_id: str, *, content: str | None = None, interrupted: bool | None = None
    ) -> Message: ...
    async def list_messages(
        self, agent_id: str, *, in_context: bool | None = None, limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[Message]: ...
    async def evict_messages(self, agent_id: str, *, through_seq: int) -> int: ...
    async def search_messages(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        exclude_in_context: bool = True, limit: int = 5,
    ) -> list[MessageHit]: ...

    # passages
    async def insert_passages(self, passages: Sequence[Passage]) -> list[Passage]: ...
    async def list_passages(self, agent_id: str, *, limit: int = 100, offset: int = 0) -> list[Passage]: ...
    async def delete_passage(self, agent_id: str, passage_id: str) -> None: ...
    async def search_passages_text(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[PassageHit]: ...

    # memory jobs and vectors (durable sleeptime hand-off; one server process per database file)
    async def enqueue_memory_job(
        self, agent_id: str, kind: JobKind, payload: HandoffRange, *, through_seq: int,
        evict_through_seq: int | None = None, now: float,
    ) -> MemoryJob:
        """Insert a pending job and (same transaction) evict messages through ``evict_through_seq``.

        ConflictError, writing nothing, when a job of the agent already handed over ``payload.older_from_seq``."""
        ...

    async def handoff_watermark(self, agent_id: str) -> int:
        """The newest message seq already handed over by any job of the agent (0 if none)."""
        ...

    async def claim_memory_job(
        self, *, now: float, holder: str = "", lease_s: float = C.AGENT_LEASE_S, affinity_s: float = 0.0
    ) -> MemoryJob | None:
        """Atomically move the oldest due pending job of an agent with no running job (or a running job whose
        lease ran out) to 'running', leased to ``holder`` until ``now + lease_s``.

        ``affinity_s``: a pending job of an agent whose turn lease another worker holds, or took less than a lease
        period ago, is left to that worker until it has been due for ``affinity_s`` seconds (then, or once that
        worker was reaped by ``release_holder``, anyone takes it). Jobs run where the agent's caches and index are
        warm, and their writes do not invalidate another worker's."""
        ...

    async def complete_memory_job(self, job_id: int, *, now: float, attempt: int | None = None) -> bool:
        """'done', unless (with ``attempt``) the job was claimed again since: then False and nothing changes."""
        ...

    async def fail_memory_job(
        self, job_id: int, error: str, *, retry_at: float | None, now: float, attempt: int | None = None
    ) -> None:
        """Back to 'pending' (due at ``retry_at``) or, with ``retry_at=None``, 'failed' for good (fenced like
        ``complete_memory_job``)."""
        ...

    async def release_memory_job(self, job_id: int, *, now: float, attempt: int | None = None) -> None:
        """A running job handed back unfinished (shutdown): pending again at once, not counted as a failure."""
        ...

    async def requeue_running_jobs(self, *, now: float) -> int:
        """Jobs left 'running' whose lease ran out (their process died) go back to 'pending'."""
        ...

    async def list_memory_jobs(self, agent_id: str, *, limit: int = 50) -> list[MemoryJob]: ...
    async def insert_job_passages(self, job_id: int, passages: Sequence[tuple[str, Passage]], *,
                                  supersedes: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """Insert a job's (chunk_key, passage) pairs in one transaction; nothing if the job already has some.
        ``supersedes`` (chunk_key -> ids of the agent's earlier passages) marks those as superseded by the chunk's
        passage in the same transaction (``mark_superseded``).

        Returns the ids of the passages inserted now (a re-run of a job inserts nothing twice)."""
        ...

    async def mark_superseded(self, agent_id: str, old_ids: Sequence[str], new_id: str, *, at: float) -> list[str]:
        """Mark the agent's passages ``old_ids`` as superseded by its passage ``new_id`` (``superseded_by``,
        ``superseded_at``); passages already superseded, unknown ids, other agents' passages and ``new_id`` itself
        are left alone. Returns the ids marked."""
        ...

    async def get_passages(
        self, agent_id: str, passage_ids: Sequence[str], *, with_vectors: bool = False
    ) -> list[Passage]:
        """In the order asked, without vectors (``embedding`` is None) unless ``with_vectors``."""
        ...

    async def search_passage_ids(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[tuple[str, float]]:
        """BM25 over passages like ``search_passages_text``, returning (id, score) only."""
        ...

    async def count_passages(self, agent_id: str) -> int: ...
    async def load_passage_vectors(self, agent_id: str, model: str, dim: int) -> PassageVectors: ...
    async def load_passage_texts(self, agent_id: str) -> PassageTexts:
        """Every passage of the agent (id, lines, synopsis, when said, stored terms), oldest insert first."""
        ...

    async def set_passage_terms(self, agent_id: str, terms: Sequence[tuple[str, bytes]]) -> int:
        """Store (passage id, encoded terms) pairs computed for passages written without them; return how many
        rows changed. Not a change other processes reload for (no change-log row)."""
        ...

    async def passages_to_reembed(
        self, agent_id: str, model: str, dim: int, *, limit: int
    ) -> tuple[list[Passage], int]:
        """Up to ``limit`` passages (oldest first, without vectors) not embedded by ``model`` at ``dim``, and how
        many such passages the agent has in all."""
        ...

    async def set_passage_embeddings(
        self, agent_id: str, vectors: Sequence[tuple[str, Sequence[float]]], *, model: str
    ) -> int:
        """Replace passages' vectors (and their model and dimension) in one transaction; returns rows changed."""
        ...

    # tools
    async def create_tool(self, tool: Tool) -> Tool: ...
    async def get_tool(self, tool_id: str) -> Tool: ...
    async def list_tools(self) -> list[Tool]: ...
    async def delete_tool(self, tool_id: str) -> None: ...
    async def attach_tool(self, agent_id: str, tool_id: str) -> None: ...
    async def detach_tool(self, agent_id: str, tool_id: str) -> None: ...

    # turns
    async def save_turn(self, turn: TurnRecord) -> None: ...
    async def find_turn(self, agent_id: str, fingerprint: str) -> TurnRecord | None: ...
    async def list_turns(self, agent_id: str, *, limit: int = 50, status: str | None = None) -> list[TurnRecord]:
        """The agent's latest ``limit`` turns (with that ``status``), oldest first."""
        ...

    async def mark_unfinished_turns(self, *, now: float) -> int:
        """At start-up: 'running' turns whose agent lease is not held (their process died) → 'incomplete'."""
        ...

    async def busy_lease_holders(self) -> list[str]:
        """The holders of busy agent leases (expired or not)."""
        ...

    async def begin_turn(
        self, turn: TurnRecord, rows: Sequence[Message], *, holder: str, lease_s: float, now: float,
        replay_window_s: float = C.REPLAY_WINDOW_S, retry_window_s: float = C.RETRY_WINDOW_S,
        key_ttl_s: float = C.IDEMPOTENCY_KEY_TTL_S, supersede_abandoned: bool = False,
        supersede_window_s: float = C.SUPERSEDE_WINDOW_S,
    ) -> TurnBegun | None:
        """Take the agent's lease for ``holder`` and start the turn, all in one transaction.

        ``None`` (and nothing written) when another holder's lease is busy and not expired. Otherwise the turn
        this one retries, if any, is returned as ``previous`` and nothing is stored: with
        ``turn.idempotency_key``, the agent's turn with that key started within ``key_ttl_s``; without, the
        agent's latest turn when it has ``turn.fingerprint`` and ``is_retry_of`` says so. Else ``turn`` is saved
        and ``rows`` appended; first, with ``supersede_abandoned``, the input rows of the agent's latest turn are
        deleted when it was abandoned (cut off before any output) within ``supersede_window_s``. The in-context
        history is read last.
        """
        ...

    async def end_turn(
        self, agent_id: str, turn: TurnRecord | None, rows: Sequence[Message], *, holder: str, lease: int
    ) -> list[Message]:
        """Append ``rows``, save ``turn`` (when given) and give the lease back, in one transaction."""
        ...

    async def release_agent(self, agent_id: str, *, holder: str, lease: int) -> None:
        """Give a lease back without writing anything else (a no-op when it is no longer this holder's)."""
        ...

    async def renew_leases(self, holder: str, *, until: float) -> int:
        """Extend every busy agent lease and running memory job of ``holder`` to ``until``; returns how many."""
        ...

    async def release_holder(self, holder: str, *, now: float) -> int:
        """``holder`` is dead: free its agent leases (their holder becomes ``''``, no one, so their agents' jobs
        wait for no affinity) and make its running jobs claimable now. Returns how many busy leases and running
        jobs it freed."""
        ...

    # the change log (several processes on one database): agent, block, tool and passage writes add rows by
    # themselves, in their own transaction; memory.updated for live sessions is recorded explicitly
    async def record_memory_updated(
        self, agent_id: str, *, passages_added: int, passages_removed: int, reason: str, now: float
    ) -> None: ...
    async def changes_since(self, after_id: int, *, limit: int = 500) -> list[Change]:
        """Rows with ``id > after_id``, oldest first (every origin, this process's too)."""
        ...

    async def latest_change_id(self) -> int: ...
    async def wait_for_changes(self, timeout_s: float) -> None:
        """Return after ``timeout_s``, or sooner when the database signals new rows (PostgreSQL NOTIFY)."""
        ...

    async def prune_changes(self, *, before: float) -> int:
        """Delete rows older than ``before``; returns how many."""
        ...

    async def aclose(self) -> None: ...


# ---------------------------------------------------------------------------------------------------------
# Speech
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    duration_ms: float = 0.0  # length of the audio transcribed
    processing_ms: float = 0.0


class SpeechToText(Protocol):
    """Transcribes one utterance of PCM16 mono audio. Blocking inference runs off the event loop."""

    async def transcribe(self, pcm16: bytes, sample_rate_hz: int) -> Transcript: ...


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    pcm16: bytes  # mono, little-endian
    sample_rate_hz: int


class TextToSpeech(Protocol):
    """Synthesizes text to PCM16 chunks as soon as each is ready."""

    sample_rate_hz: int

    def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[SpeechChunk]: ...


# ---------------------------------------------------------------------------------------------------------
# Memory layer hooks (the sleeptime agent implements these)
# ---------------------------------------------------------------------------------------------------------


class MemoryHooks(Protocol):
    """Called by the voice path; implementations must return quickly and do their work in the background."""

    async def turn_completed(self, agent_id: str, window: Sequence[Message] | None = None) -> None:
        """A turn ended; ``window``, when given, is the agent's in-context messages right after it (the voice loop
        knows them, so the memory layer need not read them back)."""
        ...

    async def session_ended(self, agent_id: str) -> None: ...
