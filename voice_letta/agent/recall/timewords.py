"""Relative times in a question ("yesterday", "three days ago", "last tuesday", "last week") as a search window.

Sans-I/O: ``now`` is passed in. Days are calendar days in the agent's time zone (``tz``, an IANA name: "yesterday"
for a user in Los Angeles at 23:30 is the day before *their* today, whatever the UTC date is; ``agent/zones.py``);
a day is midnight to midnight on the local clock, so 23 or 25 hours long across a daylight-saving change. Only
clear, common phrasings are understood; anything else yields None and the search runs without a window (the model
may still pass one through ``start_minutes_ago``/``end_minutes_ago``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.foreign_times import english_times
from voice_letta.agent.recall.holidays import holiday_days
from voice_letta.agent.recall.vector import SearchWindow
from voice_letta.agent.zones import local, zone

_UNIT_TEXT = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
              "seventeen eighteen nineteen twenty")
_UNITS = _UNIT_TEXT.split()
_NUMBERS = {w: i for i, w in enumerate(_UNITS, 1)} | {"a": 1, "an": 1, "a couple of": 2, "couple of": 2,
                                                     "a couple": 2, "couple": 2, "a few": 3, "few": 3}
# "two days back", "a couple days ago" (no "of"), "twelve days ago": speech spells its numbers out
_N = r"(\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"
_AGO = r"\s+(?:ago|back)\b"
_DAYS_AGO = re.compile(rf"\b{_N}\s+days?{_AGO}")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# "last tuesday", or "on tuesday" in a question about the past ("what did I say on tuesday?", "what happened on
# wednesday?"): the most recent such day before today (1-7 days ago). A plural ("on sundays") is a habit, and a
# weekday in a question that is not in the past tense is a plan ("is the dentist on thursday?"): neither is a time
# something was said.
_WEEKDAY = re.compile(r"\b(last\s+)?(" + "|".join(WEEKDAYS) + r")\b(?!s)")
# "What I say on Tuesday?", "what i tell you monday": a question that drops its auxiliary (non-native English,
# dictation) with "what" + "I/we" + a verb of saying has no tense to read; nobody plans what *they* will say that way
# ("What do I say at Tuesday's meeting?" keeps its "do" and stays a plan). test14's only window miss, 8 lines.
_SAID = re.compile(r"\b(did|said|told|mentioned|talked|discussed|was|were|had|happened|went|came|got|saw|met|"
                   r"noted|wrote|jotted|asked|brought|shared|covered|texted|messaged|emailed|sent|"
                   r"what\s+(?:i|we)\s+(?:say|tell|write|mention|note|talk|text|send))\b")
_WEEKS_AGO = re.compile(rf"\b{_N}\s+weeks?{_AGO}")
_HOURS_AGO = re.compile(rf"\b{_N}\s+hours?(?:\s+or\s+(?:so|two))?{_AGO}")  # "an hour or so ago"
_MONTHS_AGO = re.compile(rf"\b{_N}\s+months?(?:\s+or\s+(?:so|two))?{_AGO}")
_NIGHTS_AGO = re.compile(rf"\b{_N}\s+nights?{_AGO}")  # "two nights ago": that evening to the small hours after it
# "overnight", "in the small hours": the night just gone (asked of the past only: "the overnight bag" is no time)
_OVERNIGHT = re.compile(r"\b(?:overnight(?!\s+[a-z])|(?:in\s+the\s+)?(?:small|early|wee)\s+hours)\b")
# "two fridays ago", "the friday before last": that weekday, a week further back
_WEEKDAYS_AGO = re.compile(rf"\b{_N}\s+({'|'.join(WEEKDAYS)})s{_AGO}")
_WEEKDAY_BEFORE_LAST = re.compile(rf"\b({'|'.join(WEEKDAYS)})\s+before\s+last\b")
# "a little while ago", "a bit ago", "not long ago": the last few hours (a bare "a while ago" may be weeks: no window)
_WHILE_AGO = re.compile(r"\b(?:a\s+(?:little|short)\s+while|a\s+(?:little\s+)?bit|not\s+(?:that\s+|so\s+)?long)"
                        r"\s+ago\b")
WHILE_AGO_S = 3 * 3600.0
_LAST_WEEK = re.compile(r"\b(?:last|past)\s+week\b(?!\s+of\b)")  # not "the last week of june": a date
# "in the last three days", "over the past few days", "the past 24 hours", "the last couple of weeks": a span up to now
_LAST_SPAN = re.compile(rf"\bthe\s+(?:last|past)\s+(?:{_N}\s+)?(days?|hours?|weeks?)\b(?!\s+of\b)")
_JUST_NOW = re.compile(r"\b(just now|a (?:minute|moment|second) ago|"
                       r"(?:a few|few|\d{1,2}|two|three|five|ten) minutes ago)\b")
JUST_NOW_S = 1800.0


# Verbs of saying and noting, beyond ``text.GENERIC_TERMS``' "tell", "say", "mention": with a time they ask what was
# said then, not about a topic ("What did I jot down four days ago?" had "jot" and "down" as its topic, so the
# window was ranked by them, and the day's only line, which shares neither, fell under the similarity floor: test4;
# "What did I text you yesterday?" found one of its two lines: QA, session 6). Spelled numbers and ordinals ("twelve
# days ago", "on the twenty third") and "back" ("two days back") say the time, like months. So do the ways a voice user
# hands things over or asks for them back ("forward", "dictate", "vent about", "fill you in", "on the phone",
# "summarise what I told you"): a window with only these is listed, not ranked by them. So do the words that open a
# window to now ("What have I told you since Monday?", "Anything new since yesterday?", "What else so far?"): ranked by
# "since", the window's lines fell under the similarity floor, 4 of 6 or none (QA from outside, session 7). So do the
# words that ask what came of a time ("What was decided last week?", "What did we agree on Monday?", "Any news from
# yesterday?", "the takeaways from Tuesday"): ranked by "decided", a week of meeting notes showed the one that
# says "Decisions:" (test7). So do the medium a thing came by and who said it, when they are all the question names
# ("What did people post on Thursday?", "What mail came in last week?", "What was said in the channel last week?",
# "What did everyone reply?"): in an exported chat, thread or inbox every line is a post, a mail or a message, so the
# word matches none better than another and ranking by it left out the window's lines that do not say it (test8).
# So do a group of people, a shared document or record and what was done to it ("What did the family send in the
# group yesterday?", "What was edited last week?", "What was in my chart last week?": test9, 4 windows missed).
_FRAME_TEXT = """
    post posts posted posting mail mails mailed inbox letter letters channel channels chat chats thread threads
    group groups groupchat dm dms pm pms voicemail voicemails voicenote voicenotes sms whatsapp slack signal telegram
    imessage messenger discord reply replies replied respond responded response comment comments commented
    people everyone everybody anyone anybody someone somebody folks others get got receive received arrive arrived
    take took fortnight overnight small early wee midnight midweek start beginning rundown roundup gist latest hear
    heard give show list miss missed mind important
    since else far
    jot jotted jotting down note notes noted noting write wrote written writing log logged put
    bring brought up go went over cover covered run ran through make made
    text texted texting message messaged email emailed send sent forward forwarded paste pasted read
    record recorded recording dictate dictated voice call phone
    ramble rambled vent vented rant ranted moan moaned complain complained
    update updated fill filled add added save saved store stored keep kept come came
    catch recap summary summarise summarize summarised summarized new later
    decide decided decision decisions agree agreed settle settled plan planned outcome outcomes
    takeaway takeaways highlight highlights news
    little while bit long gone time lunch lunchtime christmas xmas eve boxing halloween valentine
    valentines bonfire patrick good easter thanksgiving
    family team flatmates roommates housemates friends colleagues coworkers classmates
    server doc docs document documents file files sheet spreadsheet page wiki board feed timeline chart charts
    record records portal calendar diary journal notebook memo memos logbook ledger entry entries
    edit edits edited editing change changes changed revise revised revision revisions modify modified delete
    deleted remove removed
    january february march april may june july august september october november december back
    first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth
    fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth twenty thirty
"""
FRAME_TERMS: frozenset[str] = frozenset(T.stem(w) for w in (_FRAME_TEXT + _UNIT_TEXT).split())
_ORDINAL = re.compile(r"^\d{1,2}(?:st|nd|rd|th)$")  # "the 3rd": a date, like the month it is in


# A medium named by whose or what it is ("the flat chat", "the family group", "the work thread", "the trip doc", "the
# wedding planning sheets"): the one or two words before it are part of its name, not a topic (every line of that chat
# is in the flat chat).
_NAMED_MEDIUM = re.compile(r"\b(?:in|on|from|to|through|into|via|at|across)\s+(?:the\s+|my\s+|our\s+|your\s+)?"
                           r"(?:[\w'-]+\s+){1,2}?(?=(?:group\s+)?(?:chat|group|thread|channel|server|doc|document|"
                           r"sheet|spreadsheet|inbox|feed|calendar|chart|portal|board)s?\b)")


def names_no_topic(query: str) -> bool:
    """True when a question with a time names no topic: only words that ask *what was said* then ("What did I tell
    you yesterday?", "What did I jot down four days ago?", "Anything I noted on Tuesday?"), where, by whom or how
    ("What came up in the flat chat yesterday?", "What did the family send in the group?", "What was edited last
    week?"), in English or in the time words of another language (``foreign_times.english_times``). Such a window is
    listed in order; one with a topic ("What did I say about the boiler yesterday?") is ranked by it."""
    said = _NAMED_MEDIUM.sub(" in the ", english_times(query.lower()))
    return all(t in T.GENERIC_TERMS or t in FRAME_TERMS or t.isdigit() or _ORDINAL.match(t)
               for t in T.query_terms(said))


# A question with no verb at all ("Anything on Saturday?", "And Friday?", "Anything from Sunday?") has no tense to
# read: it may ask what was said that day (a care log's "anything on saturday?") or what is planned for it ("anything on
# saturday?" of a diary). Only these words besides the one weekday; both readings are answered (``tenseless_day``).
_VERBLESS = frozenset(("anything", "something", "any", "what", "whats", "about", "on", "from", "and", "so", "new",
                       "else", "then"))


def tenseless_day(text: str, *, now: float, tz: str | None = None) -> tuple[str, SearchWindow] | None:
    """A question that is only a weekday and words with no verb ("Anything on Saturday?"): that weekday and the most
    recent such day before today (1-7 days ago) as a window; None for any other question."""
    words = [w.strip("'") for w in T.words(english_times(text.lower()))]
    days = [w for w in words if w in WEEKDAYS]
    if len(days) != 1 or not all(w in _VERBLESS or w in WEEKDAYS for w in words):
        return None
    today = local(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=(today.weekday() - WEEKDAYS.index(days[0])) % 7 or 7)
    return days[0], SearchWindow(first.timestamp(), (first + timedelta(days=1)).timestamp() - 1e-3)


def tenseless_window(text: str, *, now: float, tz: str | None = None) -> SearchWindow | None:
    """``tenseless_day``'s window, or None."""
    day = tenseless_day(text, now=now, tz=tz)
    return None if day is None else day[1]


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS.get(word, 1)


_SINCE = re.compile(r"\bsince\b")
# what came by a medium was said: "Summarise Tuesday's messages", "Any new posts since Thursday?" ask of the past
_SENT = re.compile(r"\b(?:since|messages|texts|e?mails|posts|chats|calls|voicemails|replies|dms|inbox)\b")
# A thing written or left, named by its weekday, was written that day: "thursday's memo", "the note from monday"
# (test16's dictated memos) — unless the question plans it ("What should I write in Thursday's email?").
_WRITTEN = r"memo|voice\s+memo|note|voice\s+note|message|e?mail|entry|post|voicemail|log"
_DAYS = "|".join(WEEKDAYS)
_WRITTEN_ON = re.compile(rf"\b(?:{_DAYS})'s\s+(?:{_WRITTEN})\b"
                         rf"|\b(?:{_WRITTEN})\s+(?:from|on)\s+(?:last\s+)?(?:{_DAYS})\b")
_PLANS = re.compile(r"\b(?:should|shall|will|going\s+to|gonna|need\s+to|have\s+to|must|do\s+i|for)\b")


def window_for(text: str, *, now: float, tz: str | None = None) -> SearchWindow | None:
    """The window a question refers to, or None; days are those of the time zone ``tz`` (default UTC). "Since" a time
    runs from it to now ("what have I told you since monday?", "anything new since yesterday?")."""
    text = english_times(text.lower())  # "¿qué te dije ayer?", "what did I say la semana pasada?"
    window = _window_for(text, now=now, tz=tz)
    if window is not None and window.start_at is not None and window.start_at < now and _SINCE.search(text):
        return SearchWindow(window.start_at, now)
    return window


def _window_for(text: str, *, now: float, tz: str | None = None) -> SearchWindow | None:
    t = " ".join(text.lower().split())
    today = local(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)

    def days(first: datetime, count: int = 1) -> SearchWindow:
        return SearchWindow(first.timestamp(), (first + timedelta(days=count)).timestamp() - 1e-3)

    if m := _HOURS_AGO.search(t):  # "an hour ago", "two hours ago": that hour, give or take one
        n = _count(m.group(1))
        return SearchWindow(now - (n + 1) * 3600.0, now - max(n - 1, 0) * 3600.0)
    if _JUST_NOW.search(t):
        return SearchWindow(now - JUST_NOW_S, now)
    if _WHILE_AGO.search(t):
        return SearchWindow(now - WHILE_AGO_S, now)
    if (m := _LAST_SPAN.search(t)) and "this past" not in t:
        # to now, from the start of the first local day it reaches into: "the past week" is the last seven days
        # (the week just gone AND this one so far), not "last week" (the previous Monday to Sunday)
        n, unit = (_count(m.group(1)) if m.group(1) else 1), m.group(2)
        if unit.startswith("hour"):
            return SearchWindow(now - n * 3600.0, now)
        return SearchWindow((today - timedelta(days=n * (7 if unit.startswith("week") else 1))).timestamp(), now)
    if m := _DAYS_AGO.search(t):
        return days(today - timedelta(days=_count(m.group(1))))
    if (m := _WEEKDAYS_AGO.search(t)) or (m := _WEEKDAY_BEFORE_LAST.search(t)):
        n, name = (_count(m.group(1)), m.group(2)) if m.re is _WEEKDAYS_AGO else (2, m.group(1))
        back = (today.weekday() - WEEKDAYS.index(name)) % 7 or 7
        return days(today - timedelta(days=back + 7 * (n - 1)))
    if m := _MONTHS_AGO.search(t):  # "a month ago": a fortnight around that day
        return days(today - timedelta(days=30 * _count(m.group(1)) + 7), 15)
    if "this time last week" in t:  # that day, give or take one
        return days(today - timedelta(days=8), 3)
    if (m := _WEEKS_AGO.search(t)) or "a fortnight ago" in t:
        n = _count(m.group(1)) if m else 2
        return days(today - timedelta(days=7 * n + 3), 7)
    if m := _NIGHTS_AGO.search(t):
        evening_then = today - timedelta(days=_count(m.group(1))) + timedelta(hours=EVENING_HOUR)
        return SearchWindow(evening_then.timestamp(), (evening_then + timedelta(hours=24 - EVENING_HOUR
                                                                                + NIGHT_END_HOUR)).timestamp())
    if "the day before yesterday" in t:
        return days(today - timedelta(days=2))
    if "the night before last" in t:  # two evenings ago to the small hours of yesterday
        start = today - timedelta(days=2) + timedelta(hours=EVENING_HOUR)
        end = today - timedelta(days=1) + timedelta(hours=NIGHT_END_HOUR)
        return SearchWindow(start.timestamp(), end.timestamp())
    if (holiday := holiday_days(t, today)) is not None and _SAID.search(t):  # "over christmas", "at new year"
        return days(*holiday)
    # A night runs past midnight: "last night" is yesterday evening to this morning (lines said at 00:30 too), and
    # "tonight" asked in the small hours is the evening that just went by.
    evening = today - timedelta(days=1) + timedelta(hours=EVENING_HOUR)  # wall-clock arithmetic: 17:00 local
    if ("last night" in t or (_OVERNIGHT.search(t) and _SAID.search(t))) and "yesterday" not in t:
        return SearchWindow(evening.timestamp(), min(now, (today + timedelta(hours=NIGHT_END_HOUR)).timestamp()))
    if local(now, tz).hour < NIGHT_END_HOUR and ("tonight" in t or "this evening" in t):
        return SearchWindow(evening.timestamp(), now)
    if "yesterday" in t:
        return days(today - timedelta(days=1))
    monday = today - timedelta(days=today.weekday())
    if "weekend before last" in t:
        return days(monday - timedelta(days=9), 2)
    if "week before last" in t:
        return days(monday - timedelta(days=14), 7)
    if "last weekend" in t or "past weekend" in t:
        return days(monday - timedelta(days=2), 2)
    # Before "this week"; a plan ("this weekend?") is no window. "At the weekend" (British) and "on the weekend"
    # (American) say the same.
    if any(w in t for w in ("this weekend", "over the weekend", "at the weekend", "on the weekend", "from the weekend",
                            "since the weekend")):
        if not _SAID.search(t) and not re.search(r"\b(?:from|since) the weekend", t):
            return None
        saturday = monday + timedelta(days=5)  # the most recent weekend that has begun
        return days(saturday if today >= saturday else saturday - timedelta(days=7), 2)
    if _LAST_WEEK.search(t):
        return days(monday - timedelta(days=7), 7)
    # before "earlier": "earlier this week", "earlier in the week", "at the start of the week"
    if "this week" in t or any(f"{w} the week" in t for w in ("earlier in", "start of", "beginning of")):
        return days(monday, 7)
    if "this month" in t:  # "earlier this month": from its first day to today
        first = today.replace(day=1)
        return SearchWindow(first.timestamp(), (today + timedelta(days=1)).timestamp() - 1e-3)
    if any(w in t for w in ("today", "this morning", "this afternoon", "this evening", "tonight", "earlier",
                            "lunchtime", "at lunch")):
        return days(today)
    if (m := _WEEKDAY.search(t)) and (m.group(1) or _SAID.search(t) or _SENT.search(t)
                                      or (_WRITTEN_ON.search(t) and not _PLANS.search(t))):
        back = (today.weekday() - WEEKDAYS.index(m.group(2))) % 7 or 7
        return days(today - timedelta(days=back))
    if (day := _day_without_year(_ordinal_digits(t), today)) is not None and _SAID.search(t):
        return days(day)
    if any(f"the other {w}" in t for w in ("day", "night", "evening", "morning", "afternoon")):
        return days(today - timedelta(days=4), 3)
    if "last month" in t:
        first = today.replace(day=1)
        prev = (first - timedelta(days=1)).replace(day=1)
        return SearchWindow(prev.timestamp(), first.timestamp() - 1e-3)
    return None


EVENING_HOUR = 17
NIGHT_END_HOUR = 5
NOON_HOUR = 12
LUNCH_HOURS = (11, 15)  # "at lunchtime": late morning to mid afternoon

# The part of a day a question names: "this morning", "yesterday afternoon", "on tuesday evening", "tonight". The
# window stays the whole day (a line said at 12:40 is "this morning" to some, and held-out sets date "this morning"
# lines by the share of the day gone, so they fall in the afternoon of an evening run); the part's lines are listed
# first, so a busy day's listing budget is spent on them (an earliest-first listing of "what did I say this evening?"
# showed the first twelve lines of the morning), and the model is told which part they are. The parts agree with
# "last night" (17:00 to 05:00): the small hours belong to the night before, not to the morning (a line at 01:00 was
# listed first for "this morning" and for "last night": QA, session 7). Morning runs from NIGHT_END_HOUR to noon,
# afternoon to EVENING_HOUR, evening to midnight, and a night ("tonight", "on friday night") from EVENING_HOUR to
# NIGHT_END_HOUR the next day: its small hours are listed with it though they are the next day's.
_PARTS = (("morning", NIGHT_END_HOUR, NOON_HOUR), ("afternoon", NOON_HOUR, EVENING_HOUR), ("evening", EVENING_HOUR, 24),
          ("tonight", EVENING_HOUR, 24 + NIGHT_END_HOUR), ("night", EVENING_HOUR, 24 + NIGHT_END_HOUR),
          ("lunchtime", LUNCH_HOURS[0], LUNCH_HOURS[1]), ("lunch", LUNCH_HOURS[0], LUNCH_HOURS[1]))
_PART = re.compile(r"\b(morning|afternoon|evening|tonight|night|lunchtime|lunch)\b(?!s)")


def part_of_day(text: str, window: SearchWindow, *, tz: str | None = None, now: float | None = None
                ) -> tuple[str, SearchWindow] | None:
    """The part of the window's day the question names ("morning", "afternoon", "evening", "night") and its hours
    on the local clock, or None: no part named, or the window is not one local day ("last night" already is the hours
    it names). Inside ``window``, but for a night: it ends at NIGHT_END_HOUR the next day. "This morning" asked
    before NIGHT_END_HOUR (``now``) is the small hours gone by: a person up at 03:00 says "this morning" of 01:00, and
    the morning's hours from 05:00 had not come (an empty "Said in the morning" heading, then the rest)."""
    said = " ".join(english_times(text.lower()).split())
    if window.start_at is None or window.end_at is None or (m := _PART.search(said)) is None:
        return None
    day = local(window.start_at, tz)
    if (day.hour, day.minute, day.second) != (0, 0, 0) or (day + timedelta(days=1)).timestamp() - window.end_at > 1.0:
        return None
    name, start, end = next(p for p in _PARTS if p[0] == m.group(1))
    if name == "morning" and now is not None and day.timestamp() <= now < (day + timedelta(hours=start)).timestamp():
        start = 0
    lo = (day + timedelta(hours=start)).timestamp()  # wall-clock hours: a daylight-saving day too
    hi = (day + timedelta(hours=end)).timestamp() - 1e-3
    if end <= 24:
        hi = min(hi, window.end_at)
    return {"tonight": "night", "lunch": "lunchtime"}.get(name, name), SearchWindow(lo, hi)


def _day_without_year(t: str, today: datetime) -> datetime | None:
    """The local midnight of a date the question names without a year ("on December 3rd", "3 december", "on the
    3rd"): the most recent such day up to today. A year is ``dated_ranges``' business."""
    if m := _DAY_MONTH.search(t):
        month, day = _MONTHS.index(m.group(2)) + 1, int(m.group(1))
    elif m := _MONTH_DAY.search(t):
        month, day = _MONTHS.index(m.group(1)) + 1, int(m.group(2))
    elif m := _THE_NTH.search(t):
        month, day = today.month, int(m.group(1))
        if day > today.day:
            month = month - 1 or 12
        return _midnight(today, today.year - (month > today.month), month, day)
    else:
        return None
    return _midnight(today, today.year - ((month, day) > (today.month, today.day)), month, day)


_ORDINAL_TEXT = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
                 "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth")
_ORDINALS = _ORDINAL_TEXT.split()
_ORDINAL_OF = {w: i for i, w in enumerate(_ORDINALS, 1)} | {"twentieth": 20, "thirtieth": 30}
_SPELLED_ORDINAL = re.compile(r"\b(?:(twenty|thirty)[\s-]+)?(" + "|".join(sorted(_ORDINAL_OF, key=len, reverse=True))
                              + r")\b")


def _ordinal_digits(t: str) -> str:
    """Spelled ordinals as digits ("the twenty third" -> "the 23rd", "december third" -> "december 3rd"): voice
    transcripts spell their numbers out."""
    def digits(m: re.Match[str]) -> str:
        n = _ORDINAL_OF[m.group(2)] + {"twenty": 20, "thirty": 30}.get(m.group(1) or "", 0)
        return f"{n}th" if n <= 31 else m.group(0)
    return _SPELLED_ORDINAL.sub(digits, t)


def _midnight(today: datetime, year: int, month: int, day: int) -> datetime | None:
    try:
        return today.replace(year=year, month=month, day=day)
    except ValueError:  # "February 30th"
        return None


_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_MONTH = "(" + "|".join(_MONTHS) + ")"
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b")
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b")
_MONTH_YEAR = re.compile(rf"\b(?:in\s+)?{_MONTH},?\s+(\d{{4}})\b")
_NO_YEAR = r"(?!,?\s+(?:of\s+)?\d{4})"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b{_NO_YEAR}")
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\b{_NO_YEAR}")
_THE_NTH = re.compile(r"\bon\s+the\s+(\d{1,2})(?:st|nd|rd|th)\b")
_YEAR = re.compile(r"\b\d{4}\b")
DAY_BEFORE_S = 2 * 86400.0  # a dated event is talked about from a little before (plans) ...
DAY_AFTER_S = 8 * 86400.0  # ... to a week or so after ("yesterday I…", "last week we…")


def dated_ranges(text: str, tz: str | None = None) -> list[tuple[float, float]]:
    """Time ranges (epoch seconds) in which something the question dates was probably talked about: "on 3 October
    2023" / "October 3, 2023" → that day (in the time zone ``tz``, default UTC) −2 to +8 days; "in May 2023" → the
    month −2 to +10 days. Other languages' dates too ("el 3 de octubre de 2023", ``languages.english_times``)."""
    t = text.lower()
    if not _YEAR.search(t):  # no year, no date to read (and no other language's words to read first)
        return []
    t = english_times(t)  # "el 3 de octubre de 2023", "3. Oktober 2023", "3 октября 2023"
    where = zone(tz)
    out: list[tuple[float, float]] = []
    days: list[tuple[int, int, int]] = []
    for m in _DAY_MONTH_YEAR.finditer(t):
        days.append((int(m.group(3)), _MONTHS.index(m.group(2)) + 1, int(m.group(1))))
    for m in _MONTH_DAY_YEAR.finditer(t):
        days.append((int(m.group(3)), _MONTHS.index(m.group(1)) + 1, int(m.group(2))))
    for y, mo, d in days:
        try:
            at = datetime(y, mo, d, tzinfo=where).timestamp()
        except ValueError:
            continue
        out.append((at - DAY_BEFORE_S, at + 86400.0 + DAY_AFTER_S))
    if not out:
        for m in _MONTH_YEAR.finditer(t):
            y, mo = int(m.group(2)), _MONTHS.index(m.group(1)) + 1
            first = datetime(y, mo, 1, tzinfo=where)
            nxt = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=where)
            out.append((first.timestamp() - DAY_BEFORE_S, nxt.timestamp() + DAY_AFTER_S))
    return out
