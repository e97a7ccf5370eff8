"""Versions placed after fusion (``ranking.rank``): which candidates are versions of one fact, and where they go.

The fused ranking knows nothing of time. Here the search's best candidates are grouped into versions of one fact
(``updates.newest_first``), linked to later passages that update them in passing (``updates.implicit_updates``,
kept by ``grounded``), each group placed newest first (``updates.place_groups``) and each superseded or linked row
preceded by its current successor (``supersede.current_first``). A question about the past ("what did I say the
budget was?") gets none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.facts import Query
from voice_letta.agent.recall.supersede import chain, current_first
from voice_letta.agent.recall.updates import fact_of, implicit_updates, newest_first, place_groups

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex


def place_versions(index: PassageIndex, top: np.ndarray, keep: np.ndarray, mask: np.ndarray | None,
                   term_lists: Sequence[Sequence[str]], best_cos: np.ndarray, queries: Sequence[str]
                   ) -> tuple[list[int], dict[int, list[int]], dict[int, int]]:
    """``top`` (the fused candidates, best first) with versions placed: the order, {newest: the rows it replaces,
    newest first} and {row placed at another's rank: that row} (it takes at least its confidence). ``keep``: the
    rows the question finds (by a word or close in meaning) inside the window; ``mask``: the search's window (None:
    any row)."""
    previous: dict[int, list[int]] = {}
    order = [int(r) for r in top]
    successor = index.successor
    took: dict[int, int] = {}
    if not (term_lists and T.asks_about_the_past(queries[0])):
        question = Query.of(list(term_lists[0]) if term_lists else [], best_cos, queries[0] if queries else "")
        groups = newest_first(index, top, question)
        links = grounded(index, implicit_updates(index, order, set(), question), keep, order)
        grouped = {r: g for g in groups for r in g}
        for old, new in list(links.items()):  # an update of a group's member is a later version in that group
            if old in grouped or new in grouped:
                # a later version from outside the candidates joins only from inside the search's window
                if (old in grouped and new not in grouped and fact_of(index, old) == old
                        and (mask is None or bool(mask[new]))):
                    grouped[old].append(new)
                    grouped[new] = grouped[old]
                elif new in grouped and old not in grouped and fact_of(index, old) == old:
                    grouped[new].append(old)  # an earlier version of a group's member: the party's first venue
                    grouped[old] = grouped[new]
                del links[old]
        order, previous, took = place_groups(index, order, groups, question)
        if links:  # an update said in passing counts as a supersession for this search (updates.py)
            successor = successor.copy()
            for old, new in links.items():
                if successor[old] < 0:
                    successor[old] = new
    if (successor >= 0).any():
        order, previous, pulled = current_first(order, previous, successor, mask, index.start_at)
        took |= pulled
    return order, _not_replacing_successors(previous, index.successor), took


def _not_replacing_successors(previous: dict[int, list[int]], successor: np.ndarray) -> dict[int, list[int]]:
    """``previous`` without a row listed under one it stands in a supersession chain after: a stored link says
    what replaces what, whatever the clock says (an edit can move a successor's start_at before the passage it
    replaces; groups order by time, and each would list the other: a cycle for a client following ``previously``)."""
    out: dict[int, list[int]] = {}
    for row, replaced in previous.items():  # the few rows a search shows as replacing others
        later = set(chain(row, successor))
        kept = [x for x in replaced if x not in later]
        if kept:
            out[row] = kept
    return out


def grounded(index: PassageIndex, links: dict[int, int], keep: np.ndarray, order: Sequence[int]) -> dict[int, int]:
    """The update links (``implicit_updates``: {older row: later row}) a search places: those whose later row, or a
    later one of its chain, the question finds (``keep``: by a word or close in meaning), and those of the chain of
    the best match (``order[0]``). A later version said in words the question shares nothing with takes the rank of
    what it updates, above passages that do match: for the passage the question is most surely about that is the
    current version ("how much do i weigh" / "good news im down to one eighty two"), for a lesser candidate it was
    mostly a passage of another topic linked to a near miss, pushing the answer out of the top 3 ("Who shares my
    dorm room?" / "roommate is kenji": the later "the chem final got moved to december fifteenth" placed above it).
    All fifteen holdout halves: top-3 1702 -> 1707 of 1819 (7 gained, 2 lost), stale 70 -> 71 of 616, abstention
    unchanged."""
    good = {o for o, w in links.items() if keep[w]}
    best = {order[0], fact_of(index, order[0])} if order else set()
    grew = True
    while grew:  # along chains: "lvl 5" -> (unmatched) -> "everyone is lvl 6 now", and the best match's own chain
        grew = False
        for o, w in links.items():
            if o not in good and (w in good or o in best):
                good.add(o)
                grew = True
            if o in best and w not in best:
                best.add(w)
                grew = True
    return {o: w for o, w in links.items() if o in good}
