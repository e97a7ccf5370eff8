"""People asked about by relation and remembered by name, or the other way round.

"How does my mother get around these days?" is answered by "June finished physio … she walks with a cane" when
another note says "June (the user's mother) has physio…": a caregiving app writes its notes by name, a family chat
says "Dad" and "Jamal", a user says "my sister" one day and "Maya" the next. The question and its answer share no
word, and MiniLM does not know who June is. The agent's memory does: the passages that say a relation next to a
name ("my sister Maya", "Uncle Dev", "tía Rosa", "June (the user's mother)", "Walter, my dad", "my boss is called
Dana", "June is my mother") pair the two. A question that names a relation gets the names memory gives it for its
keyword half (``with_words`` in ``synonyms.py``: one more query that ranks, never raises confidence), when the name
reaches passages the relation's words do not. Not the other way round (a name's relation added to "What is Mia
allergic to?" lifted every line that says "daughter" over the answer: held-out test3).

Names are read from the passages' own text (capitalised words: a lower-case transcript's "my sister maya" cannot be
told from "my sister moved", and ``roles.py`` pairs those by term for its compatibility check only). Only the
newest ``ROWS`` passages saying the relation are read, one store read of their ids, and what a passage
pairs is kept per passage id (a passage's text never changes).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall import roles as R
from voice_letta.agent.recall import text as T

if TYPE_CHECKING:
    from voice_letta.agent.ports import Store
    from voice_letta.agent.recall.index import PassageIndex

__all__ = ["pairs_in", "relation_words"]

ROWS = 24  # newest passages read per relation or name asked
CACHE_SIZE = 4096  # passages whose pairs are kept

_ROLE_WORDS = sorted(R.role_words(), key=len, reverse=True)
_ROLE = r"(?i:(" + "|".join(re.escape(w) for w in _ROLE_WORDS) + r"))(?!-)"  # not "sister-in-law"
_NAME = r"([A-Z][a-z\u00e0-\u00ff]+)"
_TITLE = r"(?:(?:Dr|Mr|Mrs|Ms|Prof|Aunty|Auntie)\.?\s+)?"
_OWNER = r"(?i:my|the\s+user['’]s|his|her|their|our)"
# "my sister Maya", "Uncle Dev", "tía Rosa", "the user's brother Kimo", "my doctor, Dr Patel"
_ROLE_NAME = re.compile(rf"\b{_ROLE}(?:['’]s)?,?\s+{_TITLE}{_NAME}\b")
# "June (the user's mother)", "Walter, my dad", "Maya - my sister"
_NAME_ROLE = re.compile(rf"\b{_NAME}\s*[(,\-–]\s*{_OWNER}\s+{_ROLE}\b")
# "my mum's name is June", "my boss is called Dana", "my cousin, named Luis"
_ROLE_CALLED = re.compile(rf"\b{_ROLE}(?:['’]s\s+name\s+is|\s+is\s+called|,?\s+called|,?\s+named)\s+{_TITLE}{_NAME}\b")
# "June is my mother", "Dana's my boss"
_NAME_IS = re.compile(rf"\b{_NAME}(?:\s+is|['’]s)\s+{_OWNER}\s+{_ROLE}\b")
_NOT_NAMES_TEXT = """i the a an and but so my our his her their he she they we you it this that there then when what
    who dr mr mrs ms prof has had have is was will would can could just also its im ill monday tuesday wednesday
    thursday friday saturday sunday january february march april july august september october november december"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())  # "May" and "June" are names too

_pairs: OrderedDict[str, frozenset[tuple[str, str]]] = OrderedDict()


def pairs_in(text: str) -> frozenset[tuple[str, str]]:
    """(name, role) pairs a passage says, both lower case, the role as said ("maya", "sister")."""
    found: set[tuple[str, str]] = set()
    for pattern, name_first in ((_ROLE_NAME, False), (_ROLE_CALLED, False), (_NAME_ROLE, True), (_NAME_IS, True)):
        for m in pattern.finditer(text):
            name, role = (m.group(1), m.group(2)) if name_first else (m.group(2), m.group(1))
            name = name.lower()
            if name not in _NOT_NAMES and not R.is_role(name) and name not in T.STOPWORDS:
                found.add((name, role.lower()))
    return frozenset(found)


async def relation_words(index: PassageIndex, store: Store, agent_id: str, query: str) -> list[str]:
    """The names the agent's memory gives the relations ``query`` names ("my mother" -> "june"), not words the query
    says already, and only names that reach a passage the relation's own words do not."""
    asked = R.query_roles(T.query_terms(query), query)
    if not asked:
        return []
    rows: set[int] = set()
    for _, accepted in asked:
        for tid in accepted:
            rows.update(index.keywords.postings_of(tid)[0][-ROWS:].tolist())
    newest = sorted(rows, reverse=True)[:ROWS * len(asked)]
    pairs = await _pairs_of(store, agent_id, [index.ids[r] for r in newest if r < index.size])
    said = set(T.words(query))
    out: list[str] = []
    for name, role in pairs:
        role_tids = set(T.term_ids(role))
        for _, accepted in asked:
            if role_tids & accepted and name not in said and _reaches_further(index, name, accepted):
                out.append(name)
    return list(dict.fromkeys(out))


def _reaches_further(index: PassageIndex, name: str, accepted: frozenset[int]) -> bool:
    """Whether a passage says the name and no word of the relation: else the name only doubles what the relation's
    words already find ("tía rosa's car broke down" over "my tía's cell is…" for "What's my tía's number?").
    Only the name's rows are looked up in the relation's postings (ascending rows: a binary search each), never a set
    of the relation's rows: at 100k passages "mother" alone may have thousands."""
    role_rows = [rows for rows in (index.keywords.postings_of(tid)[0] for tid in accepted) if len(rows)]
    for tid in T.term_ids(name):
        name_rows = index.keywords.postings_of(tid)[0]
        covered = np.zeros(len(name_rows), dtype=bool)
        for rows in role_rows:
            at = np.minimum(np.searchsorted(rows, name_rows), len(rows) - 1)
            covered |= rows[at] == name_rows
        if not covered.all():
            return True
    return False


async def _pairs_of(store: Store, agent_id: str, ids: Sequence[str]) -> set[tuple[str, str]]:
    missing = [pid for pid in ids if pid not in _pairs]
    if missing:
        for p in await store.get_passages(agent_id, missing):
            _pairs[p.id] = pairs_in(p.text)
            if len(_pairs) > CACHE_SIZE:
                _pairs.popitem(last=False)
    out: set[tuple[str, str]] = set()
    for pid in ids:
        out |= _pairs.get(pid, frozenset())
    return out
