"""Inflected forms of the other languages' words by their Snowball stemmers: "врач" also reads "врача", "врачу";
"cancelar" also "canceló", "cancelaron"; "verschieben" also "verschoben"; "odwołać" also "odwołane".

The tables of ``languages.py`` and ``change_words.py`` hold base forms; people write the forms their sentence needs.
Each Snowball stemmer (``snowballstemmer``, a dependency already: Porter for the keyword half) strips the endings of
its language from a fixed list of suffixes. A word of the table is read as its stem followed by any one of those
suffixes (or none) -- the same words that stemmer would reduce to that stem, bar the few its rules refuse -- as one
regex per language, so a text is matched without stemming any of its words, and nothing is stemmed at import but the
table's own words (~2 ms). Languages without a Snowball stemmer here (Tagalog, Swahili, romanised Hindi-Urdu, the
CJK scripts) are read as written.

Precision: a stem shorter than ``MIN_STEM`` letters is written out as its word only ("mov" + any ending would read
"movie"); an English word that a stem and an ending would spell is refused by ``ENGLISH``, checked by the unit test
against the table's words.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from functools import cache

import snowballstemmer
from snowballstemmer.among import Among

__all__ = ["LANGUAGES", "MIN_STEM", "pattern", "stem", "suffixes", "trie"]

# table language code -> Snowball algorithm
LANGUAGES = {"es": "spanish", "fr": "french", "pt": "portuguese", "it": "italian", "de": "german", "nl": "dutch",
             "pl": "polish", "tr": "turkish", "ru": "russian"}
MIN_STEM = 4


@cache
def _stemmer(code: str) -> snowballstemmer.BaseStemmer:
    return snowballstemmer.stemmer(LANGUAGES[code])


def stem(word: str, code: str) -> str:
    """``word``'s stem in the language ``code`` (the word itself in a language without a stemmer here)."""
    if code not in LANGUAGES:
        return word
    result: str = _stemmer(code).stemWord(word)
    return result


@cache
def suffixes(code: str) -> tuple[str, ...]:
    """The endings the Snowball stemmer of ``code`` removes, longest first (read from its generated tables: the
    algorithm's own lists, not ours). Internal markers (upper-case vowels, "~") are left out."""
    module = importlib.import_module(f"snowballstemmer.{LANGUAGES[code]}_stemmer")
    found: set[str] = set()
    for value in vars(module).values():
        if isinstance(value, type):
            for among in vars(value).values():
                if isinstance(among, (list, tuple)) and among and isinstance(among[0], Among):
                    found |= {a.s for a in among if a.s and a.s == a.s.lower() and re.fullmatch(r"\w+", a.s)}
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def pattern(words: list[str], code: str) -> str:
    """A regex source (no boundaries) for ``words`` of the language ``code`` and their inflected forms: a stem of at
    least ``MIN_STEM`` letters that begins its word, followed by one of the language's endings or none; any other
    word as written, and a word marked "=" (its stem and an ending would spell an English word: French "reporter")."""
    stems, literal, endings = [], [], set(suffixes(code)) if code in LANGUAGES else set()
    for word in words:
        if word.startswith("="):  # read as written: its stem would spell English words ("report", "correct")
            literal.append(word[1:])
            continue
        s = stem(word, code)
        if code in LANGUAGES and len(s) >= MIN_STEM and " " not in word and word.startswith(s):
            stems.append(s)
            endings.add(word[len(s):])  # an ending a rule removes outside the lists (Italian final vowels)
        else:
            literal.append(word)
    parts = []
    if stems:
        parts.append(f"(?:{trie(list(dict.fromkeys(stems)))})(?:{trie(sorted(e for e in endings if e))})?")
    if literal:
        parts.append(trie(literal))
    return "|".join(parts)


_Node = dict[str, "_Node"]


def trie(words: Sequence[str]) -> str:
    """One regex for ``words`` that tries the longest first, as a trie ("mum(?:my)?"): the same matches as their
    alternation sorted longest first, without trying each of ~2,000 words at every position of a question (0.98 ->
    0.05 ms a question, synonyms' triggers at load 11)."""
    root: _Node = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: _Node) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body
    return build(root)
