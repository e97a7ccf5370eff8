"""Who may change a group chat's shared plan: any member who says the new value.

In a chat between named people a newer line on a topic is history, not a new version (on LoCoMo, two people each
with their own life, a recency swap cost 0.08 of any@5): a person's own attribute (my car, my dose, "wrist's broken")
is changed only by its holder. In a *group* chat (three named members or more, the user among them or not) the plans
are the group's: a gig's set length, the rehearsal day, who runs merch, the shirts' price. Whoever says the new value
changes them ("Dev: Priya confirmed for merch. also shirts going to $25" after "Marcus: merch table: shirts $20 … Lena
from my work will run it"; "Me: moving rehearsals to thursdays" after "Keisha: rehearsal stays tuesdays"; test15).

What tells a shared plan's question from a person's: it names no member and is not asked in the first person singular
("How much are shirts?", "What day is rehearsal?", "How long is our set?" vs "Is Keisha still out?", "What's my
dose?"). The lines themselves are judged by the usual rules (a change said, about the same thing, the same fact).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voice_letta.agent.recall.text import term_ids

if TYPE_CHECKING:
    from voice_letta.agent.recall.facts import Query
    from voice_letta.agent.recall.index import PassageIndex

# Three named members make a group: two are a conversation between two people, each with their own life (LoCoMo).
GROUP_SIZE = 3
# The members are read from the lines around the two (by row: an import keeps a chat's lines in order): at most
# AROUND rows beyond them, and SPAN rows after the older and before the newer one when they are far apart.
AROUND = 3
SPAN = 40
_NOT_MEMBERS = frozenset({"assistant", "system"})


def members(index: PassageIndex, a: int, b: int) -> frozenset[str]:
    """The named speakers of the lines from ``a`` to ``b`` (and AROUND rows either side), the user's label too."""
    lo, hi = min(a, b), max(a, b)
    n = len(index.speakers)
    if hi - lo <= 2 * SPAN:
        rows = list(range(max(0, lo - AROUND), min(n, hi + AROUND + 1)))
    else:
        rows = list(range(max(0, lo - AROUND), lo + SPAN)) + list(range(hi - SPAN, min(n, hi + AROUND + 1)))
    found: set[str] = set()
    for r in rows:
        found.update(s for s in index.speakers[r] if s not in _NOT_MEMBERS)
    return frozenset(found)


def _member_line(index: PassageIndex, row: int) -> bool:
    """One member's message: a passage of several senders (a list digest, an export's chunk) holds many points,
    each its own plan, and one of its points is no later version of another message's."""
    members_said = set(index.speakers[row]) - _NOT_MEMBERS
    return len(members_said) == 1


def shared_plan(index: PassageIndex, older: int, newer: int, query: Query) -> bool:
    """Whether two members' lines of one group chat may be versions of the plan the question asks: both said by named
    members (or one a note of the user's), the chat has GROUP_SIZE named members or more, and the question names
    none of them and is not asked in the first person singular (``Query.impersonal``)."""
    if not query.impersonal or not (_member_line(index, older) or _member_line(index, newer)):
        return False
    group = members(index, older, newer)
    if len(group) < GROUP_SIZE:
        return False
    return not any(query.terms.intersection(term_ids(name)) for name in group)


def group_line(index: PassageIndex, row: int, query: Query) -> bool:
    """Whether a member's line of a group chat states a shared plan for the question (``shared_plan`` of the line
    with itself): it can then be a fact whose later version is searched for."""
    return _member_line(index, row) and shared_plan(index, row, row, query)
