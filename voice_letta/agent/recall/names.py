"""Whether a passage gives the name, or the part of a name, that a question asks for (``values.misplaced`` runs these
on the few results a search shows; a result that fails one is at most confidence.MISFIT_MAX, its rank unchanged).

- **A part of a name that is not said.** "What's Mr Pritchard's first name?" is not answered by "my old teacher mr
  pritchard is moving in next door" (cosine 0.54): a first (given, middle) name is the word said just before the
  name the question gives, a surname (last, family, maiden name) the word just after; a passage that says the name
  only with a title, a role or nothing next to it does not give the part asked for. A passage that does not say the
  name at all is left to the other checks.
- **A name asked for and not said.** "What's the name of biscuit's vet?", "what's the drummer's name?", "what are
  the kittens called?" are answered by a name said near the thing (within NAME_WINDOW words: "our drummer, Pete",
  "a parrot named kiwi", "the vet, dr okafor"), not by "the vet says it's chicken" or "thinking about adopting two
  kittens" (cosine 0.47–0.79). In written text a name is a capitalised word inside a sentence; spoken lower case
  cannot show one, so there the word right after the thing counts ("my parrot kiwi") unless it is a function word
  or has a verb's or an adverb's ending. Not judged when the passage does not say the thing.
- **A person asked by a role and no name said** (``missing_person``): "Who is Mele's doctor?" is not answered by
  "Mele cleared by her doctor 🙌 back at practice Monday" (0.98): "who" with a role asks the person's name.
"""

from __future__ import annotations

import re

from voice_letta.agent.recall import speakers as S
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.roles import is_role

_NAME_PART = re.compile(
    r"\b((?:[a-z][\w-]*\s+){0,2}?[a-z][\w-]*)['’]s\s+(first|given|christian|middle|last|family|maiden|sur)\s*name\b|"
    r"\b(first|given|christian|middle|last|family|maiden|sur)\s*name\s+of\s+(?:the\s+|my\s+|our\s+)?"
    r"((?:[a-z][\w-]*\s+){0,2}?[a-z][\w-]*)\s*[?.!]*$", re.IGNORECASE)
_BEFORE = frozenset({"first", "given", "christian", "middle"})
_TITLES_TEXT = """mr mrs ms miss mx dr doctor prof professor sir madam dame lady lord rev father sister brother aunt
uncle auntie old new young little big dear poor"""
_TITLES = frozenset(_TITLES_TEXT.split())
_HONORIFICS = frozenset(["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lady", "lord"])
_TOKEN = re.compile(r"[\w'’-]+|[^\w\s]")


def missing_name_part(query: str, text: str) -> bool:
    """Whether ``text`` says the person ``query`` asks a part of the name of, but never with that part beside it."""
    m = _NAME_PART.search(query)
    if m is None:
        return False
    holder = (m.group(1) or m.group(4) or "").lower().split()
    part = (m.group(2) or m.group(3) or "").lower()
    holder = [w for w in holder if w not in _TITLES and w not in T.STOPWORDS and w not in ("what", "whats")]
    if not holder:
        return False
    name = holder[-1] if part in _BEFORE else holder[0]
    asked = set(T.words(query))
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    seen = False
    for i, tok in enumerate(tokens):
        owned = tok in (f"{name}'s", f"{name}’s")
        if tok != name and not owned:
            continue
        seen = True
        if owned and part not in _BEFORE:
            continue  # "Bernadette's hours went to 7:30": what follows a possessive is hers, never her surname
        j = i - 1 if part in _BEFORE else i + 1
        if 0 <= j < len(tokens):
            word = tokens[j]
            if (word.isalpha() and word not in asked and word not in T.STOPWORDS and word not in _TITLES
                    and not is_role(word)):
                return False
    return seen



# A name asked for: "what's the name of biscuit's vet?", "what's the drummer's name?", "what are the kittens called?"
_DETERMINERS = r"(?:the\s+|my\s+|our\s+|his\s+|her\s+|their\s+|your\s+)?"
_NAME_ASK = re.compile(
    r"\bnames?\s+of\s+" + _DETERMINERS + r"(?:[\w-]+['’]s?\s+)?([\w-]+)|"
    r"(?<!first )(?<!last )(?<!full )\b([\w-]+)['’]s?\s+names?\b|"
    r"\bwhat\s+(?:is|are|was|were|'s)\s+" + _DETERMINERS + r"(?:[\w-]+['’]s\s+)?([\w-]+)\s+called\b",
    re.IGNORECASE)
# "Who is Mele's doctor?", "who's the manager at St Brendan's?": a role asked with "who" asks the person's name
_WHO_ROLE = re.compile(r"^\W*who(?:['’]s|\s+is|\s+was|\s+are|\s+were)\s+" + _DETERMINERS
                       + r"(?:[\w-]+['’]s?\s+)?([a-z][\w-]*)\s*(?:[?.!]*\s*$|\s+(?:at|for|in|on|of|with)\b)",
                       re.IGNORECASE)
