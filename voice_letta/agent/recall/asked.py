"""What a question asks, checked against what a shown result says of it (``values.misplaced`` runs these on the few
results a search shows; a result that fails one is a misfit: at most confidence.MISFIT_MAX, its rank unchanged).
Each follows from the question's holder, attribute or kind of value, not from the words of a case:

- **Another day of the week.** "What time is kendo on Saturdays?" is not answered by "kendo's fridays only, the
  tuesday class clashed…" (MiniLM: cosine ~0.8, the same class): a question that names a day of the week asks about
  that day; a passage that names days of the week (a range counts as every day in it: "monday to friday") and not
  that one is about another day. Not judged when the passage says weekdays, weekends, daily or every day, nor for a
  question about the past (a day named there is a time window, recall/timewords.py) or a yes/no question ("Do I
  have kendo on Saturdays?" is answered by "fridays only").
- **A time of day asked, none said.** "What time does Ollie's party start?" is not answered by "ollie's party is at
  the bowling alley in glenelg on saturday the thirteenth": the day and the place, but no time (recall/quantity.py
  flags it like another speaker's line; with the same words about the same thing it stayed at 0.68).
- **The asked thing as another holder's.** "What is Priya allergic to?" is not answered by "Priya: gran's allergic
  to walnuts": a question that names whom it asks about (a name, or a possessive: "Priya's", "the flat's") is not
  answered by a passage that gives the asked thing only as someone or something else's ("gran's allergic", "the
  cabin's wifi") and never says the asked holder outside a speaker's label (a line of the holder's own that speaks
  of themself, "Priya: I'm allergic to…", is theirs).
- **No way back.** "When does Uncle Dev fly back to Mumbai?" is not answered by "…pub says max 30 in the back room…
  Uncle Dev can't make it" (recall/opposites.py reads stored terms, where "the back room" says "back"): a return is
  said as one ("flying back", "back home", "back on the 3rd", "the return flight").
"""

from __future__ import annotations

import re

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.opposites import asks_return_leg
from voice_letta.agent.recall.places import time_terms
from voice_letta.agent.recall.quantity import CLOCK, asked_kind, kinds_of_text
from voice_letta.agent.recall.roles import query_names

# -- another day of the week ------------------------------------------------------------------------------------
_WEEKDAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "weds": 2,
             "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
             "sunday": 6, "sun": 6}
_FULL_NAMES = {word: day for word, day in _WEEKDAYS.items() if word.endswith("day")}
_DAY_TOKEN = re.compile(r"[A-Za-z]+|\d+|[-–]")
_RANGE = frozenset(["to", "till", "til", "until", "through", "thru", "-", "–"])
_EVERY_DAY = re.compile(r"\b(?:weekdays?|weekends?|daily|every\s*day|everyday|week\s*nights?|weeknights?)\b",
                        re.IGNORECASE)
# a question that asks for something (not a yes/no one: "Do I have kendo on Saturdays?" / "fridays only" answers it)
_WH = re.compile(r"^\W*(?:what|what's|whats|when|when's|where|where's|who|who's|whom|whose|which|how)\b",
                 re.IGNORECASE)


def _weekday(token: str, after: str, full_only: bool) -> int | None:
    """The day of the week a token names (0 = Monday): a full name or its plural ("saturdays"); with ``full_only``
    False also a short form ("Tue", "thurs"), "sat" and "sun" only capitalised or before a date ("sat 12 dec")."""
    low = token.lower()
    day = (_FULL_NAMES if full_only else _WEEKDAYS).get(low)
    if day is None and low.endswith("s") and len(low) > 6:
        day = _FULL_NAMES.get(low[:-1])
    if day is not None and low in ("sat", "sun") and not (token[:1].isupper() or after[:1].isdigit()):
        return None  # "we sat down", "in the sun"
    return day


def weekdays(text: str, *, full_only: bool = False) -> set[int]:
    """The days of the week ``text`` names; a range ("monday to friday", "Mon-Fri") names every day in it."""
    tokens = _DAY_TOKEN.findall(text)
    out: set[int] = set()
    last: int | None = None
    joined = False
    for i, tok in enumerate(tokens):
        day = _weekday(tok, tokens[i + 1] if i + 1 < len(tokens) else "", full_only)
        if day is not None:
            if last is not None and joined:
                between = last
                while between != day:
                    out.add(between)
                    between = (between + 1) % 7
            out.add(day)
            last, joined = day, False
        elif last is not None and not joined and tok.lower() in _RANGE:
            joined = True
        else:
            last, joined = None, False
    return out


