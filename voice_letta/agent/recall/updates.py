"""Updates said in passing: a later passage that changes a fact without anyone marking it as superseded.

Spoken updates rarely repeat their subject. "actually make that thursday" corrects the line before it ("i booked
the electrician for tuesday") and shares no word with the question ("when is the electrician coming?"); "good
news im down to one eighty two" updates "i weigh about one ninety" from weeks before. Neither is found by the
question, nor is close enough to what it replaces for the near-duplicate rule (``index.DUPLICATE_COSINE``), so the
stale fact ranked first. Two links, found at search time for the best candidates only:

- **self-correction**: a line that *starts* with a correction ("actually…", "no wait scratch that…", "make that…",
  "correction…", "i meant…"), said by the same speaker within ``CORRECTION_GAP_S`` of one of their lines (the
  other speaker's acknowledgement may sit between), replaces that line, whatever its words;
- **update cue**: a later passage of the same speaker that says something changed ("now", "anymore", "switched",
  "moved", "pushed", "down to", "cancelled", "correction"…) and is about the same thing (cosine to the older
  passage >= ``CUE_COSINE``, the most similar such passage).

A candidate that is the assistant's acknowledgement ("thats a solid budget for a kitchen") stands for the user line
it answers. Only what the user says about themselves is linked (as ``index._newest_first``): in a chat between
named people a newer line on a topic is history, not an update. The index treats a link like a supersession for
that search (``supersede.current_first``: the update goes first and reports what it replaces), and a question
about the past ("what did I say the budget was?") gets no links.

Measured on bench/recall_holdout.json's dev half (voice-transcript style): stale fact ranked first 4/6 -> see
docs/benchmarks.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

CORRECTION_GAP_S = 600.0
CUE_COSINE = 0.35
LINK_CANDIDATES = 10  # the best candidates of a search that are checked for a later update
CUE_ROWS_CHECKED = 4096  # at most this many of the latest cue passages are compared with a candidate

_LABEL = r"(?:[^\s:][^:\n]{0,40}?:[ \t]*)?"
_LEAD = r"(?:(?:u+m+|u+h+|h+m+|oh|so|ok(?:ay)?|well|sorry|oops|no|nope|wait|hold on|er+)[\s,.!-]+)*"
_CORRECTION = (r"(?:actually|scratch|correction|quick correction|make (?:that|it)|change (?:that|it)|i meant|"
               r"i mean|my bad|i misspoke|let me correct|not \w+ but)\b")
CORRECTION_START = re.compile(r"^[ \t]*" + _LABEL + _LEAD + _CORRECTION, re.IGNORECASE)
UPDATE_CUE = re.compile(
    r"\b(?:actually|correction|scratch|instead|now|anymore|no longer|switch(?:ed|ing)?|chang(?:ed|ing)|"
    r"moved|moving|push(?:ed)?|postponed|rescheduled|cancell?ed|cut|updated?|down to|up to|went up|went down|"
    r"raised|lowered|increased|decreased|dropped|quit|replaced|turned)\b", re.IGNORECASE)


def cues(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per passage: (starts with a correction, says something changed)."""
    corr = np.fromiter((CORRECTION_START.match(t) is not None for t in texts), dtype=bool, count=len(texts))
    cue = np.fromiter((UPDATE_CUE.search(t) is not None for t in texts), dtype=bool, count=len(texts))
    return corr, cue | corr


def implicit_updates(index: PassageIndex, order: Sequence[int], skip: set[int]) -> dict[int, int]:
    """{older row: the later row that updates it} for the first LINK_CANDIDATES rows of ``order`` (rows in
    ``skip`` are already paired)."""
    links: dict[int, int] = {}
    used = set(skip)
    cue_rows = np.flatnonzero(index.update_cue[: index.size] & index.has_vector[: index.size])
    for o in order[:LINK_CANDIDATES]:
        base = _fact_of(index, int(o))
        if base < 0 or base in used or base in links:
            continue
        new = _correction_after(index, base)
        if new < 0 and len(cue_rows):
            new = _cued_update(index, base, cue_rows, used)
        if new >= 0 and new not in used:
            links[base] = new
            if base != o:  # the acknowledgement of a replaced fact is as stale as the fact
                links[int(o)] = new
            used.update((base, new, int(o)))
    return links


def _fact_of(index: PassageIndex, row: int) -> int:
    """The user's passage a candidate stands for: itself, or the user line an assistant line answers; -1 when
    neither is about the user."""
    if index.about_the_user(row):
        return row
    before = int(index.prev[row]) if row < len(index.prev) else -1
    if before >= 0 and "assistant" in index.speakers[row] and index.about_the_user(before):
        return before
    return -1


def _correction_after(index: PassageIndex, row: int) -> int:
    """The last of the same speaker's next lines that correct ``row`` one after another, or -1."""
    found = -1
    current = row
    for _ in range(4):
        nxt = _next_same_speaker(index, current)
        if nxt < 0 or not index.correction[nxt] or index.start_at[nxt] - index.end_at[current] > CORRECTION_GAP_S:
            break
        found = current = nxt
    return found


def _next_same_speaker(index: PassageIndex, row: int) -> int:
    nxt = int(index.next[row])
    for _ in range(3):  # the other speaker's reply (or two) may come first
        if nxt < 0:
            return -1
        if index.speakers[nxt] == index.speakers[row]:
            return nxt
        nxt = int(index.next[nxt])
    return -1


def _cued_update(index: PassageIndex, row: int, cue_rows: np.ndarray, used: set[int]) -> int:
    """The later cue passage of the same speaker most similar to ``row`` (cosine >= CUE_COSINE), or -1."""
    if not index.has_vector[row]:
        return -1
    later = cue_rows[index.start_at[cue_rows] > index.start_at[row]][-CUE_ROWS_CHECKED:]
    if not len(later):
        return -1
    sims = index.vectors.matrix[later] @ index.vectors.matrix[row]
    for k in np.argsort(-sims):
        if sims[k] < CUE_COSINE:
            return -1
        r = int(later[k])
        if r not in used and index.about_the_user(r) and _same_speakers(index, r, row):
            return r
    return -1


def _same_speakers(index: PassageIndex, a: int, b: int) -> bool:
    sa, sb = index.speakers[a], index.speakers[b]
    return not sa or not sb or bool(set(sa) & set(sb))
