"""The place or occasion a question puts its thing at: "what's the code for the bike lock at home?" is not answered by
"the bike lock at the station is 3 6 6 1" (MiniLM: cosine 0.64, the same lock and code), "what's the wifi password at
mum's?" by the home wifi's, nor "how many guests came to the christening?" by the birthday party's guest count.

A question that ends by placing what it asks about ("… at home", "… at mum's", "… in the garage", "… to the
christening", "… for the hall") tells one of several things of the same kind apart by that place or occasion. When
the agent's memory uses its words somewhere (so a passage about that thing would say them), a passage that does not
say them (nor does the line before it) is about the same kind of thing somewhere else: its confidence is at most
confidence.MISFIT_MAX, its rank unchanged. A place the memory never names is not judged (a paraphrase: "at the
animal hospital" for "the vet clinic"), nor is a time ("in august", "in the coming days", "at the weekend", "for
dinner"), a set phrase ("in total", "in charge", "for now") or a person it is for ("for the kids": recall/roles.py;
"at mum's" is a place).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.roles import is_role

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

# the question's last phrase: "at|in|to|for [the|my|our] one or two words", then only punctuation
_PLACED = re.compile(r"\b(at|in|to|for)\s+(?:(?:the|my|our|his|her|their)\s+)?([\w'’]+(?:\s+[\w'’]+)?)"
                     r"[\s?.!]*$", re.IGNORECASE)
_TIMES = """day days week weeks weekend weekends month months year years morning mornings afternoon evening evenings
night nights tonight today tomorrow moment future past time times coming next last
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december spring summer autumn fall winter breakfast brunch lunch dinner supper tea
total general person advance full common particular fact case mind charge sure good real free long date"""


@lru_cache(maxsize=1)
def time_terms() -> frozenset[int]:
    return frozenset(T.term_ids(_TIMES))


def place_terms(query: str) -> list[int]:
    """The term ids of the place a question ends with (none when it ends with a time or a number)."""
    m = _PLACED.search(query)
    if m is None:
        return []
    preposition, phrase = m.group(1).lower(), m.group(2)
    if any(ch.isdigit() for ch in phrase):
        return []
    if preposition in ("to", "for") and any(is_role(w) for w in T.words(phrase)):  # "for the kids": a person
        return []
    ids = T.term_ids(phrase)
    return [] if any(t in time_terms() for t in ids) else ids


def other_place(index: PassageIndex, rows: Sequence[int], query: str) -> set[int]:
    """The rows that do not say the place the question puts its thing at, when the memory names it elsewhere."""
    return index.rows_lacking(rows, place_terms(query))
