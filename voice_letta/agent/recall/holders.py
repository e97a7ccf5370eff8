"""Whose thing a question asks about, checked against whose a shown result gives (recall/asked.py's checks of a
question's holder; ``values.misplaced`` runs them on the few results a search shows, a result that fails one is a
misfit: at most confidence.MISFIT_MAX, its rank unchanged):

- **The asked thing as another holder's.** "What is Priya allergic to?" is not answered by "Priya: gran's allergic
  to walnuts", nor "Am I allergic to anything?" by "gideon is allergic to shellfish": a question that names whom it
  asks about (a name, or a possessive: "Priya's", "the flat's"; or else the user: "I", "my") is not answered by a
  passage that gives the asked thing only as someone or something else's ("gran's allergic", "gideon is
  allergic", "the cabin's wifi") and never says the asked holder outside a speaker's label (a line of the holder's
  own that speaks of themself, "Priya: I'm allergic to…", is theirs). The user's own thing is said with "I" or "my"
  before it: "my sister Orla's locker" and "my husband's shoe size" say "my" of someone else's thing.
- **Another of the user's people.** "When is mama's cardiologist appointment?" is not answered by "VGH called,
  baba's heart appointment is now january sixth" (cosine 0.73): a question whose holder is a role ("mama's", "my
  sister's") is not answered by a passage that gives the asked thing as another role's ("baba's … appointment") and
  says no word of the asked role (roles are said by name too, "Walter's warfarin": only another role word counts).
"""

from __future__ import annotations

import re
from functools import lru_cache

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.places import time_terms
from voice_letta.agent.recall.roles import is_role, query_names, role_words, same_role

