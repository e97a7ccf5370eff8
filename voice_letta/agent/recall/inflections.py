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
import unicodedata
from collections.abc import Sequence
from functools import cache

import snowballstemmer
from snowballstemmer.among import Among

__all__ = ["ENGLISH_ENDINGS", "FORMS_ASCII_STEM", "LANGUAGES", "MIN_STEM", "forms", "inflects", "pattern", "stem",
           "suffixes", "trie"]

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


# Endings that English words have too: a table word's stem followed by one of these (or by nothing) is read as the
# inflected form of a word only where English could not be meant (the change words, read in phrases of changes);
# ``forms`` leaves them out ("renta" -> "rent", "soldi" -> "sold", "silvester" -> "silv" + "er", "turno" -> "turned").
_ENGLISH_ENDINGS_TEXT = """
    s es e ed er ers ing ings y ly al als ic ics ist ists ent ents ant ants ion ions ation ations age ages le les ness
    ment ments or ors ive ives ous able ible ity ities ence ences ance ances ism ish est en an ans
"""
ENGLISH_ENDINGS = frozenset(_ENGLISH_ENDINGS_TEXT.split()) | {""}


def inflects(word: str, code: str, ascii_stem: int = MIN_STEM) -> bool:
    """Whether ``word`` is read in other forms: its language has a stemmer here and its stem begins it (accents
    aside) and is not cut too short (a three-letter stem only of a four-letter word, "cita": "запись" -> "зап",
    "приём" -> "при" are cut too short), and a stem in plain letters has at least ``ascii_stem`` of them."""
    if code not in LANGUAGES:
        return False
    s = stem(word, code)
    return ((len(s) >= 4 or len(s) == len(word) - 1 == 3) and _unaccented(word[:len(s)]) == s
            and (len(s) >= ascii_stem or not s.isascii()))


# A stem in plain letters shorter than this reads English words and names as a table word's forms: Italian "compiti"
# read "compete", "compare"; Spanish "julio" "julia", "martes" "marta"; "prof" "profit" (MiniLM's vocabulary: 17 of
# 18,346 words of five letters or more with 4-letter stems, 0 with this).
FORMS_ASCII_STEM = 5


@cache
def forms(word: str, code: str) -> tuple[str, ...]:
    """The inflected forms of ``word`` that its language's stemmer reduces to the word's own stem, by an ending of at
    most three letters that English words do not have (``ENGLISH_ENDINGS``): "врач" -> "врача", "врачу", …; "cita" ->
    "citas"; "médico" -> "médicos". None for a word that does not ``inflects``. ~50 stemmings a word, once (cached)."""
    if not inflects(word, code, FORMS_ASCII_STEM):
        return ()
    s = stem(word, code)
    said = word[:len(s)]  # the stem as the word spells it: Spanish stems drop accents ("médico" -> "medic")
    candidates = [said + e for e in suffixes(code) if len(e) <= 3 and e not in ENGLISH_ENDINGS]
    kept = [c for c, cs in zip(candidates, _stemmer(code).stemWords(candidates), strict=True) if cs == s]
    return tuple(c for c in kept if c != word)


def _unaccented(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)) \
        if text.isascii() is False and re.search(r"[a-z]", text) else text


def pattern(words: list[str], code: str) -> str:
    """A regex source (no boundaries) for ``words`` of the language ``code`` as written and in their inflected forms:
    the stem of a word that ``inflects`` followed by an ending of its language that English words do not have
    (``ENGLISH_ENDINGS``: French "changer" would read "change", Spanish "cancelar" "cancel"). A word marked "=" is
    read as written only."""
    stems, literal = [], []
    endings = {e for e in suffixes(code) if e not in ENGLISH_ENDINGS} if code in LANGUAGES else set()
    for word in words:
        literal.append(word.lstrip("="))
        if not word.startswith("=") and " " not in word and inflects(word, code):
            s = stem(word, code)
            stems.append(word[:len(s)])
            if word[len(s):] not in ENGLISH_ENDINGS:
                endings.add(word[len(s):])  # an ending a rule removes outside the lists (Italian final vowels)
    parts = [trie(literal)]
    if stems:
        parts.append(f"(?:{trie(list(dict.fromkeys(stems)))})(?:{trie(sorted(endings))})")
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
