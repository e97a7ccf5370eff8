"""Versions of one fact among a search's candidates: which are alike enough to be one fact said again
(``newest_first``), and the order that puts each group newest first (``place_groups``).

Two passages are versions of one fact when the later is about the same thing (cosine >= DUPLICATE_COSINE), said by the
same speaker when both are labelled, related to the question and the same fact for it (``facts.same_fact``); a chain
(Boston -> Seattle -> Portland) is one group. Later versions said in passing, with a change cue or a correction, are
linked by ``recall/implicit.py``; the index treats both like a supersession for that search.
"""

from __future__ import annotations

__all__ = ["CORRECTION_GAP_S", "DUPLICATE_COSINE", "LINK_CANDIDATES", "fact_of", "implicit_updates", "newest_first",
           "place_groups"]

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall.cued import (
    CUE_COSINE,
    UPDATE_RELEVANCE,
    content_terms,
    enveloped,
    same_item,
    says_facts,
    share_a_word,
    shares_rare_asked,
)
from voice_letta.agent.recall.facts import (
    RARE_FRACTION,
    RARE_SHARE,
    Query,
    gives_asked_kind,
    ignored_terms,
    same_fact,
)
from voice_letta.agent.recall.groups import shared_plan
from voice_letta.agent.recall.implicit import CORRECTION_GAP_S, LINK_CANDIDATES, fact_of, implicit_updates
from voice_letta.agent.recall.implicit import other_line as _other_line
from voice_letta.agent.recall.implicit import says_asked as _says_asked
from voice_letta.agent.recall.roles import role_ids
from voice_letta.agent.recall.text import term_ids
from voice_letta.agent.recall.vector import MIN_COSINE

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

# Recency among near-duplicates: a passage said later, about the same thing (cosine between the two passages at
# least DUPLICATE_COSINE) and itself related to the query (cosine >= MIN_COSINE), goes first, directly followed by
# the older one, which it reports as replaced ("previously: …"). Measured on the recall set's updated facts: pairs
# of a fact and its update have cosines 0.51–0.93, unrelated facts of the same user at most 0.49. No margin on the
# fused score: an update usually repeats fewer of the question's words than the fact it replaces ("I weigh about
# 80 kilos" / "I'm down to 74 kilos after the diet"), so its keyword score is far lower. Short facts of one shape
# are alike too: "my birthday is on july 4" / "our wedding is planned for june" (and "my flight to rome leaves on
# may 3") are 0.50 (found from outside: "what's my birthday?" came back as the wedding, replacing the birthday);
# 0.55 keeps both recall sets' numbers (bench/memory_search.py --recall, and --recall bench/recall_holdout.json).
DUPLICATE_COSINE = 0.55
# For a question whether a state still holds (``facts.Query.still``) the pair need be alike less, when both name the
# asked item: "my loose tooth is the bottom one in the front" / "my tooth fell out at lunch!!!" are 0.49 (test12).
STILL_COSINE = 0.4
# The newest version of a fact whose own cosine to the question is at least INHERIT_COSINE x the best older version's
# takes that one's confidence (ranking.py ``took``): "I live in Portland these days" (0.39 to "Where do I live?") was
# 0.28 confident while the twice-replaced "I live in Boston" (0.51) kept 0.54 (found from outside, session 5). Not a
# version that names only the new value: "no wait, it's blue heron seventy three" is 0.39 to "what's the wifi password
# at my office?" against 0.67 for the replaced home password, and borrowing its 0.97 answered that near miss
# (session 5, test3). Ratios measured: 0.75 (Portland), 0.57-0.60 (the wifi correction). And only from a version that
# says the question's words (INHERIT_COVERAGE of their IDF weight): one close only in meaning may be a near miss
# itself ("the studio door code is 4471" for "what's the code for the station's car park?", 0.61), and its successor
# then answered it (test4; "Who is my manager at Nordlight?" likewise on test3).
INHERIT_COSINE = 0.7
INHERIT_COVERAGE = 0.6
# A new value said plainly: a writer often just states the attribute's new value, with no change word ("Mrs Holm rang,
# she'd rather have it in black" / "Mrs Holm again: green please" after "Customer order: Mrs Holm, green Christiania box
# bike", test16). Such lines are less alike than DUPLICATE_COSINE (0.30, 0.40), since what they share is the holder
# and the kind of value, not the wording. For a question asking a colour by its name, two passages that each say a
# colour (a closed class of words: the attribute is told by its value) and name one holder by HOLDER_WORDS words few
# passages say (a name, a shop, the item; not a speaker's name, a cue word or a colour) are versions of it at
# TYPED_PAIR_COSINE alike. Tried
# for every typed kind (a day, a time, a sum, an amount): all seventeen halves stale 108 -> 109 (Joanna's dinner time
# and three more right, but "When is practice?", "When is my Polish course?" and three more wrong): one holder says
# many days and times of different things, a colour it says of one.
TYPED_PAIR_COSINE = 0.25
# Words that few passages say, shared besides the colours: one may be any word ("Mr Berg wants a red cargo bike" and
# "Mrs Holm wants the green box bike" share "wants"); two name the holder and the item ("holm", "christiania"). A title
# names no one by itself ("Mrs" and "Mr" are one term).
HOLDER_WORDS = 2
_TITLES = frozenset(term_ids("mr mrs ms miss dr sir madam"))
_COLOUR_ASK = frozenset(term_ids("colour colours color colors shade shades"))
# everyday colour and finish words (a closed class: what a colour question is answered with)
_COLOURS = frozenset(term_ids(
    "red green blue black white grey gray yellow orange pink purple brown beige cream navy teal turquoise maroon "
    "burgundy gold golden silver bronze copper brass chrome ivory lilac lavender mint olive khaki tan charcoal "
    "terracotta sage coral magenta violet indigo"))


