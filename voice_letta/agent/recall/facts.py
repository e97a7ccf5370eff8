"""Whether a later passage can be a new version of a fact *for one question* (``recall/updates.py`` links them).

Two rules on top of the cosines and cue words of ``updates.py``, both about what a passage's words say:

- **another attribute of the same subject**: "my sister maya just started a job at a museum" is not a new version of
  "my sister maya lives in lisbon" for "where does maya live?", nor for "what does maya do?" (``_FAMILIES``);
- **one fact of a long passage**: a dictated memo or a note of a whole conversation holds several facts; a later
  passage replaces it only for questions about the part it changes (``part_of``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall.quantity import AMOUNT, ANY, CLOCK, DAY, MONEY, asked_kind
from voice_letta.agent.recall.records import RECORD_ITEMS, asks_who, changed, other_holder
from voice_letta.agent.recall.records import asked as asked_items
from voice_letta.agent.recall.text import term_id, term_ids

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

# An update that names the subject the question names but not the attribute it asks about ("my sister maya just
# started a job at a museum" for "where does maya live?" against "my sister maya lives in lisbon") is news about
# another attribute of that subject. MiniLM cannot tell: with the name in the question the job is 0.60 to it and
# the lives-line 0.67 (a real move, "my sister maya moved to porto", 0.63), and the two lines are 0.68 alike. So for
# the few attributes people keep updating (where one lives, works, studies, who one is with: ``_FAMILIES``), when
# the question asks a word of one that only one of the two passages says, the other must say a word of the same
# family ("lives" / "moved"). Only when the two share a word the question names (the subject). Tried and dropped:
# the same test by cosine to the query for any other asked word (the update must answer at least 0.8 as well):
# it blocked real updates that drop a verb of the fact ("i go with my buddy raj" / "now i climb with keiko",
# "i am growing zucchini and peppers" / "the peppers all died"): dev and test2 stale 0 -> 1 each.
# A passage of more than LONG_PASSAGE_TERMS terms holds several facts (a dictated memo, a note of a whole
# conversation): a later passage updates it for a question only when it shares PART_WORDS words with the part the
# question matches (PART_TERMS terms either side of the question's words in it; when it matches none of them there is
# nothing to tell the part by and the rule does not apply). "her father's seventieth birthday is in July, not June"
# corrects one fact of a note that also says where her brother lives.
LONG_PASSAGE_TERMS = 24
PART_TERMS = 3
# Against a long passage cosine means little (the correction above is 0.23 alike the family note, below CUE_COSINE,
# and 0.43 alike "the user's nephew luca was born on november 2"): a cue passage that names PART_WORDS words of the
# asked part updates it when at least PART_MIN_COSINE alike the whole.
PART_WORDS = 2
PART_MIN_COSINE = 0.15
# A question that asks for a value of a kind (a day, a time of day, a sum of money, an amount: quantity.asked_kind)
# asks for the slot a change of that kind fills: "the party's now the twenty first of march" changes the date of a
# planning call that also named the venue and the guests, whichever of its words the question says ("When is mum's
# party?" says "mum", near "organising mum's seventieth"; the date is two words on). When the question asks such a
# kind and both passages say a value of it, the later one is a version for that question (``typed_change``). Against
# a long passage only for a day or a time (WHEN_KINDS): a plan has one date, but a note holds many sums ("Kitchen: …
# knocks twelve hundred off" is no new budget for "What's the kitchen budget?" over a memo that also says it).
# A place is such a slot too ("Where is the party being held?" / "the boathouse double booked us, we've moved to the
# old mill in marlow": 0.33 alike the planning call), told by a move *to* somewhere that is no day or time ("dani's
# flight moved to the 19th" moves a date): PLACE (not a quantity bit), ``says_new_place``.
PLACE = 1 << 8
TYPED_KINDS = DAY | CLOCK | MONEY | AMOUNT | PLACE
WHEN_KINDS = DAY | CLOCK | PLACE
_PLACE_ASK = re.compile(
    r"^\W*where\b|\bwhere\s+(?:is|are|was|were|will|do|does|did|should|shall|am|'s)\b|"
    r"\b(?:which|what)\s+(?:venue|place|location|restaurant|hotel|hall|pub|bar|cafe|church|city|town)\b|\bvenue\b",
    re.IGNORECASE)
_NOT_A_PLACE = (r"(?:\d|mon|tue|wed|thu|fri|sat|sun|next|tomorrow|tonight|today|later|earlier|after|before|jan|feb|"
                r"mar|apr|may|jun|jul|aug|sep|oct|nov|dec|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
                r"tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|"
                r"twent|thirt|one|two|three|four|five|six|seven|eight|nine|ten|noon|midnight|half|quarter|morning|"
                r"afternoon|evening|lunch|week|month|year|end|day|night|shift|early|late)")
_NEW_PLACE = re.compile(
    r"\b(?:moved|moving|shifted|relocat(?:ed|ing)|switched|transferred)\b(?:\s+[\w']+){0,3}?\s+(?:to|into)\s+"
    r"(?!(?:the\s+|a\s+|an\s+)?" + _NOT_A_PLACE + r")(?:the\s+|a\s+|an\s+)?[a-z]|\bnew\s+(?:venue|location|address)\b|"
    # someone taken somewhere: "they took abuela to a rehab place" (test7); "to" then an article ("took two hours to
    # get there" takes no one anywhere)
    r"\b(?:took|taken|brought|admitted|sent)\b(?:\s+[\w']+){1,3}?\s+(?:to|into)\s+(?:the|a|an)\s+"
    r"(?!" + _NOT_A_PLACE + r")[a-z]",
    re.IGNORECASE)


# Whether a passage places anything at all ("at st anne's", "in lisbon", "on cotham hill"): a later near-duplicate that
# places nothing is no version for a "where" question ("dad's picking me up from netball at half twelve" after "my
# netball match is saturday at eleven at st anne's": test6). Loose on purpose: it only keeps a passage from counting.
_A_PLACE = re.compile(r"\b(?:at|in|on|into|near)\s+(?!(?:the\s+|a\s+|an\s+|my\s+|our\s+)?" + _NOT_A_PLACE
                      + r")(?:the\s+|a\s+|an\s+|my\s+|our\s+)?[a-z]", re.IGNORECASE)


def says_place(texts: Sequence[str]) -> np.ndarray:
    """Per passage: whether it places something somewhere (``_A_PLACE``)."""
    return np.fromiter((_A_PLACE.search(t) is not None for t in texts), dtype=bool, count=len(texts))


def says_new_place(texts: Sequence[str]) -> np.ndarray:
    """Per passage: whether it says something moved to a new place (``_NEW_PLACE``)."""
    return np.fromiter((_NEW_PLACE.search(t) is not None for t in texts), dtype=bool, count=len(texts))

# A change that names the old value: "rahul's leaving, from monday my lead is going to be fatima sheikh" under
# "assistant: What's your manager's name there? / user: rahul menon" (for "Who is my manager?"), "I stopped going to
# cult, playing badminton" under "Which gym did you sign up for? / cult fit", "Miso died last week" under "has a cat,
# Miso … on kidney diet food" (for "What does my cat eat?"), "Dave retired, new guy: Kenji" under "Plumber: Dave Ruiz"
# (test6, session 7). They share no word with the question and are far apart in meaning (0.1-0.3), but the later one
# says the earlier one's own value (a word the question does not say and few other passages say: RARE_SHARE) and that
# it ended or changed (ENDING_CUE or a strong UPDATE_CUE): a new version for that question down to VALUE_CUE_COSINE.
VALUE_CUE_COSINE = 0.1
RARE_SHARE = 3  # at most this many passages (or RARE_FRACTION of them) say a word that stands for a value
RARE_FRACTION = 0.02
VALUE_NEAR = 2  # terms either side of a change or ending cue ("stopped going to cult": "cult" is two terms on)
VALUE_BEST_MARGIN = 0.05
# What says that something ended or gave way to something else, said of a value it names (VALUE_CUE_COSINE): weaker
# than UPDATE_CUE alone ("left the keys at home", "the new york trip"), so only with the old value's own word.
ENDING_CUE = re.compile(
    r"\b(?:leav(?:ing|es)|left|stop(?:s|ped|ping)|quit(?:s|ting)?|g(?:ave|iven|iving|ive) up|died|dead|passed away|"
    r"put down|retir(?:ed|ing|es)|gone back|went back|(?:moved|moving) (?:away|out|on)|replac(?:ed|ing)|no longer|"
    r"not any ?more|any ?more|switch(?:ed|ing)|sold|selling|dropp(?:ed|ing)|cancell?(?:ed|ing)|closed|clos(?:es|ing) "
    r"down|shut|broke up|split up|done with|finished with|instead|shifted|did (?:i|we) say|"
    r"from (?:this |next )?(?:mon|tues|wednes|thurs|fri|satur|sun)day|from (?:tomorrow|next (?:week|month))|"
    r"(?:the|a|my|our|his|her|their) new (?!york|zealand|jersey|orleans|year|delhi|mexico|hampshire)\w+|"
    # the one who held it cannot any more: "marco can't do it, his kid's sick, jess will cover" (test7), "shauna's
    # booked solid till feb", "the plan fell through"
    r"can(?:'|’)?t (?:do|make) it|cannot (?:do|make) it|(?:is|'s|’s) sick|fell through|pulled out|"
    r"backed out|dropped out|booked (?:up|solid)|double[- ]booked|unavailable)\b",
    re.IGNORECASE)


def endings(texts: Sequence[str]) -> np.ndarray:
    """Per passage: whether it says that something ended or gave way to something else (ENDING_CUE)."""
    return np.fromiter((ENDING_CUE.search(t) is not None for t in texts), dtype=bool, count=len(texts))


CUE_TERMS = frozenset(term_ids(
    "actually correction scratch instead now anymore longer switch switched switching changed changing moved moving "
    "push pushed postponed rescheduled cancelled canceled cut update updated down up went raised lowered increased "
    "decreased dropped quit replaced turned swap swapped swapping corrected start started starting began begun join "
    "joined joining became"))

_ENDING_TERMS = frozenset(term_ids(
    "leaving leaves left stop stops stopped stopping quit quits quitting gave give given giving died dead passed away "
    "put retired retiring retires gone went back moved moving away replaced replacing longer anymore switched "
    "switching sold selling dropped dropping cancelled canceled closed closes closing shut broke split done finished "
    "instead shifted new say sick fell pulled backed booked solid double unavailable cannot"))
_CHANGE_IDS = np.fromiter(_ENDING_TERMS | (CUE_TERMS - frozenset(term_ids("now"))), dtype=np.uint64)


def names_value(index: PassageIndex, old: int, new: int, query: Query) -> bool:
    """Whether a later passage says, next to its change or ending cue (VALUE_NEAR terms), a word of a short earlier one
    (a long passage holds several values: ``part_of``) that stands for its value: not the question's, not a speaker's
    name or a cue, said by at most RARE_SHARE passages (or RARE_FRACTION of them); and, of the earlier passages
    of the user that say such a word, ``old`` says the most of them ("Dave retired" names the plumber's note, not
    another "## Bathroom" note) and is (about) the most alike the later one among those ("the shuttle's been stopped,
    I'm taking an ola auto" names the shuttle, not the watchman who "takes in the parcels")."""
    terms = index.terms_of(new)
    at_cue = np.flatnonzero(np.isin(terms, _CHANGE_IDS))
    if not len(at_cue):
        return False
    near = np.zeros(len(terms), dtype=bool)
    for k in at_cue:
        near[max(0, k - VALUE_NEAR):k + VALUE_NEAR + 1] = True
    most = max(RARE_SHARE, RARE_FRACTION * index.keywords.n)
    named = {t for t in terms[near].tolist() if len(index.keywords.postings_of(t)[0]) <= most}
    named -= query.terms | ignored_terms(index, old, new) | _ENDING_TERMS
    was = index.terms_of(old)
    if len(was) > LONG_PASSAGE_TERMS or not named & set(was.tolist()):
        return False
    # the rarer the word, the more it names its passage: "the shuttle's been stopped, I'm taking an ola auto" names the
    # shuttle's exchange (2 passages say "shuttle"), not the watchman who "takes in the parcels" (3 say "take"): each
    # earlier passage of the user scores the IDF of the named words it says (one pass over their postings)
    words = list(named)
    posts = [index.keywords.postings_of(t)[0].astype(np.int64) for t in words]
    rows = np.concatenate(posts)
    weights = np.concatenate([np.full(len(p), index.keywords.idf_of(t)) for p, t in zip(posts, words, strict=True)])
    keep = (rows < index.size) & (rows != new)
    rows, weights = rows[keep], weights[keep]
    keep = index.user_rows[rows] & index.has_vector[rows] & (index.start_at[rows] < index.start_at[new])
    rows, weights = rows[keep], weights[keep]
    if not len(rows):
        return False
    owners, at = np.unique(rows, return_inverse=True)
    scores = np.bincount(at, weights=weights)
    owners = owners[scores >= scores.max() - 1e-9]
    if old not in owners:
        return False
    sims = index.lane_cosines(index.vectors.matrix[owners] @ index.vectors.matrix[new], owners, new)
    return index.pair_cosine(old, new) >= float(sims.max()) - VALUE_BEST_MARGIN


_FAMILIES = [frozenset(term_ids(words)) for words in (
    "live lives living lived move moved moving relocate relocated home house apartment flat address rent renting "
    "neighbourhood neighborhood",
    "work works working worked job jobs employer employed employs company firm hired career office boss position "
    "role promoted quit retired salary shift shifts",
    "study studies studying studied school university college course degree student enrolled class",
    "married marry wife husband partner boyfriend girlfriend dating engaged divorced separated")]


_MOVE_TERMS = frozenset(term_ids("move moved moving relocate relocated"))


# Phrases whose words are not of the family they look like: what one "takes home" is pay ("How much do I take home
# each month?" asks no home-family word of "got a raise! net is now 3,750": test6).
_PHRASES = ((frozenset(term_ids("take home")), frozenset(term_ids("home"))),)


def _family_sense(terms: frozenset[int]) -> frozenset[int]:
    for phrase, drop in _PHRASES:
        if phrase <= terms:
            terms = terms - drop
    return terms


def _moved_in_time(index: PassageIndex, row: int) -> bool:
    return not index.new_place[row] and bool(int(index.numbers[row]) & (DAY | CLOCK))


@dataclass(frozen=True, slots=True)
class Query:
    """What the update rules need of a search's question: its term ids and every row's best cosine to it."""

    terms: frozenset[int]
    cosines: np.ndarray
    kind: int = 0  # the kind of value the question asks for (recall/quantity.py bits; 0 none)
    who: bool = False  # it asks who (recall/records.py)
    choice: tuple[frozenset[int], frozenset[int]] | None = None  # "earlies or nights?": the two values offered
    still: bool = False  # it asks whether a state still holds ("Do I still take metformin?")
    impersonal: bool = False  # asked without "I/my": a group chat's plan (recall/groups.py), not someone's own

    @classmethod
    def of(cls, terms: Sequence[str], cosines: np.ndarray, question: str = "") -> Query:
        kind = asked_kind(question) | (PLACE if _PLACE_ASK.search(question) else 0) if question else 0
        return cls(frozenset(term_id(t) for t in terms), cosines, kind, asks_who(question), choice_of(question),
                   _STILL.search(question) is not None, bool(question) and not _FIRST_SINGULAR.search(question))


_FIRST_SINGULAR = re.compile(r"\b(?:i|me|my|mine|myself|im|i'm|i've|i'd|i'll)\b", re.IGNORECASE)


# A question whether a state still holds ("do i still have a loose tooth", "Am I still driving Chachu's car?", "Is
# the newspaper still owing me money?") says itself that the state may have ended: the user's later line on the same
# item is its newer version even when it says the end in words nothing lists ("my tooth fell out at lunch", "Chachu
# ki Corolla wapas kar di") and is far from the question in meaning (test12).
_STILL = re.compile(r"\b(?:still|anymore|any more|any longer)\b", re.IGNORECASE)


# A question that offers two values ("Am I on earlies or nights?", "Do I take the bus or the train?") says itself that
# they are values of one kind: the one said later replaces the other (test7: "the roster's out, it's all nights for me
# till february" after "mostly earlies this month", no change word). The words either side of "or", up to a stopword.
# Only from a word's start: tried from every position of one long run, the search took seconds (quadratic).
_CHOICE = re.compile(r"(?<![\w'-])([\w'-]+(?:\s+[\w'-]+)?)\s+or\s+([\w'-]+(?:\s+[\w'-]+){0,2})\s*\??\s*$",
                     re.IGNORECASE)


def choice_of(question: str) -> tuple[frozenset[int], frozenset[int]] | None:
    """The two values a question offers ("earlies or nights"), as term ids; None when it offers none."""
    m = _CHOICE.search(question)
    if m is None:
        return None
    before = m.group(1).split()
    after = m.group(2).split()
    # the words next to "or", back to a stopword ("on earlies": "earlies"; "the bus": "bus")
    left = term_ids(" ".join(before[-1:] if len(before) > 1 and term_ids(before[-1]) else before))
    right = term_ids(after[0]) or term_ids(" ".join(after[1:]))
    a, b = frozenset(left), frozenset(right)
    if not a or not b or a & b:
        return None
    return a, b


def given_kinds(index: PassageIndex, new: np.ndarray) -> np.ndarray:
    """The kinds of value later passages give: those said next to a change cue when they say any there ("cut to
    €5,000" gives money, not the day in the meeting's heading), else every kind they say."""
    near = index.change_numbers[new]
    out: np.ndarray = np.where(near != 0, near, index.numbers[new])
    return out


def typed_changes(index: PassageIndex, old: int, new: np.ndarray, query: Query) -> np.ndarray:
    """``typed_change`` of one older row against many later ones at once."""
    asked = query.kind & TYPED_KINDS
    out: np.ndarray = (given_kinds(index, new) & np.uint8(asked & 0xFF & int(index.numbers[old]))) != 0
    if asked & PLACE:
        out |= index.new_place[new]
    return out


def gives_asked_kind(index: PassageIndex, old: int, new: int, query: Query) -> bool:
    """False when the question asks a kind of value the older passage says and the later one says none of (no number
    of the asked kind; for "where", no place at all): it may be about the same thing, but it is no version of that
    value ("dad's picking me up from netball at half twelve" for "Where is Zoe's netball match?")."""
    asked = query.kind & 0xFF & ~ANY
    if asked & int(index.numbers[old]) and not asked & int(index.numbers[new]):
        return False
    return not (query.kind & PLACE and index.says_place[old] and not (index.says_place[new] or index.new_place[new]))


def typed_change(index: PassageIndex, old: int, new: int, query: Query, kinds: int = TYPED_KINDS) -> bool:
    """Whether the question asks for a kind of value (of ``kinds``) that both passages say: the later one may give
    the asked value anew."""
    if query.kind & kinds & PLACE and index.new_place[new]:
        return True
    given = int(index.change_numbers[new]) or int(index.numbers[new])
    return bool(query.kind & kinds & int(index.numbers[old]) & given)


def same_fact(index: PassageIndex, old: int, new: int, query: Query) -> bool:
    """Whether a later passage ``new`` can be an update of ``old`` *for this question*: not news about another
    attribute of the same subject (``_FAMILIES``), and, when ``old`` holds several facts, about the part the
    question asks (LONG_PASSAGE_TERMS)."""
    old_terms, new_terms = index.terms_of(old), index.terms_of(new)
    ignored = ignored_terms(index, old, new)
    record = index.items.get(old, ())
    if record and other_holder(record, index.items.get(new, ())):  # another thing of the same kind (records.py)
        return False
    if len(record) >= RECORD_ITEMS:  # a record changes only in the items the later passage names
        want = asked_items(record, query, query.who)
        got = changed(index, record, new, ignored, query) if want else None
        if got is not None and not want & got:
            return False
    was, said = set(old_terms.tolist()), set(new_terms.tolist())
    part = part_of(index, old, query, said)
    # terms run across sentence ends: two words. For a "when" or "where" question a later passage that says a day, a
    # time or a new place is a version whatever part the question's words find (WHEN_KINDS).
    if (part is not None and len((part & said) - ignored) < PART_WORDS
            and not typed_change(index, old, new, query, WHEN_KINDS)):
        return False
    # each says a word of an attribute family and they have no family in common: news about another attribute of
    # the subject they share ("What does Maya do?": her new job does not replace where she lives, found from outside
    # in session 5), or about another attribute than the question asks when it asks one ("Where do I work?" still
    # listed the job as replacing Lisbon, session 6). Not for every question: "moves from the early shift to the late
    # one" says a word of the home family in passing (test5, "When do I start and finish at the animal hospital?").
    shared = (was & said) - ignored
    # "moved" is no news of where one lives when what moved is a time ("Sam has moved to day shifts from December, 7am
    # to 3pm" is news of his hours: test6): a passage that says a day or a time and no move to a place
    was_f = was - _MOVE_TERMS if _moved_in_time(index, old) else was
    said_f = said - _MOVE_TERMS if _moved_in_time(index, new) else said
    old_families = {i for i, f in enumerate(_FAMILIES) if f & (was_f - said_f)}
    new_families = {i for i, f in enumerate(_FAMILIES) if f & (said_f - was_f)}
    if (old_families and new_families and not old_families & new_families
            and (query.terms & shared or any(f & query.terms for f in _FAMILIES))):
        return False
    if not query.terms & shared:
        return True
    # the asked word only one of them says: the other must say a word of its family ("lives" / "moved"), both ways
    # ("my brother started working at a bakery" is not replaced by "my brother lives in austin now" either)
    terms = _family_sense(query.terms)
    for has, lacks in ((was, said), (said, was)):
        asked = (terms & has) - shared - ignored
        families = [f for f in _FAMILIES if f & asked]
        # ... unless the later one names the older one's value next to its change: it is about that value ("marco
        # can't do it, his kid's sick, jess will cover" for "Who's covering my shifts?" over "…/ user: marco", test7)
        if families and not any(f & lacks for f in families) and not names_value(index, old, new, query):
            return False
    return True


def part_of(index: PassageIndex, row: int, query: Query, said: set[int]) -> set[int] | None:
    """The terms of the part of a long passage (LONG_PASSAGE_TERMS) that the question asks about and a later passage
    saying ``said`` would change: PART_TERMS terms either side of each of the question's words in it that the later
    one does not say ("where are we staying in lisbon?": around "staying", not the note's heading "Lisbon", which a
    change of flight says too). None for a short passage, or when the later one says every word of the question the
    passage has (it then names what it changes) or the question matches none of its words."""
    terms = index.terms_of(row)
    # a user's line with the assistant's reply is one fact and its echo when the user's lines are short: counted whole,
    # "my rent … is going up, landlord wants fifty two thousand" with "Nice work. …" (37 terms) was never replaced by
    # "we settled at forty nine thousand" (its part around "rent" lacks it: 12 public stale cases stopped here)
    if len(terms) <= LONG_PASSAGE_TERMS or 0 <= int(index.user_terms[row]) <= LONG_PASSAGE_TERMS:
        return None
    asked = query.terms - said
    if not asked:
        return None
    hits = np.flatnonzero(np.isin(terms, np.fromiter(asked, dtype=np.uint64)))
    if not len(hits):
        return None
    near = np.zeros(len(terms), dtype=bool)
    for h in hits:
        near[max(0, h - PART_TERMS):h + PART_TERMS + 1] = True
    return set(terms[near].tolist())


def ignored_terms(index: PassageIndex, a: int, b: int) -> set[int]:
    """Terms two passages may share without being about the same thing: their speakers' names and the update
    cues."""
    return set(_ignored_of(frozenset({*index.speakers[a], *index.speakers[b], "user", "assistant"})))


@lru_cache(maxsize=4096)
def _ignored_of(names: frozenset[str]) -> frozenset[int]:
    """``ignored_terms`` of a set of speaker names: tokenizing the names was ~1/6 of the cue-link pass at 100k rows
    (one call per cue passage and candidate, the same few names each time)."""
    return frozenset(t for n in names for t in term_ids(n)) | CUE_TERMS
