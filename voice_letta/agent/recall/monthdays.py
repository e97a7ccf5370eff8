"""The day of the month a question names: "who is on call the week of the twenty-eighth?" is not answered by "ana
has the pager for the week of the fourteenth and I take the twenty-first" (MiniLM: the same rota, cosine ~0.7).

A question that names a day of the month ("the 28th", "the twenty-eighth", "on 3 May") asks about that day; a passage
that names days of the month (or whose line before does) and not that one is about another time, however close in
meaning: its confidence is at most confidence.MISFIT_MAX, its rank unchanged. A passage that names no day ("next week",
"on thursday") is not flagged: a day can be said many ways. Days are read from the stored terms in their order: a
numeral with an ordinal suffix ("14th"), a spoken ordinal from "tenth" on ("fourteenth", "twenty first"), and a
number or a smaller ordinal next to a month's name ("3 may", "march the first"); "first time", "year four" and "four
guests" are not days.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall import text as T

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

_UNITS_TEXT = "first second third fourth fifth sixth seventh eighth ninth"
_TEENS_TEXT = "tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
_MONTHS_TEXT = "january february march april may june july august september october november december"
_UNITS, _TEENS, _MONTHS = _UNITS_TEXT.split(), _TEENS_TEXT.split(), _MONTHS_TEXT.split()


def _tid(word: str) -> int | None:
    terms = T.terms(word)
    return T.term_id(terms[0]) if terms else None


@lru_cache(maxsize=1)
def _vocab() -> tuple[dict[int, int], dict[int, int], dict[int, int], dict[int, int], frozenset[int]]:
    """term id -> day for: numerals with a suffix and spoken ordinals from 10 on (always days); spoken ordinals 1-9
    (days after "twenty"/"thirty" or next to a month); bare numerals 1-31 (next to a month); tens ("twenty" -> 20,
    also "twentieth" -> 20 as a day); and the months' ids."""
    suffixed: dict[int, int] = {}
    for day in range(1, 32):
        suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        tid = _tid(f"{day}{suffix}")
        if tid is not None:
            suffixed[tid] = day
    for day, word in enumerate(_TEENS, start=10):
        tid = _tid(word)
        if tid is not None:
            suffixed[tid] = day
    for day, word in ((20, "twentieth"), (30, "thirtieth")):
        tid = _tid(word)
        if tid is not None:
            suffixed[tid] = day
    units = {tid: day for day, tid in enumerate((_tid(w) for w in _UNITS), start=1) if tid is not None}
    bare = {tid: day for day in range(1, 32) if (tid := _tid(str(day))) is not None}
    tens = {tid: day for day, word in ((20, "twenty"), (30, "thirty")) if (tid := _tid(word)) is not None}
    months = frozenset(t for t in (_tid(w) for w in _MONTHS) if t is not None)
    return suffixed, units, bare, tens, months


def days_in(terms: Sequence[int] | np.ndarray) -> set[int]:
    """The days of the month said in a sequence of term ids (see the module docstring)."""
    suffixed, units, bare, tens, months = _vocab()
    seq = [int(t) for t in terms]
    out: set[int] = set()
    for i, tid in enumerate(seq):
        before = seq[i - 1] if i else None
        after = seq[i + 1] if i + 1 < len(seq) else None
        by_month = before in months or after in months
        if tid in suffixed:
            out.add(suffixed[tid])
        elif tid in units:
            if before in tens:
                out.add(tens[before] + units[tid])
            elif by_month:
                out.add(units[tid])
        elif tid in bare and by_month:
            out.add(bare[tid])
    return {d for d in out if 1 <= d <= 31}


def asked_days(query: str) -> set[int]:
    """The days of the month a question names."""
    return days_in(T.term_ids(query))


def other_day(index: PassageIndex, rows: Sequence[int], query: str) -> set[int]:
    """The rows that name days of the month, none of them the one the question names (nor does the line before)."""
    asked = asked_days(query)
    if not asked or not rows:
        return set()
    out = set()
    for r in rows:
        said = days_in(index.terms_of(r))
        before = int(index.prev[r]) if r < len(index.prev) else -1
        if before >= 0:
            said |= days_in(index.terms_of(before))
        if said and not said & asked:
            out.add(r)
    return out
