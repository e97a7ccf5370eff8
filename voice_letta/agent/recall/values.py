"""Where the value a question asks for is said: with the thing asked about, or with something else.

Checks on a result's text (``MemorySearch.hybrid`` runs them on the few results it shows, with the passage's text
and synopsis; a result that fails one is a misfit: at most confidence.MISFIT_MAX, its rank unchanged). Each follows
from what the asked value is and where a person would say it, not from the words of a case:

- **A list that gives the value of another item.** A note, a pasted document or a Markdown list keeps one thing per
  line ("## Bathroom / - Leak under the vanity fixed 11/20, $240 / - Next: regrout the shower"). When a question
  asks for a kind of value (a sum of money, a time of day, a day, a number, an identifier: recall/quantity.py) about
  a thing, the line that is most about that thing must give it: "how much did the shower regrout cost?" is not
  answered by the leak's $240 two lines up, nor "what's the confirmation number for the douro tour?" by the Porto
  hotel's confirmation three lines down (MiniLM: cosine 0.44–0.59, the same note). A Markdown heading ("## Bathroom")
  or a note's title line ("Dentist appointment") belongs to each line under it, with its value; an indented line to
  the line above it. Only lists: at least MIN_ITEMS lines that are no one's turn in a conversation (a
  line of a chat role, or a label said on two lines, is a turn: "assistant: what time is your flight? / user: ten
  fifteen" answers across lines), and not a record: a YAML document's distinct "key: value" fields are one thing's
  fields ("bill: broadband" / "monthly: 38.00" answer "how much is the broadband?"). Money here must be said as
  money (a currency sign or word): a list's other figures are references, counts and dates ("Confirmation 88412").
- recall/names.py's: a part of a name that is not said, a name asked for and not said, a person asked by a role
  ("who is Mele's doctor?") and no name said.
- **The same thing of another holder** (``other_holder``, below).
- recall/kinds.py's: another thing of the same kind (a bus asked, a train said), another of a series ("U12" asked,
  the memory's team is "U10").
- recall/carried.py's: an identifier, an outcome, a holder's attribute, an end, a birthday, a floor or a username
  asked and none said; a time said in another verb's clause; another code of the same word ("vitamin D" / "B12").
- recall/asked.py's: the asked thing as another holder's (a named holder, the user, or another of the user's
  people), a number in another sender's signature, another day of the week, a time of day asked and none said, a
  sum of another kind, an arrival asked and only the sending said, a place asked and none said, no way back.

And one that lowers a result like another speaker's line (``asks_listener``): a named speaker's line that only asks
the other person something.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from voice_letta.agent.recall import speakers as S
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.asked import (
    envelope_phone,
    no_measure,
    no_place,
    no_price,
    no_time_of_day,
    no_way_back,
    only_arrival,
    only_sending,
    other_sender_phone,
    other_sum,
    other_weekday,
)
from voice_letta.agent.recall.carried import (
    no_end,
    no_identifier,
    only_arranged,
    other_code,
    time_of_other_verb,
    unsaid_attribute,
    unsaid_kind,
)
from voice_letta.agent.recall.confidence import confidence, told_as_question
from voice_letta.agent.recall.holders import other_holder_of, other_role_holder, relatives_thing
from voice_letta.agent.recall.kinds import other_in_series, other_kind
from voice_letta.agent.recall.names import missing_name, missing_name_part, missing_person
from voice_letta.agent.recall.places import place_terms, time_terms
from voice_letta.agent.recall.plain import plain
from voice_letta.agent.recall.quantity import (
    ADDRESS,
    AMOUNT,
    ANY,
    CLOCK,
    DAY,
    EMAIL,
    MONEY,
    PHONE,
    asked_kind,
    kinds_of_text,
)
from voice_letta.agent.recall.roles import names_a_speaker

if TYPE_CHECKING:
    from voice_letta.agent.models import Passage
    from voice_letta.agent.recall.index import PassageIndex
    from voice_letta.agent.recall.ranking import Ranked

MIN_ITEMS = 3  # lines that are no one's turn: fewer is a line or two of speech, not a list
TITLE_WORDS = 6
_CHAT_ROLES = frozenset({"user", "assistant", "system", "human", "ai", "bot", "agent"})
_HEADING = re.compile(r"^\s*#{1,6}\s+")
# a record's field: "bill: broadband", "next_due: 2027-03", "wifi:" (a data key: not a list item "- Plumber: …", not a
# heading of a pasted itinerary "HOTEL 2: …", "DAY 7 (Fri 17 April): …")
_FIELD = re.compile(r"^([a-z][a-z\d_-]*):(?:\s|$)")
_DOCUMENT_MARK = "---"
# the words a question asks with, not the thing it asks about ("how much did the regrout cost": the regrout)
_FRAME_TEXT = """how much many old long far what when which time times date dates day days number numbers cost costs
price prices amount total figure value sum pay paid charge charged spend spent budget fee fees"""
_MONEY = re.compile(r"[£$€¥₹]|\b(?:dollars?|bucks?|quid|pounds?|euros?|cents?|pence|grand|rupees?|usd|gbp|eur|inr)\b|"
                    r"\b\d+(?:\.\d+)?k\b", re.IGNORECASE)
# an identifier: three digits or more in one token, or letters and digits mixed ("PT-5530", "QX7-2291", "88412")
_IDENTIFIER_ASK = re.compile(r"\b(?:number|no|reference|ref|code|pin|password|passcode|confirmation|booking|id)\b",
                             re.IGNORECASE)
_YEAR = re.compile(r"(?:19|20)\d\d")
# Its digit within 80 characters: each "a" of a long "a-a-a-…" run looked to its end for one (quadratic).
_IDENTIFIER = re.compile(r"(?<![\w:])(?=[a-z\d])(?=[\w-]{0,80}\d)[a-z\d][\w-]*[a-z\d](?![\w:])", re.IGNORECASE)


@lru_cache(maxsize=1)
def _frame() -> frozenset[int]:
    return frozenset(T.term_ids(_FRAME_TEXT))


def _is_identifier(token: str) -> bool:
    digits = sum(ch.isdigit() for ch in token)
    if _YEAR.fullmatch(token):
        return False  # "expires in 2031"
    return digits >= 3 or (digits >= 1 and any(ch.isalpha() for ch in token) and len(token) >= 4)


def _says(line: str, kind: int, identifier: bool) -> bool:
    """Whether ``line`` gives a value of the asked ``kind`` (money as money; an identifier as one)."""
    if identifier:
        return any(_is_identifier(m.group()) for m in _IDENTIFIER.finditer(line))
    if kind & MONEY:
        return _MONEY.search(line) is not None
    return bool(kinds_of_text(line) & kind)


def _items(text: str) -> list[tuple[str, str]] | None:
    """(heading, item) of each item of a list, or None when ``text`` is not one (see the module docstring). A Markdown
    heading, or else a first line that is a title ("Dentist appointment", "Flight details:"), heads every item under
    it; a line indented under the one before it (a sub-bullet, a wrapped detail) belongs to that item."""
    lines = [line for line in text.splitlines() if line.strip()]
    if _is_record(lines):
        return None
    labels = [S.speakers(line) for line in lines]
    said: dict[str, int] = {}
    for found in labels:
        for label in found[:1]:
            said[label] = said.get(label, 0) + 1
    turns = sum(1 for found in labels if found and (found[0] in _CHAT_ROLES or said[found[0]] > 1))
    if turns > 1:
        return None
    heading = ""
    if lines and not any(_HEADING.match(line) for line in lines) and _is_title(lines[0]):
        heading, lines = lines[0], lines[1:]
    out: list[tuple[str, str]] = []
    indent = 0
    for line in lines:
        if _HEADING.match(line):
            heading = line
            continue
        depth = len(line) - len(line.lstrip())
        if out and depth > indent:
            out[-1] = (out[-1][0], f"{out[-1][1]}\n{line}")
            continue
        indent = depth
        out.append((heading, line))
    return out if len(out) - turns >= MIN_ITEMS else None


def _is_record(lines: list[str]) -> bool:
    """Whether ``lines`` are one record's fields: at least MIN_ITEMS distinct "key: value" keys at the left margin,
    two in three of its unindented lines (a YAML document; see the module docstring)."""
    top = [line for line in lines if line == line.lstrip() and line.strip() != _DOCUMENT_MARK]
    keys = [m.group(1).lower() for m in map(_FIELD.match, top) if m is not None]
    return len(keys) >= MIN_ITEMS and len(set(keys)) == len(keys) and 3 * len(keys) >= 2 * len(top)


def _is_title(line: str) -> bool:
    """A note's first line that names what follows and gives no value of its own (see ``_items``)."""
    if line.rstrip().endswith(":"):
        return True
    return (len(line.split()) <= TITLE_WORDS and not kinds_of_text(line)
            and not any(_is_identifier(m.group()) for m in _IDENTIFIER.finditer(line)))


def other_item(query: str, text: str, weight: Callable[[int], float]) -> bool:
    """Whether ``text`` is a list whose line most about what ``query`` asks about does not give the value asked
    for, whether or not another line gives one (``weight``: a term id's weight, its IDF in the agent's memory)."""
    kind = asked_kind(query)
    if not kind & (AMOUNT | MONEY | CLOCK | DAY | ANY) or kind & (PHONE | EMAIL | ADDRESS):
        return False
    items = _items(text)
    if items is None:
        return False
    asked = {t for t in T.term_ids(query) if t not in _frame()}
    if not asked:
        return False
    identifier = bool(kind & (AMOUNT | ANY)) and _IDENTIFIER_ASK.search(query) is not None
    best = best_said = 0.0
    for heading, line in items:
        have = asked.intersection(T.term_ids(f"{heading}\n{line}"))
        covered = sum(weight(t) for t in have)
        best = max(best, covered)
        if covered and _says(f"{heading}\n{line}", kind, identifier):
            best_said = max(best_said, covered)
    return best > 0 and best_said < best


# The same thing of another holder: "what's the wifi password at home?" is not answered by "what did I say the cabin's
# wifi password was? … it's pinecone77" (cosine 0.60). A question that places what it asks about ("at home", "for the
# hall": recall/places.py) is not answered by a passage that does not say that place and gives the thing as someone
# or something else's ("the cabin's wifi", "sam's parking permit"), even when the memory never names the place
# elsewhere (recall/places.py alone leaves such a place unjudged: it may be said in other words).
_POSSESSIVE = re.compile(r"\b([a-z][\w-]*)['’]s\s+(?:(?:new|old|own|usual)\s+)?([a-z][\w-]*)", re.IGNORECASE)
_NOT_HOLDERS = frozenset(["user", "let", "one", "everyone", "someone", "anyone", "nobody", "somebody", "everybody"])


