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

A plan has many attributes (a tournament's hotel, its room price, who drives; a study group's room, its day, the exam
it prepares for), and one member's later line about another of them is no version of the asked one: "Tyler asked if
he can wear 35 instead" changes a number, not who is captain; "final shifted to 16 Dec" moves the exam, not the day the
group meets (test16, both written before this rule was seen). So two members' lines are versions for a question only
when the later one gives a new value *of the asked attribute* (``same_attribute``):
- of the asked kind: a question asking a day, a time, a sum, an amount or a place wants a line giving one; a question
  asking who wants a person, and a change whose value is a number changes a number;
- of the asked slot: the later line says a word of the question that the older one says (the slot: "room", "shirts",
  "rehearsal"), or it names the older line's own value ("Thursday clash …, so Wednesday 8pm instead", "Canad Inns
  overbooked us"): a word the two say and few of the chat's lines say. A plan's own name ("final", "practice", "the
  tourney") runs through the whole chat, so sharing it alone tells no attribute; a value is said where it is set and
  where it is changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall.facts import PLACE, RARE_FRACTION, RARE_SHARE, TYPED_KINDS, given_kinds, ignored_terms
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
# A slot's value is said within a few words of the slot ("Hotel block at the Canad Inns", "every Thursday 8pm").
SLOT_TERMS = 4


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
    if len(group) < GROUP_SIZE or any(query.terms.intersection(term_ids(name)) for name in group):
        return False
    # a member's lines are not about the user: whoever said them, a later one is a version of the asked attribute only
    return older == newer or same_attribute(index, older, newer, query)


def same_attribute(index: PassageIndex, older: int, newer: int, query: Query) -> bool:
    """Whether ``newer`` gives a new value of the attribute the question asks of ``older``'s plan: of the asked kind
    and of the asked slot (the module docstring)."""
    asked = query.kind & TYPED_KINDS
    if asked & PLACE and (index.says_place[newer] or index.new_place[newer]):
        pass
    elif asked and not int(given_kinds(index, np.asarray([newer]))[0]) & asked & 0xFF:
        return False
    said = index.content_terms(newer) - ignored_terms(index, older, newer)
    was = index.content_terms(older)
    most = max(RARE_SHARE, RARE_FRACTION * index.keywords.n)
    named = {t for t in (was & said) - query.terms if len(index.keywords.postings_of(t)[0]) <= most}
    # the value named must be the asked slot's: said near a word of the question in the older line ("every Thursday"
    # two words from "study group"); "Ethan" of "goalies Mason L. and Ethan P." is no captain's value
    terms = index.terms_of(older)
    hits = np.flatnonzero(np.isin(terms, np.fromiter(query.terms, dtype=np.uint64)))
    in_slot = bool(named) and any(named & set(terms[max(0, h - SLOT_TERMS):h + SLOT_TERMS + 1].tolist()) for h in hits)
    # a number changed, not who holds the role ("Tyler asked if he can wear 35 instead" for "Who is the captain?") ...
    # unless the later line names the one the older line put in the asked slot: "Dev: Priya confirmed for merch. also
    # shirts going to $25" after "Lena: can't do merch on the 18th … my roommate Priya could?" (test15)
    if query.who and not asked and index.change_numbers[newer] and not in_slot:
        return False
    if query.terms & was & said:
        return True
    if not named:
        return False
    if not len(hits):  # ... unless the question asks a kind of value the later line gives (checked above): the kind
        # is then the slot ("Where is the wedding?" / "VENUE: Lourensford can't do March … Vrede en Lust has it")
        return bool(asked)
    return in_slot


def group_line(index: PassageIndex, row: int, query: Query) -> bool:
    """Whether a member's line of a group chat states a shared plan for the question (``shared_plan`` of the line
    with itself): it can then be a fact whose later version is searched for."""
    return _member_line(index, row) and shared_plan(index, row, row, query)