# -- the asked thing as another holder's ------------------------------------------------------------------------
# "X's <thing>" (a possessive or "is"), "X is/was/has/had <thing>"
_BINDING = re.compile(r"\b([a-z][\w-]*)(?:['’]s|\s+(?:is|was|has|had))\s+(?:(?:new|old|own|usual|so|very|really|"
                      r"also|now|still)\s+)?([a-z][\w-]*)", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\b([a-z][\w-]*)['’]s\s+(?:(?:new|old|own|usual)\s+)?([a-z][\w-]*)", re.IGNORECASE)
# a line's label: an export's "[18/11/2026, 08:40] Priya: …" or "Priya: …"
_LABEL = re.compile(r"^\s*(?:\[[^\]\n]{1,40}\]\s*)?(?:([^\s:\[\]][^:\n]{0,38}?)\s*:\s)?")
_NOT_HOLDERS = frozenset(["user", "let", "one", "everyone", "someone", "anyone", "nobody", "somebody", "everybody",
                          "im", "ive", "id"])
# the words a question asks with (kept apart from the thing asked about)
_ASKING_TEXT = """how much many old long far what whats when which who whose time times date dates day days number
numbers cost costs price amount total name names start starts get got new anything something"""
# a holder said with one of these before it is a thing of the speaker's ("the flat's rent", "my wife is…": roles.py)
_DETERMINERS = frozenset(["the", "a", "an", "this", "that", "these", "those", "my", "our", "your", "his", "her",
                          "their", "its"])
_USER_LINES = frozenset(["", "user", "assistant"])


# the words before a role that make it the holder of what is asked ("my dad", "our nan")
_OWNING = frozenset(["my", "our", "your", "his", "her", "their"])
_WHO = re.compile(r"^\W*who(?:'s|’s)?\b", re.IGNORECASE)
_QUERY_TOKEN = re.compile(r"([A-Za-z\u00c0-\u024f]+)(['’]s\b)?")


def _role_holds(query: str) -> bool:
    """Whether a role holds what the question asks ("my dad", "Dad's INR", "mum's"), not a name's role ("Nadia's
    dentist appointment": Nadia holds it, the role says what it is)."""
    tokens = [(m.group(1), m.group(2) is not None) for m in _QUERY_TOKEN.finditer(query)]
    roles = [i for i, (word, _) in enumerate(tokens) if is_role(word.lower())]
    if not roles:
        return False
    for i in roles:
        possessive = tokens[i][1]
        if not possessive and _WHO.match(query) and not any(w.lower() not in T.STOPWORDS for w, _ in tokens[i + 1:]):
            continue  # the role is who is asked for ("Who is my teacher?"), not the holder of something asked
        if possessive or (i and tokens[i - 1][0].lower() in _OWNING):
            return True
        named = [j for j in (i - 1, i - 2) if j >= 0 and tokens[j][1] and tokens[j][0][:1].isupper()]
        if not named:
            return True  # a role said alone ("the dentist") may be anyone's: left to recall/roles.py
    return False


def asked_holders(query: str) -> set[str]:
    """The words of whom or what the question asks about: its names ("Priya", "Uncle Dev") and possessors."""
    out = {w for name in query_names(query) for w in name}
    out.update(m.group(1).lower() for m in _POSSESSIVE.finditer(query))
    return {w for w in out if w not in T.STOPWORDS and w not in _NOT_HOLDERS}


_SPEAKERS = frozenset(["my", "our"])
_INTRODUCING = re.compile(r"\b(?:it'?s|it\s+is|this\s+is|i'?m|i\s+am)\s+([a-z][\w-]*)|\b([a-z][\w-]*)\s+here\b",
                          re.IGNORECASE)


def _introduces(body: str, holders: set[str]) -> bool:
    """Whether the speaker introduces themself as an asked holder ("it's priya, my birthday dinner…"): their line."""
    return any({(m.group(1) or m.group(2) or "").lower()} & holders for m in _INTRODUCING.finditer(body))


def _speakers_own(body: str, thing: set[int]) -> bool:
    """Whether ``body`` says the asked thing, each time as the speaker's ("my heart appointment": "my" one or two words
    before it)."""
    words = T.words(body)
    at = [i for i, w in enumerate(words) if set(T.term_ids(w)) & thing]
    return bool(at) and all(_SPEAKERS.intersection(words[max(0, i - 2):i]) for i in at)


_ASKER = frozenset(["i", "my", "me", "mine"])  # the user asks about their own thing ("which locker is mine?")
_OF_THE_HOLDER = frozenset(["new", "old", "own", "usual"])  # words between a possessive and its thing ("Orla's old")


def _held_by_another(body: str, thing: set[int]) -> bool:
    """Whether ``body`` says the asked thing only as a named someone's ("my sister Orla's locker", "my husband's shoe
    size": a possessive one or two words before each mention, past the thing's own words and "new", "old"…), never
    as the speaker's own ("my locker", "I drive…")."""
    tokens = [(m.group(1).lower(), m.group(2) is not None) for m in _QUERY_TOKEN.finditer(body)]
    at = [i for i, (word, _) in enumerate(tokens) if set(T.term_ids(word)) & thing]
    if not at:
        return False
    return all(any(j >= 0 and tokens[j][1] and tokens[j][0] not in T.FIRST_PERSON
                   and all(set(T.term_ids(w)) & thing or w in _OF_THE_HOLDER for w, _ in tokens[j + 1:i])
                   for j in (i - 1, i - 2)) for i in at)


def other_holder_of(query: str, text: str) -> bool:
    """Whether ``text`` gives the thing ``query`` asks about as another holder's, never saying the asked one: a
    holder the question names ("What is Priya allergic to?" / "Priya: gran's allergic to walnuts"), or the user
    ("Am I allergic to anything?" / "user: gideon is allergic to shellfish"; for the user only someone said without
    a determiner: "the flat's rent" and "my wife is…" are the user's own, recall/roles.py judges roles)."""
    asked_words = set(T.words(query))
    if _role_holds(query) and not asked_holders(query) & set(T.words(text)):
        return False  # "my dad", "Dad's INR": a role may be said by name ("Walter's INR"), recall/roles.py's; a role
        # the text says itself is judged here ("Mr Pieterse (landlord)" / "my car is the white Polo")
    holders = asked_holders(query)
    user = not holders and bool(asked_words & _ASKER)
    if not holders and not user:
        return False
    holder_ids = {t for w in holders for t in T.term_ids(w)}
    user_asks = bool(asked_words & _ASKER)  # "What are my shifts at Scoops?": "my shifts" are asked too
    thing = set(T.term_ids(query)) - holder_ids - set(T.term_ids(_ASKING_TEXT))
    if not thing:
        return False
    another = False
    for line in text.splitlines():
        m = _LABEL.match(line)
        label, body = ((m.group(1) or "").lower(), line[m.end():]) if m is not None else ("", line)
        said, terms = set(T.words(body)), set(T.term_ids(body))
        own = bool(set(label.split()) & holders)  # the asked holder's own line
        if holder_ids & terms:
            if not own and not user_asks and not _introduces(body, holders) and _speakers_own(body, thing):
                another = True  # "denise … moved my heart appointment": the speaker's, not Denise's
                continue
            return False  # the asked holder is said: the other checks judge it
        if own and said & T.FIRST_PERSON:
            return False  # "Priya: I'm allergic to…": the holder's own words about themself
        if user and (label not in _USER_LINES or (said & T.FIRST_PERSON and terms & thing
                                                  and not _held_by_another(body, thing))):
            return False  # someone else's line, or the user's own thing said with "I", "my" (QA, session 18: not
            # "my sister Orla's locker" for "what's my locker number?", 0.95 before)
        for b in _BINDING.finditer(body):
            holder, word = b.group(1).lower(), b.group(2).lower()
            if (holder in asked_words or holder in T.STOPWORDS or holder in _NOT_HOLDERS
                    or set(T.term_ids(holder)) & time_terms()):
                continue
            if (user and (T.words(body[:b.start()])[-1:] or [""])[0] in _DETERMINERS
                    and not (b.group(0)[len(b.group(1))] in "'’" and is_role(holder))):
                continue  # "my car is…" is the user's; "my husband's shoe size" is the husband's
            if own and not (is_role(holder) or b.group(1)[:1].isupper()):
                continue  # in their own line only a person is another holder ("gran's…"; not "grooming is…")
            if set(T.term_ids(word)) & thing:
                another = True
    return another


# -- another of the user's people -------------------------------------------------------------------------------
_ROLE_BOUND = re.compile(r"\b([a-z][\w-]*)['’]s\s+", re.IGNORECASE)
BOUND_WORDS = 3  # words after "X's" that say what of X's ("baba's heart appointment")


@lru_cache(maxsize=256)
def _compatible(role: str) -> frozenset[str]:
    """Every role word said of the same people as ``role`` ("sister": sis, sibling; "mama": mother, mum, ammi…): its
    own group, or for a word that only sits in groups (recall/roles.py: "mama") those groups."""
    own = same_role(role)
    if own != [role]:
        return frozenset(own) | {role}
    return frozenset(w for key in role_words() if role in (group := same_role(key)) for w in group) | {role}


def other_role_holder(query: str, text: str) -> bool:
    """Whether the question asks a thing of a role ("mama's", "my sister's") and ``text`` gives that thing only as
    another role's, never saying a word of the asked one (see above)."""
    held = [m.group(1).lower() for m in _ROLE_BOUND.finditer(query) if is_role(m.group(1).lower())]
    if not held:
        return False
    ok = _compatible(held[0])
    words = T.words(query)
    thing = set(T.term_ids(" ".join(w for w in words if not is_role(w) and w not in T.STOPWORDS))) - set(
        T.term_ids(_ASKING_TEXT))
    if not thing or ok & set(T.words(text)):
        return False
    for m in _ROLE_BOUND.finditer(text):
        holder = m.group(1).lower()
        if is_role(holder) and holder not in ok and set(T.term_ids(" ".join(
                T.words(text[m.end():])[:BOUND_WORDS]))) & thing:
            return True
    return False


# -- the user's own thing asked, a relative's said ----------------------------------------------------------------
_USERS_THING = re.compile(r"\b(?:my|our)\s+(?:(?:new|old|own|usual)\s+)?([a-z][\w-]*)", re.IGNORECASE)


def relatives_thing(query: str, text: str) -> bool:
    """Whether the question asks about a thing of the user's ("What's wrong with my apartment?") and ``text`` says a
    thing as one of the user's people's ("my sister's flat in leeds has a damp problem"): not a lead in meaning
    (recall/confidence.py ``lead``), since the two share the topic, not the holder. A question that names a holder or
    a role ("my sister's", "Priya's") is judged by ``other_holder_of`` and ``other_role_holder``."""
    if asked_holders(query) or any(is_role(w) for w in T.words(query)):
        return False
    owned = [m.group(1).lower() for m in _USERS_THING.finditer(query)]
    if not [w for w in owned if w not in T.STOPWORDS and not is_role(w)]:
        return False
    for m in _ROLE_BOUND.finditer(text):
        following = [w for w in T.words(text[m.end():])[:BOUND_WORDS] if w not in T.STOPWORDS]
        if is_role(m.group(1).lower()) and following:
            return True
    return False
