"""Whether a passage carries a value of the kind a question asks for, when it names the thing asked about.

A memory names many things it never gives the details of: an MRI that is booked, a job's offer that went to someone
else, an employee number that was never said. The question about the detail shares the thing's words, so MiniLM
puts the passage that names it close (cosine 0.6–0.9), and before these checks it was a confident answer. What the
question asks for has a kind, and a passage either carries something of that kind or it does not (``values.misplaced``
caps a result that does not at confidence.MISFIT_MAX, its rank unchanged):

- **An identifier** ("What's my employee number?", "What's my room number in Clementi?", "What's the gate code?",
  "What's my student ID?") is said as one: a figure that is not a date, a time, a sum of money or a count of things
  ("14 boxes", "3 weeks"), a code of letters and digits ("BP-2026-118734", "14C"), or numbers spoken in a run ("the
  code is four four one seven"). "Noor asked if I could start early, December 14th" gives a date, no identifier
  (cosine 0.62 to the employee number); recall/quantity.py asks only for *some* number, and a date or a count is
  one. Not passwords and passcodes (a word will do: "the wifi password is pinecone"), not phone numbers (quantity.py's
  own check), not "how many" or "the number of" (a count).
- **An outcome** ("What were my MRI results?", "What did the MRI show?", "How did the interview go?") is not carried
  by a passage that says the event only as something to come: every sentence naming it gives a day or a time of day
  with a word of arranging it (booked, moved, rescheduled, scheduled, confirmed, appointment, letter, referral) and
  no word of a result (results, showed, found, came back, normal, passed, …). "Wythenshawe rang: MRI moved to Monday
  14 December, 7:40 am" (0.91 for the results) says when the MRI is, not what it showed. A passage that does not
  name the event is not judged ("Bloods back: vitamin D low" answers "What did my lab work show?").
- **An attribute of a holder the passage names** (``unsaid_attribute``): "What was RBC's offer?" is not answered by
  "RBC emailed, they went with an internal candidate" (0.85) when the memory says "offer" elsewhere; also asked as
  "What rank is Nora?" (the holder after the verb).
- **An end** ("What time does the party end?"): a range, a word of ending or a time after "by", "out" (``no_end``).
- **A thing said only with its own words**: a birthday, a floor, a username (``unsaid_kind``).
- **A time said in the clause of another verb** ("… pick up 6:30 now because they open earlier" for the opening:
  ``time_of_other_verb``), and **another code of the same word** ("vitamin D" for "vitamin B12": ``other_code``).
An hour after a word of time ("check in after 4") is no identifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.identifiers import possessed
from voice_letta.agent.recall.quantity import CLOCK, CURRENCY, DAY, MONTHS, kinds_of_text
from voice_letta.agent.recall.roles import is_role

# -- an identifier ------------------------------------------------------------------------------------------------
# "<thing> number|no|code|pin|id|reference|ref|combination", not "number of" (a count); what/which questions only
_ID_ASK = re.compile(r"\b(?:number|no|code|pin|id|reference|ref|combination)\b(?!\s+of\b)", re.IGNORECASE)
_WH = re.compile(r"^\W*(?:what|what's|whats|which|do you (?:remember|know)|remind me)\b", re.IGNORECASE)
_NOT_ID_ASK = re.compile(r"\b(?:phone|mobile|cell|telephone|how\s+many|password|passcode|e-?mail|address|dress)\b",
                         re.IGNORECASE)
# A digit date with its year (an export's stamp, "2026-11-30 09:00", "04/12/2026"): a day, not an identifier; and a
# day and a month ("14 December", "Dec 14th")
_DATE = re.compile(r"(?<![\w-])(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?)(?![\w-])")
_SIGNS = frozenset("£$€¥₹")
_MEASURES_TEXT = """second seconds sec secs minute minutes min mins hour hours hr hrs day days night nights week
weeks month months year years yrs inch inches cm mm km k miles mile metres meters m feet foot ft kg kilos lbs lb stone
mg mcg iu ml l percent degrees times people guests x thousand grand hundred million dollars bucks quid pounds euros
cents pence mins ish"""
_MEASURES = frozenset(_MEASURES_TEXT.split())
_NUMBER_WORDS_TEXT = """zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred double
triple"""
_NUMBER_WORDS = frozenset(_NUMBER_WORDS_TEXT.split())
_TOKEN = re.compile(r"[£$€¥₹]|[a-z]*\d(?:[\w/.:-]*\w)?|[a-z]+(?:'[a-z]+)?|[^\w\s]", re.IGNORECASE)
# one number word that names a thing's number after the words that give one ("number twelve", "is fourteen")
_ALONE = _NUMBER_WORDS - {"zero", "oh", "one", "double", "triple", "hundred"}
_NAMING_NUMBER_TEXT = "number no is was code pin room locker flat unit floor gate seat platform"
_NAMING_NUMBER = frozenset(_NAMING_NUMBER_TEXT.split())
# a small number after these is an hour ("after 4", "at 6", "by 11"), not "room 4" or "gate 12"
_AT_TIME_TEXT = "at after before by until till til from around about since"
_AT_TIME = frozenset(_AT_TIME_TEXT.split())
CLOCK_HOURS = 24
SPOKEN_RUN = 3  # number words in a row that read as a code ("four four one seven"), not "two blazers"


def asks_identifier(query: str) -> bool:
    """Whether the question asks for an identifier of something (see above)."""
    return (_WH.match(query) is not None and _ID_ASK.search(query) is not None
            and _NOT_ID_ASK.search(query) is None)


def _count_after(after: str) -> bool:
    """A word after a figure that makes it a count or a measure ("14 boxes", "3 weeks", "50 mg")."""
    low = after.lower()
    return low in _MEASURES or low in CURRENCY or (low.isalpha() and len(low) > 3 and low.endswith("s")
                                                    and not low.endswith("ss"))


def says_identifier(text: str) -> bool:
    """Whether ``text`` says something that may be an identifier (see above)."""
    tokens = _TOKEN.findall(_DATE.sub(" ", text))
    spoken = 0
    for i, tok in enumerate(tokens):
        low = tok.lower()
        before = tokens[i - 1].lower() if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if low in _NUMBER_WORDS:
            spoken += 1
            if spoken >= SPOKEN_RUN or (low in _ALONE and before in _NAMING_NUMBER and not _count_after(after)):
                return True  # "four four one seven"; "locker number twelve", "room is fourteen"
            continue
        spoken = 0
        if not any(ch.isdigit() for ch in tok):
            continue
        if any(ch.isalpha() for ch in tok) and not re.fullmatch(r"\d+(?:st|nd|rd|th|am|pm|k|m|km|kg|mg|x|s)",
                                                                  low):
            return True  # "14C", "BP-2026-118734", "KL1008"
        if before in _SIGNS or ":" in tok or low.endswith(("am", "pm", "st", "nd", "rd", "th")):
            continue  # money, a time of day, an ordinal
        if before in MONTHS or after.lower() in MONTHS or _count_after(after):
            continue  # a date, a count, a measure
        if before in _AT_TIME and low.isdigit() and int(low) <= CLOCK_HOURS:
            continue  # "check in after 4 on the 27th", "pick up at 6": an hour
        if "-" in tok.strip("-") or "/" in tok:
            return True  # "1-9-8-7", "12/B"
        if not low.replace(",", "").replace(".", "").isdigit():
            continue
        if "." in tok and low.count(".") == 1 and len(low.split(".")[1]) <= 2 and before not in ("#", "no"):
            continue  # "14.50": a price or a measure
        return True
    return False


def no_identifier(query: str, text: str) -> bool:
    """Whether the question asks for an identifier and ``text`` says none (see above)."""
    return asks_identifier(query) and not says_identifier(text)


# -- an outcome ---------------------------------------------------------------------------------------------------
_OUTCOME_ASK = re.compile(
    r"\b(?:results?|outcome|findings?|verdict|diagnosis)\b|"
    r"\bwhat\s+did\s+(?:the\s+|my\s+|our\s+|his\s+|her\s+|their\s+)?(?:[\w'-]+\s+){1,3}?(?:show|say|find|reveal)\b|"
    r"\bhow\s+did\s+(?:the\s+|my\s+|our\s+|his\s+|her\s+|their\s+)?(?:[\w'-]+\s+){1,3}?go\b", re.IGNORECASE)
_ARRANGING_TEXT = """book booked booking rebooked move moved moves moving rescheduled reschedule reschedules
schedule scheduled postponed delayed cancelled canceled confirmed confirm confirming appointment appointments appt
letter referral referred invite invited upcoming due"""
_ARRANGING = frozenset(_ARRANGING_TEXT.split())
_RESULT_TEXT = """result results showed shows show found find finds revealed reveals normal clear fine
passed pass failed fail diagnosed diagnosis outcome score scored grade said says told verdict negative positive torn
tear broken fracture"""
_RESULT = frozenset(_RESULT_TEXT.split())
# "bloods came back normal", not "calling back about your MRI"
_BACK = re.compile(r"\b(?:came|come|comes|coming|got|get|is|are|was|were|all|been)\s+back\b"
                   r"(?!\s+(?:about|to|in|on|at))", re.IGNORECASE)
_SENTENCES = re.compile(r"(?<=[.!?;\n])\s+|\n")
_OUTCOME_FRAME_TEXT = """what did do does how go went were was is are the my our his her their results result
outcome findings finding verdict diagnosis show say find reveal"""
_OUTCOME_FRAME = frozenset(_OUTCOME_FRAME_TEXT.split())


def _event_terms(query: str) -> set[int]:
    """The term ids of the event a question asks the outcome of ("mri" in "What were my MRI results?")."""
    words = [w for w in T.words(query) if w not in _OUTCOME_FRAME and w not in T.STOPWORDS]
    return set(T.term_ids(" ".join(words)))


def only_arranged(query: str, text: str) -> bool:
    """Whether the question asks an outcome and ``text`` names the event only as arranged (see above)."""
    if _OUTCOME_ASK.search(query) is None:
        return False
    event = _event_terms(query)
    if not event:
        return False
    naming = [s for s in _SENTENCES.split(text) if event & set(T.term_ids(s))]
    if not naming:
        return False
    for sentence in naming:
        words = set(T.words(sentence))
        if (words & _RESULT or _BACK.search(sentence) or not words & _ARRANGING
                or not kinds_of_text(sentence) & (DAY | CLOCK)):
            return False
    return True


# -- an attribute of a holder the passage names ---------------------------------------------------------------------
def unsaid_attribute(query: str, text: str, context: set[int], known: Callable[[int], bool]) -> bool:
    """Whether the question asks "X's Y" ("What was RBC's offer?"), ``text`` names X by itself ("RBC emailed, they
    went with an internal candidate") and neither it nor the line before it (``context``: its term ids) says Y, which
    the memory says somewhere (``known``). recall/identifiers.py judges this for people the memory names after a role
    word; a company, a team or a place is a holder too when the passage names it alone: "McGee's pub" for "McGee's
    bar" names the place only with its possessive, and is not judged (the kind of place is often said two ways)."""
    said = set(T.term_ids(text)) | context
    asks = [(owner, asked, _owner_word(query, owner)) for owner, asked in possessed(query)] + _asked_of(query)
    for owner, asked, word in asks:
        if owner not in said or not asked or said.intersection(asked) or not any(map(known, asked)):
            continue
        if word and re.search(rf"\b{re.escape(word)}\b(?!['’]s)", text, re.IGNORECASE):
            return True
    return False


# "What rank is Nora?", "What class does Kettil play?", "which school does Mia go to?": the holder after the verb, the
# thing asked before it (the same question as "Nora's rank"); not "what time is the party?" (a frame, no holder)
# (not "Which flight is Kiran mama on?": what the holder is on, in or at is a value said without its kind, "EK 204")
_ASKED_OF = re.compile(r"^\W*(?:what|which)\s+([a-z][\w-]*)\s+(?:is|was|does|did|do)\s+([\w-]+)\b(?!['’])"
                       r"(?:\s+(?!(?:on|in|at|for|to|with|from|into|of|by)\b)[a-z]+)?\s*[?.!]*\s*$", re.IGNORECASE)
_NOT_ASKED_TEXT = """time times day days date dates year years month week kind kinds sort type way one ones else
number name age job work"""
_NOT_ASKED = frozenset(_NOT_ASKED_TEXT.split())


def _asked_of(query: str) -> list[tuple[int, list[int], str]]:
    """(the holder's term id, the term ids of what is asked of them, the holder's word) of "what Y is X" (above)."""
    m = _ASKED_OF.match(query)
    if m is None:
        return []
    thing, holder = m.group(1).lower(), m.group(2)
    if (thing in _NOT_ASKED or thing in T.STOPWORDS or is_role(thing) or holder.lower() in T.STOPWORDS
            or holder.lower() in T.FIRST_PERSON or holder.lower() in ("you", "your", "it", "they", "he", "she")):
        return []
    owner = T.term_ids(holder.lower())
    return [(owner[0], T.term_ids(thing), holder)] if owner else []


def _owner_word(query: str, owner: int) -> str:
    """The word of the question whose term is ``owner`` (before its possessive)."""
    for m in re.finditer(r"([\w-]+)['’]s\b", query):
        if owner in T.term_ids(m.group(1)):
            return m.group(1)
    return ""


# -- the end of something asked -------------------------------------------------------------------------------------
# "What time does Taras finish school?" asks when something ends; a passage that gives a time of it says the start
# ("Logopeda for Taras move to Monday 14:00", 0.97; "Party back to Sat 12.12 18:00", 0.96 for when it ends). An end is
# said as one: a range ("19-22", "7:30 to 9", "from 6 till late"), a word of ending (ends, finish, closes, until, till,
# through, pick-up) or a time after "by", "out", "over", "done" ("check-out by 11:00", "out at 3:15").
_END_ASK = re.compile(r"^\W*what\s+time\s+(?:does|do|did|will|is|are|was|would|should)\b.*\b(?:end|ends|finish|"
                      r"finishes|close|closes|over|done|wrap\s+up|get\s+out|gets\s+out|let\s+out)\b",
                      re.IGNORECASE)
_END_SAID = re.compile(
    r"\b(?:end|ends|ended|ending|finish|finishes|finished|finishing|close|closes|closed|closing|until|till|til|"
    r"through|thru|pickup|pick-up|dismissal)\b|\bpick\w*\s+(?:[\w-]+\s+)?up\b|"
    r"\b(?:by|out|over|done)\s+(?:at\s+|around\s+|about\s+)?\d|"
    r"(?<![\d/.:-])\d{1,2}(?:[:.h]\d\d)?\s*(?:am|pm|h)?\s*(?:-|–|—|to)\s*\d{1,2}(?![\d/-])", re.IGNORECASE)


def no_end(query: str, text: str) -> bool:
    """Whether the question asks what time something ends and ``text`` says no end (see above)."""
    return _END_ASK.search(query) is not None and _END_SAID.search(text) is None


# -- a thing said only with its own few words ----------------------------------------------------------------------
# Some things are said with a few fixed words in any language, so a passage without them cannot be a paraphrase of
# one, and (unlike other things of a person, recall/identifiers.py) whether the memory says the word elsewhere does not
# matter:
# - a birthday's day ("when is…", "what date is…"; "birthday", "bday", "born", "turns 7", "her 60th", "cumple",
#   "urodziny"), not the day of something else of the same person: "When is Taras's birthday?" is not answered by
#   "Logopeda for Taras move to Monday 14:00" (0.79), nor "When is Zoe's birthday?" by her netball match on Saturday
#   (0.85); not a birthday's event ("When is 嫲嫲's birthday yum cha?" asks the yum cha), not what was given for one;
# - a floor ("what floor…": "5th floor", "level 3", "ground", "upstairs"; not "what level", as often a grade): "What
#   floor is the Wealthsimple office on?" / "people actually dress up a little at Wealthsimple. Bought two blazers"
#   (0.70);
# - a username asked with what or which ("username", "handle", "IGN", "gamertag", "@mira", "…name is"; not "who
#   handles my taxes?"): "What's my twitch username?" / "my twitch schedule: tue thu sat 19-22" (0.79).
_ORDINAL_AGE = (r"(?:\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|"
                r"twelfth|\w+teenth|\w+tieth)")
_CLOSED = [
    (re.compile(r"^\W*(?:when|what\s+(?:date|day))\b.*\b(?:birthdays?|bdays?|b-days?)\b(?!\s+(?!again\b|this\b|"
                r"next\b|exactly\b|coming\b|on\b|in\b)\w)|\bwhen\s+(?:was|were|is)\b.*\bborn\b", re.IGNORECASE),
     re.compile(r"\b(?:birthdays?|bdays?|b-days?|born|birth|birthdate|dob|turns|turning|turned|cumple\w*|kaarawan|"
                r"geburtstag|verjaardag|urodzin\w*|compleanno|anniversaire|anniv|aniversário|saalgirah|janamdin|"
                r"tanjoubi|saengil)\b|生日|誕生日|생일|\b(?:her|his|my|their|your|our)\s+" + _ORDINAL_AGE + r"\b",
                re.IGNORECASE)),
    (re.compile(r"^\W*(?:what|which)\s+(?:floor|storey)\b(?!\s+of\b)", re.IGNORECASE),
     re.compile(r"\b(?:floors?|fl|storeys?|stories|story|levels?|lvl|ground|basement|penthouse|mezzanine|upstairs|"
                r"downstairs|attic|top)\b|\b" + _ORDINAL_AGE + r"\b", re.IGNORECASE)),
    (re.compile(r"^\W*(?:what|which|what's|whats)\b.*\b(?:user\s*names?|handle|gamertags?|gamer\s+tags?|ign|"
                r"screen\s*names?|login)\b", re.IGNORECASE),
     re.compile(r"\b(?:user\s*names?|handles?|gamertags?|gamer\s+tags?|ign|tag|screen\s*names?|login|named|called|"
                r"name(?:'s|\s+is))\b|@\w", re.IGNORECASE)),
]


def unsaid_kind(query: str, text: str) -> bool:
    """Whether the question asks a thing said only with its own words (above) and ``text`` says none of them."""
    return any(ask.search(query) is not None and said.search(text) is None for ask, said in _CLOSED)


# -- a time said of another verb ------------------------------------------------------------------------------------
# "What time does Cafe Lula open?" asks the time of opening; "Cafe Lula want pick up 6:30 now because they open
# earlier" (1.00) says the opening in a clause of its own with no time in it: 6:30 is the pick-up's. A sentence joins
# clauses with a word that starts another (because, but, so, since, although, while), and a time in one belongs to
# what that clause says. Judged only in a sentence that says the asked verb and a time: the verb said in a sentence
# of its own may be about the timed thing ("moved my classes to 9am … bad idea to work out before sleeping?"), and a
# passage that never says the verb may say it in other words ("doors at 7").
_VERB_TIME_ASK = re.compile(r"^\W*what\s+time\s+(?:does|do|did|will|would|should|can)\s+(?:[\w'’-]+\s+){1,5}?"
                            r"([a-z]+)(?:\s+(?:up|off|out|in))?\s*[?.!]*\s*$", re.IGNORECASE)
_JOINED = re.compile(r"\s+(?=\b(?:because|but|so|since|although|though|while|whereas|cos|coz|bc)\b)", re.IGNORECASE)


def time_of_other_verb(query: str, text: str) -> bool:
    """Whether the question asks the time of a verb ("open") and the sentences of ``text`` that say it with a time
    give the time in another clause (see above)."""
    m = _VERB_TIME_ASK.match(query)
    if m is None or m.group(1).lower() in T.STOPWORDS:
        return False
    verb = set(T.term_ids(m.group(1).lower()))
    judged = False
    for sentence in _SENTENCES.split(text):
        if not verb & set(T.term_ids(sentence)) or not kinds_of_text(sentence) & CLOCK:
            continue
        for clause in _JOINED.split(sentence):
            if verb & set(T.term_ids(clause)) and kinds_of_text(clause) & CLOCK:
                return False
        judged = True
    return judged


# -- another of a thing's letters -----------------------------------------------------------------------------------
# "What dose of vitamin B12 am I on?" is not answered by "Started vitamin D 1,000 IU daily" (0.57): a thing named with
# a code after it ("vitamin B12", "terminal 2", "gate B", "line 3") is another thing than the same word with another
# code ("vitamin D"), as recall/kinds.py's series ("U12" / "U10") but for codes that are no neighbours of each other.
_NAMED_CODE = re.compile(r"\b([a-z]{3,})\s+([A-Z]{1,2}\d{0,3}|\d{1,3}[A-Z]?)\b(?![\w:.,/-]*\d)")


def other_code(query: str, text: str) -> bool:
    """Whether the question names "<word> <code>" and ``text`` says the word only with another code (see above)."""
    for m in _NAMED_CODE.finditer(query):
        word, code = m.group(1).lower(), m.group(2).lower()
        if word in T.STOPWORDS or code == "i":
            continue  # "did I", "should I": the pronoun is no code
        if re.search(rf"\b{re.escape(code)}\b", text, re.IGNORECASE):
            continue
        others = [c.lower() for w, c in _NAMED_CODE.findall(text) if T.stem(w.lower()) == T.stem(word)]
        if others and code not in others:
            return True
    return False
