"""The built-in ``search_memory`` tool: out-of-context conversation and archival passages, dated and short."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from voice_letta.agent.ports import Embedder, MessageHit, PassageHit, Store

MAX_SNIPPET_CHARS = 240


@dataclass(frozen=True, slots=True)
class SearchWindow:
    start_at: float | None
    end_at: float | None


def window_from_minutes(
    start_minutes_ago: int | None, end_minutes_ago: int | None, *, now: float
) -> SearchWindow:
    """``start_minutes_ago`` is the newer bound and ``end_minutes_ago`` the older; reversed bounds are swapped."""
    newer = None if start_minutes_ago is None else now - 60.0 * max(0, start_minutes_ago)
    older = None if end_minutes_ago is None else now - 60.0 * max(0, end_minutes_ago)
    if newer is not None and older is not None and older > newer:
        newer, older = older, newer
    return SearchWindow(start_at=older, end_at=newer)


def when(ts: float, now: float) -> str:
    """Speakable relative date: 'earlier today', 'yesterday', '3 days ago (Monday, November 23)'."""
    then = datetime.fromtimestamp(ts, tz=UTC)
    days = (datetime.fromtimestamp(now, tz=UTC).date() - then.date()).days
    minutes = int((now - ts) // 60)
    if days <= 0:
        if minutes < 2:
            return "just now"
        if minutes < 60:
            return f"{minutes} minutes ago"
        return "earlier today"
    if days == 1:
        return "yesterday"
    date = then.strftime("%A, %B %-d")
    if days < 7:
        return f"{days} days ago ({date})"
    return f"on {date}, {then.year}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SNIPPET_CHARS else text[: MAX_SNIPPET_CHARS - 1].rstrip() + "…"


class MemorySearch:
    """Runs search_memory for one agent. The embedder (hybrid retrieval) is optional."""

    def __init__(self, store: Store, embedder: Embedder | None = None, *, limit: int = 5) -> None:
        self._store = store
        self._embedder = embedder
        self._limit = limit

    async def search(
        self, agent_id: str, utterance: str, arguments: dict[str, Any], *, now: float | None = None
    ) -> str:
        now = time.time() if now is None else now
        window = window_from_minutes(
            arguments.get("start_minutes_ago"), arguments.get("end_minutes_ago"), now=now
        )
        keywords = [k for k in (arguments.get("convo_keyword_queries") or []) if isinstance(k, str) and k.strip()]
        queries = [q for q in [utterance, *keywords] if q.strip()]
        messages: dict[str, MessageHit] = {}
        passages: dict[str, PassageHit] = {}
        for query in queries:
            for hit in await self._store.search_messages(
                agent_id, query, start_at=window.start_at, end_at=window.end_at, limit=self._limit
            ):
                best = messages.get(hit.message.id)
                if best is None or hit.score > best.score:
                    messages[hit.message.id] = hit
            for phit in await self._store.search_passages_text(
                agent_id, query, start_at=window.start_at, end_at=window.end_at, limit=self._limit
            ):
                pbest = passages.get(phit.passage.id)
                if pbest is None or phit.score > pbest.score:
                    passages[phit.passage.id] = phit
        return format_results(
            sorted(passages.values(), key=lambda h: -h.score)[: self._limit],
            sorted(messages.values(), key=lambda h: -h.score)[: self._limit],
            now=now,
        )


def format_results(passages: list[PassageHit], messages: list[MessageHit], *, now: float) -> str:
    if not passages and not messages:
        return "No memories matched. Tell the user you don't remember that, and ask them to remind you."
    lines: list[str] = []
    for p in passages:
        ts = p.passage.start_at or p.passage.created_at
        lines.append(f"- Memory from {when(ts, now)}: {_clip(p.passage.synopsis or p.passage.text)}")
    for m in sorted(messages, key=lambda h: h.message.created_at):
        who = "The user said" if m.message.role == "user" else "You said"
        lines.append(f"- {when(m.message.created_at, now).capitalize()}, {who.lower()}: "
                     f"{_clip(m.message.content or '')}")
    return "\n".join(lines)
