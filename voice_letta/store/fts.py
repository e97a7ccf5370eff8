"""Turn free text from users or an LLM into a safe FTS5 query.

The text is split into words, stopwords are dropped, each word is quoted as an FTS5 string (so ``OR``,
``NEAR/3``, ``*``, ``(`` and ``"`` are plain text) and the words are OR-ed. No words left means no query:
the caller returns an empty result instead of sending FTS5 something it cannot parse.
"""

from __future__ import annotations

import re

MAX_QUERY_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)

_STOPWORD_TEXT = """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves s t d ll m re ve
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


def fts_query(text: str) -> str | None:
    """Return an FTS5 MATCH expression for ``text``, or ``None`` when it has no searchable words."""
    terms: list[str] = []
    seen: set[str] = set()
    for match in _WORD.finditer(text):
        word = match.group(0).lower().strip("_")
        if not word or word in STOPWORDS or word in seen:
            continue
        seen.add(word)
        terms.append('"' + word.replace('"', '""') + '"')
        if len(terms) >= MAX_QUERY_TERMS:
            break
    if not terms:
        return None
    return " OR ".join(terms)