def newest_first(index: PassageIndex, top: np.ndarray, query: Query) -> list[list[int]]:
    """Groups of a search's candidates that are versions of one fact (``place_groups`` puts each newest first).

    For what the user said about themselves (``about_the_user``; the caller skips questions in the past tense): in
    conversations between named people newer lines on a topic are not updates (on LoCoMo a recency swap cost 0.08 of
    any@5), unless one sender's two messages give the asked kind of value for an item both name (``same_item``). A
    pair qualifies when the later passage is about the same thing (cosine >=
    DUPLICATE_COSINE between the two), was said by the same speaker when both are labelled, is itself related to
    the query (cosine >= MIN_COSINE and at least UPDATE_RELEVANCE of the older one's) and is the same fact for this
    question (``same_fact``). Each passage is paired at most once, with its most similar partner, so lines merely
    alike cannot pull a chain forward; then a pair takes in every other qualifying candidate alike *both* of its
    members (an update chain: "I live in Boston" -> "I moved to Seattle" -> "I live in Portland these days"; paired
    Boston-Portland, Seattle was left standing as a current fact, found from outside); ``implicit_updates`` may add
    a member too.
    """
    rows = [int(r) for r in top]
    vec = [r for r in rows if index.has_vector[r] and says_facts(index, r) and not index.asks[r]]
    if len(vec) < 2:
        return []
    query_cos = query.cosines
    sim = index.pair_cosines(vec, vec)
    pos = {r: i for i, r in enumerate(vec)}

    def still(o: int, r: int) -> bool:  # a question whether a state still holds, about an item both name, and
        # said of no one else: "my little brother sam's front tooth came out" ends no wobbly tooth of the user's
        return query.still and shares_rare_asked(index, o, r, query) and not _names_others(index, o, r, query)

    def fits(o: int, r: int) -> bool:  # r can be a later version of o
        return bool(index.start_at[r] > index.start_at[o]
                    and ((query_cos[r] >= UPDATE_RELEVANCE * query_cos[o]
                          and (query_cos[r] >= MIN_COSINE or _both_say_asked(index, o, r, query))) or still(o, r))
                    and (not (index.speakers[r] and index.speakers[o]
                              and not set(index.speakers[r]) & set(index.speakers[o]))
                         or shared_plan(index, o, r, query))
                    and gives_asked_kind(index, o, r, query) and same_fact(index, o, r, query)
                    # two messages of one export are alike by their envelopes: they must share a word too, and one
                    # of the question's when the older one says any (a mail of several points: the asked one)
                    and (not enveloped(index, o, r) or (share_a_word(index, o, r) and _says_asked(index, o, r, query)))
                    and not _other_line(index, o, r, query)
                    # someone else's lines (a sender, a caller, a digest's author): their own later line on the same
                    # item, told by the words the two alone say, not by a shared envelope
                    and ((index.about_the_user(o) and index.about_the_user(r)) or same_item(index, o, r, query)))

    used: set[int] = set()
    groups: list[list[int]] = []
    for o in rows:
        if o in used or o not in pos:
            continue
        # when ``o`` names the asked item by two words of the question or more, a partner saying them all first, then
        # the most alike: "the chem final got moved to december fifteenth" is more alike "midterm for chem is november
        # ninth" than "the chem midterm got pushed to november sixteenth" is (test14, "when is the chem midterm"), and
        # took its place. Not by one word: a reply settling the plan need not repeat it ("Yes, the original it is: Dec
        # 24 noon to Dec 25 noon with you" for "When does Jason have the kids at Christmas?", test12); nor between
        # messages, whose replies repeat their subject line ("RE: Christmas change")
        named = query.terms & content_terms(index, o)
        asked = named if len(named) >= 2 else frozenset()
        floor = STILL_COSINE if query.still else DUPLICATE_COSINE
        best, best_key = -1, (-1, floor)
        for r in vec:
            alike = float(sim[pos[o], pos[r]])
            if r in used or r == o or alike < min(floor, TYPED_PAIR_COSINE) or not (
                    (alike >= floor and (alike >= DUPLICATE_COSINE or still(o, r))) or _gives_anew(index, o, r, query)):
                continue
            key = (int(bool(asked) and not enveloped(index, o, r)
                       and asked <= content_terms(index, r) - ignored_terms(index, o, r)), alike)
            if key >= best_key and fits(o, r):
                best, best_key = r, key
        if best < 0:
            continue
        used.update((o, best))
        groups.append([o, best])
    for group in groups:
        for r in vec:
            if r not in used and _joins(index, group, r, sim, pos, query) and (
                    all(fits(g, r) for g in group if index.start_at[g] < index.start_at[r])
                    and all(fits(r, g) for g in group if index.start_at[g] > index.start_at[r])):
                group.append(r)
                used.add(r)
    return groups


