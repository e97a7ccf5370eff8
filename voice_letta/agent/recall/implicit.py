"""Updates said in passing: a later passage that changes a fact without anyone marking it as superseded.

Spoken updates rarely repeat their subject. "actually make that thursday" corrects the line before it ("i booked
the electrician for tuesday") and shares no word with the question ("when is the electrician coming?"); "good
news im down to one eighty two" updates "i weigh about one ninety" from weeks before. Neither is found by the
question, nor is close enough to what it replaces for the near-duplicate rule (``newest_first``), so the
stale fact ranked first. Two links, found at search time for the best candidates only:

- **self-correction**: a line that *starts* with a correction ("actually…", "no wait scratch that…", "make that…",
  "correction…", "i meant…"), said by the same speaker within ``CORRECTION_GAP_S`` of one of their lines (the
  other speaker's acknowledgement may sit between), replaces that line, whatever its words;
- **update cue**: a later passage of the same speaker that says something changed ("now", "anymore", "switched",
  "moved", "pushed", "down to", "cancelled", "correction"…) or that a new state began ("started", "joined",
  "became"…) and is about the same thing: cosine to the older passage >= ``CUE_COSINE``, and no earlier passage
  of the user (any of them, not only one search's candidates) is more alike it by more than ``CUE_TARGET_MARGIN``
  (``cue_target``).

Both kinds of update are judged *for the question* too (``recall/facts.py``): a later line about another attribute
of the same person is not a new version ("my sister started a job at a museum" / "my sister lives in lisbon"), and a
long multi-fact note is replaced only for questions about the part that changed. Versions of one fact form a group
(``newest_first``, chains included: Boston -> Seattle -> Portland), placed newest first (``place_groups``).

A candidate that is the assistant's acknowledgement ("thats a solid budget for a kitchen") stands for the user line
it answers. Only what the user says about themselves is linked (and, in ``newest_first``, a named sender's message
giving the asked kind of value anew: ``same_item``): in a chat between named people a newer line on a topic is
history, not an update. The index treats a link like a supersession for
that search (``supersede.current_first``: the update goes first and reports what it replaces), and a question
about the past ("what did I say the budget was?") gets no links.

Measured on bench/recall_holdout.json's dev half (voice-transcript style): stale fact ranked first 4/6 -> see
docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall.cued import (
    CUE_COSINE,
    content_terms,
    cued_updates,
    enveloped,
    same_speakers,
    says_facts,
    share_a_word,
    states_facts,
)
from voice_letta.agent.recall.facts import TYPED_KINDS, Query, given_kinds, ignored_terms, same_fact
from voice_letta.agent.recall.groups import group_line
from voice_letta.agent.recall.quantity import ANY
from voice_letta.agent.recall.records import another_line, same_holder_rows
from voice_letta.agent.recall.revisions import revised_after, swapped_after

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

CORRECTION_GAP_S = 600.0
LINK_CANDIDATES = 10  # the best candidates of a search that are checked for a later update


def implicit_updates(index: PassageIndex, order: Sequence[int], skip: set[int], query: Query) -> dict[int, int]:
    """{older row: the later row that updates it} for the first LINK_CANDIDATES rows of ``order`` (rows in
    ``skip`` already have a successor; a row that is one may itself be updated: links chain)."""
    links: dict[int, int] = {}
    used = set(skip)
    bases: list[tuple[int, int]] = []  # (candidate, the user's passage it stands for)
    for o in order[:LINK_CANDIDATES]:
        base = fact_of(index, int(o), query)
        if base >= 0 and base not in used and all(base != b for _, b in bases):
            bases.append((int(o), base))
    if not bases:
        return links
    cued = cued_updates(index, [b for _, b in bases], query)
    asked = query.kind & TYPED_KINDS & 0xFF & ~ANY
    if asked:  # of the changes, those giving a value of the asked kind first: "The beta slips to 4 May" before "The
        # April ad spend is cut to €4,000" for "When does the beta open?" (each said after the plan naming both)
        for base, rows in cued.items():
            cued[base] = sorted(rows, key=lambda r: not _gives(index, r, asked))
    for base, rows in cued.items():  # of the changes of one passage, those saying a word of the question that it says
        # too first: a mail of several practical points changed twice, "space 7 is being resurfaced, so please use
        # no. 12" and "bin collection moved to Wednesday night", for "What night do the bins go out?" (test8)
        if len(rows) > 1 and query.terms:
            asked_there = query.terms & content_terms(index, base)
            cued[base] = sorted(rows, key=lambda r: not asked_there & content_terms(index, r))
    for _, base in bases:  # a later record of the same holder first: the layout says it is a version (records.py)
        # a message record's envelope (its sender) is no holder: its later messages must say the item too
        held = [r for r in _held_updates(index, base) if not enveloped(index, base, r)
                or (share_a_word(index, base, r) and says_asked(index, base, r, query))]
        if held:
            cued[base] = held + [r for r in cued.get(base, ()) if r not in held]
    later: set[int] = set()  # each row is the later version of one row at most; it may have a later one itself
    for o, base in bases:
        if base in used:
            continue
        new = _correction_after(index, base)
        if new < 0:
            new = _chosen_instead(index, base, query)
        if new < 0:
            new = revised_after(index, base, query)
        settled = -1
        if new < 0:
            new, settled = swapped_after(index, base, query)
        if new < 0:
            new = next((r for r in cued.get(base, ()) if r not in later and same_fact(index, base, r, query)
                        and not other_line(index, base, r, query)), -1)
        if new >= 0 and new not in later:
            links[base] = new
            if base != o:  # the acknowledgement of a replaced fact is as stale as the fact
                links[o] = new
            used.update((base, o))
            later.add(new)
            if settled >= 0 and settled not in later:  # the code swapped back (or said again) after the swap
                links[new] = settled
                later.add(settled)
            # another update of the same fact said after that one is the newer version still: "swim update, did my
            # first open water session" (most like the race entry) and then "change of plan, I've dropped down to the
            # aquathlon instead" (test6): a chain, newest first. It must be about as alike the first update (CUE_COSINE)
            after = [r for r in cued.get(base, ()) if index.start_at[r] > index.start_at[new] and r not in later
                     and new not in links and index.has_vector[new]
                     and index.pair_cosine(r, new) >= CUE_COSINE
                     and (not enveloped(index, r, new) or share_a_word(index, r, new))
                     # and about what the question asks when the first update says it: a portal's "Appointment
                     # rescheduled" items are alike by their header, the eye exam's is no next version of the
                     # physical therapy's for "What should I bring to physical therapy?" (test9)
                     and says_asked(index, new, r, query)
                     and same_fact(index, base, r, query)
                     # a change of another kind than the asked one is no newer version of a change of it
                     and not (asked and _gives(index, new, asked) and not _gives(index, r, asked))]
            if after:
                newest = max(after, key=lambda r: float(index.start_at[r]))
                links[new] = newest
                later.add(newest)
    for o in order[:LINK_CANDIDATES]:  # a revision of what someone else wrote (a relative's line of a shared document)
        o = int(o)
        if o not in links and o not in used and not index.asks[o] and says_facts(index, o):
            new = revised_after(index, o, query)
            if new < 0:
                new = swapped_after(index, o, query)[0]
            if new >= 0 and new not in later:
                links[o] = new
                later.add(new)
    return links


def says_asked(index: PassageIndex, old: int, new: int, query: Query) -> bool:
    """Whether ``new`` says a word of the question that ``old`` says, when ``old`` says any."""
    asked = query.terms & content_terms(index, old)
    return not asked or bool(asked & content_terms(index, new))


def other_line(index: PassageIndex, old: int, new: int, query: Query) -> bool:
    """A later chunk of lines that shares its words with ``old`` only in lines the question does not ask
    (``records.another_line``)."""
    if new not in index.items:
        return False
    shared = (content_terms(index, old) & content_terms(index, new)) - ignored_terms(index, old, new)
    return another_line(index, old, new, shared, query)


def _gives(index: PassageIndex, row: int, kinds: int) -> bool:
    return bool(int(given_kinds(index, np.asarray([row]))[0]) & kinds)


def _chosen_instead(index: PassageIndex, row: int, query: Query) -> int:
    """For a question offering two values ("Am I on earlies or nights?", ``facts.choice_of``): the first later
    passage of the user that says the other value and not this one, when ``row`` says one of them only; else -1
    (the first: later changes chain on from it, "tash said I can swap my sunday night for the friday")."""
    if query.choice is None:
        return -1
    a, b = query.choice
    said = set(index.terms_of(row).tolist())
    if said & a and not said & b:
        this, other = a, b
    elif said & b and not said & a:
        this, other = b, a
    else:
        return -1
    rows = np.unique(np.concatenate([index.keywords.postings_of(t)[0] for t in other]).astype(np.int64))
    found = [int(r) for r in rows[rows < index.size]
             if index.start_at[r] > index.start_at[row] and index.has_vector[r] and not index.asks[r]
             and states_facts(index, int(r)) and same_speakers(index, int(r), row)
             and other <= set(index.terms_of(int(r)).tolist()) and not this & set(index.terms_of(int(r)).tolist())]
    return min(found, key=lambda r: float(index.start_at[r])) if found else -1


def _held_updates(index: PassageIndex, row: int) -> list[int]:
    """The later records of the user that give an item of ``row``'s holder anew (``records.same_holder``: a bare
    table row, the same JSON object with a field changed), newest first."""
    record = index.items.get(row)
    if not record:
        return []
    return [r for r in same_holder_rows(index, record, row)
            if index.has_vector[r] and not index.asks[r] and states_facts(index, r) and same_speakers(index, r, row)]


def fact_of(index: PassageIndex, row: int, query: Query | None = None) -> int:
    """The user's passage a candidate stands for: itself, or the user line an assistant line answers; -1 when
    neither is about the user, or it is a question nothing answered (``recall/questions.py``: it states no fact; the
    reply to one, "i dont think so", stands for no fact either)."""
    if index.asks[row]:
        return -1
    if states_facts(index, row) or (query is not None and group_line(index, row, query)):  # a group's plan too
        return row
    before = int(index.prev[row]) if row < len(index.prev) else -1
    if before >= 0 and "assistant" in index.speakers[row] and states_facts(index, before) and not index.asks[before]:
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
