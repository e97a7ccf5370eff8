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
  to walnuts", nor "Am I allergic to anything?" by "gideon is allergic to shellfish": a question that names whom it
  asks about (a name, or a possessive: "Priya's", "the flat's"; or else the user: "I", "my") is not answered by a
  passage that gives the asked thing only as someone or something else's ("gran's allergic", "gideon is
  allergic", "the cabin's wifi") and never says the asked holder outside a speaker's label (a line of the holder's
  own that speaks of themself, "Priya: I'm allergic to…", is theirs). The user's own thing is said with "I" or "my"
  before it: "my sister Orla's locker" and "my husband's shoe size" say "my" of someone else's thing.
- **A sum of another kind.** "What is the deposit on the flat?" is not answered by "rent on the flat is 98,000 a
  month" (cosine ~0.8: the same flat, a sum of money), nor "How much is my car insurance?" by "got a raise! net is
  now 3,750": a question that asks for a kind of sum (a deposit, rent, a salary, a bill, a tax, insurance, a
  budget…) is not answered by a passage that gives money as other kinds of sum and never says the asked one. Words
  for any price or payment ("price", "cost", "fee", "rate", "pay") name no kind: they are not judged.
- **Another of the user's people.** "When is mama's cardiologist appointment?" is not answered by "VGH called,
  baba's heart appointment is now january sixth" (cosine 0.73): a question whose holder is a role ("mama's", "my
  sister's") is not answered by a passage that gives the asked thing as another role's ("baba's … appointment") and
  says no word of the asked role (roles are said by name too, "Walter's warfarin": only another role word counts).
- **A number in another sender's signature.** "What's Paddy's mobile number?" is not answered by a mail from
  Dublin Movers that names Paddy as the crew lead and signs off "Dublin Movers | 01 845 0076": in an e-mail the
  numbers of the signature (the lines after the last closing, "Kind regards,", or else after the last blank line)
  are the sender's. A phone number asked of someone who is not the sender, when every number the mail gives is in a
  signature that does not name them, is another person's.
- **An arrival asked, only the sending said.** "When does the balikbayan box arrive in Manila?" is not answered by
  "the balikbayan box ships december twelve" (0.73): a question about an arrival or a delivery is not answered by a
  passage that says only that it ships, is sent or leaves (recall/opposites.py pairs arrive and leave in the
  ranking; shipping and sending are this).
- **A place asked, none said.** "Where is Ilse's pottery course?" is not answered by "ilse is going down to three
  days, she's started a pottery course" (0.99), nor "Where does Sam park at the airport?" by "Sam has moved to day
  shifts from December, 7am to 3pm" (0.91): a where-question asks for a place, and a passage that says none (no
  preposition of place before a word that is no time or number, "at the marion", "in denver", "under the mat"; no
  address, no place word, "home", "upstairs", "next door"; no capitalised name inside a sentence other than the
  question's own) does not answer it.
- **No way back.** "When does Uncle Dev fly back to Mumbai?" is not answered by "…pub says max 30 in the back room…
  Uncle Dev can't make it" (recall/opposites.py reads stored terms, where "the back room" says "back"): a return is
  said as one ("flying back", "back home", "back on the 3rd", "the return flight").
