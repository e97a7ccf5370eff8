"""Versions that name what they replace exactly, whoever says them and in whatever language.

- a revision notation ("Stay: Voyager Beach Resort → Sarova Whitesands", a diff's removed then added line, a struck
  value: ``cues.revised_terms``) names the old value: the earlier passage saying all of it is its previous version
  (``revised_after``);
- a code said next to another of its series ("ยกเลิกไฟลท์ FD3437 ย้ายเราไป FD3441": ``cues.code_swaps``) replaces the
  earlier passage that says the one and not the other, and the last passage naming one of the two alone after that
  says which holds (``swapped_after``).

``implicit.implicit_updates`` asks both for its best candidates; ``facts.same_fact`` still judges each for the question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall.cued import says_facts
from voice_letta.agent.recall.facts import LONG_PASSAGE_TERMS, Query, same_fact

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex


# A revision names what it replaces ("Stay: Voyager Beach Resort, Nyali → Sarova Whitesands", "− first class × 5"): when
# an earlier passage says every word of the old side, the revision is its next version, whoever made it (a relative
# editing a shared document, the clinic in a portal: any speaker but the assistant) and whatever the two say besides
# (the items of one document are alike by their shared title, so cosine cannot tell). A long passage holds several
# values: the revision's own lines must then say a word of the question that the passage says too (the item it
# changes, "Stay:" for "Where are we staying?"; not "Budget: KSh 45,000 → KSh 52,000", nor the document's title).
def revised_after(index: PassageIndex, row: int, query: Query) -> int:
    """The first later passage whose revision notation names ``row``'s value as the old one, or -1."""
    if not index.revised:
        return -1
    terms = index.terms_of(row)
    was = set(terms.tolist())
    long = len(terms) > LONG_PASSAGE_TERMS
    at = float(index.start_at[row])
    found = -1
    # only the revisions naming a word of this passage (their old side must be all its words): a memory of many
    # revisions is not scanned whole for each candidate
    named = {r for t in was for r in index.revised_by_term.get(t, ())}
    for r in sorted(named):
        old, lines = index.revised[r]
        if (index.start_at[r] <= at or not old <= was or index.asks[r] or not says_facts(index, r)
                or (found >= 0 and index.start_at[r] >= index.start_at[found])):
            continue
        if long and not query.terms & was & lines:
            continue
        if not same_fact(index, row, r, query):  # a record's other item ("~~sage green~~ → navy" is no start date)
            continue
        found = r
    return found


def swapped_after(index: PassageIndex, row: int, query: Query) -> tuple[int, int]:
    """The first later passage naming a code ``row`` says next to another code of its series that ``row`` does not say
    (``cues.code_swaps``: "FD3437 … FD3441" after "flight FD3437"), or -1; and the last passage after that one naming
    one of the two codes alone (the swap undone, "teruggezet op … AY531", or the new code said again), or -1. Any
    speaker but the assistant, as for a revision: the airline's or a friend's relay says the change, in whatever
    language (the code is the old value named exactly); same_fact still judges it for the question."""
    if not index.swaps_by_term:
        return -1, -1
    said = set(index.terms_of(row).tolist())
    at = float(index.start_at[row])
    found, codes = -1, (0, 0)
    for code in said & index.swaps_by_term.keys():
        for r, other in index.swaps_by_term[code]:
            if (other in said or index.start_at[r] <= at or index.asks[r] or not says_facts(index, r)
                    or (found >= 0 and index.start_at[r] >= index.start_at[found])
                    or not same_fact(index, row, r, query)):
                continue
            found, codes = r, (code, other)
    if found < 0:
        return -1, -1
    rows = np.concatenate([index.keywords.postings_of(c)[0] for c in codes]).astype(np.int64)
    settled = -1
    for r in np.unique(rows[rows < index.size]).tolist():
        if (index.start_at[r] <= index.start_at[found] or index.asks[r] or not says_facts(index, r)
                or (settled >= 0 and index.start_at[r] <= index.start_at[settled])):
            continue
        terms = set(index.terms_of(r).tolist())
        if (codes[0] in terms) != (codes[1] in terms) and same_fact(index, row, r, query):
            settled = r
    return found, settled
