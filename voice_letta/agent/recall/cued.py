"""Update cues linked at search time: which later passage of the user, saying something changed, updates a candidate.

``recall/updates.py`` asks ``cued_updates`` for the later versions of its best candidates, most likely first. A later
passage qualifies (``facts.same_fact`` then judges it for the question) when:

- it says a change (``cues.UPDATE_CUE``) and is about the same thing: at least CUE_COSINE alike the older one (down to
  TYPED_CUE_COSINE when it gives a new value of the asked kind), related to the question, and not far more alike
  another earlier passage of the user (``cue_target``);
- it names the older one's own value next to a change or an ending ("Dave retired", ``facts.names_value``);
- it is a later note giving a new value of an asked item (``records.new_value``);
- against a long passage, it names words of the part the question asks (``facts.part_of``).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall.facts import (
    LONG_PASSAGE_TERMS,
    PART_MIN_COSINE,
    PART_WORDS,
    RARE_FRACTION,
    RARE_SHARE,
    VALUE_CUE_COSINE,
    Query,
    ignored_terms,
    names_value,
    part_of,
    typed_change,
    typed_changes,
)
from voice_letta.agent.recall.groups import shared_plan
from voice_letta.agent.recall.layouts import LINES
from voice_letta.agent.recall.quantity import ANY
from voice_letta.agent.recall.records import new_value, rare_value_rows

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

UPDATE_RELEVANCE = 0.55  # the update's cosine to the query, relative to the older passage's (measured: >= 0.58)
CUE_COSINE = 0.35
# A change in other words is often less alike what it changes than CUE_COSINE: "mrs o says it's 2,225 a month from now
# on" / "landlord is mrs okafor, rent 2150 due on the 1st" are 0.25 alike, "the sweepers on my block switched to weds
# 8-10" / "street cleaning is tues 8-10am" 0.34 (test5). What they share is the kind of value the question asks for
# (a sum of money, a day): such a cue passage updates down to TYPED_CUE_COSINE when the question asks that kind, both
# say a value of it (facts.typed_change) and the cue passage is itself related to the question (cosine at least
# UPDATE_RELEVANCE of the older one's): "joined fuego fitness, $39/mo" says money too, but is 0.08 to "How much is my
# rent now?" against the rent line's 0.38.
TYPED_CUE_COSINE = 0.2
# A cue passage that gives no new value of the asked kind must be about the question at least a little (cosine at least
# UNTYPED_RELEVANCE of the older one's): "[09:00] Marcus: hi all, I'm joining from the Lisbon office" (0.03 to "What
# caused the flaky checkout tests?") replaced the stand-up where Ana picked the tests up (0.36). A new value of the
# asked kind needs none ("down to one eighty two" is 0.04 to "how much do i weigh?").
UNTYPED_RELEVANCE = 0.25
# A change that names the old value (facts.names_value) needs less: in a verbatim exchange the assistant's question
# carries the asked attribute ("assistant: And how do you get to the office? / user: company shuttle from aundh" is 0.60
# to "How do I get to the office?") and the change only the value ("the shuttle's been stopped, I'm taking an ola auto
# now", 0.11): test6. Only when the older one says a word of the question (its match is the attribute's words): "rahul's
# leaving, from monday my lead is…" (0.07) is no news for "Which company hired me recently?" over the manager exchange
# (0.34, which says none of its words).
VALUE_RELEVANCE = 0.15
# ... and half of it (of UNTYPED_RELEVANCE when the older one says none of the question's words) for a change that says
# a word of the question itself: it is about the asked thing by its words ("jess will cover" for "Who's covering my
# shifts?").
SAYS_ASKED_RELEVANCE = 0.5
# A cue passage updates the candidate it is most like, or, on the typed path, one within CUE_BEST_MARGIN of that: the
# sweepers' change is 0.36 alike the dentist's new hours and 0.34 alike the street cleaning it changes. (For every cue
# passage it let "it's marisol, she started last month" replace the poet guest for "Do you remember the poet's name?")
CUE_BEST_MARGIN = 0.05
# A cue passage updates a candidate only when no earlier passage of the user is more alike it by more than this
# (``cue_target``). Not "only the most alike": in a conversation about one thing (a wedding) the update is often
# most like another line on it (the venue, the rings) than like the fact it changes (the date). Set from the one
# measured false link (0.71 vs 0.38) with room to spare, not fitted.
CUE_TARGET_MARGIN = 0.2
# "now" alone is a weak cue (everyday speech: "im at home now"), and short first-person lines with nothing in common
# are 0.35-0.41 apart ("i work at google as an engineer" / "i live in seattle now"): found from outside, "where do I
# work?" was answered "I live in Seattle now", listed as replacing the job. A passage whose only cue is "now" must
# share a content word with the older one, unless they are this close. (Requiring it of every cue, tried 00:24, cut
# the held-out test half's "we cut the guest list down to ninety" / "inviting about a hundred and twenty", 0.4 apart,
# no word in common: stale on top 0/5 -> 1/5.)
SHARED_WORD_BELOW = 0.5
# A change said only in another language's words (``cues.foreign_cues``) updates a passage as alike as a near-duplicate
# (DUPLICATE_COSINE of updates.py): "cambiaron el router. red ahora es RiveraCasa" / "wifi nuevo de Liberty: red
# CasaRivera5G" are 0.64 (test15). Less alike, the link was right but cost more than it gave: "la degustazione … è
# spostata a venerdì" (0.50 alike the tasting) then stood first for the florist's price; a KLM rebooking (0.23 by the
# dates both say, 0.37) was linked to a council letter (test11).
FOREIGN_CUE_COSINE = 0.55
CUE_ROWS_CHECKED = 1024  # at most this many of the latest cue passages are compared with the candidates


def cued_updates(index: PassageIndex, rows: list[int], query: Query) -> dict[int, list[int]]:
    """For each row: the later cue passages of the same speaker about the same thing (cosine >= CUE_COSINE), most
    similar first. One product of the latest CUE_ROWS_CHECKED cue passages with all the rows at once."""
    rows = [r for r in rows if index.has_vector[r]]
    if not rows:
        return {}
    cue_rows, cue_vectors = _cue_vectors(index)
    pick = np.flatnonzero(index.start_at[cue_rows] > min(index.start_at[r] for r in rows))[-CUE_ROWS_CHECKED:]
    later = cue_rows[pick]
    if not len(later):
        return {}
    # index.pair_cosines(later, rows), from the kept cue vectors (a slice when the picked ones are consecutive)
    left = cue_vectors[pick[0]:pick[-1] + 1] if pick[-1] - pick[0] + 1 == len(pick) else cue_vectors[pick]
    sims = index.lane_cosines(left @ index.vectors.matrix[rows].T, later, rows)  # (later, rows)
    # Each cue passage updates the candidate it is most like (of those said before it): "we pushed the wedding back
    # to september" is 0.41 alike "my birthday is on july 4" but 0.71 alike "our wedding is planned for june".
    before = index.start_at[later][:, None] > index.start_at[np.asarray(rows)][None, :]
    best = np.where(before, sims, -1.0).max(axis=1)
    asked = _asked_shares(index, rows, later, query, before)
    # the cue passages' columns, read once for all the rows (fancy indexing 1,024 rows each time added up)
    later_at, later_cosines = index.start_at[later], query.cosines[later]
    later_cue = index.update_cue[later] | index.foreign_cue[later]
    later_ending = index.ending[later]
    later_strong = index.strong_cue[later]
    out: dict[int, list[int]] = {}
    for j, row in enumerate(rows):
        kind = typed_changes(index, row, later, query)
        typed = kind & (later_cosines >= UPDATE_RELEVANCE * float(query.cosines[row]))
        after = later_at > index.start_at[row]
        col = np.where(after & ((sims[:, j] >= best - CUE_BEST_MARGIN * typed) | asked[:, j]), sims[:, j], -1.0)
        related = kind | (later_cosines >= UNTYPED_RELEVANCE * float(query.cosines[row]))
        floor = np.where(typed, TYPED_CUE_COSINE, CUE_COSINE)
        close = np.flatnonzero((col >= floor) & related & later_cue)
        was = content_terms(index, row)
        if query.terms & was:  # a change naming the asked attribute (``_names_asked``)
            near = np.flatnonzero((col >= TYPED_CUE_COSINE) & (col < floor) & related & later_strong)
            close = np.concatenate([close, [k for k in near if _names_asked(index, row, was, int(later[k]), query)]]
                                   ).astype(np.int64)
        out[row] = [int(later[k]) for k in close[np.argsort(-col[close])]
                    if _holds(index, int(later[k]), row, query)
                    and (((col[k] >= SHARED_WORD_BELOW or index.strong_cue[int(later[k])])
                          and not enveloped(index, int(later[k]), row)) or _share_a_word(index, int(later[k]), row))
                    # only the kind of value made it a change (less alike than CUE_COSINE): it must share a word with
                    # the older one too, the holder or the old value ("mrs okafor" / "mrs o", "8-10"), else it is
                    # another thing's value of that kind (the flight's day is no version of when the passport expires)
                    and (col[k] >= CUE_COSINE or _share_a_word(index, int(later[k]), row))
                    and col[k] >= cue_target(index, int(later[k]))[1] - CUE_TARGET_MARGIN
                    and (not index.foreign_cue[int(later[k])] or _changes(index, row, int(later[k]), float(col[k])))]
        named_value: list[int] = []
        # names_value needs a short older passage and a rare word of it (not the question's) in the later one
        most = max(RARE_SHARE, RARE_FRACTION * index.keywords.n)
        rare = {t for t in was if len(index.keywords.postings_of(t)[0]) <= most} - query.terms
        if rare and len(index.terms_of(row)) <= LONG_PASSAGE_TERMS:
            value_relevance = VALUE_RELEVANCE if query.terms & was else UNTYPED_RELEVANCE
            relevance = later_cosines / max(float(query.cosines[row]), 1e-6)
            valued = np.flatnonzero(after & (sims[:, j] >= VALUE_CUE_COSINE)
                                    & later_ending & (relevance >= SAYS_ASKED_RELEVANCE * value_relevance))
            named_value = [int(later[k]) for k in valued[np.argsort(-sims[valued, j])]
                           if _holds(index, int(later[k]), row, query)
                           and rare & (said := content_terms(index, int(later[k])))
                           # one that says a word of the question itself needs less of its meaning: "marco can't do
                           # it, his kid's sick, jess will cover" (0.11 to "Who's covering my shifts?", test7)
                           and (relevance[k] >= value_relevance or bool(query.terms & said and query.terms & said
                                                                        - ignored_terms(index, int(later[k]), row)))
                           and names_value(index, row, int(later[k]), query)]
            # of several changes that each name a value of the older passage, the one naming the value the question
            # asks goes first: its words sit nearest the question's in the older one ("Dr. Kahale retired" names the
            # cardiologist of "Walter takes metoprolol … warfarin 3 mg … His cardiologist is Dr. Keola Kahale",
            # "Walter's warfarin was lowered to 2 mg" his dose: "Who is Walter's cardiologist?", test7)
            if len(named_value) > 1:
                named_value.sort(key=lambda r: _distance_to_asked(index, row, r, query))
        # naming the old value next to a change says more than a cue word and a cosine: those links come first
        out[row] = named_value + [r for r in out[row] if r not in named_value]
        record = index.items.get(row)
        if record and record[0].shape != LINES:  # a later note giving a new value of an asked item, with no change
            # word (recall/records.py); not a chunk's lines: a line names no holder the way a note's item does
            notes = rare_value_rows(index, record)
            notes = notes[(index.start_at[notes] > index.start_at[row]) & index.has_vector[notes] & ~index.asks[notes]
                          & (query.cosines[notes] >= UNTYPED_RELEVANCE * float(query.cosines[row]))]
            out[row] += [int(r) for r in notes[np.argsort(-index.start_at[notes])]
                         if int(r) not in out[row] and int(r) in index.items and _holds(index, int(r), row, query)
                         and new_value(index, record, int(r), ignored_terms(index, row, int(r)), query, query.who)]
        if len(index.terms_of(row)) > LONG_PASSAGE_TERMS:  # a cue passage naming PART_WORDS of the asked part
            named = []
            asked_kind = query.kind & 0xFF & ~ANY
            for k in np.flatnonzero(after & (sims[:, j] >= PART_MIN_COSINE)):
                cue = int(later[k])
                said = content_terms(index, cue)
                part = part_of(index, row, query, said)
                common = (part & said) - ignored_terms(index, cue, row) if part is not None else set()
                # a change of another kind of value than the question asks is about another part ("the ad spend is
                # cut to €5,000" names the launch's ads, not its date: "When is the launch?", test7)
                other_kind = bool(asked_kind and index.change_numbers[cue] and not asked_kind & int(
                    index.change_numbers[cue]))
                if (len(common) >= PART_WORDS and _holds(index, cue, row, query)
                        and cue not in out[row] and not other_kind):
                    named.append((len(common), float(sims[k, j]), cue))
            out[row] = [c for *_, c in sorted(named, reverse=True)] + out[row]
    return out


def _cue_vectors(index: PassageIndex) -> tuple[np.ndarray, np.ndarray]:
    """The passages ``cued_updates`` compares (a cue, an ending or another language's change, with a vector, not a
    question) and their vectors, kept until the index's rows change (``add`` replaces its flag arrays): gathering
    ~1,000 rows from all over a 100k matrix each search cost 0.5-3.5 ms of a ranking (session 17, perf)."""
    kept = _KEPT_CUES.get(index)
    if kept is None or kept[0] is not index.update_cue:
        n = index.size
        rows = np.flatnonzero((index.update_cue[:n] | index.ending[:n] | index.foreign_cue[:n]) & index.has_vector[:n]
                              & ~index.asks[:n])
        kept = _KEPT_CUES[index] = (index.update_cue, rows, index.vectors.matrix[rows])
    return kept[1], kept[2]


_KEPT_CUES: weakref.WeakKeyDictionary[PassageIndex, tuple[np.ndarray, np.ndarray, np.ndarray]] = (
    weakref.WeakKeyDictionary())


# A change that names the attribute the question asks, said by the older passage too, needs less of its meaning (down to
# TYPED_CUE_COSINE): "switched main to clove, jett got too many instalockers" is 0.32 alike "im hardstuck gold 2 in
# valorant, main jett, sometimes omen, my duo is elias" (test14, "Who do I main?"); the line is short, the older one
# holds four facts. The asked words are what the two share, and the change is a strong cue.
def _names_asked(index: PassageIndex, row: int, was: set[int], cue: int, query: Query) -> bool:
    """Whether ``cue`` says every word of the question that ``row`` says (one at least, not a name or a cue word):
    the same attribute of the same holder. One of them is not enough: "Ana's mom Lani is driving the carpool from now"
    says "mom" with "Kaila has asthma … mom is Noelani", not "Kaila" ("Who is Kaila's mom?", test14)."""
    asked = (query.terms & was) - ignored_terms(index, cue, row)
    return bool(asked) and asked <= content_terms(index, cue)


def _changes(index: PassageIndex, row: int, cue: int, alike: float) -> bool:
    """Whether a passage saying a change only in another language's words (``cues.foreign_cues``) changes ``row``:
    ``row`` is the passage of all it is most alike, at least FOREIGN_CUE_COSINE, and the two say a word few passages
    say (the thing changed, not the language's own small words: "gym ka ladies slot badal gaya" is most alike "Khala
    … ka bypass operation hai 12 December ko" by its Roman Urdu, 0.48, test12). Not a table's row."""
    if alike < FOREIGN_CUE_COSINE or cue_target(index, cue)[0] != row:
        return False
    if any(item.shape >= 2 for item in index.items.get(cue, ())):
        return False
    most = max(RARE_SHARE, RARE_FRACTION * index.keywords.n)
    shared = (content_terms(index, row) & content_terms(index, cue)) - ignored_terms(index, row, cue)
    return any(len(index.keywords.postings_of(t)[0]) <= most for t in shared)


def _asked_shares(index: PassageIndex, rows: list[int], later: np.ndarray, query: Query, before: np.ndarray
                  ) -> np.ndarray:
    """(later, rows): whether a cue passage says more of the question's words with that row than with the row it is
    most like. It then updates that row too: "they moved her to room 108" is more like "we do yum cha with por por"
    than "por por lives at Rosewood, room 214", but says "room" with the latter only ("What room is por por in?",
    test8). Only cue passages saying a word of the question are looked at (their postings)."""
    out = np.zeros((len(later), len(rows)), dtype=bool)
    terms = list(query.terms)
    if not terms or len(rows) < 2:
        return out
    # Membership of the (at most CUE_ROWS_CHECKED) cue rows in each term's ascending postings, by binary search: a
    # frequent question word's postings hold tens of thousands of rows at 100k passages, and sorting their union
    # (np.unique) cost ~2 ms a search.
    says = np.zeros((len(later), len(terms)), dtype=bool)  # cue passage x question word
    for j, t in enumerate(terms):
        postings = index.keywords.postings_of(t)[0]
        if len(postings):
            at = np.minimum(np.searchsorted(postings, later), len(postings) - 1)
            says[:, j] = postings[at] == later
    # a cue can update another row only when it was said after at least two of them (its most alike one and more)
    picked = np.flatnonzero(says.any(axis=1) & (before.sum(axis=1) >= 2))
    if not len(picked):
        return out
    # The question's words each row says and each picked cue passage says (its content: a message's body, else its
    # terms, which are its postings), less the names and cue words it may share with the first row: how many words
    # a cue shares with each row is then one product. (Sets per cue passage were ~1/3 of the cue-link pass at 100k.)
    said = np.asarray([[t in s for t in terms] for s in (content_terms(index, r) for r in rows)])  # (rows, terms)
    if not said.any():
        return out
    cue = says[picked]
    ignored_by: dict[tuple[str, ...], set[int]] = {}  # ignored_terms(cue, rows[0]) by the cue passage's speakers
    for i, k in enumerate(picked):
        body = index.bodies.get(int(later[k]))
        if (ignored := ignored_by.get(index.speakers[int(later[k])])) is None:
            ignored = ignored_by[index.speakers[int(later[k])]] = ignored_terms(index, int(later[k]), rows[0])
        if body is not None or not ignored.isdisjoint(terms):
            cue[i] = [(t in body if body is not None else bool(cue[i, j])) and t not in ignored
                      for j, t in enumerate(terms)]
    shares = cue.astype(np.int64) @ said.T.astype(np.int64)  # (picked, rows)
    sims = index.pair_cosines(later[picked], rows)
    tops = np.where(before[picked], sims, -1.0).argmax(axis=1)  # each cue passage's most alike earlier row
    out[picked] = before[picked] & (shares > shares[np.arange(len(picked)), tops][:, None])
    return out


def _distance_to_asked(index: PassageIndex, old: int, new: int, query: Query) -> int:
    """How far (in terms) the words of ``old`` that ``new`` names sit from the question's words in ``old``; 0 when
    the question says none of its words (nothing to tell the asked value by)."""
    terms = index.terms_of(old)
    asked = np.flatnonzero(np.isin(terms, np.fromiter(query.terms, dtype=np.uint64, count=len(query.terms))))
    named = set(index.terms_of(new).tolist()) - query.terms - ignored_terms(index, old, new)
    at = np.flatnonzero(np.isin(terms, np.fromiter(named, dtype=np.uint64, count=len(named))))
    if not len(asked) or not len(at):
        return 0
    return int(np.abs(at[:, None] - asked[None, :]).min())


def cue_target(index: PassageIndex, cue: int) -> tuple[int, float]:
    """The earlier passage about the user that a cue passage is most like among *all* of them (not only one
    search's candidates) and its cosine, or (-1, -1.0); cached until the index changes. A cue passage updates a
    candidate only within CUE_TARGET_MARGIN of that: "we pushed the wedding back to september" (0.38 alike "my flight
    to rome got moved to may 10", 0.71 alike "our wedding is planned for june") was listed as replacing the flight
    for "when is my flight?" whenever the wedding's own line was not among that search's candidates. Past
    COARSE_MIN_ROWS rows the sign-bit candidates are scored."""
    found = index.cue_targets.get(cue)
    if found is not None:
        return found
    n = index.size
    mask = index.user_rows[:n] & index.has_vector[:n] & ~index.asks[:n] & (index.start_at[:n] < index.start_at[cue])
    q = index.vectors.matrix[cue]
    if n >= index.vectors.coarse_min_rows:
        rows, sims = index.vectors.candidates(q, mask)
        rows, sims = rows[mask[rows]], sims[mask[rows]]
    else:
        rows = np.flatnonzero(mask)
        sims = index.vectors.matrix[rows] @ q
    sims = index.lane_cosines(sims, rows, cue)
    best = int(np.argmax(sims)) if len(rows) else -1
    found = index.cue_targets[cue] = (int(rows[best]), float(sims[best])) if best >= 0 else (-1, -1.0)
    return found


def _share_a_word(index: PassageIndex, a: int, b: int) -> bool:
    """Whether two passages have a content term in common besides their speakers' names, the update cues and a
    message's envelope (``content_terms``)."""
    return share_a_word(index, a, b)


def content_terms(index: PassageIndex, row: int) -> set[int]:
    """The term ids of what a passage says: a stored message's body without its envelope (``index.bodies``)."""
    return set(index.content_terms(row))  # kept by the index: the same cue passages' at every search


def enveloped(index: PassageIndex, a: int, b: int) -> bool:
    """Whether either passage is a stored message with an envelope (a date line, a sender, mail headers): how alike
    the two are says little then (the envelopes are alike), their words must say it."""
    return a in index.bodies or b in index.bodies


def share_a_word(index: PassageIndex, a: int, b: int) -> bool:
    common = content_terms(index, a) & content_terms(index, b)
    return bool(common - ignored_terms(index, a, b))


# A word said by more than ITEM_SHARE of the agent's passages (and by more than ITEM_COMMON of them) is an envelope's:
# a sender, an app's header ("Voicemail from", "Transcript", "Digest for"), a document's title. What two passages of one
# sender say alone (an item: "blackhawks", "cleaning", a tracking number) is what makes them versions of one thing.
ITEM_SHARE = 0.25
ITEM_COMMON = 2


def same_item(index: PassageIndex, a: int, b: int, query: Query) -> bool:
    """Whether a later passage ``b`` of the named speaker of ``a`` gives the asked item anew: both say a value of the
    kind the question asks (a day, a time, a sum, a place: ``facts.typed_change``) and share a word of the question
    that few of the agent's passages say (not their envelope's, not the speakers' names). Without the asked kind a
    named person's later line on a topic is more of its history than a new version (LoCoMo's chats: letting every
    such pair of one speaker be versions cost any@5 0.727 -> 0.711)."""
    return ((same_speakers(index, a, b) or shared_plan(index, a, b, query)) and typed_change(index, a, b, query)
            and shares_rare_asked(index, a, b, query))


def shares_rare_asked(index: PassageIndex, a: int, b: int, query: Query) -> bool:
    """Whether ``a`` and ``b`` both say a word of the question that few of the agent's passages say (not their
    envelope's, not the speakers' names): the item itself ("chachu", "tooth"), not the kind of thing."""
    shared = (content_terms(index, a) & content_terms(index, b) & query.terms) - ignored_terms(index, a, b)
    most = max(ITEM_COMMON, ITEM_SHARE * index.keywords.n)
    return any(len(index.keywords.postings_of(t)[0]) <= most for t in shared)


def states_facts(index: PassageIndex, row: int) -> bool:
    """Whether a passage can be linked as a version of a fact by its words and meaning alone: what the user says
    about themselves (``index.about_the_user``): in a chat between named people a newer line on a topic is history."""
    return index.about_the_user(row)


_NOT_FACTS = frozenset({"assistant", "system"})


def says_facts(index: PassageIndex, row: int) -> bool:
    """Whether a passage can hold a version of a fact it names exactly (a revision naming the old value): anything but
    the assistant's (or system's) own lines. Not only the user's: the changes to the user's plans are often someone
    else's words (a relative's edit of a shared document, the clinic's reschedule in a portal)."""
    spk = index.speakers[row]
    return not spk or not set(spk) <= _NOT_FACTS


def _holds(index: PassageIndex, later: int, row: int, query: Query) -> bool:
    """Whether ``later`` may be a version of ``row``'s fact by who said it: the user's, by the same speaker, or a group
    chat's shared plan said by any member (``groups.shared_plan``)."""
    return (states_facts(index, later) and same_speakers(index, later, row)) or shared_plan(index, row, later, query)


def same_speakers(index: PassageIndex, a: int, b: int) -> bool:
    sa, sb = index.speakers[a], index.speakers[b]
    return not sa or not sb or bool(set(sa) & set(sb))
