"""Whose identifier: "what's sam's seat number?" is not answered by "sam's on KL1008 the evening before" (a number,
but of the flight), nor "what's the booking reference for sam's hotel?" by the same line (MiniLM: cosine ~0.5–0.6,
the same person and trip).

A question that asks for an identifier of something ("seat number", "booking reference", "door code", "locker
number", "alarm PIN") names what it belongs to by the word before it. When the agent's memory uses that word
somewhere (so a passage about it would say it: "Seat 14C", "booking ref DS-5521"), a passage that does not say it
(nor does the line before it) is an identifier of something else: its confidence is at most
confidence.MISFIT_MAX, its rank unchanged. A word the memory never uses is not judged (a paraphrase: "the reference
on my residents' car pass" for "my parking permit number is PZ 40218"). Phone numbers are recall/quantity.py's (any
phone number will do there).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.roles import is_role, role_ids

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

# "<word> number|reference|code|…" not followed by "of" ("the highest number of points" is a count)
# An owner word of at most 61 characters: each word of a long "a-a-a-…" run was tried to its end (quadratic).
_IDENTIFIER = re.compile(r"\b([a-z][\w-]{0,60})\s+(?:number|no|reference|ref|code|pin|password|passcode|combination|"
                         r"id)\b(?!\s+of\b)", re.IGNORECASE)
_NOT_OWNERS_TEXT = "phone mobile cell telephone what which whose the a an my your our their his her its"
_NOT_OWNERS = frozenset(_NOT_OWNERS_TEXT.split())


def owners(query: str) -> list[int]:
    """The term ids of the words an identifier the question asks for belongs to ("seat" in "sam's seat number")."""
    out = []
    for m in _IDENTIFIER.finditer(query):
        word = m.group(1).lower()
        if word in _NOT_OWNERS or word in T.STOPWORDS:
            continue
        out += T.term_ids(word)
    return out


def other_identifier(index: PassageIndex, rows: Sequence[int], query: str) -> set[int]:
    """The rows that do not say what the asked identifier belongs to, when the agent's memory says it elsewhere."""
    return index.rows_lacking(rows, owners(query))


# Another attribute of the same person: "what time is ivy's football?" is not answered by "parents evening for ivy is
# the twenty sixth at six fifteen" (cosine 0.54: the same child, a day and a time). The word a question puts after a
# person's name ("ivy's football", "hemi's flat") names what of theirs it asks about; when the agent's memory uses it
# somewhere, a passage that does not say it (nor does the line before it) is about something else of theirs. Only for
# someone the memory names as a person (after a role word: "my daughter ivy", "my flatmate hemi"): after a place's
# name the word is often its kind, which an answer words its own way ("McGee's bar" / "McGee's pub": LoCoMo). Words an
# answer rarely repeats are left out: a name, an age, a job ("hemi works as a nurse"), a number or an address (the
# kinds of recall/quantity.py), and a role (recall/roles.py).
_POSSESSED = re.compile(r"\b(\w+)['’]s\s+(?:(?:new|old|next|last|current|first|usual)\s+)?([a-z][\w-]*)",
                        re.IGNORECASE)
_GENERIC_TEXT = """name names age birthday job jobs work career number phone email address plan plans thing things
one ones favourite favorite"""
_GENERIC = frozenset(_GENERIC_TEXT.split())
PERSON_ROWS = 64  # passages read for whether a name follows a role word


def possessed(query: str) -> list[tuple[int, list[int]]]:
    """(the possessor's term id, the term ids of what the question asks about of them): "what time is ivy's
    football?" -> (ivi, [footbal])."""
    out = []
    for m in _POSSESSED.finditer(query):
        owner, word = T.terms(m.group(1)), m.group(2).lower()
        if not owner or word in T.STOPWORDS or word in _GENERIC or is_role(word):
            continue
        out.append((T.term_id(owner[0]), T.term_ids(word)))
    return out


def a_person(index: PassageIndex, tid: int) -> bool:
    """Whether the memory names ``tid`` right after a role word ("my daughter ivy", "the user's flatmate hemi")."""
    roles = role_ids()
    rows, _ = index.keywords.postings_of(tid)
    for r in rows[:PERSON_ROWS].tolist():
        terms = index.terms_of(int(r))
        at = np.flatnonzero(terms == np.uint64(tid))
        if any(i > 0 and int(terms[i - 1]) in roles for i in at.tolist()):
            return True
    return False


def other_attribute(index: PassageIndex, rows: Sequence[int], query: str) -> set[int]:
    """The rows that do not say what of a person the question asks about, when the memory says it elsewhere."""
    asked = [tid for owner, tids in possessed(query) if a_person(index, owner) for tid in tids]
    return index.rows_lacking(rows, asked)