def other_weekday(query: str, text: str) -> bool:
    """Whether ``text`` names days of the week, none of them the one the question asks about (see above)."""
    if _WH.match(query) is None or T.asks_about_the_past(query):
        return False
    asked = weekdays(query, full_only=True)
    if not asked or _EVERY_DAY.search(text):
        return False
    said = weekdays(text)
    return bool(said) and not said & asked


# -- a time of day asked, none said -----------------------------------------------------------------------------
def no_time_of_day(query: str, text: str, before: int = 0) -> bool:
    """Whether the question asks what time something is and ``text`` says no time of day (``before``: the number
    kinds of the line said before it, recall/quantity.py: a reply's question may say the time)."""
    return asked_kind(query) == CLOCK and not (kinds_of_text(text) | before) & CLOCK


# -- the asked thing as another holder's ------------------------------------------------------------------------
_POSSESSIVE = re.compile(r"\b([a-z][\w-]*)['’]s\s+(?:(?:new|old|own|usual)\s+)?([a-z][\w-]*)", re.IGNORECASE)
# a line's label: an export's "[18/11/2026, 08:40] Priya: …" or "Priya: …"
_LABEL = re.compile(r"^\s*(?:\[[^\]\n]{1,40}\]\s*)?(?:([^\s:\[\]][^:\n]{0,38}?)\s*:\s)?")
_NOT_HOLDERS = frozenset(["user", "let", "one", "everyone", "someone", "anyone", "nobody", "somebody", "everybody"])
# the words a question asks with (kept apart from the thing asked about)
_ASKING_TEXT = """how much many old long far what whats when which who whose time times date dates day days number
numbers cost costs price amount total name names start starts get got new"""


def _holders(query: str) -> set[str]:
    """The words of whom or what the question asks about: its names ("Priya", "Uncle Dev") and possessors."""
    out = {w for name in query_names(query) for w in name}
    out.update(m.group(1).lower() for m in _POSSESSIVE.finditer(query))
    return {w for w in out if w not in T.STOPWORDS and w not in _NOT_HOLDERS}


def other_holder_of(query: str, text: str) -> bool:
    """Whether ``text`` gives the thing ``query`` asks about as another holder's, never saying the asked one."""
    holders = _holders(query)
    if not holders:
        return False
    holder_ids = {t for w in holders for t in T.term_ids(w)}
    thing = set(T.term_ids(query)) - holder_ids - set(T.term_ids(_ASKING_TEXT))
    if not thing:
        return False
    asked_words = set(T.words(query))
    another = False
    for line in text.splitlines():
        m = _LABEL.match(line)
        label, body = ((m.group(1) or "").lower(), line[m.end():]) if m is not None else ("", line)
        said = set(T.words(body))
        if holder_ids & set(T.term_ids(body)):
            return False  # the asked holder is said: the other checks judge it
        if set(label.split()) & holders and said & T.FIRST_PERSON:
            return False  # "Priya: I'm allergic to…": the holder's own words about themself
        for p in _POSSESSIVE.finditer(body):
            holder, word = p.group(1).lower(), p.group(2).lower()
            if (holder in asked_words or holder in T.STOPWORDS or holder in _NOT_HOLDERS
                    or set(T.term_ids(holder)) & time_terms()):
                continue
            if set(T.term_ids(word)) & thing:
                another = True
    return another


# -- no way back ----------------------------------------------------------------------------------------------
_RETURN_SAID = re.compile(
    r"\b(?:fly|flies|flew|flying|flight|come|comes|came|coming|get|gets|got|getting|go|goes|went|going|head|heads|"
    r"heading|drive|drives|drove|driving|travel\w*|be|been|being|is|are|was|were|he's|she's|they're|we're|i'm|"
    r"sail\w*|train|ferry|bus|way)\s+(?:back|home)\b|\bback\s+(?:home|from|to|on|in|by|at|for|after|before)\b|"
    r"\breturn\w*|\binbound\b|\bhomeward\b|\bhomebound\b", re.IGNORECASE)


def no_way_back(query: str, text: str) -> bool:
    """Whether the question asks about a planned way back and ``text`` says no return (see above)."""
    return asks_return_leg(query) and _RETURN_SAID.search(text) is None
