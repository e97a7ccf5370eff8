"""The VoiceSleeptimeAgent: one run archives handed-over dialogue and rewrites the user's memory block.

The sleeptime agent is a *logical* agent: it has no row of its own. It uses ``agent.sleeptime_llm`` (or the
voice agent's ``llm``) and the voice agent's own memory blocks. A run gets a numbered transcript:
``(Older)`` lines are the ones leaving the voice agent's window (or the whole session that just ended) and
``(Newer)`` lines are what stays in context, numbered on from the Older ones (Letta §1.11/§2.6).

Tool rules (checked by ``ToolRules``, a pure state machine):
``store_memories`` exactly once first → ``rethink_user_memory`` one or more times → ``finish_rethinking_memory``.
A call that breaks a rule, or has bad arguments, gets an error tool result with a hint and the run goes
on, for at most ``max_steps`` model calls. What the model is shown (prompt, tools, transcript, related memories)
is in ``sleeptime_prompt.py``.

Nothing handed over is lost: when the model stores no chunk (an empty ``chunks`` list, or no valid
``store_memories`` call within ``max_steps``), the user's lines worth keeping are archived word for word, marked
``verbatim`` (``sleeptime_checks.verbatim_lines``). The embedded SmolLM2-135M, forced by its grammar to answer with a
call, takes the grammar's shortest path, ``{"chunks": []}``; pushed to store a chunk, it invents facts the lines
do not say, so its lines are better kept as said than summarised. An empty block rewrite keeps the block.

A user line that states a change ("switched to weds from now on", "actually make that thursday") inside a chunk, after
other lines of the user's, is archived once more on its own, word for word and dated when it was said
(``sleeptime_checks.change_lines``): in one passage with what it replaces, dated from the chunk's first line, search
could not see it as the newer version.

Writes:
- each stored chunk becomes a ``Passage``: synopsis (the chunk's context), the original lines, the time
  range in which they were said (min/max ``created_at`` of those messages) and an embedding of
  synopsis + lines. All chunks of a job are inserted in one transaction keyed by the job id, so a re-run
  of the job (after a crash) stores nothing twice.
- a block rewrite checks the block's character limit and is a compare-and-set on the version the run
  showed the model. If someone else changed the block meanwhile, the model is shown the new value and
  asked to merge (nothing is overwritten blindly). A re-run starts from the current value, so repeating a
  job converges instead of duplicating.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from voice_letta import ids
from voice_letta.agent.models import AgentState, Block, Passage, ToolCall
from voice_letta.agent.ports import (
    ChatMessage,
    ChatModelFactory,
    ChatRequest,
    Embedder,
    JobKind,
    Store,
)
from voice_letta.agent.sleeptime_checks import (
    MIN_KEPT_SHARE,
    ToolRules,
    change_lines,
    chunk_problem,
    kept_share,
    rewrite_problem,
    supersedes_problem,
    ungrounded,
    verbatim_lines,
)
from voice_letta.agent.sleeptime_prompt import (  # re-exported: callers import them from here
    DEFAULT_MAX_STEPS,
    FINISH,
    FINISH_SPEC,
    MAX_TOOL_TEXT_CHARS,
    RETHINK,
    RETHINK_SPEC,
    SLEEPTIME_SYSTEM,
    SLEEPTIME_TOOLS,
    STORE_MEMORIES,
    STORE_MEMORIES_SPEC,
    Line,
    Transcript,
    build_request_text,
    build_transcript,
    handle,
    render_line,
    system_prompt,
)
from voice_letta.errors import ConflictError, NotFoundError

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_STEPS",
    "FINISH",
    "FINISH_SPEC",
    "MAX_TOOL_TEXT_CHARS",
    "RETHINK",
    "RETHINK_SPEC",
    "SLEEPTIME_SYSTEM",
    "SLEEPTIME_TOOLS",
    "STORE_MEMORIES",
    "STORE_MEMORIES_SPEC",
    "Line",
    "RunResult",
    "SleeptimeRun",
    "ToolRules",
    "Transcript",
    "build_request_text",
    "build_transcript",
    "handle",
    "kept_share",
    "render_line",
    "system_prompt",
]

# --- one run ------------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    steps: int = 0
    passages: list[Passage] = field(default_factory=list)
    superseded: dict[str, list[str]] = field(default_factory=dict)  # new passage id -> ids it replaces
    rewrites: int = 0
    conflicts: int = 0
    rule_errors: int = 0
    finished: bool = False
    verbatim: int = 0  # passages the server archived word for word (the model stored no chunk)
    changes: int = 0  # a chunk's lines that state a change, archived once more on their own (change_lines)


# Block rewrites refused (invented, or dropping the block's facts) before a run gives up on the block and keeps it: a
# weak model repeats its refused text to the end of the step budget (the embedded one: 6 more calls, ~30 s of CPU).
MAX_REFUSED_REWRITES = 2


class SleeptimeRun:
    """Runs the sleeptime agent for one job. Every call here is async I/O; embeddings run in threads."""

    def __init__(
        self,
        store: Store,
        models: ChatModelFactory,
        embedder: Embedder,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.models = models
        self.embedder = embedder
        self.max_steps = max_steps
        self.clock = clock

    async def run(
        self, agent: AgentState, job_id: int, kind: JobKind, transcript: Transcript,
        related: Sequence[Passage] = (),
    ) -> RunResult:
        """``related``: the agent's archived memories the transcript may update (shown to the model with handles
        that ``store_memories`` chunks name in ``supersedes``)."""
        block = agent.block(agent.memory_target_label)
        if block is None:
            raise NotFoundError(f"agent {agent.id} has no block labelled {agent.memory_target_label!r}")
        shown = tuple(line.text for line in (*transcript.older, *transcript.newer))
        shown += tuple(f"{p.synopsis}\n{p.text}" for p in related)
        state = _RunState(block=block, related=tuple(related), shown=shown)
        rules = ToolRules()
        result = RunResult()
        config = agent.sleeptime_llm or agent.llm
        model = self.models.for_config(config)
        messages: list[ChatMessage] = [
            ChatMessage("system", system_prompt(agent)),
            ChatMessage("user", build_request_text(transcript, kind, keep_messages=agent.buffer.min_messages,
                                                   related=related, tz=agent.timezone, now=self.clock())),
        ]
        while result.steps < self.max_steps and not rules.finished:
            result.steps += 1
            content, calls = await _complete(model.stream(ChatRequest(
                tuple(messages), config, tools=SLEEPTIME_TOOLS, tool_choice=rules.tool_choice(),
                background=True)))
            if not calls:
                messages.append(ChatMessage("assistant", content or "(no tool call)"))
                messages.append(ChatMessage("user", "Error: answer only with tool calls. Call "
                                            f"{' or '.join(rules.allowed())} next."))
                result.rule_errors += 1
                continue
            messages.append(ChatMessage("assistant", content or None, tool_calls=tuple(calls)))
            for call in calls:
                output = await self._execute(agent, job_id, transcript, rules, state, result, call)
                messages.append(ChatMessage("tool", output, tool_call_id=call.id, name=call.name))
            if state.refused >= MAX_REFUSED_REWRITES:  # a model that cannot write the block: keep it as it is
                log.warning("sleeptime run for agent %s: %d block rewrites refused; the block is kept", agent.id,
                            state.refused)
                break
        result.finished = rules.finished
        if not rules.stored:  # never a valid store_memories call: the lines are not lost for that
            log.warning("sleeptime model for agent %s did not archive the lines within %d steps (%d rule errors); "
                        "archiving the user's lines word for word", agent.id, self.max_steps, result.rule_errors)
            await self._archive_verbatim(agent, job_id, transcript, result)
        if not rules.finished:
            log.warning("sleeptime run for agent %s stopped after %d steps without finishing", agent.id,
                        result.steps)
        return result

    async def _execute(
        self, agent: AgentState, job_id: int, transcript: Transcript, rules: ToolRules, state: _RunState,
        result: RunResult, call: ToolCall,
    ) -> str:
        error = rules.violation(call.name)
        if error is not None:
            result.rule_errors += 1
            return error
        try:
            args = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as exc:
            result.rule_errors += 1
            return f"Error: the arguments are not valid JSON ({exc.msg}). Call {call.name} again."
        if not isinstance(args, dict):
            result.rule_errors += 1
            return f"Error: the arguments must be a JSON object. Call {call.name} again."
        if call.name == STORE_MEMORIES:
            output, ok = await self._store_memories(agent, job_id, transcript, args, result, state)
            rules.stored = rules.stored or ok
            return output
        if call.name == RETHINK:
            output, ok = await self._rethink(state, args, result)
            if ok:
                rules.rethinks += 1
            return output
        rules.finished = True
        return "OK. Memory is up to date."

    async def _store_memories(
        self, agent: AgentState, job_id: int, transcript: Transcript, args: dict[str, Any], result: RunResult,
        state: _RunState,
    ) -> tuple[str, bool]:
        related = state.related
        chunks = args.get("chunks")
        n = len(transcript.older)
        if not isinstance(chunks, list):
            return ("Error: chunks must be a list of {start_index, end_index, context}. "
                    "Call store_memories again."), False
        parsed: list[tuple[int, int, str]] = []
        known = {handle(i): p.id for i, p in enumerate(related)} | {p.id: p.id for p in related}
        replaces: dict[str, list[str]] = {}
        for i, chunk in enumerate(chunks):
            problem = chunk_problem(chunk, n) or supersedes_problem(chunk, known)
            if problem is None and (invented := ungrounded(str(chunk["context"]), state.shown)):
                problem = (f"its context says what no line says ({', '.join(invented[:8])}): state only facts from "
                           "the lines.")
            if problem is not None:
                return (f"Error: chunk {i}: {problem} Nothing was stored. Call store_memories again with every "
                        f"chunk inside the (Older) lines 0..{n - 1}."), False
            start, end = int(chunk["start_index"]), int(chunk["end_index"])
            parsed.append((start, end, str(chunk["context"]).strip()))
            named = [known[str(h).strip().strip("[]")] for h in chunk.get("supersedes") or ()]
            if named:
                replaces.setdefault(f"{start}-{end}", []).extend(named)
        if not parsed:
            kept = await self._archive_verbatim(agent, job_id, transcript, result)
            if kept:
                return (f"OK. You stored no chunk, so the user's lines were archived word for word ({kept} "
                        "memories). Now call rethink_user_memory."), True
            return "OK. Nothing archived. Now call rethink_user_memory.", True
        now = self.clock()
        texts = []
        keyed: list[tuple[str, Passage]] = []
        for start, end, context in parsed:
            lines = transcript.older[start : end + 1]
            text = "\n".join(line.text for line in lines)
            texts.append(f"{context}\n{text}")
            keyed.append((f"{start}-{end}", Passage(
                id=ids.passage_id(), agent_id=agent.id, text=text, synopsis=context,
                start_at=min(line.created_at for line in lines), end_at=max(line.created_at for line in lines),
                created_at=now, embedding_model=self.embedder.model, embedding_dim=self.embedder.dim)))
        # a change told inside a chunk after what it may replace: once more on its own, dated when it was said
        chunked = {(start, end) for start, end, _ in parsed}
        for start, end in change_lines(transcript.older, sorted(chunked)):
            if (start, end) in chunked:
                continue
            lines = transcript.older[start : end + 1]
            texts.append("\n".join(line.text for line in lines))
            keyed.append((f"change-{start}-{end}", Passage(
                id=ids.passage_id(), agent_id=agent.id, text=texts[-1], start_at=lines[0].created_at,
                end_at=lines[-1].created_at, created_at=now, embedding_model=self.embedder.model,
                embedding_dim=self.embedder.dim, verbatim=True)))
        vectors = await self.embedder.embed(texts)
        keyed = [(k, p.model_copy(update={"embedding": v})) for (k, p), v in zip(keyed, vectors, strict=True)]
        inserted = set(await self.store.insert_job_passages(job_id, keyed, supersedes=replaces))
        result.passages.extend(p for _, p in keyed if p.id in inserted)
        result.changes += sum(1 for k, p in keyed if p.id in inserted and k.startswith("change-"))
        result.superseded.update({p.id: replaces[k] for k, p in keyed if p.id in inserted and k in replaces})
        if not inserted:
            return ("OK. These lines were already archived by an earlier attempt of this job. Now call "
                    "rethink_user_memory."), True
        return f"OK. Stored {len(inserted)} memories. Now call rethink_user_memory.", True

    async def _archive_verbatim(self, agent: AgentState, job_id: int, transcript: Transcript,
                                result: RunResult) -> int:
        """Archive the user's (Older) lines worth keeping word for word, marked ``verbatim`` (no synopsis), in the
        job's one insert (a re-run stores nothing twice): what a run stores when the model stored no chunk. Returns
        how many passages that made (0 when the lines hold nothing worth keeping, or a re-run found them stored)."""
        ranges = verbatim_lines(transcript.older)
        if not ranges:
            return 0
        now = self.clock()
        keyed: list[tuple[str, Passage]] = []
        for start, end in ranges:
            lines = transcript.older[start : end + 1]
            keyed.append((f"verbatim-{start}-{end}", Passage(
                id=ids.passage_id(), agent_id=agent.id, text="\n".join(line.text for line in lines),
                start_at=min(line.created_at for line in lines), end_at=max(line.created_at for line in lines),
                created_at=now, embedding_model=self.embedder.model, embedding_dim=self.embedder.dim,
                verbatim=True)))
        vectors = await self.embedder.embed([p.text for _, p in keyed])
        keyed = [(k, p.model_copy(update={"embedding": v})) for (k, p), v in zip(keyed, vectors, strict=True)]
        inserted = set(await self.store.insert_job_passages(job_id, keyed))
        result.passages.extend(p for _, p in keyed if p.id in inserted)
        result.verbatim += len(inserted)
        return len(inserted)

    async def _rethink(self, state: _RunState, args: dict[str, Any], result: RunResult) -> tuple[str, bool]:
        new = args.get("new_memory")
        block = state.block
        if not isinstance(new, str):
            return "Error: new_memory must be a string. Call rethink_user_memory again.", False
        new = new.strip()
        if not new and block.value.strip():
            # an empty rewrite never clears a memory block (REST can): a weak model answers "" when it has nothing
            # (the embedded 135M one did so until its step budget ran out, never finishing)
            return ("OK. new_memory is empty, so the block is kept as it is. Call finish_rethinking_memory, or "
                    "rethink_user_memory with the complete new text."), True
        if len(new) > block.limit:
            return (f"Error: new_memory is {len(new)} characters but the {block.label} block holds at most "
                    f"{block.limit}. Shorten it (merge related facts, drop trivia) and call "
                    "rethink_user_memory again. Nothing was written."), False
        if block.read_only:
            return f"Error: the {block.label} block is read-only. Call finish_rethinking_memory.", True
        if invented := ungrounded(new, (block.value, *state.shown), judge_few=True):
            state.refused += 1
            return ("Error: new_memory says what neither the block nor the transcript says "
                    f"({', '.join(invented[:8])}). Keep the block's facts and add only what the lines say; if nothing "
                    f"is new, pass the current text unchanged. Nothing was written. The current text is:\n{block.value}"
                    ), False
        if (problem := rewrite_problem(block.value, new)) is not None:
            state.refused += 1
            return (f"Error: {problem}. Keep every fact of the {block.label} block that is still true and change only "
                    "what the transcript changed; if nothing is new, pass the current text unchanged. Nothing was "
                    f"written. The current text is:\n{block.value}"), False
        kept = kept_share(block.value, new)
        if kept is not None and kept < MIN_KEPT_SHARE:
            state.refused += 1
            return (f"Error: new_memory keeps only {kept:.0%} of what the {block.label} block says. The block is "
                    "rewritten whole: keep every fact that is still true and change only what the transcript "
                    "changed; if nothing is new, pass the current text unchanged. Nothing was written. The current "
                    f"text is:\n{block.value}"), False
        try:
            updated = await self.store.update_block(block.id, value=new, expected_version=block.version)
        except ConflictError:
            current = await self.store.get_block(block.id)
            state.block = current
            result.conflicts += 1
            return (f"Error: the {block.label} block was changed by someone else while you worked. Nothing was "
                    f"written. Its current value is:\n{current.value}\n"
                    "Merge your changes into this text, keeping the other edit, and call rethink_user_memory "
                    "again with the complete merged block."), False
        state.block = updated
        result.rewrites += 1
        return "OK. The block is saved. Call rethink_user_memory again to refine it, or finish_rethinking_memory.", True


@dataclass
class _RunState:
    block: Block  # the block as last shown to the model (its version is the CAS expectation)
    related: tuple[Passage, ...] = ()  # archived memories shown to the model, in handle order
    shown: tuple[str, ...] = ()  # the transcript's lines and the related memories: what a summary may state
    refused: int = 0  # block rewrites refused as invented or as dropping the block's facts


async def _complete(stream: Any) -> tuple[str, list[ToolCall]]:
    """Drain a ChatDelta stream into its text and complete tool calls."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    async for delta in stream:
        if delta.content:
            content.append(delta.content)
        for frag in delta.tool_calls:
            call = calls.setdefault(frag.index, {"id": "", "name": "", "args": []})
            call["id"] = frag.id or call["id"]
            call["name"] = frag.name or call["name"]
            if frag.arguments:
                call["args"].append(frag.arguments)
    return "".join(content), [
        ToolCall(id=c["id"] or ids.tool_call_id(), name=c["name"], arguments="".join(c["args"]))
        for _, c in sorted(calls.items())
    ]
