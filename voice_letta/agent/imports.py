"""How an imported conversation is handed to the sleeptime agent: in parts, each one run the model can take.

A long import was one sleeptime request an 8k model refused (400 context_length_exceeded): the job failed three
times and nothing was archived. So an import is cut into consecutive parts of at most ``IMPORT_PART_LINES`` lines
and ``IMPORT_PART_CONTEXT_SHARE`` of the sleeptime model's context window (estimated tokens). One message may be
longer than that by itself (an import accepts up to 20,000 characters a message, ~5,000 tokens, more than 40 % of
an 8k window): it is handed over in pieces, each its own part, cut after a sentence (else between words) so that
the pieces cover the whole message, in order. The message stays one stored row; a piece is a character range of
it (``HandoffRange.from_char`` / ``to_char``).

An import that overlaps an earlier one (the same chat export sent twice, or a later export that starts with what
the first one held) stores only what is new: ``split_imports`` drops each message equal in role, content and time
to one an earlier import stored, as many times as it was stored (a line said twice at one time stays twice). The
store runs it inside the import's own transaction (``Store.import_messages``), so two overlapping imports sent at
once to two processes still store the overlap once. An import with ``archive`` also archives the lines it matches
that an earlier import stored with ``archive: false`` (``unarchived_runs``: no import job's range holds them), so
those lines are not left out of archival memory for good.

A live hand-off (``handoff_parts``) is cut the same way when it is over the budget: one message said in a chat turn
can be as long as an imported one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from voice_letta.agent.buffer import CHARS_PER_TOKEN, TOKENS_PER_MESSAGE, estimate_tokens
from voice_letta.agent.models import Message
from voice_letta.agent.sleeptime_prompt import render_line

IMPORT_PART_LINES = 60
IMPORT_PART_CONTEXT_SHARE = 0.4
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+|\n\s*")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class ImportPart:
    """Consecutive imported messages for one run; ``chars``: the piece of the part's one message it covers."""

    messages: list[Message]
    chars: tuple[int, int] | None = None

    def lines(self) -> list[Message]:
        """The part's messages as the run sees them (a piece's message cut to its characters)."""
        if self.chars is None:
            return self.messages
        return [piece(m, self.chars) for m in self.messages]


def piece(message: Message, chars: tuple[int, int]) -> Message:
    """``message`` with only the characters ``chars`` of its content."""
    return message.model_copy(update={"content": (message.content or "")[chars[0]:chars[1]]})


def import_parts(messages: Sequence[Message], *, budget_tokens: int, max_lines: int | None = IMPORT_PART_LINES
                 ) -> list[ImportPart]:
    """Consecutive parts of an import, each at most ``max_lines`` lines and ``budget_tokens`` (estimated), a
    message over the budget in pieces of its own; parts with no line worth archiving are dropped."""
    parts: list[ImportPart] = []
    part: list[Message] = []
    tokens = 0
    for m in messages:
        cost = estimate_tokens(m)
        if cost > budget_tokens:
            if part:
                parts.append(ImportPart(part))
                part, tokens = [], 0
            max_chars = max(1, budget_tokens - TOKENS_PER_MESSAGE) * CHARS_PER_TOKEN
            parts.extend(ImportPart([m], span) for span in split_text(m.content or "", max_chars))
            continue
        if part and ((max_lines is not None and len(part) >= max_lines) or tokens + cost > budget_tokens):
            parts.append(ImportPart(part))
            part, tokens = [], 0
        part.append(m)
        tokens += cost
    if part:
        parts.append(ImportPart(part))
    return [p for p in parts if any(render_line(m) is not None for m in p.lines())]


def handoff_parts(messages: Sequence[Message], *, budget_tokens: int) -> list[ImportPart]:
    """A live hand-off (an eviction, a session's end) in parts the sleeptime model can take: one part when it fits
    ``budget_tokens`` (as before: no line limit), else cut as an import is; a message said in one turn may be as
    long as a dictated memo."""
    return import_parts(messages, budget_tokens=budget_tokens, max_lines=None)


def split_text(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Consecutive character ranges covering ``text``, each at most ``max_chars`` long, ending after the last
    sentence end that fits (else the last space, else at ``max_chars``)."""
    spans: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > max_chars:
        window = text[start:start + max_chars]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window)), default=0)
        if cut < max_chars // 2:  # no sentence end in the second half: cut between words instead
            cut = max((m.end() for m in _SPACE.finditer(window)), default=0)
        if cut <= 0:
            cut = max_chars
        spans.append((start, start + cut))
        start += cut
    spans.append((start, len(text)))
    return spans


def split_imports(messages: Sequence[Message], earlier: Sequence[Message]) -> tuple[list[Message], list[Message]]:
    """``messages`` split into those no earlier import stored and the earlier rows the others match (``earlier``: the
    agent's imported messages at their times; same role, content and ``created_at``, each earlier row matching one
    message at most)."""
    left: dict[tuple[str, str | None, float], list[Message]] = {}
    for row in sorted(earlier, key=lambda m: m.seq):
        left.setdefault((row.role, row.content, row.created_at), []).append(row)
    fresh: list[Message] = []
    matched: list[Message] = []
    for m in messages:
        same = left.get((m.role, m.content, m.created_at))
        if same:
            matched.append(same.pop(0))
        else:
            fresh.append(m)
    return fresh, matched


def unarchived_runs(matched: Sequence[Message], archived: Iterable[tuple[int, int]],
                    imported_seqs: Iterable[int]) -> list[list[Message]]:
    """The earlier rows an import matched that no "import" job archived (``archived``: the seq ranges of the agent's
    import jobs; rows first imported with ``archive: false``), as runs of consecutive imported rows: a job archives
    the imported rows of a seq range, so a run never spans a row archived already (``imported_seqs``: the agent's
    imported rows from the first of them to the last)."""
    ranges = list(archived)
    todo = sorted({m.seq: m for m in matched if not any(a <= m.seq <= b for a, b in ranges)}.values(),
                  key=lambda m: m.seq)
    order = {seq: i for i, seq in enumerate(sorted(set(imported_seqs) | {m.seq for m in todo}))}
    runs: list[list[Message]] = []
    for m in todo:
        if runs and order[m.seq] == order[runs[-1][-1].seq] + 1:
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs
