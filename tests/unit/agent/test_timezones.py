"""Days in memory questions, the dates search_memory shows and the prompt's clock are in the agent's time zone.

Pure functions with ``now`` passed in: a user in Los Angeles (UTC-8 in December) and one in Tonga (UTC+13)
asking around their own midnight, when the UTC date is another one.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from voice_letta.agent.models import AgentState
from voice_letta.agent.prompt import volatile_note
from voice_letta.agent.recall.results import when
from voice_letta.agent.recall.timewords import dated_ranges, names_no_topic, part_of_day, window_for
from voice_letta.agent.zones import canonical_zone

LA, TONGA = "America/Los_Angeles", "Pacific/Tongatapu"


def at(tz: str, *args: int) -> float:
    return datetime(*args, tzinfo=ZoneInfo(tz)).timestamp()  # type: ignore[misc]


def local_day(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(("tz", "now"), [
    (LA, at(LA, 2026, 12, 5, 23, 40)),  # Saturday 23:40 in LA = Sunday 07:40 UTC
    (LA, at(LA, 2026, 12, 6, 0, 20)),  # Sunday 00:20 in LA = Sunday 08:20 UTC
    (TONGA, at(TONGA, 2026, 12, 6, 0, 20)),  # Sunday 00:20 in Tonga = Saturday 11:20 UTC
    (TONGA, at(TONGA, 2026, 12, 5, 23, 40)),  # Saturday 23:40 in Tonga = Saturday 10:40 UTC
])
def test_yesterday_is_the_day_before_the_users_own_today(tz: str, now: float) -> None:
    today = datetime.fromtimestamp(now, ZoneInfo(tz)).replace(hour=0, minute=0)
    w = window_for("What did I tell you yesterday?", now=now, tz=tz)
    assert w is not None and w.start_at is not None and w.end_at is not None
    assert local_day(w.start_at, tz) == (today.replace(day=today.day - 1)).strftime("%Y-%m-%d 00:00")
    assert local_day(w.end_at, tz).endswith("23:59")
    assert w.end_at - w.start_at == pytest.approx(86400, abs=1)
    utc = window_for("What did I tell you yesterday?", now=now)
    assert utc is not None and utc.start_at != w.start_at  # UTC's yesterday is another span of time

    morning = window_for("what did I say this morning?", now=now, tz=tz)
    assert morning is not None and local_day(morning.start_at or 0, tz) == today.strftime("%Y-%m-%d 00:00")
    four = window_for("What did I jot down four days ago?", now=now, tz=tz)
    assert four is not None and local_day(four.start_at or 0, tz) == today.replace(
        day=today.day - 4).strftime("%Y-%m-%d 00:00")


def test_last_tuesday_is_counted_from_the_users_weekday() -> None:
    # Sunday 00:20 in Tonga is still Saturday in UTC: "last tuesday" is 5 days back there, 4 in UTC
    now = at(TONGA, 2026, 12, 6, 0, 20)
    w = window_for("what did I say last tuesday?", now=now, tz=TONGA)
    assert w is not None and local_day(w.start_at or 0, TONGA) == "2026-12-01 00:00"
    assert datetime.fromtimestamp(w.start_at or 0, ZoneInfo(TONGA)).strftime("%A") == "Tuesday"
    # Saturday 23:40 in LA is Sunday in UTC: "on sunday" is last Sunday for the user, not today
    now = at(LA, 2026, 12, 5, 23, 40)
    w = window_for("what did I say on sunday?", now=now, tz=LA)
    assert w is not None and local_day(w.start_at or 0, LA) == "2026-11-29 00:00"


def test_a_day_across_a_daylight_saving_change_is_midnight_to_midnight() -> None:
    now = at(LA, 2026, 11, 2, 9, 0)  # Monday; Sunday 1 November 2026 had 25 hours in LA
    w = window_for("what did I tell you yesterday?", now=now, tz=LA)
    assert w is not None and w.start_at == at(LA, 2026, 11, 1) and (w.end_at or 0) == pytest.approx(
        at(LA, 2026, 11, 2) - 1e-3)
    assert (w.end_at or 0) - (w.start_at or 0) == pytest.approx(25 * 3600, abs=1)


def test_hours_ago_do_not_depend_on_the_zone() -> None:
    now = at(TONGA, 2026, 12, 6, 0, 20)
    assert window_for("what did I say an hour ago?", now=now, tz=TONGA) == window_for("what did I say an hour ago?",
                                                                                       now=now)


def test_a_calendar_date_is_the_users_day() -> None:
    [(lo, hi)] = dated_ranges("what did I say on 3 October 2026?", TONGA)
    assert lo == at(TONGA, 2026, 10, 3) - 2 * 86400 and hi == at(TONGA, 2026, 10, 4) + 8 * 86400


def test_dates_shown_to_the_model_are_the_users() -> None:
    now = at(LA, 2026, 12, 5, 23, 40)  # Saturday night in LA, Sunday in UTC
    said = at(LA, 2026, 12, 5, 0, 10)  # Saturday just after midnight in LA: "earlier today" there
    assert when(said, now, LA) == "earlier today"
    assert when(said, now, LA, clock=True) == "earlier today at 00:10"  # on the user's clock
    assert when(said, now) == "yesterday"  # UTC: Saturday 08:10 vs Sunday 07:40
    said = at(TONGA, 2026, 12, 2, 23, 50)  # Wednesday 23:50 in Tonga, Wednesday 10:50 UTC
    now = at(TONGA, 2026, 12, 6, 0, 20)  # Sunday in Tonga, Saturday 11:20 UTC
    assert when(said, now, TONGA) == "4 days ago (Wednesday, December 2)"
    assert when(said, now) == "3 days ago (Wednesday, December 2)"


def test_the_prompt_clock_is_the_users_with_its_zone() -> None:
    now = at(LA, 2026, 12, 5, 23, 40)
    assert volatile_note(now, LA) == ("<context>Current time: Saturday 2026-12-05 23:40 America/Los_Angeles "
                                      "(UTC-08:00).</context>")
    assert volatile_note(now, TONGA) == ("<context>Current time: Sunday 2026-12-06 20:40 Pacific/Tongatapu "
                                         "(UTC+13:00).</context>")
    utc = "<context>Current time: Sunday 2026-12-06 07:40 UTC.</context>"
    assert volatile_note(now) == volatile_note(now, "UTC") == utc


def test_zone_names_are_checked_and_spelt_as_the_database_does() -> None:
    assert canonical_zone("america/new_york") == "America/New_York"
    assert AgentState(id="a", name="n", timezone="pacific/auckland").timezone == "Pacific/Auckland"
    assert AgentState(id="a", name="n").timezone == "UTC"
    for bad in ("PST8", "Mars/Olympus", "+02:00", "../etc/passwd", "/etc/localtime", "localtime", "", "x" * 80):
        with pytest.raises((ValueError, ValidationError)):
            AgentState(id="a", name="n", timezone=bad)


def test_verbs_of_noting_are_no_topic_for_a_window() -> None:
    from voice_letta.agent.recall.timewords import names_no_topic

    for q in ("What did I jot down four days ago?", "What did I note yesterday?", "Anything I noted on Tuesday?",
              "What did we go over last week?", "What did I bring up on Monday?", "What did I tell you yesterday?",
              "What did I text you yesterday?", "What did I email you on Tuesday?"):
        assert names_no_topic(q), q
    for q in ("What did I write about the boiler yesterday?", "What did I say about my sister yesterday?",
              "What did we sort out three days ago?", "What did I note about the dentist on Monday?",
              "What did I text you about the landlord yesterday?"):
        assert not names_no_topic(q), q


def test_the_sleeptime_transcript_is_dated_by_the_users_days() -> None:
    from voice_letta.agent.sleeptime_prompt import Line, Transcript, build_request_text

    t = at(LA, 2026, 12, 5, 23, 50)
    tr = Transcript((Line("user: the dentist is tomorrow at 9", t, 1), Line("assistant: Good luck!", t + 60, 2)),
                    (Line("user: and my sister visits next friday", t + 1200, 3),))  # 00:10 on Sunday in LA
    text = build_request_text(tr, "eviction", keep_messages=4, tz=LA, now=t + 1300)
    assert ("(said on Saturday 5 December 2026)\n0. user: the dentist is tomorrow at 9\n1. assistant: Good luck!"
            in text)
    assert "(said on Sunday 6 December 2026)\n2. user: and my sister visits next friday" in text
    assert "Now it is Sunday 6 December 2026, 00:11 for the user (America/Los_Angeles)." in text
    assert "(said on" not in build_request_text(tr, "eviction", keep_messages=4)  # no zone given: as before


def test_a_night_runs_past_midnight() -> None:
    late = at(LA, 2026, 12, 6, 1, 30)  # Sunday 01:30 in Los Angeles
    w = window_for("what did I tell you last night?", now=late, tz=LA)
    assert w is not None and (w.start_at, w.end_at) == (at(LA, 2026, 12, 5, 17), late)
    assert window_for("what did I say tonight?", now=late, tz=LA) == w  # the evening that just went by
    morning = at(LA, 2026, 12, 6, 10, 0)
    w = window_for("what did I tell you last night?", now=morning, tz=LA)
    assert w is not None and (w.start_at, w.end_at) == (at(LA, 2026, 12, 5, 17), at(LA, 2026, 12, 6, 5))
    w = window_for("what did I say tonight?", now=at(LA, 2026, 12, 5, 22), tz=LA)
    assert w is not None and w.start_at == at(LA, 2026, 12, 5)  # in the evening: today


def test_a_date_without_a_year_is_its_most_recent_day() -> None:
    now = at(TONGA, 2026, 12, 6, 0, 20)  # still 5 December in UTC
    for q in ("what did I tell you on December 3rd?", "what did I say on 3 december?", "What did I say on the 3rd?"):
        w = window_for(q, now=now, tz=TONGA)
        assert w is not None and w.start_at == at(TONGA, 2026, 12, 3), q
    w = window_for("what did I say on the 9th?", now=now, tz=TONGA)
    assert w is not None and w.start_at == at(TONGA, 2026, 11, 9)  # last month's
    w = window_for("what did I mention on 24 december?", now=now, tz=TONGA)
    assert w is not None and w.start_at == at(TONGA, 2025, 12, 24)  # last year's
    w = window_for("what did I tell you on 6 december?", now=now, tz=TONGA)
    assert w is not None and w.start_at == at(TONGA, 2026, 12, 6)  # today in Tonga (not yet in UTC)
    assert window_for("what is happening on december 24th?", now=now, tz=TONGA) is None  # a plan, not the past
    assert window_for("what did I say on 3 december 2025?", now=now, tz=TONGA) is None  # a year: dated_ranges
    assert window_for("what did I say on february 30th?", now=now, tz=TONGA) is None


def test_a_date_is_no_topic_either() -> None:
    from voice_letta.agent.recall.timewords import names_no_topic

    for q in ("What did I tell you on December 3rd?", "what did I say on 3 december?", "What did I note on the 3rd?"):
        assert names_no_topic(q), q
    assert not names_no_topic("What did I say about the fair on the 3rd?")


def test_this_month_and_a_fortnight() -> None:
    now = at(TONGA, 2026, 12, 6, 0, 20)  # 5 December in UTC, 6 December in Tonga
    w = window_for("what did I tell you earlier this month?", now=now, tz=TONGA)
    assert w is not None and (w.start_at, w.end_at) == (at(TONGA, 2026, 12, 1), at(TONGA, 2026, 12, 7) - 1e-3)
    assert window_for("what did I say a fortnight ago?", now=now, tz=TONGA) == window_for(
        "what did I say two weeks ago?", now=now, tz=TONGA)


def test_this_weekend_is_not_this_week() -> None:
    sunday = at(LA, 2026, 12, 6, 10, 0)
    wednesday = at(LA, 2026, 12, 9, 10, 0)
    for now, saturday in ((sunday, at(LA, 2026, 12, 5)), (wednesday, at(LA, 2026, 12, 5))):
        for q in ("what did I tell you this weekend?", "what did we talk about over the weekend?",
                  "what did I say at the weekend?", "what did I mention on the weekend?"):
            w = window_for(q, now=now, tz=LA)
            assert w is not None and (w.start_at, w.end_at) == (saturday, at(LA, 2026, 12, 7) - 1e-3), q
    assert window_for("what am I doing this weekend?", now=wednesday, tz=LA) is None  # a plan
    assert window_for("who is coming at the weekend?", now=wednesday, tz=LA) is None


def test_the_hosts_zone_for_serves_first_agent(tmp_path: object) -> None:
    from pathlib import Path

    from voice_letta.agent.zones import host_zone

    d = Path(str(tmp_path))
    link = d / "localtime"
    link.symlink_to("/usr/share/zoneinfo/America/Los_Angeles")
    utc_link = d / "utc"
    utc_link.symlink_to("/usr/share/zoneinfo/Etc/UTC")
    debian = d / "timezone"
    debian.write_text("Europe/Berlin\n")
    nothing = str(d / "missing")
    assert host_zone({"TZ": ":Pacific/Tongatapu"}, str(link), str(debian)) == "Pacific/Tongatapu"
    assert host_zone({"TZ": "EST+5EDT"}, str(link), str(debian)) == "America/Los_Angeles"  # a POSIX rule: skipped
    assert host_zone({}, nothing, str(debian)) == "Europe/Berlin"
    assert host_zone({}, str(utc_link), nothing) == "UTC"
    assert host_zone({}, nothing, nothing) == "UTC"


def test_a_past_verb_of_noting_makes_a_weekday_or_a_date_a_time_said() -> None:
    now = at(LA, 2026, 12, 6, 10, 0)
    for q in ("Anything I noted on Thursday?", "Something I jotted down on the 3rd?", "What I wrote on 3 December"):
        w = window_for(q, now=now, tz=LA)
        assert w is not None and w.start_at == at(LA, 2026, 12, 3), q


def _part(question: str, now: float, tz: str) -> tuple[str, str, str] | None:
    window = window_for(question, now=now, tz=tz)
    assert window is not None
    found = part_of_day(question, window, tz=tz, now=now)
    if found is None:
        return None
    assert found[1].start_at is not None and found[1].end_at is not None
    return found[0], local_day(found[1].start_at, tz), local_day(found[1].end_at + 1e-3, tz)


def test_the_part_of_a_day_is_its_hours_on_the_users_clock() -> None:
    now = at(LA, 2026, 12, 6, 21, 30)  # Sunday 21:30 in LA = Monday 05:30 UTC
    assert _part("What did I say this morning?", now, LA) == ("morning", "2026-12-06 05:00", "2026-12-06 12:00")
    assert _part("what did i tell you yesterday afternoon", now, LA) == (
        "afternoon", "2026-12-05 12:00", "2026-12-05 17:00")
    assert _part("What did I say on Tuesday evening?", now, LA) == ("evening", "2026-12-01 17:00", "2026-12-02 00:00")
    # a night runs to 05:00 the next day, like "last night": its small hours are not the next morning's
    assert _part("What did I say tonight?", now, LA) == ("night", "2026-12-06 17:00", "2026-12-07 05:00")
    assert _part("What did I say on Friday night?", now, LA) == ("night", "2026-12-04 17:00", "2026-12-05 05:00")
    now = at(TONGA, 2026, 12, 6, 9, 0)  # Sunday 09:00 in Tonga = Saturday 20:00 UTC
    assert _part("What did I say this morning?", now, TONGA) == ("morning", "2026-12-06 05:00", "2026-12-06 12:00")
    # a day across a daylight-saving change: wall-clock hours (Sunday 1 November 2026, 25 hours in LA)
    now = at(LA, 2026, 11, 2, 10, 0)
    assert _part("what did I say yesterday evening", now, LA) == ("evening", "2026-11-01 17:00", "2026-11-02 00:00")
    assert _part("what did I say yesterday morning", now, LA) == ("morning", "2026-11-01 05:00", "2026-11-01 12:00")
    assert _part("what did I say yesterday night", now, LA) == ("night", "2026-11-01 17:00", "2026-11-02 05:00")


def test_no_part_when_none_is_named_or_the_window_is_no_day() -> None:
    now = at(LA, 2026, 12, 6, 21, 30)
    assert _part("What did I tell you yesterday?", now, LA) is None
    assert _part("What did I say last night?", now, LA) is None  # already the hours it names (17:00 to 05:00)
    assert _part("What did I say this week about my mornings?", now, LA) is None
    small_hours = at(LA, 2026, 12, 7, 1, 30)
    assert _part("What did I say tonight?", small_hours, LA) is None  # the evening just gone, already its hours


def test_this_morning_in_the_small_hours_is_the_hours_gone_by() -> None:
    # asked at 03:10 the morning's hours (from 05:00) have not come: "this morning" is since midnight (was an empty
    # "Nothing was said in the morning (05:00 to 12:00 …)" heading, then the rest of the day)
    small_hours = at(LA, 2026, 12, 7, 3, 10)
    assert _part("What did I tell you this morning?", small_hours, LA) == (
        "morning", "2026-12-07 00:00", "2026-12-07 12:00")
    assert _part("What did I tell you this morning?", at(LA, 2026, 12, 7, 5, 0), LA) == (
        "morning", "2026-12-07 05:00", "2026-12-07 12:00")
    assert _part("What did I say yesterday morning?", small_hours, LA) == (  # another day's morning: its hours
        "morning", "2026-12-06 05:00", "2026-12-06 12:00")


@pytest.mark.parametrize(("question", "day"), [
    ("what did i say a couple days ago", "2026-12-04 00:00"),  # no "of"
    ("what did we talk about two days back", "2026-12-04 00:00"),
    ("what did i tell you twelve days ago", "2026-11-24 00:00"),
    ("what did i say on the third", "2026-12-03 00:00"),  # voice transcripts spell ordinals out
    ("what did i tell you on december third", "2026-12-03 00:00"),
    ("what did i mention on the twenty third", "2026-11-23 00:00"),
    ("what did i say on the third of november", "2026-11-03 00:00"),
])
def test_spoken_numbers_and_ordinals_name_a_day(question: str, day: str) -> None:
    now = at(LA, 2026, 12, 6, 15, 30)  # Sunday
    w = window_for(question, now=now, tz=LA)
    assert w is not None and local_day(w.start_at or 0, LA) == day, question
    assert (w.end_at or 0) - (w.start_at or 0) == pytest.approx(86400, abs=1)
    assert names_no_topic(question), question  # listed, not ranked by "twelve" or "third"


def test_the_other_night_is_like_the_other_day() -> None:
    now = at(LA, 2026, 12, 6, 15, 30)
    assert window_for("what did i tell you the other night", now=now, tz=LA) == window_for(
        "what did i tell you the other day", now=now, tz=LA)
    assert not names_no_topic("what did i say about my first car yesterday")  # a topic is still one


@pytest.mark.parametrize("question", [
    "What did I forward you three days ago?", "what did i dictate on monday", "what did i vent about last night",
    "what did i fill you in on yesterday", "what came up on wednesday", "what did i keep for later on tuesday",
    "summarise what i told you yesterday", "what did i tell you on the phone yesterday",
    "what did i say in my voice note yesterday"])
def test_ways_of_handing_things_over_are_no_topic(question: str) -> None:
    assert names_no_topic(question)


def test_a_topic_beside_them_still_is_one() -> None:
    assert not names_no_topic("what did i complain about the boiler on tuesday")
    assert not names_no_topic("what did i say about my new car yesterday")


def test_since_a_time_runs_to_now() -> None:
    now = at(LA, 2026, 12, 6, 15, 30)  # Sunday
    w = window_for("what have I told you since monday?", now=now, tz=LA)
    assert w is not None and local_day(w.start_at or 0, LA) == "2026-11-30 00:00" and w.end_at == now
    w = window_for("anything new since yesterday?", now=now, tz=LA)
    assert w is not None and local_day(w.start_at or 0, LA) == "2026-12-05 00:00" and w.end_at == now
    w = window_for("what did I say yesterday?", now=now, tz=LA)
    assert w is not None and local_day((w.end_at or 0) + 1e-3, LA) == "2026-12-06 00:00"  # no "since": the day


def test_a_since_question_names_no_topic() -> None:
    for q in ("What have I told you since Monday?", "Anything new since yesterday?", "What did I tell you since monday",
              "Did I tell you anything since Wednesday?", "What have I mentioned since last Tuesday?",
              "What else have I said since yesterday?", "What have I told you so far this week?"):
        assert names_no_topic(q), q
    assert not names_no_topic("What have I said about the vet since Monday?")  # a topic is still ranked by


@pytest.mark.parametrize(("question", "start"), [
    ("What did I say over the past few days?", "2026-12-03 00:00"),
    ("what did i tell you in the last couple of days", "2026-12-04 00:00"),
    ("What have I mentioned in the last three days?", "2026-12-03 00:00"),
    ("What did I mention over the past week?", "2026-11-29 00:00"),  # seven days to now, not last Monday-Sunday
    ("what did I say in the past two weeks", "2026-11-22 00:00"),
    ("What did I say in the past 24 hours?", "2026-12-05 15:30"),
    ("what did i say in the last few hours", "2026-12-06 12:30"),
])
def test_the_last_few_days_run_to_now(question: str, start: str) -> None:
    now = at(LA, 2026, 12, 6, 15, 30)  # Sunday
    w = window_for(question, now=now, tz=LA)
    assert w is not None and w.start_at is not None and w.end_at == now, question
    assert local_day(w.start_at, LA) == start, question
    assert names_no_topic(question), question


def test_the_week_and_the_weekend_before_last() -> None:
    now = at(LA, 2026, 12, 6, 15, 30)  # Sunday: last week is 23-29 November
    w = window_for("what did i tell you the week before last", now=now, tz=LA)
    assert w is not None and w.start_at == at(LA, 2026, 11, 16) and w.end_at is not None
    assert local_day(w.end_at + 1e-3, LA) == "2026-11-23 00:00"
    w = window_for("What did I say the weekend before last?", now=now, tz=LA)
    assert w is not None and w.start_at == at(LA, 2026, 11, 21)
    assert window_for("What did I say last week?", now=now, tz=LA) == window_for("What did I say this past week?",
                                                                              now=now, tz=LA)
    assert window_for("Is the move in the last week of june?", now=now, tz=LA) is None  # a date, not a span
