"""The sans-I/O parts of recall: BM25 with context, generic queries, relative time windows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_letta.agent.recall import keyword as K
from voice_letta.agent.recall import speakers as S
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.keyword import KeywordIndex, TermRows
from voice_letta.agent.recall.placing import grounded
from voice_letta.agent.recall.ranking import NEIGHBOUR_WEIGHT, speaker_attribution, with_neighbours
from voice_letta.agent.recall.supersede import current, current_first
from voice_letta.agent.recall.timewords import window_for
from voice_letta.agent.recall.vector import MIN_COSINE, SearchWindow

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC).timestamp()  # a Thursday
DAY = 86400.0
TODAY = datetime(2026, 11, 26, tzinfo=UTC).timestamp()


def test_a_reply_is_found_by_the_words_of_the_question_it_answers() -> None:
    docs = ["Caroline: What pet do you have?", "Melanie: We got another cat named Bailey.",
            "Caroline: I went running yesterday."]
    index = KeywordIndex()
    index.add([T.terms(d) for d in docs])
    prev = np.array([-1, 0, 1])
    nxt = np.array([1, 2, -1])
    rows, _ = index.score(T.query_terms("pets"))
    assert rows.tolist() == [0]
    lengths = index.lengths() + 0.5 * np.where(prev >= 0, index.lengths()[np.maximum(prev, 0)], 0)
    rows, scores = index.score(T.query_terms("pets"), prev=prev, next_=nxt, context_weight=0.5, lengths=lengths)
    assert rows.tolist() == [0, 1] and scores[0] > scores[1] > 0


def test_statistics_are_the_index_own() -> None:
    a, b = KeywordIndex(), KeywordIndex()
    a.add([T.terms("I like tea"), T.terms("I like coffee")])
    b.add([T.terms("I like tea"), T.terms("I like coffee")])
    b.add([T.terms("tea tea tea")] * 50)
    assert a.idf("tea") > b.idf("tea")


def test_generic_questions_name_no_topic() -> None:
    assert T.is_generic("What did I tell you yesterday?")
    assert T.is_generic("What did we talk about three days ago?")
    assert not T.is_generic("What did I say about the tap yesterday?")


def test_relative_times_become_utc_day_windows() -> None:
    w = window_for("what did I tell you yesterday?", now=NOW)
    assert w is not None and (w.start_at, round(w.end_at or 0)) == (TODAY - DAY, round(TODAY - 1e-3))
    w = window_for("and three days ago?", now=NOW)
    assert w is not None and w.start_at == TODAY - 3 * DAY
    w = window_for("anything from last week", now=NOW)
    monday = TODAY - 3 * DAY
    assert w is not None and w.start_at == monday - 7 * DAY and round(w.end_at or 0) == round(monday)
    assert window_for("what is my dog called?", now=NOW) is None


def test_dates_in_a_question_become_ranges_around_them() -> None:
    from voice_letta.agent.recall.timewords import dated_ranges

    day = datetime(2023, 10, 3, tzinfo=UTC).timestamp()
    assert dated_ranges("Which city was Calvin at on October 3, 2023?") == [(day - 2 * DAY, day + 9 * DAY)]
    assert dated_ranges("What happened on 3 October 2023?") == [(day - 2 * DAY, day + 9 * DAY)]
    [(lo, hi)] = dated_ranges("What did I start in May 2023?")
    assert lo == datetime(2023, 5, 1, tzinfo=UTC).timestamp() - 2 * DAY
    assert hi == datetime(2023, 6, 1, tzinfo=UTC).timestamp() + 8 * DAY
    assert dated_ranges("What is my dog called?") == []
    [(lo, _)] = dated_ranges("on 31 February 2023")  # no such day: the month is still a clue
    assert lo == datetime(2023, 2, 1, tzinfo=UTC).timestamp() - 2 * DAY


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["coffee", "tea", "lisbon", "run", "ana", "dog", "x1"]), max_size=8),
                max_size=40),
       st.lists(st.integers(min_value=1, max_value=12), max_size=8))
def test_postings_are_the_same_however_rows_were_added(docs: list[list[str]], cuts: list[int]) -> None:
    """Bulk builds, row-by-row appends and the folds between them all give each term its rows in order with their
    counts, as a plain count of the documents says."""
    saved = K.BULK_ROWS, K.DELTA_FOLD_POSTINGS
    K.BULK_ROWS, K.DELTA_FOLD_POSTINGS = 4, 10  # exercise bulk merges and folds on small inputs
    try:
        index = KeywordIndex()
        start = 0
        for size in [*cuts, len(docs)]:
            batch = docs[start:start + size]
            if size % 2:
                index.add_rows(TermRows.of([np.asarray(T.term_ids(" ".join(d)), np.uint64) for d in batch]))
            else:
                index.add([T.terms(" ".join(d)) for d in batch])
            start += len(batch)
            if start >= len(docs):
                break
    finally:
        K.BULK_ROWS, K.DELTA_FOLD_POSTINGS = saved
    assert index.n == len(docs)
    for word in ["coffee", "tea", "lisbon", "run", "ana", "dog", "x1", "absent"]:
        [term] = T.terms(word)
        want = [(i, d.count(word)) for i, d in enumerate(docs) if word in d]
        rows, tfs = index.postings(term)
        assert list(zip(rows.tolist(), tfs.tolist(), strict=True)) == want
    assert index.lengths().tolist() == [len(T.terms(" ".join(d))) for d in docs]


def test_stored_terms_round_trip_and_other_formats_are_refused() -> None:
    blob = T.encode_terms("Running to Lisbon, running home")
    assert T.decode_terms(blob).tolist() == [T.term_id(t) for t in ["run", "lisbon", "run", "home"]]  # type: ignore[union-attr]
    assert T.decode_terms(T.encode_terms("the and of")).tolist() == []  # type: ignore[union-attr]
    assert T.decode_terms(None) is None
    assert T.decode_terms(b"vlterm00" + blob[8:]) is None  # another tokenizer version: computed again
    assert T.decode_terms(blob[:-3]) is None
    assert T.term_id("lisbon") == int.from_bytes(__import__("hashlib").blake2b(b"lisbon", digest_size=8).digest(),
                                                 "little")  # stable across processes (not Python's salted hash)


def test_a_superseded_row_is_preceded_by_the_end_of_its_chain() -> None:
    successor = np.asarray([2, -1, 4, -1, -1, 0], dtype=np.int64)  # 0 -> 2 -> 4; 5 -> 0 (a loop is cut)
    order, previous, took = current_first([0, 1, 3], {}, successor, None)
    assert order == [4, 0, 1, 3] and previous == {4: [0]} and took == {4: 0}
    order, previous, took = current_first([1, 4, 2, 0], {4: [9]}, successor, None)
    assert order == [1, 4, 2, 0] and previous == {4: [9, 2, 0]} and took == {}  # already ranked higher
    window = np.asarray([True, True, True, True, False, True])
    order, previous, _ = current_first([0, 1], {}, successor, window)  # the successor is outside the window
    assert order == [0, 1] and previous == {}
    loop = np.asarray([1, 0], dtype=np.int64)
    assert current(0, loop) == 1 and current(1, loop) == 0


def _index(lines: list[str], vectors: np.ndarray, *, step: float = 30.0) -> PassageIndex:
    index = PassageIndex("test", vectors.shape[1])
    at = [TODAY + i * step for i in range(len(lines))]
    index.add([f"p{i}" for i in range(len(lines))], lines, [""] * len(lines), at, at, vectors.astype(np.float32),
              [True] * len(lines))
    return index


def test_a_line_gains_a_share_of_its_best_neighbour_score_never_a_penalty() -> None:
    lines = ["John: Where should the team go next month?", "Tim: Edinburgh!", "John: Sounds fun.",
             "user: I like tea."]  # the last line is said a day later: no neighbour
    index = _index(lines, np.eye(4), step=DAY / 3)
    index.prev, index.next = np.array([-1, 0, 1, -1]), np.array([1, 2, -1, -1])
    fused = np.array([2.0, 0.1, -1.0, 0.5], dtype=np.float32)
    out = with_neighbours(index, fused)
    w = NEIGHBOUR_WEIGHT
    assert np.allclose(out, [2.0 + w * 0.1, 0.1 + w * 2.0, -1.0 + w * 0.1, 0.5])


def test_a_later_version_the_question_does_not_find_is_placed_only_for_the_best_match() -> None:
    index = _index([f"user: note {i}" for i in range(7)], np.eye(7))
    keep = np.asarray([True, True, True, False, False, True, False])  # found by the question's words or meaning
    links = {0: 3, 1: 4, 4: 5, 2: 6}  # 0 is the best match; 4 leads on to 5, which is found; 6 is found by nothing
    assert grounded(index, links, keep, [0, 1, 2]) == {0: 3, 1: 4, 4: 5}
    assert grounded(index, {3: 4, 0: 3}, keep, [0, 1]) == {3: 4, 0: 3}  # the best match's chain, however long
    assert grounded(index, {1: 3}, keep, []) == {}


def test_the_nearest_in_meaning_are_candidates_below_the_cosine_floor_but_not_noise() -> None:
    # No shared word with the question; cosines 0.2 (below MIN_COSINE, above LOW_COSINE) and 0.05.
    q = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    a = np.array([0.2, np.sqrt(1 - 0.04), 0.0])
    b = np.array([0.05, 0.0, np.sqrt(1 - 0.0025)])
    index = _index(["user: I have my Japanese lesson tonight.", "user: The plumber comes on Monday."],
                   np.stack([a, b]), step=DAY)
    ranked = index.rank(q, ["Which language am I studying?"], SearchWindow(None, None), limit=5)
    assert [r.passage_id for r in ranked] == ["p0"]
    assert ranked[0].cosine < MIN_COSINE


def test_attribution_weighs_the_named_person_against_the_others_on_the_words_of_the_best_results() -> None:
    # The question shares no topic word with anyone's line; its best result is Ben's. Asked about Ana, the words of
    # that result ("adoption agencies") are someone else's: negative; asked about Ben: positive.
    lines = ["Ben: I spent the week calling adoption agencies.", "Ana: That's wonderful, Ben!",
             "Ana: I finally finished painting my kitchen yellow.", "Ben: Yellow is a bold choice.",
             "Ana: Adoption is a big step."]
    index = _index(lines, np.eye(5))
    ana, ben = index.said_by("ana"), index.said_by("ben")
    assert ana.tolist() == [False, True, True, False, True]
    best = np.array([0])
    about_ana = speaker_attribution(index, T.query_terms("What did Ana look into?"), best, ana, ben)
    about_ben = speaker_attribution(index, T.query_terms("What did Ben look into?"), best, ben, ana)
    assert about_ana < 0 < about_ben
    # Without the feedback words nothing matches and nothing is said either way.
    none = np.array([], dtype=np.int64)
    assert speaker_attribution(index, T.query_terms("What did Ana look into?"), none, ana, ben) == 0.0


def test_weekdays_name_the_latest_such_day_only_in_questions_about_the_past() -> None:
    # NOW is a Thursday
    w = window_for("what did we talk about last tuesday", now=NOW)
    assert w is not None and w.start_at == TODAY - 2 * DAY and round(w.end_at or 0) == round(TODAY - DAY)
    w = window_for("what did i say on thursday", now=NOW)
    assert w is not None and w.start_at == TODAY - 7 * DAY
    w = window_for("what did i tell you last weekend", now=NOW)
    assert w is not None and w.start_at == TODAY - 5 * DAY and round(w.end_at or 0) == round(TODAY - 3 * DAY)
    assert window_for("what does marco cook on sundays", now=NOW) is None  # a habit
    assert window_for("is the dentist on friday", now=NOW) is None  # a plan
    assert window_for("what's happening next tuesday", now=NOW) is None
    w = window_for("what happened on wednesday?", now=NOW)  # found from outside (blind set): no window before
    assert w is not None and w.start_at == TODAY - DAY and T.is_generic("what happened on wednesday?")
    assert T.is_generic("what did i say on monday") and T.is_generic("what did i tell you this afternoon")


def test_corrections_and_update_cues_are_recognised() -> None:
    from voice_letta.agent.recall.cues import cues

    corr, cue, strong = cues(["user: no wait scratch that its the sage green one",
                              "user: um actually make that thursday he had a conflict",
                              "user: quick correction on the meds its five milligrams",
                              "user: i actually like jazz a lot", "jess: no mushrooms im allergic",
                              "user: good news im down to one eighty two", "user: i booked the electrician for tuesday",
                              "user: i live in seattle now", "user: we moved the party to saturday now"])
    assert corr.tolist() == [True, True, True, False, False, False, False, False, False]
    assert cue.tolist() == [True, True, True, True, False, True, False, True, True]
    # a bare "now" is a weak cue; a correction, or another cue beside "now", is a strong one
    assert strong.tolist() == [True, True, True, True, False, True, False, False, True]


def test_spoken_fillers_are_not_searched_for() -> None:
    assert T.spoken_query("um so uh what's my sister's name you know") == "what's my sister's name"
    assert T.spoken_query("hmm okay, where is the umbrella") == "where is the umbrella"
    assert T.spoken_query("what kind of dog do I have?") == "what kind of dog do I have?"
    assert T.spoken_query("ummm") == "ummm"  # nothing else: kept as said


def test_hours_minutes_and_this_week_in_words() -> None:
    w = window_for("what did i say earlier this week", now=NOW)
    assert w is not None and w.start_at == TODAY - 3 * DAY  # the week, not just today
    w = window_for("what did i tell you an hour ago", now=NOW)
    assert w is not None and (w.start_at, w.end_at) == (NOW - 2 * 3600, NOW)
    w = window_for("what did i say a few minutes ago", now=NOW)
    assert w is not None and (w.start_at, w.end_at) == (NOW - 1800, NOW)
    w = window_for("what did we talk about this past weekend", now=NOW)
    assert w is not None and w.start_at == TODAY - 5 * DAY
    assert T.is_generic("what did we talk about this past weekend")


def test_a_line_about_the_one_spoken_to() -> None:
    assert S.addresses_listener("marco: careful with your knee remember what happened last year")
    assert S.addresses_listener("Did you finish your painting?")
    assert not S.addresses_listener("jess: yeah i tore my meniscus playing volleyball")
    assert not S.addresses_listener("user: you should see my garden, I planted roses")  # about the speaker too


def test_roles_a_question_names() -> None:
    from voice_letta.agent.recall.roles import query_roles

    [(_, ok)] = query_roles(T.query_terms("when does my mom land"))
    assert T.term_id("mom") in ok and T.term_id(T.stem("mother")) in ok and T.term_id("dad") not in ok
    [(_, sib)] = query_roles(T.query_terms("what is my sibling's job"))
    assert {T.term_id("brother"), T.term_id("sister")} <= sib
    assert query_roles(T.query_terms("where is my passport")) == []


def test_a_passage_names_the_role_by_word_or_by_the_name_memory_gives_it() -> None:
    import numpy as np

    from voice_letta.agent.recall.index import PassageIndex
    from voice_letta.agent.recall.roles import mismatched, query_roles

    texts = ["user: my sister maya just moved to lisbon", "user: maya called she loves the new office",
             "user: my aunt sent me lemons", "user: my mom is flying in on the twenty third"]
    index = PassageIndex("m", 4)
    index.add([f"p{i}" for i in range(4)], texts, [""] * 4, [float(i * 86400) for i in range(4)],
              [float(i * 86400) for i in range(4)], np.zeros((4, 4), dtype=np.float32), [False] * 4)
    roles = query_roles(T.query_terms("what does my sister think of her office"))
    assert mismatched(index, [0, 1, 2, 3], roles) == {2, 3}  # maya is the sister
    assert mismatched(index, [0, 1, 2, 3], query_roles(T.query_terms("when does my mother land"))) == {0, 1, 2}
    assert mismatched(index, [0, 1, 2, 3], query_roles(T.query_terms("when do i land"))) == set()


def test_a_passage_about_another_animal() -> None:
    import numpy as np

    from voice_letta.agent.recall.index import PassageIndex
    from voice_letta.agent.recall.roles import other_animal

    texts = ["user: biscuit, my corgi, chewed my shoes again", "user: the cat is staying with my mum for the move",
             "user: our dog ziggy needs his teeth cleaned", "user: ziggy hates the vet", "user: my parrot kiwi talks",
             "user: we took the puppy to the beach"]
    n = len(texts)
    index = PassageIndex("m", 4)
    index.add([f"p{i}" for i in range(n)], texts, [""] * n, [float(i * 86400) for i in range(n)],
              [float(i * 86400) for i in range(n)], np.zeros((n, 4), dtype=np.float32), [False] * n)
    rows = list(range(n))
    # only a passage naming another animal (and not a dog, nor a dog's name) is flagged
    assert other_animal(index, rows, T.query_terms("who is looking after our dog")) == {1, 4}
    assert other_animal(index, rows, T.query_terms("what does my kitty eat")) == {2, 4, 5}
    assert other_animal(index, rows, T.query_terms("what is my pet called")) == set()


def test_a_passage_that_does_not_say_the_name_asked_about() -> None:
    import numpy as np

    from voice_letta.agent.recall.index import PassageIndex
    from voice_letta.agent.recall.roles import other_name, query_names

    assert query_names("When is Gideon's mum's birthday?") == [["gideon"]]
    assert query_names("Is Remi in on Monday? Ask Dr Nwosu.") == [["remi"], ["nwosu"]]  # not a first word, a day
    assert query_names("Why does he like Aragorn from Lord of the Rings?") == [["aragorn"], ["lord", "rings"]]
    texts = ["user: gideon is allergic to shellfish", "user: remi has ballet on thursdays", "user: my mum is seventy",
             "user: jo's nan is in hospital"]
    n = len(texts)
    index = PassageIndex("m", 4)
    index.add([f"p{i}" for i in range(n)], texts, [""] * n, [float(i * 86400) for i in range(n)],
              [float(i * 86400) for i in range(n)], np.zeros((n, 4), dtype=np.float32), [False] * n)
    rows = list(range(n))
    assert other_name(index, rows, "What is Remi allergic to?") == {0, 2, 3}
    assert other_name(index, rows, "When is Gideon's mum's birthday?") == {1, 2, 3}
    assert other_name(index, rows, "What is Tolu allergic to?") == set()  # a name memory does not hold
    assert other_name(index, rows, "Which hospital is Jo's Nan in?") == {0, 1, 2}  # a role word is not a name
    index.known_speakers.add("melanie")  # a question naming a known speaker (or a short form) is judged by speaker
    assert other_name(index, rows, "What did Mel and Remi paint?") == set()


def test_when_and_what_time_need_a_day_or_a_time_of_day() -> None:
    from voice_letta.agent.recall.quantity import CLOCK, DAY, asked_kind, number_kinds

    assert asked_kind("When is my bike insurance renewal?") == asked_kind("which night is the quiz") == DAY | CLOCK
    assert asked_kind("what time does the poet arrive") == CLOCK
    assert asked_kind("when did I get my flu jab") == 0  # when it was said answers that
    for text in ("the chiropodist is coming on the eleventh", "bowls has moved to thursdays", "due march sixth",
                 "on 14/12", "next week"):
        assert int(number_kinds([text])[0]) & DAY, text
    for text in ("we open at half seven", "the departure is now eleven fifteen", "at 7:05", "free after nine thirty",
                 "friday evening"):
        assert int(number_kinds([text])[0]) & CLOCK, text
    for text in ("the insurance paid out four hundred for the bike", "live, about twenty minutes"):
        assert not int(number_kinds([text])[0]) & (DAY | CLOCK), text


def test_a_date_with_a_year_is_a_day_not_a_sum_or_a_phone() -> None:
    from voice_letta.agent.recall.quantity import CLOCK, DAY, MONEY, PHONE, number_kinds

    # export stamps and calendar dates in several orders and languages: a day (with its time), never a figure
    for text, kinds in (("2026-11-30 09:00:41 Mama", DAY | CLOCK), ("[12/4/2026 5:36 PM] Tobias: ok", DAY | CLOCK),
                        ("04/12/2026, 16:45 - Camila: ok", DAY | CLOCK), ("Dec 06, 2026  8:55 AM", DAY | CLOCK),
                        ("el 3 de octubre de 2023", DAY), ("Termin: 12.06.2027", DAY)):
        assert int(number_kinds([text])[0]) == kinds, text
    # figures beside a date are still figures
    assert int(number_kinds(["2026-11-30 09:00 rent is now $950"])[0]) & MONEY
    assert int(number_kinds(["2026-11-30 09:00 call me on 0754 118 902"])[0]) & PHONE
    assert int(number_kinds(["the deposit is 2026 euros"])[0]) & MONEY


def test_a_misfit_is_never_a_confident_answer() -> None:
    from voice_letta.agent.recall.confidence import CONFIDENT, MISFIT_MAX, confidence

    assert confidence(0.9, 1.0) > 0.99 and confidence(0.9, 1.0, other_speaker=True) > CONFIDENT
    assert confidence(0.9, 1.0, misfit=True) == MISFIT_MAX < CONFIDENT
    assert confidence(0.2, 0.0, misfit=True) == confidence(0.2, 0.0) < MISFIT_MAX  # a cap, not a floor


def test_a_passage_that_says_only_the_opposite() -> None:
    import numpy as np

    from voice_letta.agent.recall.index import PassageIndex
    from voice_letta.agent.recall.opposites import opposite_side

    texts = ["user: we open at seven on weekdays", "user: we close at four on weekdays",
             "user: the cafe's hours are seven to four", "user: we open at seven and close at four",
             "user: the course starts in january"]
    n = len(texts)
    index = PassageIndex("m", 4)
    index.add([f"p{i}" for i in range(n)], texts, [""] * n, [float(i * 86400) for i in range(n)],
              [float(i * 86400) for i in range(n)], np.zeros((n, 4), dtype=np.float32), [False] * n)
    rows = list(range(n))
    assert opposite_side(index, rows, T.query_terms("what time does the cafe close")) == {0}
    assert opposite_side(index, rows, T.query_terms("when are we opening")) == {1}
    assert opposite_side(index, rows, T.query_terms("when does the course finish")) == {4}
    assert opposite_side(index, rows, T.query_terms("when do we open and close")) == set()  # both asked


def test_questions_for_a_quantity_and_passages_that_say_one() -> None:
    from voice_letta.agent.recall.quantity import ANY, asks_for_a_quantity, number_kinds

    assert asks_for_a_quantity("what is the contractor's phone number")
    assert asks_for_a_quantity("how much did the lodge cost") and asks_for_a_quantity("what time is my flight")
    assert not asks_for_a_quantity("when is my flight") and not asks_for_a_quantity("what is jess's parrot called")
    said = number_kinds(["user: im down to one eighty two", "user: the flight leaves at 7:40", "we cut it to ninety",
                         "user: we switched to a lodge near the park"]) & ANY
    assert said.tolist() == [ANY, ANY, ANY, 0]


def test_the_kind_of_number_a_question_asks_for_and_a_passage_says() -> None:
    from voice_letta.agent.recall.quantity import (
        ADDRESS,
        AMOUNT,
        ANY,
        CLOCK,
        EMAIL,
        MONEY,
        PHONE,
        asked_kind,
        number_kinds,
    )

    assert asked_kind("how much did the dentist charge me") == MONEY
    assert asked_kind("How much will Tom earn at Calloway?") == asked_kind("what's our maximum rent") == MONEY
    assert asked_kind("how many bathrooms does the house have") == asked_kind("how old is my daughter") == AMOUNT
    assert asked_kind("what's the hotel's phone number") == PHONE and asked_kind("what time do we land") == CLOCK
    assert asked_kind("how often do i phone my mum") == AMOUNT and asked_kind("where is the hotel") == 0

    def kinds(text: str) -> int:
        return int(number_kinds([text])[0])

    # money: a currency, hundreds/thousands, a price said in pairs, two digits or more
    for text in ("we sold it for ninety quid", "it cost $40", "the budget is eighteen thousand",
                 "rent is eighteen fifty a month", "fenwick quoted three hundred and twenty pounds", "paid 85 for it"):
        assert kinds(text) & MONEY, text
    # ... not a count, a duration, a day or a time of day
    for text in ("one small filling", "back in three weeks for blood work", "booked for the ninth, between eight and "
                 "twelve", "tom's first day is april sixth", "about 40 minutes", "we land at 7:05"):
        assert kinds(text) & ANY and not kinds(text) & MONEY, text
    # an amount: not a date ("the twenty fifth", "the 25th.", "april 6") nor a time; an ordinal of a thing counts
    for text in ("the lease starts the twenty fifth", "it's on the 25th.", "is april 6", "at 7 a.m."):
        assert not kinds(text) & AMOUNT, text
    for text in ("she turned six in august", "i won my fourth tournament", "member number ending 4471",
                 "we need three bedrooms"):
        assert kinds(text) & AMOUNT, text
    # a phone number: seven digits or more, written or spoken
    assert kinds("call me on 0117 496 0000") & PHONE and kinds("it's oh seven seven one two three four five") & PHONE
    assert not kinds("flight EZY8903 on may 13") & PHONE
    # an address: a street, a postcode, a flat number; not a town
    assert asked_kind("what's my mum's address") == ADDRESS and asked_kind("what's my email address") == EMAIL
    for text in ("she's at 14 kirkstall road", "LS5 3BT", "flat 4, the old mill", "apartment on fifth avenue"):
        assert kinds(text) & ADDRESS, text
    assert not kinds("my mum lives in harrogate") & ADDRESS
    # an email: the noun asked for, an address or a provider said; not the verb
    assert asked_kind("What's Otis Brandt's email?") == asked_kind("did i give you his e-mail address") == EMAIL
    assert asked_kind("who should I email at the publisher") == 0
    for text in ("otis@halberd.co.uk", "it's otis at halberd dot co dot uk", "her gmail is rosa lind"):
        assert kinds(text) & EMAIL and not kinds(text) & ADDRESS, text
    assert not kinds("I emailed otis about the cover") & EMAIL
    # a price or earnings asked however it is put; a phone number when a recall question names one
    assert asked_kind("How much is a hot chocolate at the fair?") == asked_kind("what does gideon earn") == MONEY
    assert asked_kind("how much warfarin do I take") == AMOUNT
    assert asked_kind("do you remember the poet's phone number") == PHONE
    assert asked_kind("what did James do after getting Samantha's phone number") == 0


def test_wait_no_opens_a_correction() -> None:
    from voice_letta.agent.recall.cues import cues

    corr, _, _ = cues(["user: wait no sorry the third is a sunday so its saturday the second",
                       "user: um no wait its tuesday", "user: no no its fine", "user: sorry im late"])
    assert corr.tolist() == [True, True, False, False]


def test_a_number_in_the_synopsis_counts() -> None:
    import numpy as np

    from voice_letta.agent.recall.index import PassageIndex
    from voice_letta.agent.recall.quantity import AMOUNT, ANY, DAY, MONEY

    index = PassageIndex("m", 4)
    index.add(["a", "b"], ["user: the rent went up again", "user: the rent went up again"],
              ["The user's rent is now 1,900 a month.", ""], [0.0, 1.0], [0.0, 1.0],
              np.zeros((2, 4), dtype=np.float32), [False, False])
    assert index.numbers.tolist() == [ANY | AMOUNT | MONEY | DAY, 0]  # "a month" is a time word


def test_third_person_notes_about_the_user_are_recognised() -> None:
    from voice_letta.agent.recall.confidence import third_person
    assert third_person("The user has a parrot named Kiwi.")
    assert third_person("user: I have a parrot.\nassistant: Nice.", "The user's parrot is called Kiwi.")
    assert not third_person("user: I have a parrot named Kiwi.")
    assert third_person("User prefers trains; user works nights.")
    assert not third_person("I told the users' group about it.")  # not a note about *the* user
    # A note naming the user (the sleeptime model reads the name in the human block) or without a subject:
    assert third_person("user: I have a parrot.\nassistant: Nice.", "Sam's parrot is called Kiwi.")
    assert third_person("user: I have a parrot.\nassistant: Nice.", "Has a parrot named Kiwi.")
    assert third_person("Sam has a parrot named Kiwi.")
    assert third_person("Has a parrot named Kiwi.")
    # ... but not the user's own words: a first-person text or synopsis, a labelled line, nothing at all.
    assert not third_person("I have a parrot named Kiwi.")
    assert not third_person("user: I have a parrot.", "I mentioned my parrot Kiwi.")
    assert not third_person("Caroline: went to the support group today, I loved it")
    # (a one-word label on a line with no I, we or you reads as a note's heading: "Funding: ESRC studentship")
    assert not third_person("  ")


def test_the_style_baseline_is_a_shrunk_median_and_only_lifts() -> None:
    import numpy as np

    from voice_letta.agent.recall.confidence import (
        STYLE_PRIOR_PASSAGES,
        STYLE_REF,
        THIRD_PERSON_SHIFT,
        confidence,
        style_baseline,
    )
    assert style_baseline(np.zeros(0)) == STYLE_REF
    # one far passage hardly moves it; many do (a median, not the mean: one close passage does not either)
    assert style_baseline(np.array([-0.5])) > style_baseline(np.full(100, -0.5))
    assert style_baseline(np.array([0.0, 0.0, 0.0, 0.0, 0.9])) == 5 * STYLE_REF / (5 + STYLE_PRIOR_PASSAGES)
    plain = confidence(0.4, 0.0)
    assert confidence(0.4, 0.0, baseline=STYLE_REF + 0.2) == plain  # a topic-dense agent is not marked down
    assert confidence(0.4, 0.0, baseline=STYLE_REF - 0.05) > plain  # passages written far from questions
    assert confidence(0.4, 0.0, third_person=True) == confidence(0.4 + THIRD_PERSON_SHIFT, 0.0)
    assert confidence(None, 0.5, third_person=True, baseline=-1.0) == confidence(None, 0.5)  # no vector: no style
    # the user's own people: another role costs more than another speaker alone
    assert confidence(0.7, 0.0, other_speaker=True, other_role=True) < confidence(0.7, 0.0, other_speaker=True) < 0.9


def test_the_style_of_a_result_is_judged_with_the_query_its_cosine_comes_from() -> None:
    from voice_letta.agent.recall.index import PassageIndex
    index = PassageIndex("m", 4)
    note = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]], dtype=np.float32)
    index.add(["a", "b"], ["The user has a parrot named Kiwi.", "user: I like tea."], ["", ""], [1.0, 2.0],
              [1.0, 2.0], note, [True, True])
    first = np.array([0.6, 0.8, 0.0, 0.0], dtype=np.float32)  # "What pet do I have?": cosine 0.6
    third = np.array([0.9, 0.0, 0.43589, 0.0], dtype=np.float32)  # "the user's pet": cosine 0.9
    window = SearchWindow(None, None)
    [top] = index.rank(first[None, :], ["What pet do I have?"], window, limit=1)
    assert top.passage_id == "a" and top.third_person and top.baseline is not None
    [top] = index.rank(np.stack([first, third]), ["What pet do I have?", "the user's pet"], window, limit=1)
    assert top.passage_id == "a" and abs(top.cosine - 0.9) < 1e-4 and not top.third_person
    [top] = index.rank(first[None, :], ["the user's pet"], window, limit=1)
    assert not top.third_person  # a third-person question needs no correction


def test_a_note_heading_is_not_a_speaker_label() -> None:
    # Found from outside: "Kitchen renovation: …" was another speaker's line, so "what is my kitchen budget?" (the
    # user's own question) took its answer for someone else's and gave it almost no confidence.
    for heading in ("Kitchen renovation: budget is twenty thousand", "Notes for the Lisbon trip: we fly TAP",
                    "Change of plan for Lisbon: we go in May", "The user talked about her family: two sisters"):
        assert S.speakers(heading) == () and not S.is_dialogue_line(heading), heading
    for line, who in (("user: i moved", "user"), ("Caroline: hey", "caroline"), ("Dr Patel: two a day", "dr patel"),
                      ("marco: yo", "marco"), ("Mary Ann: hi", "mary ann"), ("Speaker 1: hello", "speaker 1")):
        assert S.speakers(line) == (who,) and S.is_dialogue_line(line), line


def test_a_one_word_label_of_one_passage_is_a_heading_until_a_second_passage_carries_it() -> None:
    index = PassageIndex("test", 2)
    vec = np.asarray([[1.0, 0.0]] * 3, dtype=np.float32)
    index.add(["a", "b", "c"], ["user: i chose the quartz worktop", "Kitchen: we swapped the quartz for oak",
                                "Notes: call the plumber\nabout the sink"], [""] * 3, [1.0, 2.0, 3.0],
              [1.0, 2.0, 3.0], vec, [True] * 3)
    assert index.speakers == [("user",), (), ()] and index.about_the_user(1) and index.about_the_user(2)
    assert "kitchen" not in index.known_speakers and not index.dialogue[1]
    index.add(["d"], ["Kitchen: is the tap fitted yet"], [""], [4.0], [4.0], vec[:1], [True])
    assert index.speakers[1] == index.speakers[3] == ("kitchen",) and not index.about_the_user(1)
    assert "kitchen" in index.known_speakers and bool(index.dialogue[1])
    index.add(["e"], ["Caroline: hi\nMelanie: hello"], [""], [5.0], [5.0], vec[:1], [True])
    assert index.speakers[4] == ("caroline", "melanie")  # lines of two speakers: names, once each


def test_a_question_about_what_was_arranged_asks_about_now() -> None:
    for question in ("Which venue did we book for mum's seventieth?", "What worktop did we choose?",
                     "What did we decide for the cake?", "Which builder did we go with?",
                     "What did I tell you the keypad number is?"):
        assert not T.asks_about_the_past(question), question
    for question in ("What did I say the budget was?", "Where did I live before?", "What did I have for dinner?",
                     "Which hotel did we book originally?"):
        assert T.asks_about_the_past(question), question


def test_first_before_a_word_is_an_occasion_not_the_past() -> None:
    for question in ("what time is half on first night", "What time is our first game at the tournament?",
                     "When are the first sketches due for Harbour?"):
        assert not T.asks_about_the_past(question), question
    for question in ("Where did I first swim in open water?", "what did I like at first", "what was my first car"):
        assert T.asks_about_the_past(question), question


def test_a_member_who_speaks_once_in_a_group_chat_is_a_speaker() -> None:
    vec = np.eye(5, 4, dtype=np.float32)
    index = PassageIndex("m", 4)
    texts = ["Marcus: merch table: shirts $20", "Dev: setlist draft", "Marcus: rehearsal stays tuesdays",
             "Lena: can't do merch on the 18th", "Dev: Priya confirmed for merch"]
    at = [1.0, 2.0, 3.0, 4.0, 5.0]
    index.add(list("abcde"), texts, [""] * 5, at, at, vec, [True] * 5)
    assert index.speakers[3] == ("lena",) and not index.about_the_user(3)
    # a note's one-off heading among the user's lines stays a heading
    notes = PassageIndex("m", 4)
    notes.add(list("abc"), ["user: hi", "Kitchen: we swapped the quartz", "i paid the deposit"], [""] * 3,
              [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], vec[:3], [True] * 3)
    assert notes.speakers[1] == () and notes.about_the_user(1)


def test_a_named_sender_whose_lines_all_address_the_listener_is_searched_without_error() -> None:
    # nothing of their own to compare with others' lines ("Xfinity: Your technician visit is confirmed …")
    from voice_letta.agent.recall.vector import SearchWindow

    texts = ["Ana: the dentist moved to friday", "Xfinity: Your technician visit is confirmed for Tue",
             "Xfinity: your router ships monday", "Ana: ok"]
    vec = np.eye(4, 8, dtype=np.float32)
    index = PassageIndex("m", 8)
    at = [1.0, 2.0, 3.0, 4.0]
    index.add(list("abcd"), texts, [""] * 4, at, at, vec, [True] * 4)
    found = index.rank(vec[1:2], ["When is the xfinity technician coming?"], SearchWindow(None, None), limit=3,
                       speaker="xfinity")
    assert found
