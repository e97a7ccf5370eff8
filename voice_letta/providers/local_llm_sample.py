"""Sampling one reply from the embedded model: the sampler chain, the prompt prefill, the token loop.

Kept apart from ``local_llm`` (the model's life cycle, request planning, threads): this is the part that talks
to llama.cpp token by token, under the model's lock, in the generation thread.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from voice_letta.agent.ports import ChatDelta, FinishReason
from voice_letta.providers.local_llm_prompt import _Plan
from voice_letta.providers.local_llm_stream import TRIGGER_PATTERN, LeadingTagFilter, _CallStream, _StopFilter

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar


class StopFlag(Protocol):
    """What a prefill checks between chunks: a ``threading.Event``, or several of them (``AnyOf``)."""

    def is_set(self) -> bool: ...


class AnyOf:
    """Set when any of its events is: a memory job's prefill stops for its own cancel or for a live turn."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)


PREFILL_CHUNK_TOKENS = 32  # prompt tokens evaluated between two cancellation checks
TOOL_CALL_MAX_TOKENS = 384  # a tool call may run past max_tokens up to this, so its JSON always closes
# Plain replies (no tools) also end at a blank line: a spoken answer is one paragraph (SmolLM2 goes on with
# "\n\n1. …" lists otherwise). Not with tools: a tool call may follow a blank line.
PLAIN_STOPS = ("\n\n",)
SAMPLING = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.1}


def _sample(
    llm: Llama,
    plan: _Plan,
    tokens: list[int],
    grammar: LlamaGrammar | None,
    temperature: float,
    room: int,
    max_new: int,
    emit: Callable[[ChatDelta | BaseException | None], None],
    cancel: threading.Event,
) -> tuple[FinishReason, int, bool] | None:
    """One sampled reply to the prefilled prompt: (finish reason, tokens out, anything emitted); None if cancelled."""
    import llama_cpp

    out = (_CallStream(plan.stop, forced=not plan.allow_reply) if plan.tools
           else _StopFilter((*plan.stop, *PLAIN_STOPS)))
    lead = LeadingTagFilter()
    said = False

    def emit_clean(delta: ChatDelta) -> None:
        nonlocal said
        if delta.content:
            text = lead.feed(delta.content)
            if text:
                said = True
                emit(ChatDelta(content=text))
            return
        if delta.tool_calls and (held := lead.flush()):
            emit(ChatDelta(content=held))
        said = said or bool(delta.tool_calls)
        emit(delta)
    sampler = _sampler(llm, temperature, grammar, lazy=plan.allow_reply)
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
                return None
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                finish = "stop"
                break
            n_out += 1
            for delta in out.feed(decoder.decode(llm.detokenize([token]))):
                emit_clean(delta)
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
        emit_clean(delta)
    for delta in out.flush():
        emit_clean(delta)
    if held := lead.flush():
        said = True
        emit(ChatDelta(content=held))
    if isinstance(out, _CallStream) and out.calling:
        finish = "tool_calls" if out.call_done else "length"
    return finish, n_out, said


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


def _prefill(llm: Llama, tokens: list[int], cancel: StopFlag) -> int | None:
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


