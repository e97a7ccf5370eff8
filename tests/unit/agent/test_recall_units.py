"""The sans-I/O parts of recall: BM25 with context, generic queries, relative time windows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.keyword import KeywordIndex
from voice_letta.agent.recall.timewords import window_for

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
