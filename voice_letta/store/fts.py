"""Turn free text from users or an LLM into a safe FTS5 query.

The text is split into words, stopwords are dropped, each word is quoted as an FTS5 string (so ``OR``,
``NEAR/3``, ``*``, ``(`` and ``"`` are plain text) and the words are OR-ed. No words left means no query:
the caller returns an empty result instead of sending FTS5 something it cannot parse.

``select_terms`` then drops words that are too common to be worth their cost. BM25 has to score every
document a word occurs in (measured ~4 µs a document on a 100k-passage archive), while a word found in
thousands of documents has little inverse document frequency left to contribute: with an archive of
100k passages, one word in 12 % of them made a single keyword search take 47 ms, one in a third 114 ms, and
one in all of them 330 ms.
Words are kept rarest first while their combined document count fits a budget; the vector half of the hybrid
search still covers what they meant. Counts are per database, not per agent: that is what a search pays for,
since FTS5 walks every agent's documents for a word before the agent filter applies. They come from FTS5's
``fts5vocab`` tables, which store
Porter stems, so words are stemmed here with the same algorithm (Snowball's implementation of the original
Porter stemmer agrees with FTS5's on all but a few two-letter words; a miss only means a word is kept).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from voice_letta.agent.recall.text import STOPWORDS, stem

MAX_QUERY_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)


def fts_terms(text: str) -> list[str]:
    """The searchable words of ``text``: lowercased, without stopwords or repeats, at most MAX_QUERY_TERMS."""
    terms: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0).lower().strip("_")
        if not word or word in STOPWORDS or word in terms:
            continue
        terms.append(word)
        if len(terms) >= MAX_QUERY_TERMS:
            break
    return terms


def fts_match(terms: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression OR-ing ``terms`` as quoted strings, or ``None`` for no terms."""
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def fts_query(text: str) -> str | None:
    """Return an FTS5 MATCH expression for ``text``, or ``None`` when it has no searchable words."""
    return fts_match(fts_terms(text))


# The form FTS5's ``porter`` tokenizer stores a word under (for looking it up in an fts5vocab table): the memory
# index's stemmer, Snowball's implementation of the original Porter algorithm.
porter_stem = stem


def select_terms(terms: Sequence[str], doc_counts: Mapping[str, int], budget: int) -> list[str]:
    """Keep the rarest terms whose document counts (keyed by Porter stem) add up to at most ``budget``.

    A term missing from ``doc_counts`` occurs nowhere (or its stem was not recognized) and costs nothing.
    The result keeps the query's word order.
    """
    cost = {t: doc_counts.get(porter_stem(t), 0) for t in terms}
    kept: set[str] = set()
    spent = 0
    for term in sorted(terms, key=lambda t: cost[t]):
        if spent + cost[term] > budget:
            break
        kept.add(term)
        spent += cost[term]
    return [t for t in terms if t in kept]