def other_holder(query: str, text: str) -> bool:
    """Whether ``text`` gives what ``query`` asks about as another holder's and does not say the question's place."""
    place = place_terms(query)
    if not place or set(place) & set(T.term_ids(text)):
        return False
    asked_words, asked = set(T.words(query)), set(T.term_ids(query)) - set(place)
    for m in _POSSESSIVE.finditer(text):
        holder, thing = m.group(1).lower(), m.group(2).lower()
        if (holder in asked_words or holder in T.STOPWORDS or holder in _NOT_HOLDERS
                or set(T.term_ids(holder)) & time_terms()):
            continue
        if set(T.term_ids(thing)) & asked:
            return True
    return False


# A line that asks states nothing of its own: "Jolene: How old is Luna?", "Andrew: Aww that's a cute photo! How are
# their personalities?" (LoCoMo: the named speaker's question to the other person ranked first for "How old are
# Jolene's cats?" at 0.97). In a conversation between people (a line of a speaker who is no chat role: the user's and
# the assistant's own questions are recall/questions.py's), a line whose last sentence is a question and whose other
# sentences are a few words that say nothing of the speaker ("Hey John!", "Thanks!") is judged like another speaker's
# line (W_OTHER_SPEAKER): its answer is the next line, which neighbours lift in the ranking. LoCoMo (bench/locomo.py):
# abstention AUC 0.8009 -> ~0.806 in a replay of the dumped results (93 answerable and 28 unanswerable top results
# lowered); with sentences of up to six words, or with the speaker's own statements allowed, 0.8051–0.8060.
_ANNOTATION = re.compile(r"\[[^\]]*\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ASKING = re.compile(r"^(?:what|whats|how|who|whos|where|when|why|which|do|does|did|are|is|have|has|was|were|can|"
                     r"could|would|will|any|anything)\b", re.IGNORECASE)
SHORT_SENTENCE = 5  # words: a greeting or a reaction beside the question ("Hey John!", "Aww that's a cute photo!")
_SPEAKING_OF_SELF = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|i'll|we|we're|we've|my|our|me|us)\b", re.IGNORECASE)


def asks_listener(text: str) -> bool:
    """Whether ``text`` is one line of a named speaker that only asks the other person something (see above)."""
    if "?" not in text or not S.is_dialogue_line(text):
        return False
    labels = S.speakers(text)
    if len(labels) != 1 or labels[0] in _CHAT_ROLES:
        return False
    body = _ANNOTATION.sub(" ", text.split(":", 1)[1]).strip()
    sentences = [s.strip() for s in _SENTENCE.split(body) if s.strip()]
    if not sentences or not sentences[-1].endswith("?") or _ASKING.match(sentences[-1].replace("'", "")) is None:
        return False
    # a statement of the speaker's own ("I went to the support group.") is a fact whatever follows it
    return all(s.endswith("?") or (len(s.split()) <= SHORT_SENTENCE and not _SPEAKING_OF_SELF.search(s))
               for s in sentences[:-1])

def misplaced(query: str, passage: Passage, index: PassageIndex | None, previous: Sequence[Passage] = ()) -> bool:
    """Either check above on one shown result (``index``: the agent's, for the weight of a term). A later version
    (``previous``: the passages it replaces) is judged by recall/asked.py with what it replaces: "actually make that
    thursday" keeps the time of day the first booking said; a later version that gives the asked thing as another
    holder's is theirs whatever it replaces ("Nadia: dentist rang, Kofi's appointment is now the 27th")."""
    def weight(tid: int) -> float:
        return max(index.keywords.idf_of(tid), 0.0) if index is not None else 1.0

    # read in the passage's words, not its format (recall/plain.py: a calendar entry's "DTSTART;TZID=…:2027…" line
    # was a list line without the asked thing); the envelope check reads the records themselves
    text = plain(passage.text)
    both = f"{text}\n{passage.synopsis or ''}"
    versions = "\n".join([both, *(f"{plain(p.text)}\n{p.synopsis or ''}" for p in previous)])
    if (other_item(query, text, weight) or missing_name_part(query, both)
            or other_holder_of(query, both) or (bool(previous) and other_holder_of(query, versions))
            or other_role_holder(query, versions)
            or other_sender_phone(query, text) or envelope_phone(query, passage.text)
            or (index is not None
                and other_in_series(query, versions, lambda term: index.keywords.doc_count(term) > 0))):
        return True
    # a speaker's things are judged by speaker, as for places (LoCoMo: "What did Jon do at Gina's studio?"; "What is
    # the name of the board game John tried…" is answered by John's lines about it, one of which names it); so are
    # their days and times (they are dated by when they were said: "When is Andrew going hiking?" / "…soon")
    if index is not None and names_a_speaker(index, query):
        return False
    return (missing_name(query, both) or missing_person(query, both) or other_holder(query, both)
            or other_weekday(query, versions)
            or no_time_of_day(query, versions, _kinds_before(passage, index)) or no_way_back(query, versions)
            or other_sum(query, versions) or no_price(query, versions) or no_measure(query, versions)
            or other_kind(query, versions) or only_sending(query, versions)
            or only_arrival(query, versions) or no_identifier(query, versions) or only_arranged(query, versions)
            or no_end(query, versions) or unsaid_kind(query, versions)
            or time_of_other_verb(query, both) or other_code(query, versions)
            or (index is not None and unsaid_attribute(query, versions, _terms_before(passage, index),
                                                       lambda tid: len(index.keywords.postings_of(tid)[0]) > 0))
            or no_place(query, both))  # the place of what a later version replaces is often another thing's


def _terms_before(passage: Passage, index: PassageIndex) -> set[int]:
    """The term ids of the line said just before ``passage``, empty when none is linked."""
    row = index.row_of.get(passage.id)
    if row is None or row >= len(index.prev) or index.prev[row] < 0:
        return set()
    return {int(t) for t in index.terms_of(int(index.prev[row])).tolist()}


def _kinds_before(passage: Passage, index: PassageIndex | None) -> int:
    """The number kinds (recall/quantity.py) of the line said just before ``passage``, 0 when none is linked."""
    row = index.row_of.get(passage.id) if index is not None else None
    if index is None or row is None or row >= len(index.prev) or index.prev[row] < 0:
        return 0
    return int(index.numbers[int(index.prev[row])])


def judged(r: Ranked, passage: Passage, query: str, index: PassageIndex | None, previous: Sequence[Passage] = ()
           ) -> float:
    """The ``confidence`` of a shown result: the ranking's signals and the checks of this module on its text (and on
    ``previous``, the passages of ``r.previous``)."""
    return confidence(r.cosine if r.has_vector else None, r.coverage,
                      other_speaker=r.other_speaker or asks_listener(passage.text), attribution=r.attribution,
                      baseline=r.baseline, third_person=r.third_person, other_role=r.other_role, asks=r.asks,
                      misfit=r.misfit or misplaced(query, passage, index, previous),
                      told=told_as_question(passage.text),
                      lead=0.0 if relatives_thing(query, passage.text) else r.lead)