_NAMED = re.compile(r"\bnames?(?:['’]s|\s+is|\s+are|\s+was|\s+were)\s+[\w-]", re.IGNORECASE)
_NAMING = frozenset(["called", "named", "name", "names", "nicknamed", "dubbed"])
_NOT_NAMES_TEXT = """i i'm i've i'd i'll monday tuesday wednesday thursday friday saturday sunday january february march
april may june july august september october november december"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
# words that open a sentence without naming anyone ("Okay, chiropodist at ten.", "Poor Biscuit.")
_OPENING_TEXT = """okay ok yes yeah yep no nope sure thanks thank great good nice cool lovely wow oh ah aww hi hey hello
well so right sorry poor congratulations congrats noted got sounds perfect fine alright also just maybe please"""
_OPENING_WORDS = frozenset(_OPENING_TEXT.split())
_LINKS = frozenset(["is", "was", "'s", "’s", ","])  # "the vet is patel", "our drummer, pete"
NAME_WINDOW = 4  # tokens either side of the thing a name is asked for
_ENDS = re.compile(r"^(?:[.!?;:—–-]|\W)$")


def asked_name_of(query: str) -> str | None:
    """The stem of the thing a question asks the name of ("vet" in "what's the name of biscuit's vet?"), or None (also
    for a person named in the question: "what's Mia's name?" is not this kind)."""
    m = _NAME_ASK.search(query)
    if m is None:
        return None
    word = next(g for g in m.groups() if g)
    if word[:1].isupper() or word.lower() in T.STOPWORDS or word.lower() in ("what", "whats"):
        return None
    return T.stem(word.lower().rstrip("'’"))


def _names_near(tokens: list[str], at: int, cased: bool, asked: set[str]) -> bool:
    """Whether a name is said within NAME_WINDOW tokens of ``tokens[at]`` (see ``missing_name``)."""
    lo, hi = max(0, at - NAME_WINDOW), min(len(tokens), at + NAME_WINDOW + 1)
    for j in range(lo, hi):
        tok, low = tokens[j], tokens[j].lower()
        prev = tokens[j - 1].lower() if j else ""
        if j == at or not tok[:1].isalpha() or low in asked:
            continue
        if (prev in _NAMING or prev in _HONORIFICS) and low not in T.STOPWORDS:
            return True  # "a parrot named kiwi", "the vet, dr patel"
        if cased and tok[:1].isupper() and low not in _NOT_NAMES and (
                (j and not _ENDS.match(tokens[j - 1])) or (low not in T.STOPWORDS and low not in _OPENING_WORDS)):
            return True  # "our drummer, Pete", "Biscuit, my corgi, …"; not "Okay, chiropodist at ten"
        after = j == at + 1 or (j == at + 2 and tokens[at + 1].lower() in _LINKS)
        if not cased and after and low not in T.STOPWORDS and not is_role(low) and not low.endswith(
                ("s", "ed", "ing", "ly")):
            return True  # spoken lower case: "my parrot kiwi", "the vet is patel", "our drummer, pete"
    return False


def missing_person(query: str, text: str) -> bool:
    """Whether ``query`` asks who someone's role is ("Who is Mele's doctor?") and ``text`` says the role but no name
    anywhere: no capitalised word inside a sentence that the question does not say, no word after "named", "called"
    or a title ("Mele cleared by her doctor 🙌 back at practice Monday", 0.98). The answer to "who" is often a line
    or a few words away from the role ("the landlord is this older guy named otto"), so the whole passage counts,
    and a line all in lower case ("user: yep, tash") cannot show a name: then it is not judged."""
    m = _WHO_ROLE.match(query)
    if m is None or not is_role(m.group(1).lower()):
        return False
    thing = T.stem(m.group(1).lower())
    if _NAMED.search(text):
        return False
    asked = set(T.words(query))
    seen = False
    for line in text.splitlines():
        body = line.split(":", 1)[1] if S.speakers(line) else line
        tokens = _TOKEN.findall(body)
        if not tokens:
            continue
        if not any(ch.isupper() for ch in body):
            return False  # spoken lower case: a name cannot be told from another word
        seen = seen or any(T.stem(t.lower().rstrip("'’s")) == thing or T.stem(t.lower()) == thing for t in tokens)
        for j, tok in enumerate(tokens):
            low, prev = tok.lower(), tokens[j - 1].lower() if j else ""
            if not tok[:1].isalpha() or low in asked or low.rstrip("'’s") in asked:
                continue
            if low in _HONORIFICS or (prev in _NAMING and low not in T.STOPWORDS):
                return False  # "Dr. patel is my doctor": a title names someone
            if tok[:1].isupper() and low not in _NOT_NAMES and j and not _ENDS.match(tokens[j - 1]):
                return False
    return seen


def missing_name(query: str, text: str) -> bool:
    """Whether ``text`` says the thing ``query`` asks the name of, but no name near it (see above)."""
    thing = asked_name_of(query)
    if thing is None:
        return False
    if _NAMED.search(text):
        return False  # "his name is Kyle!", "her name's coco": a name given outright, wherever the thing is said
    asked = set(T.words(query))
    seen = False
    for line in text.splitlines():
        body = line.split(":", 1)[1] if S.speakers(line) else line
        tokens = _TOKEN.findall(body)
        cased = any(ch.isupper() for ch in body)
        for i, tok in enumerate(tokens):
            if T.stem(tok.lower().rstrip("'’s")) != thing and T.stem(tok.lower()) != thing:
                continue
            seen = True
            if _names_near(tokens, i, cased, asked):
                return False
    return seen
