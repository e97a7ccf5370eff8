"""What a memory search returns and how the model reads it: ``Hit`` (a passage or an out-of-context message with
its fused score and calibrated confidence), out-of-context lines merged into the passages' ranking, and the dated
lines ``search_memory`` gives the model (``format_hits``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from voice_letta.agent.models import Message, Passage
from voice_letta.agent.ports import MessageHit
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.confidence import CONFIDENT, WEAK, confidence
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.keyword import K1, B
from voice_letta.agent.recall.questions import about_asking, user_question
from voice_letta.agent.recall.vector import SearchWindow
from voice_letta.agent.zones import local

MAX_SNIPPET_CHARS = 240


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: a passage or an out-of-context message, its fused score and its calibrated confidence."""

    score: float
    passage: Passage | None = None
    message: MessageHit | None = None
    confidence: float = 1.0
    previously: tuple[Passage, ...] = ()  # older passages about the same thing that this one replaces
    context: Passage | None = None  # the line said just before a dialogue line (what it answers)

    @property
    def said_at(self) -> float:
        if self.passage is not None:
            return self.passage.start_at or self.passage.created_at
        assert self.message is not None
        return self.message.message.created_at


def when(ts: float, now: float, tz: str | None = None, *, clock: bool = False) -> str:
    """Speakable relative date: 'earlier today', 'yesterday', '3 days ago (Monday, November 23)', by the calendar
    of the time zone ``tz`` (the agent's; default UTC). ``clock``: today's and yesterday's with the time of day on
    the user's clock ('yesterday at 23:50'), so the model can tell "this morning" or "last night" apart within the
    day a window lists."""
    then = local(ts, tz)
    if ts > now + 86400.0:  # stored with a time ahead of the clock (a bad import): say so, not "just now"
        return f"dated ahead of now ({then.strftime('%B %-d')}, {then.year})"
    days = (local(now, tz).date() - then.date()).days
    minutes = int((now - ts) // 60)
    at = f" at {then.strftime('%H:%M')}" if clock else ""
    if days <= 0:
        if minutes < 2:
            return "just now"
        if minutes < 60:
            return f"{minutes} minutes ago"
        return f"earlier today{at}"
    if days == 1:
        return f"yesterday{at}"
    date = then.strftime("%A, %B %-d")
    if days < 7:
        return f"{days} days ago ({date})"
    return f"on {date}, {then.year}"


def clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SNIPPET_CHARS else text[: MAX_SNIPPET_CHARS - 1].rstrip() + "…"


def merge_messages(hits: list[Hit], messages: list[MessageHit], index: PassageIndex, queries: list[str],
                    limit: int) -> list[Hit]:
    """Add out-of-context lines, scored by BM25 with the agent's passage statistics on the same z scale as the
    passages' keyword half (they have no vector yet), skipping lines already inside a returned passage."""
    n = max(index.keywords.n, 1)
    avg = float(index.keywords.lengths().mean()) if index.keywords.n else 1.0
    chosen = [" ".join(h.passage.text.split()) for h in hits if h.passage is not None]
    term_lists = [topic_terms(q) for q in queries]
    asking = any(map(about_asking, queries))  # "what did I ask you about the bins?": the questions are the answer
    scored: list[Hit] = []
    for mh in messages:
        words = " ".join((mh.message.content or "").split())
        if not words or any(words in c for c in chosen):
            continue
        doc = T.terms(words)
        best = -math.inf
        best_cov = 0.0
        for terms in term_lists:
            bm, cov = _bm25_one(index, doc, terms, n, avg)
            if bm > best:
                best, best_cov = bm, cov
        asks = mh.message.role == "user" and not asking and user_question(mh.message.content or "")
        scored.append(Hit(best, message=mh, confidence=confidence(None, best_cov, asks=asks)))
    merged = sorted([*hits, *scored], key=lambda h: (-h.confidence, -h.score))
    return merged[: max(limit, len(hits))]


WINDOW_KINDS = ("normal", "imported", "greeting")  # lines a window listing shows (not fillers, fallbacks, tool rows)


def window_listing(passages: Sequence[Passage], evicted: Sequence[MessageHit], in_view: Sequence[Message],
                   window: SearchWindow, asked: str, limit: int) -> list[Hit]:
    """What was said in ``window``, in order, at most ``limit``: the archived passages, the out-of-context lines
    not inside one of them (evicted or imported, not archived yet) and the lines still in the model's context,
    which shows no dates (a question about yesterday's lines still in view was answered "No memories matched...
    you don't remember"); not the question being asked (``asked``, as ``spoken_query`` left it)."""
    lines = [*evicted, *(MessageHit(m, 0.0) for m in in_view
                         if m.role in ("user", "assistant") and m.kind in WINDOW_KINDS and not m.tool_calls
                         and (m.content or "").strip()
                         and (window.start_at is None or m.created_at >= window.start_at)
                         and (window.end_at is None or m.created_at <= window.end_at)
                         and T.spoken_query(m.content or "") != asked)]
    chosen = [" ".join(p.text.split()) for p in passages]
    hits = [Hit(0.0, passage=p, confidence=1.0) for p in passages]
    hits += [Hit(0.0, message=mh, confidence=1.0) for mh in lines
             if not any(" ".join((mh.message.content or "").split()) in c for c in chosen)]
    return sorted(hits, key=lambda h: h.said_at)[:limit]


def topic_terms(query: str) -> list[str]:
    """The query's terms without the words that frame a memory question ("what did I *tell* you about my job, do
    you *remember*?"), when it has any other: a line that shares only the frame with the question ("Do you remember
    where my sister lives?", "Sorry, I don't remember that") is not about what it asks, yet it covered two of its
    three terms and outranked the archived answer (found by QA from outside, session 5)."""
    terms = T.query_terms(query)
    topic = [t for t in terms if t not in T.GENERIC_TERMS]
    return topic or terms


def _bm25_one(index: PassageIndex, doc: list[str], terms: list[str], n: int, avg: float) -> tuple[float, float]:
    counts: dict[str, int] = {}
    for t in doc:
        counts[t] = counts.get(t, 0) + 1
    score = total = found = 0.0
    for t in terms:
        idf = math.log(1.0 + (n - index.keywords.doc_count(t) + 0.5) / (index.keywords.doc_count(t) + 0.5))
        total += idf
        tf = counts.get(t, 0)
        if tf:
            found += idf
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(doc) / avg))
    return score, (found / total if total else 0.0)


