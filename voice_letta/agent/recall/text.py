"""Words of passages and queries: the terms BM25 counts, and who said a line.

Terms are lowercased words without stopwords, Porter-stemmed (Snowball's implementation of the original Porter
algorithm, the one SQLite's FTS5 ``porter`` tokenizer uses), so "running", "runs" and "run" meet.

A *dialogue line* is one line that starts with a speaker label ("user: …", "Caroline: …"): what a transcript
import or a turn-per-passage archive looks like. Multi-line passages (the sleeptime agent's chunks) list the
speakers of every line.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"\w+", re.UNICODE)
_SPEAKER = re.compile(r"^[ \t]*([^\s:][^:\n]{0,40}?)[ \t]*:[ \t]", re.MULTILINE)

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
FIRST_PERSON: frozenset[str] = frozenset({"i", "me", "my", "mine", "myself"})

_STEMMER = snowballstemmer.stemmer("porter")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    result: str = _STEMMER.stemWord(word)
    return result


def words(text: str) -> list[str]:
    return [w for w in (m.group(0).lower().strip("_") for m in _WORD.finditer(text)) if w]


_STEMS: dict[str, str] = {}  # word -> stem; the vocabulary of one user's memory stays small


def terms(text: str) -> list[str]:
    """BM25 terms of ``text`` in order, repeats kept (term frequency). The hot loop of an index load (~25 words a
    passage, 100k passages), hence the plain dict cache and ``findall`` on the lowercased text."""
    out = []
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS:
            continue
        s = _STEMS.get(w)
        if s is None:
            w2 = w.strip("_")
            if not w2 or w2 in STOPWORDS:
                continue
            s = _STEMS[w] = _STEMMER.stemWord(w2)
        out.append(s)
    return out


def query_terms(text: str) -> list[str]:
    """Distinct terms of a query, in order."""
    return list(dict.fromkeys(terms(text)))


def speakers(text: str) -> tuple[str, ...]:
    """Lowercased speaker labels of the lines of ``text`` ("user", "caroline"), in order of appearance."""
    return tuple(dict.fromkeys(m.group(1).strip().lower() for m in _SPEAKER.finditer(text)))


def is_dialogue_line(text: str) -> bool:
    """One line, starting with a speaker label."""
    stripped = text.strip()
    return "\n" not in stripped and _SPEAKER.match(stripped) is not None


# Words that ask *when* or *that* something was said rather than *what* about: a query made only of these (and
# stopwords) is generic, and with a time window it lists the window instead of ranking by relevance.
_GENERIC_TEXT = """
    tell told say said says talk talked talking mention mentioned discuss discussed chat chatted speak spoke
    remind remember recall ask asked share shared let know thing things stuff anything something everything
    yesterday today tonight morning afternoon evening night week weekend month year day days hour hours minute
    minutes ago last earlier recent recently lately past previous conversation conversations us we
    one two three four five six seven eight nine ten couple few
"""
GENERIC_TERMS: frozenset[str] = frozenset(stem(w) for w in _GENERIC_TEXT.split())


def is_generic(query: str) -> bool:
    """True when the query names no topic ("What did I tell you yesterday?")."""
    return all(t in GENERIC_TERMS or t.isdigit() for t in query_terms(query))


# A question in the past tense, or about a first or earlier time, asks for history: the newest version of a fact
# is not preferred for it ("When did I first move?", "What did she say back then?").
_PAST = frozenset(["did", "was", "were", "had", "used", "first", "originally", "previously", "formerly",
                   "before", "once", "ago", "earlier", "back", "then", "initially"])


def asks_about_the_past(query: str) -> bool:
    return any(w in _PAST for w in words(query))
