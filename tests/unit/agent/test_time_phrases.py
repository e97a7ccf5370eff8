"""More ways people name a time in a memory question (recall/timewords.py, recall/holidays.py): holidays, "two fridays
ago", "the night before last", "a little while ago", "a month ago", "at lunchtime", "this time last week". Pure
functions with ``now`` passed in, a user in Los Angeles."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from voice_letta.agent.recall.timewords import names_no_topic, part_of_day, tenseless_day, window_for

LA = "America/Los_Angeles"


def at(*args: int) -> float:
    return datetime(*args, tzinfo=ZoneInfo(LA)).timestamp()  # type: ignore[misc]


def day(ts: float | None) -> str:
    return datetime.fromtimestamp(ts or 0, ZoneInfo(LA)).strftime("%Y-%m-%d %H:%M")


NOW = at(2026, 12, 6, 15, 30)  # Sunday afternoon


@pytest.mark.parametrize(("question", "start", "end"), [
    ("What did I tell you over Christmas?", "2025-12-24 00:00", "2025-12-26 23:59"),  # not yet this year
    ("what did i say on christmas eve", "2025-12-24 00:00", "2025-12-24 23:59"),
    ("What did I tell you at New Year?", "2025-12-31 00:00", "2026-01-01 23:59"),
    ("What did I say on New Year's Day?", "2026-01-01 00:00", "2026-01-01 23:59"),
    ("What did I mention at Easter?", "2026-04-03 00:00", "2026-04-06 23:59"),  # Good Friday to Easter Monday 2026
    ("What did I tell you on Thanksgiving?", "2026-11-26 00:00", "2026-11-27 23:59"),
    ("what did i say on halloween", "2026-10-31 00:00", "2026-10-31 23:59"),
    ("What did I tell you two Fridays ago?", "2026-11-27 00:00", "2026-11-27 23:59"),
    ("What did I mention the Friday before last?", "2026-11-27 00:00", "2026-11-27 23:59"),
    ("what did i say three tuesdays ago", "2026-11-17 00:00", "2026-11-17 23:59"),
    ("What did I say the night before last?", "2026-12-04 17:00", "2026-12-05 05:00"),
    ("What did I tell you a little while ago?", "2026-12-06 12:30", "2026-12-06 15:30"),
    ("what did i say not long ago", "2026-12-06 12:30", "2026-12-06 15:30"),
    ("What did I tell you an hour or so ago?", "2026-12-06 13:30", "2026-12-06 15:30"),
    ("What did I say a month ago?", "2026-10-30 00:00", "2026-11-13 23:59"),
    ("What did we talk about this time last week?", "2026-11-28 00:00", "2026-11-30 23:59"),
])
def test_a_named_time_is_a_window(question: str, start: str, end: str) -> None:
    w = window_for(question, now=NOW, tz=LA)
    assert w is not None, question
    assert (day(w.start_at), day(w.end_at)) == (start, end), question
    assert names_no_topic(question), question  # listed, not ranked by "christmas" or "while"


@pytest.mark.parametrize("question", [
    "What are we doing for Christmas?",  # a plan, not a time something was said
    "Where is the Easter egg hunt?",
    "What did I tell you a while ago?",  # a bare "a while" may be weeks: no window
    "Is the party on Halloween?",
])
def test_a_plan_or_a_vague_time_is_no_window(question: str) -> None:
    assert window_for(question, now=NOW, tz=LA) is None


def test_lunchtime_is_a_part_of_the_day() -> None:
    w = window_for("What did I tell you at lunchtime?", now=NOW, tz=LA)
    assert w is not None and day(w.start_at) == "2026-12-06 00:00"
    part = part_of_day("What did I tell you at lunchtime?", w, tz=LA)
    assert part is not None and part[0] == "lunchtime" and (day(part[1].start_at), day(part[1].end_at)) == (
        "2026-12-06 11:00", "2026-12-06 14:59")
    w = window_for("what did i say yesterday at lunch", now=NOW, tz=LA)
    assert w is not None and day(w.start_at) == "2026-12-05 00:00"
    assert names_no_topic("What did I tell you at lunchtime?")


def test_a_topic_with_these_times_still_ranks() -> None:
    assert not names_no_topic("What did I say about the boiler a little while ago?")
    assert not names_no_topic("What did I tell you about the turkey over Christmas?")


@pytest.mark.parametrize("question", [
    "What did people post on Thursday?", "What mail came in last week?", "What was said in the channel last week?",
    "What did everyone say in the group chat yesterday?", "What got posted in the thread on Monday?",
    "What was in my inbox on Tuesday?", "What did anyone reply yesterday?", "What voicemails did I get yesterday?",
    "What came through on WhatsApp yesterday?", "What DMs did I receive this morning?",
])
def test_the_medium_and_who_said_it_are_no_topic(question: str) -> None:
    # in a chat export, a thread or an inbox every line is a post, a mail, a message: the window is listed
    assert window_for(question, now=NOW, tz=LA) is not None, question
    assert names_no_topic(question), question


def test_a_topic_sent_by_a_medium_still_ranks() -> None:
    assert not names_no_topic("What did people post about the tournament on Thursday?")
    assert not names_no_topic("What mail came from the landlord last week?")


@pytest.mark.parametrize(("question", "start", "end"), [
    ("What did I say earlier in the week?", "2026-11-30 00:00", "2026-12-06 23:59"),  # was today only
    ("What did I tell you at the start of the week?", "2026-11-30 00:00", "2026-12-06 23:59"),
    ("What did I say two nights ago?", "2026-12-04 17:00", "2026-12-05 05:00"),
    ("What came in overnight?", "2026-12-05 17:00", "2026-12-06 05:00"),
    ("What did I say in the small hours?", "2026-12-05 17:00", "2026-12-06 05:00"),
    ("Anything from the weekend?", "2026-12-05 00:00", "2026-12-06 23:59"),
    ("What did I say a fortnight ago?", "2026-11-19 00:00", "2026-11-25 23:59"),
])
def test_more_spoken_times(question: str, start: str, end: str) -> None:
    w = window_for(question, now=NOW, tz=LA)
    assert w is not None and (day(w.start_at), day(w.end_at)) == (start, end), question
    assert names_no_topic(question), question


def test_overnight_before_a_noun_is_no_time() -> None:
    assert window_for("What did I pack in the overnight bag?", now=NOW, tz=LA) is None


@pytest.mark.parametrize(("question", "start", "end"), [
    ("Summarise Tuesday's messages", "2026-12-01 00:00", "2026-12-01 23:59"),  # what came by a medium was said
    ("Any new posts since Thursday?", "2026-12-03 00:00", "2026-12-06 15:30"),
    ("What's the latest in the channel since Monday?", "2026-11-30 00:00", "2026-12-06 15:30"),
    ("Give me a rundown of yesterday's chat", "2026-12-05 00:00", "2026-12-05 23:59"),
    ("What did I hear from people last week?", "2026-11-23 00:00", "2026-11-29 23:59"),
    ("What did I miss in the group chat yesterday?", "2026-12-05 00:00", "2026-12-05 23:59"),
    ("What was on my mind yesterday?", "2026-12-05 00:00", "2026-12-05 23:59"),
    ("Anything important from yesterday?", "2026-12-05 00:00", "2026-12-05 23:59"),
])
def test_requests_for_what_came_in(question: str, start: str, end: str) -> None:
    w = window_for(question, now=NOW, tz=LA)
    assert w is not None and (day(w.start_at), day(w.end_at)) == (start, end), question
    assert names_no_topic(question), question


def test_a_weekday_plan_is_still_no_window() -> None:
    assert window_for("What time is Tuesday's meeting?", now=NOW, tz=LA) is None
    assert not names_no_topic("What's on my shopping list from yesterday?")


@pytest.mark.parametrize(("question", "start"), [
    ("What I say on Tuesday?", "2026-12-01 00:00"),  # no auxiliary (non-native, dictated): asked of the past
    ("what i tell you monday", "2026-11-30 00:00"),
    ("what we talk about on friday", "2026-12-04 00:00"),
])
def test_a_question_without_its_auxiliary_asks_of_the_past(question: str, start: str) -> None:
    w = window_for(question, now=NOW, tz=LA)
    assert w is not None and day(w.start_at) == start, question
    assert names_no_topic(question.replace(" about", "")), question


@pytest.mark.parametrize("question", [
    "What do I say at the meeting on Tuesday?",  # keeps its "do": a plan
    "What should I tell the dentist on Thursday?",
])
def test_a_plan_of_what_to_say_is_no_window(question: str) -> None:
    assert window_for(question, now=NOW, tz=LA) is None


@pytest.mark.parametrize(("question", "start"), [
    ("thursday's memo", "2026-12-03 00:00"),  # what was written that day, named by the day (test16's dictated memos)
    ("Read me Tuesday's voice memo", "2026-12-01 00:00"),
    ("the note from monday", "2026-11-30 00:00"),
    ("What was in the message on Friday?", "2026-12-04 00:00"),
])
def test_a_thing_written_named_by_its_weekday_is_that_day(question: str, start: str) -> None:
    w = window_for(question, now=NOW, tz=LA)
    assert w is not None and day(w.start_at) == start, question
    assert names_no_topic(question), question


@pytest.mark.parametrize("question", [
    "What time is Tuesday's meeting?",  # a plan named by its day, as before
    "Is there a note for Friday's delivery?",
    "What should I write in Thursday's email?",
])
def test_a_plan_named_by_its_weekday_is_still_no_window(question: str) -> None:
    assert window_for(question, now=NOW, tz=LA) is None, question


@pytest.mark.parametrize(("question", "weekday", "start"), [
    ("Anything on Saturday?", "saturday", "2026-12-05 00:00"),  # yesterday, Sunday's yesterday
    ("And Friday?", "friday", "2026-12-04 00:00"),
    ("anything from sunday", "sunday", "2026-11-29 00:00"),  # today is Sunday: the one before
    ("What happened Saturday?", None, None),  # a verb: window_for reads its tense
    ("Is the dentist on Saturday?", None, None),  # present tense: a plan
    ("Anything for Saturday?", None, None),  # "for" a day is a plan
    ("Anything on saturdays?", None, None),  # a habit
    ("Anything on Saturday or Sunday?", None, None),
])
def test_a_question_that_is_only_a_weekday_has_no_tense(question: str, weekday: str | None, start: str | None
                                                        ) -> None:
    """No verb, so no tense ("Anything on Saturday?"): the last such day is its window, and the search lists what is
    planned for that weekday before what was said on it (test16's care log: the walker delivered on Saturday)."""
    found = tenseless_day(question, now=NOW, tz=LA)
    assert (found and found[0], found and day(found[1].start_at)) == (weekday, start)
    if found is not None:
        assert window_for(question, now=NOW, tz=LA) is None and names_no_topic(question)