def format_hits(hits: Sequence[Hit], *, now: float, tz: str | None = None) -> str:
    """Dated lines for the model (days of the time zone ``tz``): confident results as they are, weaker ones marked
    "(not sure this is related)"; when nothing is confident, an explicit instruction not to guess comes first."""
    if not hits:
        # Only memory and lines out of the model's view are searched: what the visible conversation says stands.
        return ("No memories matched. Unless the conversation you can see answers it, tell the user you don't "
                "remember that, and ask them to remind you.")
    lines: list[str] = []
    if not any(h.confidence >= CONFIDENT for h in hits):
        lines.append("Nothing in memory confidently matches this. The closest notes below are probably unrelated: "
                     "use them only if they clearly answer the question; otherwise, unless the conversation you "
                     "can see answers it, tell the user you don't remember, and never guess.")
        hits = hits[:2]
    replaced = {p.id for h in hits for p in h.previously}
    for h in hits:
        if h.confidence < WEAK or (h.passage is not None and h.passage.id in replaced):
            continue
        said = _sentence_case(when(h.said_at, now, tz, clock=True))
        unsure = "" if h.confidence >= CONFIDENT else " (not sure this is related)"
        if h.passage is not None:
            line = f"- {said}{unsure}: {clip(h.passage.synopsis or h.passage.text)}"
            if h.context is not None:
                line += f" (in reply to: {clip(h.context.text)})"
            for old in h.previously[:1]:
                line += (f" (This replaces what was said {when(start_of(old), now, tz)}: "
                         f"{clip(old.synopsis or old.text)})")
            lines.append(line)
        elif h.message is not None:
            who = "the user said" if h.message.message.role == "user" else "you said"
            lines.append(f"- {said}{unsure}, {who}: {clip(h.message.message.content or '')}")
    return "\n".join(lines)


def _sentence_case(text: str) -> str:
    """Upper-case the first letter only ("on Thursday, October 22": ``str.capitalize`` lower-cases the rest)."""
    return text[:1].upper() + text[1:]


def start_of(p: Passage) -> float:
    return p.start_at if p.start_at is not None else p.end_at if p.end_at is not None else p.created_at


def end_of(p: Passage) -> float:
    return p.end_at if p.end_at is not None else p.start_at if p.start_at is not None else p.created_at