"""

from __future__ import annotations

import re
from functools import lru_cache

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.opposites import asks_return_leg
from voice_letta.agent.recall.places import time_terms
from voice_letta.agent.recall.plain import message_parts
from voice_letta.agent.recall.quantity import ADDRESS, CLOCK, MONEY, PHONE, asked_kind, kinds_of_text
from voice_letta.agent.recall.roles import is_role, query_names, role_words, same_role

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
        if possessive or (i and tokens[i - 1][0].lower() in _OWNING):
            return True
        named = [j for j in (i - 1, i - 2) if j >= 0 and tokens[j][1] and tokens[j][0][:1].isupper()]
        if not named:
            return True  # a role said alone ("the dentist") may be anyone's: left to recall/roles.py
    return False


def _holders(query: str) -> set[str]:
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
    if _role_holds(query) and not _holders(query) & set(T.words(text)):
        return False  # "my dad", "Dad's INR": a role may be said by name ("Walter's INR"), recall/roles.py's; a role
        # the text says itself is judged here ("Mr Pieterse (landlord)" / "my car is the white Polo")
    holders = _holders(query)
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


# -- a sum of another kind --------------------------------------------------------------------------------------
# word -> the kind of sum it names (a small hand-written lexicon of everyday money words; synonyms share a kind)
_SUM_KINDS: dict[str, str] = {
    "rent": "rent", "deposit": "deposit", "bond": "deposit", "salary": "income", "wage": "income",
    "wages": "income", "income": "income", "base": "income", "earnings": "income", "raise": "income",
    "payrise": "income",
    "bonus": "bonus", "budget": "budget", "fare": "fare", "fares": "fare", "bill": "bill", "bills": "bill",
    "invoice": "bill", "tip": "tip", "fine": "fine", "penalty": "fine", "tax": "tax", "taxes": "tax", "vat": "tax",
    "insurance": "insurance", "premium": "insurance", "refund": "refund", "mortgage": "mortgage", "loan": "loan",
    "savings": "savings", "fund": "savings", "debt": "debt", "pension": "pension", "allowance": "allowance",
    "tuition": "tuition", "subscription": "subscription", "donation": "donation", "commission": "commission",
}
# said beside the main sum ("45k plus a 5k bonus", "a raise to 3,750"): no other kind of sum for the one asked
_ADD_ONS = frozenset(["bonus", "tip", "raise", "payrise"])
_MONEY_SAID = re.compile(r"[£$€¥₹]|\b(?:dollars?|bucks?|quid|pounds?|euros?|cents?|pence|grand|rupees?|yen|reais|"
                         r"usd|gbp|eur|inr|brl|jpy)\b", re.IGNORECASE)
_HOW_MUCH = re.compile(r"^\W*(?:what|what's|whats|how\s+much)\b", re.IGNORECASE)


def other_sum(query: str, text: str) -> bool:
    """Whether the question asks for a kind of sum and ``text`` gives money only as other kinds (see above)."""
    if _HOW_MUCH.match(query) is None:
        return False
    asked = {_SUM_KINDS[w] for w in T.words(query) if w in _SUM_KINDS}
    if not asked:
        return False
    said = {_SUM_KINDS[w] for w in T.words(text) if w in _SUM_KINDS and w not in _ADD_ONS}
    if not said or said & asked:
        return False
    return bool(kinds_of_text(text) & MONEY) or _MONEY_SAID.search(text) is not None


# -- no way back ----------------------------------------------------------------------------------------------
_RETURN_SAID = re.compile(
    r"\b(?:fly|flies|flew|flying|flight|come|comes|came|coming|get|gets|got|getting|go|goes|went|going|head|heads|"
    r"heading|drive|drives|drove|driving|travel\w*|be|been|being|is|are|was|were|he's|she's|they're|we're|i'm|"
    r"sail\w*|train|ferry|bus|way)\s+(?:back|home)\b|\bback\s+(?:home|from|to|on|in|by|at|for|after|before)\b|"
    r"\breturn\w*|\binbound\b|\bhomeward\b|\bhomebound\b", re.IGNORECASE)


def no_way_back(query: str, text: str) -> bool:
    """Whether the question asks about a planned way back and ``text`` says no return (see above)."""
    return asks_return_leg(query) and _RETURN_SAID.search(text) is None


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


# -- a number in another sender's signature ---------------------------------------------------------------------
_FROM = re.compile(r"^From:[ \t]*(.+)$", re.MULTILINE)
_HEADERS = ("from:", "to:", "cc:", "bcc:", "date:", "sent:", "subject:", "reply-to:")
_CLOSING = re.compile(r"^\s*(?:kind |best |warm |warmest |many |with )?(?:regards|thanks|thank you|best|cheers|"
                      r"sincerely|wishes|all the best|talk soon|yours)\b.{0,20}$", re.IGNORECASE)
_PHONE_DIGITS = 7
_DIGIT_RUN = re.compile(r"\+?\d[\d \t().-]*\d")  # "01 631 8402", "+353 (0)87 224-6190"


def _phone_line(line: str) -> bool:
    """A line that gives a phone number: a run of digits and separators with PHONE_DIGITS digits or more (not the
    mail's headers: a date and a subject's flat number are no phone)."""
    return not line.lower().startswith(_HEADERS) and any(
        sum(ch.isdigit() for ch in m.group()) >= _PHONE_DIGITS for m in _DIGIT_RUN.finditer(line))


def other_sender_phone(query: str, text: str) -> bool:
    """Whether a phone number is asked of someone who is not the mail's sender and every number the mail gives is
    in a signature that does not name them (see above)."""
    if not asked_kind(query) & PHONE:
        return False
    holders = _holders(query)
    m = _FROM.search(text)
    if not holders or m is None or holders & set(T.words(m.group(1))):
        return False
    lines = text[m.end():].splitlines()
    phones = [i for i, line in enumerate(lines) if _phone_line(line)]
    if not phones:
        return False
    closings = [i for i, line in enumerate(lines) if _CLOSING.match(line)]
    blanks = [i for i, line in enumerate(lines) if not line.strip()]
    start = closings[-1] if closings else (blanks[-1] if blanks else 0)
    if phones[0] < start:
        return False  # a number in the mail's body: whose it is, the other checks judge
    return not holders & set(T.words("\n".join(lines[start:])))


def envelope_phone(query: str, text: str) -> bool:
    """Whether a phone number is asked of someone the question names and the passage's messages (a chat export's
    JSON objects, an SMS backup's elements: recall/plain.py) give a number only in their envelope, which names
    nobody asked: an export's "address" or "from" number is the correspondent's ("What's Sipho's phone number?" /
    the landlord's SMS "Plumber is Sipho from QuickFix" from +27825550148)."""
    if not asked_kind(query) & PHONE:
        return False
    holders = _holders(query)
    parts = message_parts(text) if holders else None
    if parts is None:
        return False
    said, envelope = parts
    if kinds_of_text(said) & PHONE or not kinds_of_text(envelope) & PHONE:
        return False
    return not holders & set(T.words(envelope))


# -- an arrival asked, only the sending said --------------------------------------------------------------------
_ARRIVAL_ASKED_TEXT = "arrive arrives arriving arrival land lands landing delivered delivery deliveries"
_ARRIVAL_ASKED = frozenset(_ARRIVAL_ASKED_TEXT.split())
_ARRIVAL_SAID_TEXT = "arrived landed deliver delivers delivering reach reaches reached due expect expected eta"
_ARRIVAL_SAID = _ARRIVAL_ASKED | frozenset(_ARRIVAL_SAID_TEXT.split())
_SENDING_TEXT = """ship ships shipped shipping dispatch dispatched dispatches posted sent send sends leave leaves
leaving depart departs departing"""
_SENDING = frozenset(_SENDING_TEXT.split())


def only_sending(query: str, text: str) -> bool:
    """Whether the question asks when or where something arrives and ``text`` says only its sending (see above)."""
    if not _ARRIVAL_ASKED.intersection(T.words(query)) or _WH.match(query) is None:
        return False
    said = set(T.words(text))
    return bool(said & _SENDING) and not said & _ARRIVAL_SAID


# ... and the other way: a departure asked ("When does Marta leave Kyiv?"), only the arrival said ("Marta comes from
# Lviv on the 18th, I'll meet her at the station"): when someone arrives is not when they leave
_DEPARTURE_TEXT = "leave leaves leaving left depart departs departing departed departure departures"
_DEPARTURE = frozenset(_DEPARTURE_TEXT.split())
_ARRIVING_TEXT = "arrive arrives arriving arrived arrival land lands landing landed"
_ARRIVING = frozenset(_ARRIVING_TEXT.split())
_COMING_FROM = re.compile(r"\b(?:comes?|coming|gets?\s+in)\s+(?:back\s+)?from\b", re.IGNORECASE)


def only_arrival(query: str, text: str) -> bool:
    """Whether the question asks when or where someone or something leaves and ``text`` says only an arrival."""
    if not _DEPARTURE.intersection(T.words(query)) or _WH.match(query) is None:
        return False
    said = set(T.words(text))
    return (bool(said & _ARRIVING) or _COMING_FROM.search(text) is not None) and not said & _DEPARTURE


# -- a place asked, none said -----------------------------------------------------------------------------------
_WHERE = re.compile(r"^\W*where(?:'s|\s)", re.IGNORECASE)
_PLACING_TEXT = """at in to from near on by inside outside under underneath behind beside above below into onto across
past via through within around opposite off"""
_PLACING = frozenset(_PLACING_TEXT.split())
_PLACE_WORDS_TEXT = """home work school upstairs downstairs here there abroad online downtown uptown nearby next door
address location venue room ward office"""
_PLACE_WORDS = frozenset(_PLACE_WORDS_TEXT.split())
_DETERMINING_TEXT = "the my our his her their your a an this that"
_NUMBER_WORDS_TEXT = "one two three four five six seven eight nine ten eleven twelve twenty thirty half couple few"
_DETERMINING = frozenset(_DETERMINING_TEXT.split())
_NUMBER_WORDS = frozenset(_NUMBER_WORDS_TEXT.split())
# a name inside a sentence ("…moved to Denver", "…climb at The Arch"), not a sentence's first word
_INSIDE_NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+")
_MONTHS_DAYS_TEXT = """january february march april may june july august september october november december monday
tuesday wednesday thursday friday saturday sunday"""
_MONTHS_DAYS = frozenset(_MONTHS_DAYS_TEXT.split())


def no_place(query: str, text: str) -> bool:
    """Whether the question asks where something is and ``text`` says no place at all (see above)."""
    if _WHERE.match(query) is None:
        return False
    words = T.words(text)
    if _PLACE_WORDS.intersection(words) or kinds_of_text(text) & ADDRESS:
        return False
    asked = set(T.words(query))
    if any(m.group().lower() not in _MONTHS_DAYS and m.group().lower() not in asked
           for m in _INSIDE_NAME.finditer(text)):
        return False  # a name that may be the place ("Scoops changed my shifts"); not the asked holder's
    times = time_terms()
    for i, word in enumerate(words[:-1]):
        if word not in _PLACING:
            continue
        after = [w for w in words[i + 1:i + 3] if w not in _DETERMINING][:1]
        if (after and not after[0][:1].isdigit() and after[0] not in _NUMBER_WORDS and after[0] not in T.STOPWORDS
                and not set(T.term_ids(after[0])) & times):
            return False  # "at the marion", "to denver"; not "to three days", "from december", "at 7"
    return True
