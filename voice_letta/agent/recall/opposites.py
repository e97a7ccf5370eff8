"""The opposite end of the same thing: "what time does the cafe close?" is not answered by "we're opening at half
seven" however close they are in meaning (MiniLM: the same words about the same hours, cosine ~0.55), nor "when does
the course end?" by "the course starts in january".

A question that says one side of a pair (open / close, start / finish, arrive / leave, buy / sell, win / lose,
borrow / lend) and not the other is not confidently answered by a passage that says only the other side (nor does the
line before it): the result is flagged like one about someone else (a lower confidence), its rank unchanged. A
passage that says neither is not flagged ("the cafe's hours are seven to three" answers both). The pairs are a small
hand-written list of everyday English, compared by Porter stem.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from voice_letta.agent.recall import text as T

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

_PAIRS = (
    ("open opens opening opened", "close closes closing closed shut shuts"),
    ("start starts starting started begin begins beginning began", "finish finishes finishing finished end ends "
                                                                   "ending ended"),
    ("arrive arrives arriving arrived", "leave leaves leaving depart departs departing departed"),
    ("buy buys buying bought", "sell sells selling sold"),
    ("win wins winning won", "lose loses losing lost"),
    ("borrow borrows borrowing borrowed", "lend lends lending lent"),
)


@lru_cache(maxsize=1)
def _sides() -> list[tuple[frozenset[int], frozenset[int]]]:
    """Each pair both ways, as term ids: (what the question says, its opposite)."""
    out = []
    for a, b in _PAIRS:
        one, other = frozenset(T.term_ids(a)), frozenset(T.term_ids(b))
        out += [(one, other), (other, one)]
    return out


def opposite_side(index: PassageIndex, rows: Sequence[int], query_terms: Sequence[str]) -> set[int]:
    """The rows that say only the opposite of what the question asks about (see above)."""
    asked = {T.term_id(t) for t in query_terms}
    wanted = [(one, other) for one, other in _sides() if asked & one and not asked & other]
    if not wanted or not rows:
        return set()
    out = set()
    for r in rows:
        have = index.terms_in_context(r)
        if any(have & other and not have & one for one, other in wanted):
            out.add(r)
    return out


# The other leg of a trip: "what time is the ferry back from waiheke?" is not answered by "booked the ferry to
# waiheke, the nine fifteen sailing" (cosine ~0.8: the same ferry, island and time), nor "when does sam fly home?" by
# "sam's on KL1008 the evening before". A question about a coming or going back (a return marker and a word of
# travelling) is not confidently answered by a passage that says no return (nor does the line before it). Only
# questions about what is planned: a trip that happened implies its return ("When did Dave return from San
# Francisco?" is answered by "I got to go to a car workshop in San Francisco": LoCoMo), and not when the question
# names a known speaker (their lines are judged by speaker, as for days and times: recall/quantity.py).
_RETURN = "back home return returns returning inbound homeward homebound"
_MOVES = ("fly|flying|flies|flight|ferry|sail|sailing|boat|train|bus|coach|drive|driving|come|coming|comes|go|going|"
          "goes|get|getting|head|heading|travel|travelling|traveling|ride|way")
_LEGS = "flight|flights|ferry|ferries|sailing|crossing|trip|journey|leg|train|bus|coach|ticket|tickets"
# "ferry back", "flying home", "coming back", "the way home"; "return flight", "homeward journey"
_RETURN_LEG = re.compile(rf"\b(?:{_MOVES})\s+(?:back|home)\b|\b(?:return|inbound|homeward|homebound)\s+(?:{_LEGS})\b|"
                         rf"\b(?:{_LEGS})\s+(?:[\w']+\s+){{1,3}}?(?:back|home)\b",  # "which train am i taking back"
                         re.IGNORECASE)
_DONE_TEXT = "did was were had returned came got flew drove sailed went headed travelled traveled"
_DONE = frozenset(_DONE_TEXT.split())


@lru_cache(maxsize=1)
def _returns() -> frozenset[int]:
    return frozenset(T.term_ids(_RETURN))


def asks_return_leg(query: str) -> bool:
    """Whether a question asks about a planned way back ("what time is the ferry back?", "when does sam fly home?",
    "what's our return flight?")."""
    return _RETURN_LEG.search(query) is not None and not any(w in _DONE for w in T.words(query))


def other_leg(index: PassageIndex, rows: Sequence[int], query: str) -> set[int]:
    """The rows that say no return, for a question about a planned way back (see above)."""
    if not rows or not asks_return_leg(query):
        return set()
    back = _returns()
    out = set()
    for r in rows:
        have = index.terms_in_context(r)
        if not have & back:
            out.add(r)
    return out
