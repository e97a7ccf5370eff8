"""Holidays a question dates a time by ("What did I tell you over Christmas?", "at New Year", "on Halloween"): the
most recent such days up to today, on the user's calendar (``timewords.window_for``).

Only holidays with a fixed rule that people across the English-speaking world name in words: fixed dates, Easter
(the Gregorian computus: Good Friday to Easter Monday) and American Thanksgiving (the fourth Thursday of November, and
the Friday after). Holidays of lunar calendars (Diwali, Eid, Lunar New Year, Hanukkah) move from year to year by
tables this module does not carry, and days that differ by country (Mother's Day) are left to the model's
``start_minutes_ago``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

__all__ = ["holiday_days"]


def _easter(year: int) -> date:
    """Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def _fixed(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


# phrase -> (the first day of the holiday in a year, how many days it lasts); longer phrases first
_HOLIDAYS: list[tuple[str, Callable[[int], date], int]] = [
    (r"christmas\s+eve", _fixed(12, 24), 1), (r"christmas\s+day", _fixed(12, 25), 1),
    (r"boxing\s+day", _fixed(12, 26), 1),
    (r"christmas|xmas", _fixed(12, 24), 3),
    (r"new\s+year['’]?s\s+eve", _fixed(12, 31), 1), (r"new\s+year['’]?s\s+day", _fixed(1, 1), 1),
    (r"new\s+year(?:['’]?s)?(?!\s+resolution)", _fixed(12, 31), 2),
    (r"halloween", _fixed(10, 31), 1), (r"valentine['’]?s(?:\s+day)?", _fixed(2, 14), 1),
    (r"bonfire\s+night|guy\s+fawkes", _fixed(11, 5), 1), (r"st\.?\s+patrick['’]?s(?:\s+day)?", _fixed(3, 17), 1),
    (r"good\s+friday", lambda y: _easter(y) - timedelta(days=2), 1),
    (r"easter(?:\s+weekend)?", lambda y: _easter(y) - timedelta(days=2), 4),
    (r"thanksgiving", _thanksgiving, 2),
]
_PATTERN = re.compile(r"\b(?:" + "|".join(f"({p})" for p, _, _ in _HOLIDAYS) + r")\b")


def holiday_days(text: str, today: datetime) -> tuple[datetime, int] | None:
    """The local midnight starting the most recent holiday the (lower-case) ``text`` names that has begun by
    ``today`` (a local midnight), and how many days it lasts; None when it names none."""
    m = _PATTERN.search(text)
    if m is None:
        return None
    _, first_day, length = _HOLIDAYS[next(i for i, g in enumerate(m.groups()) if g is not None)]
    for year in (today.year, today.year - 1):
        start = first_day(year)
        if start <= today.date():
            return today.replace(year=start.year, month=start.month, day=start.day), length
    return None