def _joins(index: PassageIndex, group: Sequence[int], r: int, sim: np.ndarray, pos: dict[int, int], query: Query
           ) -> bool:
    """Whether candidate ``r`` is alike enough every member of a group of versions to be one more: DUPLICATE_COSINE
    to each; or, for a passage that says a change itself (a strong cue, not a bare "now"), DUPLICATE_COSINE to one
    member and CUE_COSINE to the rest. Each version of a fact is most like the one it changes, less like the others:
    "day centre swapped him to Mondays and Thursdays" is 0.54 alike "have him down for Fridays as well now, so Mon Thu
    Fri" (test14), and stood above it, the chain's middle left out; "we change flour to Janie's Mill, $31 for 50 lb"
    is 0.49 alike the price rise it follows ("Bay State put price up, now $27.10")."""
    alike = [float(sim[pos[g], pos[r]]) for g in group]
    if min(alike) >= DUPLICATE_COSINE:
        return True
    # a colour said anew (``_gives_anew``) with every member: the chain's first version, "green box bike", joins
    # "rather have it in black" and "green please" (0.30 and 0.40 alike)
    if min(alike) >= TYPED_PAIR_COSINE and all(_gives_anew(index, g, r, query) for g in group):
        return True
    # a passage saying the value it follows ended ("Victoria Inn double booked too … We're at the Days Inn", 0.78 alike
    # "Canad Inns overbooked us so we're at the Victoria Inn instead", 0.51 the first hotel: test16) is a change too
    # (``index.ending`` holds the strong cues as well)
    return bool(index.ending[r]) and max(alike) >= DUPLICATE_COSINE and min(alike) >= CUE_COSINE


