"""Which lines a window listing shows ("what did I tell you last week?"), and how ``search_memory`` heads them.

A listing has a budget (``search_memory``: 12 lines; the REST search: its ``limit``). A window that holds more was
listed earliest first, so "What did I tell you last week?" showed Monday and Tuesday and never the weekend, and
"Anything new since Monday?" cut the newest lines, the ones a person asking wants most. A person asked what they
said over a week recalls a little of every day, the latest of it best. So when a window holds more than the budget:
- every local day of the window that has lines gets a share of the budget, round robin, the newest day first (a day
  with fewer lines than its share leaves the rest to the others);
- a day's share is spread over its hours: its last line first, then its first, then evenly between (one line of a
  day is its newest: what a person said last on a matter is their latest word);
- what is shown is listed in the order it was said, and ``search_memory`` says how many of how many it shows, so the
  model does not take a part for the whole and can search a topic for the rest.
A window that fits the budget is listed whole, in order, as before.

A question about a time that names a topic ("What did I order last week?", "what's gone in the book today", "What did
Thandi write on Thursday?") is ranked by its topic within the window, but the lines that answer it often do not say
the topic word (the order lines say "2x chain KMC X11", not "order"; Thandi signs "— T"). A person asked what they did
or wrote at a time expects to hear what was said then, so after the ranked lines the window's other lines follow, in
the order said, as the budget allows (``fill_window``, spread as above), at ``FILLED_CONFIDENCE``: asked for by
their time, not matched to the topic. ``search_memory`` heads them so the model reads them as what else was said.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from voice_letta.agent.ports import Store
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.confidence import CONFIDENT
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.messages import MessageIndex
from voice_letta.agent.recall.results import Hit, format_hits, window_listing
from voice_letta.agent.recall.timewords import tenseless_day
from voice_letta.agent.recall.vector import SearchWindow
from voice_letta.agent.zones import local

__all__ = ["FILLED_CONFIDENCE", "Listed", "fill_window", "format_filled", "format_part", "in_part", "list_window",
           "listing_note", "planned_for", "spread"]

Item = TypeVar("Item")
WINDOW_SCAN = 10_000  # lines of a window read for a listing (a month of a busy user's memory)
FILLED_CONFIDENCE = 0.1  # a window's line listed after the ranked ones: said then, not found by the topic


@dataclass(frozen=True, slots=True)
class Listed(Hit):
    """A window's line listed after a question's ranked hits (``fill_window``): asked for by its time only."""


async def list_window(store: Store, agent_id: str, index: PassageIndex, window: SearchWindow, limit: int,
                      tz: str | None, *, part: SearchWindow | None = None, asked: str | None = None,
                      lines: MessageIndex | None = None) -> tuple[list[Hit], int]:
    """What was said in ``window``, in order, and how many lines it holds; with the question ``asked`` (search_memory,
    not the REST search of passages) and the agent's out-of-context ``lines``, lines not archived too
    (``results.window_listing``). With the ``part`` of the day the question names ("this evening",
    ``timewords.part_of_day``): that part's lines first, in order, then the rest of the day's, in order, as the budget
    allows (a night's small hours are the next day's: listed with it). A window holding more than ``limit``:
    ``spread``."""

    def said(pid: str) -> float:
        return float(index.start_at[index.row_of[pid]])

    groups = [index.in_window(window, WINDOW_SCAN)]
    if part is not None:
        first = index.in_window(part, WINDOW_SCAN)
        seen = set(first)
        groups = [first, [i for i in groups[0] if i not in seen]]
    total = sum(map(len, groups))
    ids = [i for g in groups for i in spread(g, said, limit, tz)]
    passages = await store.get_passages(agent_id, ids)
    if asked is None or lines is None:
        by_id = {p.id: p for p in passages}
        return in_part([Hit(0.0, passage=by_id[i], confidence=1.0) for i in ids if i in by_id], part, limit, tz), total
    evicted = lines.in_window(window, WINDOW_SCAN)
    if part is not None:
        evicted = list({h.message.id: h for h in [*lines.in_window(part, WINDOW_SCAN), *evicted]}.values())
    in_view = await store.list_messages(agent_id, in_context=True)
    span = window if part is None else SearchWindow(window.start_at, max(window.end_at or 0.0, part.end_at or 0.0))
    listed = window_listing(passages, evicted, in_view, span, asked, len(passages) + len(evicted) + len(in_view))
    total += len(listed) - len(passages)
    return in_part(listed, part, limit, tz), total


async def fill_window(store: Store, agent_id: str, index: PassageIndex, hits: list[Hit], window: SearchWindow,
                      limit: int, tz: str | None, *, asked: str | None = None, lines: MessageIndex | None = None
                      ) -> list[Hit]:
    """``hits``, ranked for a question about ``window`` that names a topic, then the window's other lines in the
    order they were said (``list_window``: with ``asked`` and ``lines``, those not archived too), at most ``limit`` in
    all (a window holding more: ``spread``), at ``FILLED_CONFIDENCE``."""
    room = limit - len(hits)
    if room <= 0 or (window.start_at is None and window.end_at is None):
        return hits
    listed, _ = await list_window(store, agent_id, index, window, limit, tz, asked=asked, lines=lines)
    passages = {h.passage.id for h in hits if h.passage is not None}
    messages = {h.message.message.id for h in hits if h.message is not None}
    texts = [" ".join(h.passage.text.split()) for h in hits if h.passage is not None]

    def shown(h: Hit) -> bool:
        if h.passage is not None:
            return h.passage.id in passages
        assert h.message is not None
        words = " ".join((h.message.message.content or "").split())
        return h.message.message.id in messages or any(words in t for t in texts)

    rest = spread([h for h in listed if not shown(h)], said_of, room, tz)
    return [*hits, *(Listed(0.0, passage=h.passage, message=h.message, confidence=FILLED_CONFIDENCE) for h in rest)]


async def planned_for(store: Store, agent_id: str, index: PassageIndex, query: str, window: SearchWindow, k: int, *,
                      now: float, tz: str | None) -> list[Hit]:
    """For a question that is only a weekday with no verb ("Anything on Saturday?", ``timewords.tenseless_day``) whose
    ``window`` is the last such day: the current passages outside it that say the weekday (what is planned for it),
    newest first, at most ``k``, to list before what was said that day (the question has no tense: it may ask
    either); none for any other question."""
    day = tenseless_day(query, now=now, tz=tz)
    if day is None or day[1] != window or k <= 0:
        return []
    inside = set(index.in_window(window, WINDOW_SCAN))
    rows = [int(r) for r in index.keywords.postings(T.terms(day[0])[0])[0] if int(r) < len(index.ids)]
    rows = sorted((r for r in rows if index.successor[r] < 0 and index.ids[r] not in inside),
                  key=lambda r: -float(index.start_at[r]))
    ids = [index.ids[r] for r in rows[:k]]
    by_id = {p.id: p for p in await store.get_passages(agent_id, ids)}
    return [Hit(0.0, passage=by_id[i], confidence=1.0) for i in ids if i in by_id]


def format_filled(hits: Sequence[Hit], *, now: float, tz: str | None) -> str:
    """``search_memory``'s text for a window's ranked hits followed by its other lines (``fill_window``): the ranked
    ones as ``format_hits`` gives them, then the rest under a heading, in order; when none of the ranked ones is
    confident, everything said then in order (the topic's words found nothing sure: the window is the answer)."""
    ranked = [h for h in hits if not isinstance(h, Listed)]
    if len(ranked) == len(hits):
        return format_hits(hits, now=now, tz=tz)
    listed = [replace(h, confidence=1.0) for h in hits[len(ranked):]]
    if not any(h.confidence >= CONFIDENT for h in ranked):
        every = sorted([*(replace(h, confidence=1.0) for h in ranked), *listed], key=said_of)
        return ("Nothing said then matches the question's words for sure; this is what was said then, in order:\n"
                + format_hits(every, now=now, tz=tz))
    return (f"{format_hits(ranked, now=now, tz=tz)}\nAlso said then (not found by the question's words, but it may "
            f"answer), in order:\n{format_hits(listed, now=now, tz=tz)}")


def spread(items: Sequence[Item], said_at: Callable[[Item], float], limit: int, tz: str | None) -> list[Item]:
    """At most ``limit`` of ``items`` (in the order they were said), spread over the local days (time zone ``tz``)
    and their hours as the module says; all of them when they fit."""
    ordered = sorted(items, key=said_at)
    if len(ordered) <= limit:
        return ordered
    if limit <= 0:
        return []
    days: dict[object, list[int]] = {}
    for i, item in enumerate(ordered):
        days.setdefault(local(said_at(item), tz).date(), []).append(i)
    newest_first = sorted(days, key=lambda d: days[d][-1], reverse=True)
    share = dict.fromkeys(newest_first, 0)
    left = limit
    while left:
        for day in newest_first:
            if left and share[day] < len(days[day]):
                share[day] += 1
                left -= 1
    chosen = [i for day in newest_first for i in _across(days[day], share[day])]
    return [ordered[i] for i in sorted(chosen)]


def _across(rows: list[int], k: int) -> list[int]:
    """``k`` of a day's ``rows``: its last, its first, then evenly between."""
    if k >= len(rows):
        return rows
    if k == 1:
        return [rows[-1]]
    return sorted({rows[round(j * (len(rows) - 1) / (k - 1))] for j in range(k)})


def listing_note(shown: int, total: int) -> str | None:
    """The line ``search_memory`` puts first when a window held more than it shows."""
    if total <= shown:
        return None
    return (f"More was said in that time than fits here: these are {shown} of the {total} lines, spread over its days "
            "(each day's latest kept first), in the order they were said. Tell the user these are highlights, and "
            "search again with a topic for the rest.")


def format_part(hits: Sequence[Hit], part: tuple[str, SearchWindow], *, now: float, tz: str | None) -> str:
    """A window listing that names the part of the day asked about ("this morning"): its lines under a heading with
    its hours on the user's clock, then the rest of that day's, so the model answers from the right hours."""
    name, span = part
    lo, hi = span.start_at or 0.0, span.end_at or math.inf
    inside = [h for h in hits if lo <= h.said_at <= hi]
    rest = [h for h in hits if not lo <= h.said_at <= hi]
    start, end = local(lo, tz), local(hi + 1e-3, tz)
    hours = (f"before {end:%H:%M}" if start.hour == 0 and start.minute == 0 else
             f"from {start:%H:%M}" if end.hour == 0 and end.minute == 0 else
             f"{start:%H:%M} to {end:%H:%M}" + (" the next day" if end.date() != start.date() else ""))
    out = [f"Said in the {name} ({hours}, the user's time), in order:" if inside else
           f"Nothing was said in the {name} ({hours}, the user's time)."]
    if inside:
        out.append(format_hits(inside, now=now, tz=tz))
    if rest:
        out += [f"Said at other times that day (not in the {name}):", format_hits(rest, now=now, tz=tz)]
    return "\n".join(out)


def in_part(hits: list[Hit], part: SearchWindow | None, limit: int, tz: str | None) -> list[Hit]:
    """A listing's ``hits`` spread to ``limit`` (``spread``), in order; those in the ``part`` of the day first."""
    if part is None:
        return spread(hits, said_of, limit, tz)
    lo, hi = part.start_at or 0.0, part.end_at or math.inf
    first = spread([h for h in hits if lo <= h.said_at <= hi], said_of, limit, tz)
    return first + spread([h for h in hits if not lo <= h.said_at <= hi], said_of, limit - len(first), tz)


def said_of(hit: Hit) -> float:
    """When a listed line was said."""
    return hit.said_at
