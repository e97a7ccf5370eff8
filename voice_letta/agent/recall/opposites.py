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
        have = set(index.terms_of(r).tolist())
        before = int(index.prev[r]) if r < len(index.prev) else -1
        if before >= 0:
            have.update(index.terms_of(before).tolist())
        if any(have & other and not have & one for one, other in wanted):
            out.add(r)
    return out
