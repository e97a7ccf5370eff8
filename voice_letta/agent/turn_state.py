"""The state of one turn while it runs: its input (``TurnInput``), what it has said and spent so far
(``TurnState``), the tool calls being streamed (``ToolCallDraft``), and small pure helpers the loop's parts share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voice_letta.agent.events import TurnRoute
from voice_letta.agent.filler import StreamingFieldExtractor
from voice_letta.agent.models import ImagePart, Message, TurnRecord, Usage
from voice_letta.agent.ports import ChatRequest, ToolChoice, ToolSpec
from voice_letta.agent.spoken import SpokenTextFilter
from voice_letta.agent.tools import PRE_EXEC_MSG, DriverTool, ExposedTool


@dataclass(frozen=True, slots=True)
class TurnInput:
    """The new input of one turn. Empty ``user_text`` with ``tool_results`` resumes after client tools."""

    user_text: str | None = None
    client_tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"  # the client's, for the turn's first model call (later calls choose freely)
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
class ToolCallDraft:
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
class TurnState:
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


def prompt_chars(request: ChatRequest) -> int:
    # a plain loop: a generator per message (for its tool calls) was most of the cost, ~1 % of a turn
    n = 0
    for m in request.messages:
        if m.content:
            n += len(m.content)
        for c in m.tool_calls:
            n += len(c.arguments) + len(c.name)
    for t in request.tools:
        n += _tool_chars(t)
    return n


_TOOL_CHARS: dict[int, tuple[ToolSpec, int]] = {}  # id(spec) -> (spec, chars): the agents' tools are built once
_TOOL_CHARS_KEPT = 1024  # a client's tools are new objects every request: kept few, cleared when full


def _tool_chars(tool: ToolSpec) -> int:
    """A tool's size in the prompt; remembered per spec object (``str`` of its schema was ~50 us of every turn)."""
    found = _TOOL_CHARS.get(id(tool))
    if found is not None and found[0] is tool:
        return found[1]
    chars = len(tool.name) + len(tool.description) + len(str(tool.parameters))
    if len(_TOOL_CHARS) >= _TOOL_CHARS_KEPT:
        _TOOL_CHARS.clear()
    _TOOL_CHARS[id(tool)] = (tool, chars)  # the spec is kept, so its id is not reused while the entry lives
    return chars


def is_client_tool(by_name: dict[str, ExposedTool], name: str) -> bool:
    tool = by_name.get(name)
    return tool is not None and tool.client


def finish_reason_of(reason: str | None) -> Any:
    return reason if reason in ("stop", "length", "tool_calls", "content_filter", "error", "cancelled") else "stop"
