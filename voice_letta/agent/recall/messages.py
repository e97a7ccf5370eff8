"""One agent's out-of-context lines in memory, for keyword search (they have no vectors until archived).

User and assistant messages leave the voice agent's context window when evicted (or arrive out of context when a
past conversation is imported); until the sleeptime agent archives them, ``search_memory`` finds them by keyword.
They used to be found through the store's full-text index: database-wide statistics and a per-query candidate
cut chose which of an agent's lines were scored, so other agents' data could change an agent's results. Here
each agent's lines have their own postings (``KeywordIndex``), candidates are the agent's own best BM25 matches.

Freshness, in any process: every search reads the agent's message *tail* after ``watermark`` (one indexed range
query, ``Store.load_message_tail``). Evictions are a prefix by ``seq`` (``evict_messages(through_seq)``), so
every line up to the first one still in context is out of context for good and the watermark moves there; lines
beyond it that are out of context anyway (imported ones) are indexed by id and not read again (``seen_through``:
the highest seq indexed; an import is appended after everything before it and never changes). A line's text
never changes once it is out of context (a reply is cut to what was heard while it is still in context), so
nothing indexed goes stale; an agent's messages are only removed with the agent.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from voice_letta.agent.models import Message, Role
from voice_letta.agent.ports import MessageHit, MessageTail
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.keyword import KeywordIndex, TermRows
from voice_letta.agent.recall.vector import SearchWindow


class MessageIndex:
    """The out-of-context user/assistant lines of one agent: postings, text, role and when each was said."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.keywords = KeywordIndex()
        self.row_of: dict[str, int] = {}
        self.ids: list[str] = []
        self.seqs: list[int] = []
        self.roles: list[Role] = []
        self.contents: list[str] = []
        self.created_at = np.zeros(0)
        self.watermark = 0  # every out-of-context line with seq <= watermark is indexed
        self.seen_through = 0  # the highest seq indexed (imported lines up to it are not read again)
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return len(self.ids)

    def update(self, tail: MessageTail) -> int:
        """Index the tail's out-of-context lines not indexed yet and move the watermark up to the first line still
        in context. Returns how many lines were added (idempotent: a tail read twice adds nothing twice)."""
        with self._lock:
            fresh = [i for i, (pid, inside) in enumerate(zip(tail.ids, tail.in_context, strict=True))
                     if not inside and pid not in self.row_of and tail.contents[i].strip()]
            if fresh:
                docs = []
                for i in fresh:
                    stored = T.decode_terms(tail.terms[i])
                    docs.append(stored if stored is not None
                                else np.asarray(T.term_ids(tail.contents[i]), dtype=np.uint64))
                self.keywords.add_rows(TermRows.of(docs))
                for i in fresh:
                    self.row_of[tail.ids[i]] = len(self.ids)
                    self.ids.append(tail.ids[i])
                    self.seqs.append(tail.seqs[i])
                    self.roles.append("user" if tail.roles[i] == "user" else "assistant")
                    self.contents.append(tail.contents[i])
                self.seen_through = max(self.seen_through, max(tail.seqs[i] for i in fresh))
                self.created_at = np.concatenate([self.created_at,
                                                  np.asarray([tail.created_at[i] for i in fresh], dtype=float)])
            first_inside = next((s for s, inside in zip(tail.seqs, tail.in_context, strict=True) if inside), None)
            if first_inside is not None:
                self.watermark = max(self.watermark, first_inside - 1)
            else:  # nothing after the watermark is in context: every line up to the newest is indexed
                self.watermark = max(self.watermark, self.seen_through, *tail.seqs[-1:])
            return len(fresh)

    def search(self, queries: Sequence[str], window: SearchWindow, *, limit: int) -> list[MessageHit]:
        """Each query's best ``limit`` lines by BM25 over this agent's lines (union, each line once, with its best
        score), inside ``window`` (when the line was said)."""
        with self._lock:
            n = self.size
            if not n or limit <= 0:
                return []
            inside = self._inside(window)
            best: dict[int, float] = {}
            searched: set[frozenset[int]] = set()
            for query in queries:
                terms = T.query_terms(query)
                # BM25 skips a term no line says: a query whose said terms an earlier one scored already ranks the
                # same lines the same (an expansion that adds only words of other languages): ~0.5 ms a term at 100k
                known = frozenset(tid for tid in map(T.term_id, terms) if len(self.keywords.postings_of(tid)[0]))
                if known in searched:
                    continue
                searched.add(known)
                rows, scores = self.keywords.score(terms)
                keep = inside[rows]
                rows, scores = rows[keep], scores[keep]
                if not len(rows):
                    continue
                top = np.argsort(-scores, kind="stable")[:limit]
                for r, sc in zip(rows[top].tolist(), scores[top].tolist(), strict=True):
                    if sc > best.get(r, -np.inf):
                        best[r] = sc
            return [self._hit(r, score) for r, score in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))]

    def in_window(self, window: SearchWindow, limit: int) -> list[MessageHit]:
        """The lines said inside ``window``, oldest first, at most ``limit`` (the earliest ones): a window listing."""
        with self._lock:
            rows = np.flatnonzero(self._inside(window))
            rows = rows[np.argsort(self.created_at[rows], kind="stable")][:max(limit, 0)]
            return [self._hit(int(r), 0.0) for r in rows]

    def _inside(self, window: SearchWindow) -> np.ndarray:
        inside = np.ones(self.size, dtype=bool)
        if window.start_at is not None:
            inside &= self.created_at >= window.start_at
        if window.end_at is not None:
            inside &= self.created_at <= window.end_at
        return inside

    def _hit(self, r: int, score: float) -> MessageHit:
        return MessageHit(Message(id=self.ids[r], agent_id=self.agent_id, seq=self.seqs[r], role=self.roles[r],
                                  content=self.contents[r], created_at=float(self.created_at[r]), in_context=False),
                          score)