def place_groups(index: PassageIndex, order: Sequence[int], groups: Sequence[Sequence[int]], query: Query | None = None
                 ) -> tuple[list[int], dict[int, list[int]], dict[int, int]]:
    """``order`` with each group's newest member just ahead of its best ranked one, followed by the members said
    after that one, newest first (Portland, Seattle, Boston); older members and everything else stay where they
    rank (a pair is a local swap). A member that is not in ``order`` (a later version ``implicit_updates`` found
    among all of the agent's passages) is pulled in. Returns the order, {newest: the others, newest first} and
    {member pulled in: the best ranked member, whose rank it took}; with ``query``, also {the newest member: the
    older member closest to the question} when the newest is about as close to it itself (``INHERIT_COSINE``): the
    current version is then at least as confident as what it replaces."""
    out = list(order)
    candidates = set(order)
    previous: dict[int, list[int]] = {}
    pulled: dict[int, int] = {}
    for group in groups:
        ranked = [r for r in group if r in candidates]
        if not ranked:
            continue
        by_time = sorted(group, key=lambda r: float(index.start_at[r]), reverse=True)
        first = min(ranked, key=out.index)
        pulled.update((r, first) for r in group if r not in candidates)
        moved = [r for r in by_time if r == by_time[0] or index.start_at[r] > index.start_at[first]]
        if moved != [first]:
            at = out.index(first)
            out = [r for r in out[:at] if r not in moved] + moved + [r for r in out[at:] if r not in moved]
        previous[by_time[0]] = by_time[1:]
        newest = by_time[0]
        if query is not None and newest not in pulled:
            older = max(by_time[1:], key=lambda r: float(query.cosines[r]))
            # a question whether a state still holds names the older state: the newest version answers it however
            # far it is from the question's words ("Do I still live in Boston?" / "we moved to Seattle")
            if ((query.still or float(query.cosines[newest]) >= INHERIT_COSINE * float(query.cosines[older]))
                    and _covers(index, older, query) >= INHERIT_COVERAGE):
                pulled[newest] = older
    return out, previous, pulled


def _covers(index: PassageIndex, row: int, query: Query) -> float:
    """The share of the question's IDF weight that a passage's own words say."""
    said = set(index.terms_of(row).tolist())
    weights = {t: index.keywords.idf_of(t) for t in query.terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in said) / total if total > 0 else 0.0




def _gives_anew(index: PassageIndex, a: int, b: int, query: Query) -> bool:
    """Whether the question asks a colour, both passages say one and they name one holder by HOLDER_WORDS rare words
    (see TYPED_PAIR_COSINE)."""
    if not query.terms & _COLOUR_ASK:
        return False
    if not all(set(index.terms_of(r).tolist()) & _COLOURS for r in (a, b)):
        return False
    shared = (content_terms(index, a) & content_terms(index, b)) - ignored_terms(index, a, b) - _COLOURS - _TITLES
    most = max(RARE_SHARE, RARE_FRACTION * index.keywords.n)
    return sum(len(index.keywords.postings_of(t)[0]) <= most for t in shared) >= HOLDER_WORDS


def _names_others(index: PassageIndex, old: int, new: int, query: Query) -> bool:
    """Whether ``new`` names someone by a role ("brother", "tía") that neither ``old`` nor the question names."""
    return bool((set(index.terms_of(new).tolist()) & role_ids()) - set(index.terms_of(old).tolist()) - query.terms)


def _both_say_asked(index: PassageIndex, old: int, new: int, query: Query) -> bool:
    """Whether both passages say a word of the question (not a name or cue they merely share). A keyword query
    ("user 5k personal best") is far from every sentence in meaning: the later "5k PB again" is 0.20 to it (the
    older PB 0.23, the two 0.76 alike), under MIN_COSINE, and the older PB stood alone (test13). Saying the asked
    words is the relevance the floor stands for."""
    asked = (query.terms & content_terms(index, old) & content_terms(index, new)) - ignored_terms(index, old, new)
    return bool(asked)
