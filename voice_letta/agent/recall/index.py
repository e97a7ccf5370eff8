"""One agent's passages in memory: vectors, BM25 postings, when each was said and who said it.

Rows are kept in insertion order with what ranking needs of each passage (its speakers, whether it is a dialogue
line, says a number, starts with a correction or says something changed, its successor when superseded). The
ranking itself is ``recall/ranking.py``.

Context: dialogue lines said in sequence (one "speaker: words" line per passage, each later than the one before,
within ``CONTEXT_GAP_S``) are linked to the line before them, whose words count at ``CONTEXT_WEIGHT`` in BM25, so
an answer is found by the words of the question it answers.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

import numpy as np

from voice_letta.agent.recall import speakers as S
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.cross import PAIR_SAMPLE, PairScale, on_pair_scale, pair_scale
from voice_letta.agent.recall.cues import code_swaps, revised_terms
from voice_letta.agent.recall.features import (
    ASKS,
    CORRECTION,
    DIALOGUE,
    ENDING,
    FOREIGN_CUE,
    NEW_PLACE,
    PLACES,
    STRONG_CUE,
    THIRD_PERSON,
    TO_LISTENER,
    UPDATE_CUE,
    change_bits,
    number_bits,
    passage_features,
)
from voice_letta.agent.recall.keyword import KeywordIndex, TermRows
from voice_letta.agent.recall.ranking import CONTEXT_WEIGHT, KeywordHalf, Ranked, keyword_half, rank
from voice_letta.agent.recall.records import Item, items
from voice_letta.agent.recall.vector import (
    COARSE_MIN_ROWS,
    MIN_COSINE,
    SearchWindow,
    VectorIndex,
)

__all__ = ["CONTEXT_GAP_S", "PassageIndex", "Ranked"]

CONTEXT_GAP_S = 1800.0
CONTENT_KEPT = 8192  # rows whose content terms an index keeps (~1 KB each)
_ROLES = frozenset({"user", "assistant", "system"})  # always speakers


class PassageIndex:
    """Rows in insertion order. ``add`` may run in a thread while searches read (guarded by a lock)."""

    def __init__(self, model: str, dim: int, *, coarse_min_rows: int = COARSE_MIN_ROWS) -> None:
        self.vectors = VectorIndex(model, dim, coarse_min_rows=coarse_min_rows)
        self.keywords = KeywordIndex()
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.start_at = np.zeros(0)
        self.end_at = np.zeros(0)
        self.has_vector = np.zeros(0, dtype=bool)
        self.dialogue = np.zeros(0, dtype=bool)
        self.to_listener = np.zeros(0, dtype=bool)  # about the one spoken to ("your knee"): S.addresses_listener
        self.numbers = np.zeros(0, dtype=np.uint8)  # the kinds of number it says (recall/quantity.py bits)
        self.change_numbers = np.zeros(0, dtype=np.uint8)  # ... next to a change cue (cues.change_kinds)
        self.third_person = np.zeros(0, dtype=bool)  # a note about "the user" (recall/confidence.py)
        self.correction = np.zeros(0, dtype=bool)  # starts with a correction ("actually make that thursday")
        self.update_cue = np.zeros(0, dtype=bool)  # says something changed ("now", "moved", "down to"; updates.py)
        self.strong_cue = np.zeros(0, dtype=bool)  # ... with more than a bare "now"
        self.foreign_cue = np.zeros(0, dtype=bool)  # says a change only in another language's words (cues.py)
        self.new_place = np.zeros(0, dtype=bool)  # says something moved to a new place (facts.says_new_place)
        self.says_place = np.zeros(0, dtype=bool)  # places something somewhere (facts.says_place)
        self.ending = np.zeros(0, dtype=bool)  # says something ended or gave way, or a strong cue (updates.endings)
        self.asks = np.zeros(0, dtype=bool)  # asks something nothing in it answers (recall/questions.py)
        self.items: dict[int, tuple[Item, ...]] = {}  # a note's list items (recall/records.py), for rows with any
        self.record_keys: set[frozenset[int]] = set()  # the keys of those items ("budget", "fence quote")
        # a stored message's own words, without its envelope (date line, sender, mail headers: T.message_body), for
        # rows that have one: messages of one export are alike by their envelopes (recall/updates.py)
        self.bodies: dict[int, frozenset[int]] = {}
        self._content: dict[int, frozenset[int]] = {}  # ``content_terms`` of rows asked for lately (never change)
        # the term ids of what a passage's revision notations name as the old value and of their lines (``cues``)
        self.revised: dict[int, tuple[frozenset[int], frozenset[int]]] = {}
        self.revised_by_term: dict[int, list[int]] = {}  # one old-side term -> the revision rows naming it
        # a code and another of its series said in one passage ("FD3437 … FD3441": cues.code_swaps), by the code
        self.swaps_by_term: dict[int, list[tuple[int, int]]] = {}  # code term -> [(row, other code term)]
        self.speakers: list[tuple[str, ...]] = []  # labels that name a speaker (``_headings``)
        self.known_speakers: set[str] = set()
        self._labels: list[tuple[str, ...]] = []  # every row's labels as written
        self._opens: list[bool] = []  # the row's first line opens with a speaker's label (S.opens_with_label)
        self._label_rows: dict[str, list[int]] = {}  # label -> rows it labels (up to two)
        self._speaker_rows: dict[str, np.ndarray] = {}  # speaker -> bool mask of their rows (built on demand)
        self.user_rows = np.zeros(0, dtype=bool)  # ``about_the_user`` of every row
        # how many terms the user's lines of a user/assistant exchange have (S.user_lines; -1: no such passage)
        self.user_terms = np.zeros(0, dtype=np.int32)
        self.cue_targets: dict[int, tuple[int, float]] = {}  # cue passage -> its closest earlier one (updates.py)
        self.successor = np.zeros(0, dtype=np.int64)  # the passage that superseded each one, or -1
        # each row's term ids, in the chunks they were added in: (first row, flat ids, offsets)
        self._row_terms: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._row_bases: list[int] = []  # each _row_terms chunk's first row, for bisect (one chunk per add)
        self._waiting: dict[str, list[int]] = {}  # successor id not indexed yet -> rows it superseded
        self._stored_dialogue = np.zeros(0, dtype=bool)
        self.prev = np.zeros(0, dtype=np.int64)
        self.next = np.zeros(0, dtype=np.int64)
        self._links: tuple[np.ndarray, np.ndarray, tuple[tuple[np.ndarray, np.ndarray], ...]] | None = None
        self.context_lengths = np.zeros(0, dtype=np.float32)
        self.other_models = 0
        # The rows MiniLM cannot read that carry a second, cross-lingual vector (recall/cross.py), and those vectors
        self.cross_rows = np.zeros(0, dtype=np.int64)
        self.cross_matrix = np.zeros((0, 0), dtype=np.float32)
        self.cross_at = np.zeros(0, dtype=np.int64)  # each row's position in cross_matrix, or -1
        self._pair_scale: PairScale | None = None  # cross.pair_scale of cross_matrix, until it grows
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.vectors.model

    @property
    def dim(self) -> int:
        return self.vectors.dim

    @property
    def size(self) -> int:
        return len(self.ids)

    def add(self, ids: Sequence[str], texts: Sequence[str], synopses: Sequence[str], start_at: Sequence[float],
            end_at: Sequence[float], vectors: np.ndarray, has_vector: Sequence[bool],
            terms: TermRows | None = None, *, features: np.ndarray | None = None, adopt: bool = False,
            superseded_by: Sequence[str | None] | None = None) -> None:
        """Append passages (their lines and synopses); rows without a vector of this model get zeros.
        ``terms`` and ``features``: the passages' stored terms and flags (``recall/features.py``), else they are
        computed here. ``adopt``: the caller hands ``vectors`` over (``VectorIndex.add``). ``superseded_by``: each
        passage's successor id."""
        if not ids:
            return
        fresh = [i for i, pid in enumerate(ids) if pid not in self.row_of]
        if not fresh:
            return
        if len(fresh) < len(ids):  # some already indexed (a change-feed append racing a load): keep the others
            pick = np.asarray(fresh)
            self.add([ids[i] for i in fresh], [texts[i] for i in fresh], [synopses[i] for i in fresh],
                     [start_at[i] for i in fresh], [end_at[i] for i in fresh], np.asarray(vectors)[pick],
                     [has_vector[i] for i in fresh], None if terms is None else terms.take(fresh),
                     features=None if features is None else np.asarray(features)[pick],
                     superseded_by=None if superseded_by is None else [superseded_by[i] for i in fresh])
            return
        if terms is None:
            terms = TermRows.of([np.asarray(T.term_ids(T.passage_document(t, s)), dtype=np.uint64)
                                 for t, s in zip(texts, synopses, strict=True)])
        labels = [S.speakers(t) for t in texts]
        own = [-1 if (said := S.user_lines(t, spk) if len(spk) == 2 else None) is None else len(T.term_ids(said))
               for t, spk in zip(texts, labels, strict=True)]
        found_items = [items(t) for t in texts]
        bodies = [T.message_body(t) for t in texts]
        revised = [revised_terms(t) for t in texts]
        swaps = [code_swaps(t) for t in texts]
        flags = passage_features(texts, synopses) if features is None else np.asarray(features, dtype=np.uint64)

        def flag(bit: int) -> np.ndarray:
            out: np.ndarray = (flags & np.uint64(bit)) != 0
            return out

        with self._lock:
            base = len(self.ids)
            self.vectors.add(ids, np.asarray(vectors, dtype=np.float32), start_at, end_at, adopt=adopt)
            self.keywords.add_rows(terms)
            self._row_terms.append((base, terms.flat, np.concatenate([[0], np.cumsum(terms.lengths)])))
            self._row_bases.append(base)
            self.row_of.update(zip(ids, range(base, base + len(ids)), strict=True))
            self.ids.extend(ids)
            self._labels.extend(labels)
            self._opens.extend(S.opens_with_label(t) for t in texts)
            self.items.update((base + k, it) for k, it in enumerate(found_items) if it)
            self.record_keys.update(item.key for it in found_items for item in it if item.key)
            self.bodies.update((base + k, T.body_terms(b)) for k, b in enumerate(bodies) if b is not None)
            for k, v in enumerate(revised):
                if v is not None:
                    self.revised[base + k] = v
                    # under one of its old side's terms (a hash: spread evenly): every one is the older passage's
                    self.revised_by_term.setdefault(max(v[0]), []).append(base + k)
            for k, pairs in enumerate(swaps):
                for code, other in pairs:
                    self.swaps_by_term.setdefault(code, []).append((base + k, other))
            self.speakers.extend(labels)
            self.user_rows = np.concatenate([self.user_rows, np.fromiter(
                (not spk or "user" in spk for spk in labels), dtype=bool, count=len(labels))])
            self.user_terms = np.concatenate([self.user_terms, np.asarray(own, dtype=np.int32)])
            self.start_at = np.concatenate([self.start_at, np.asarray(start_at, dtype=float)])
            self.end_at = np.concatenate([self.end_at, np.asarray(end_at, dtype=float)])
            self.has_vector = np.concatenate([self.has_vector, np.asarray(has_vector, dtype=bool)])
            self.dialogue = np.concatenate([self.dialogue, flag(DIALOGUE)])
            self.correction = np.concatenate([self.correction, flag(CORRECTION)])
            self.numbers = np.concatenate([self.numbers, number_bits(flags)])
            self.change_numbers = np.concatenate([self.change_numbers, change_bits(flags)])
            self.third_person = np.concatenate([self.third_person, flag(THIRD_PERSON)])
            self.to_listener = np.concatenate([self.to_listener, flag(TO_LISTENER)])
            self.update_cue = np.concatenate([self.update_cue, flag(UPDATE_CUE)])
            self.strong_cue = np.concatenate([self.strong_cue, flag(STRONG_CUE)])
            self.foreign_cue = np.concatenate([self.foreign_cue, flag(FOREIGN_CUE)])
            self.new_place = np.concatenate([self.new_place, flag(NEW_PLACE)])
            self.says_place = np.concatenate([self.says_place, flag(PLACES)])
            self.ending = np.concatenate([self.ending, flag(ENDING)])
            self.asks = np.concatenate([self.asks, flag(ASKS)])
            self._stored_dialogue = np.concatenate([self._stored_dialogue, flag(DIALOGUE)])
            self._headings(base)
            self.other_models += int(len(has_vector) - np.count_nonzero(np.asarray(has_vector, dtype=bool)))
            self._speaker_rows.clear()
            self.cue_targets.clear()
            self.successor = np.concatenate([self.successor, np.full(len(ids), -1, dtype=np.int64)])
            self.cross_at = np.concatenate([self.cross_at, np.full(len(ids), -1, dtype=np.int64)])
            for k, pid in enumerate(ids):  # passages this one superseded before it was indexed
                for old in self._waiting.pop(pid, ()):
                    self.successor[old] = base + k
            for k, new in enumerate(superseded_by or ()):
                if new is not None:
                    self._set_successor(base + k, new)
            self._link()

    def add_cross(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Second vectors of passages already indexed (ids not indexed, or with one already, are skipped)."""
        with self._lock:
            have = set(self.cross_rows.tolist())
            pick = [(k, self.row_of[pid]) for k, pid in enumerate(ids) if self.row_of.get(pid, -1) >= 0
                    and self.row_of[pid] not in have]
            if not pick:
                return
            new = np.asarray(vectors, dtype=np.float32)[[k for k, _ in pick]]
            matrix = self.cross_matrix if len(self.cross_rows) else np.zeros((0, new.shape[1]), dtype=np.float32)
            self.cross_matrix = np.concatenate([matrix, new])
            self.cross_at[[r for _, r in pick]] = np.arange(len(self.cross_rows), len(self.cross_rows) + len(pick))
            self.cross_rows = np.concatenate([self.cross_rows, np.asarray([r for _, r in pick], dtype=np.int64)])
            self._pair_scale = None
            self.cue_targets.clear()

    def pair_cosines(self, a: np.ndarray | Sequence[int], b: np.ndarray | Sequence[int]) -> np.ndarray:
        """(len(a), len(b)) cosines between passages: MiniLM's, but two rows that both carry a second vector are
        compared by it, on MiniLM's scale (``cross.on_pair_scale``): MiniLM scores any two of them alike. What the
        version machinery (updates, cued, facts) compares passages by."""
        left = self.vectors.matrix[a]
        right = left if b is a else self.vectors.matrix[b]
        sims: np.ndarray = left @ right.T  # one operand twice: numpy's symmetric product, as the callers had
        return self.lane_cosines(sims, a, b)

    def pair_cosine(self, a: int, b: int) -> float:
        """``pair_cosines`` of two rows."""
        if self.cross_at[a] >= 0 and self.cross_at[b] >= 0:
            return float(self.pair_cosines([a], [b])[0, 0])
        return float(self.vectors.matrix[a] @ self.vectors.matrix[b])

    def lane_cosines(self, sims: np.ndarray, a: np.ndarray | Sequence[int], b: np.ndarray | Sequence[int] | int
                     ) -> np.ndarray:
        """``sims`` (MiniLM cosines of rows ``a`` to rows ``b``, or to the one row ``b``: 1-D) with the pairs of
        two lane rows rescored as ``pair_cosines`` does; ``sims`` itself when the agent has no lane rows."""
        if not len(self.cross_rows):
            return sims
        at_a = self.cross_at[np.asarray(a, dtype=np.int64)]
        at_b = self.cross_at[np.atleast_1d(np.asarray(b, dtype=np.int64))]
        ia, ib = np.flatnonzero(at_a >= 0), np.flatnonzero(at_b >= 0)
        if not len(ia) or not len(ib):
            return sims
        if self._pair_scale is None:
            self._pair_scale = pair_scale(self.cross_matrix, self.vectors.matrix[self.cross_rows[-PAIR_SAMPLE:]])
        matrix, grid = self.cross_matrix, sims if sims.ndim == 2 else sims[:, None]
        if len(ia) == len(at_a) and len(ib) == len(at_b):  # all lane rows (an agent that writes in one language)
            lane = on_pair_scale(matrix[at_a] @ matrix[at_b].T, grid, self._pair_scale)
            return lane if sims.ndim == 2 else lane[:, 0]
        lane = on_pair_scale(matrix[at_a[ia]] @ matrix[at_b[ib]].T, grid[np.ix_(ia, ib)], self._pair_scale)
        out = np.array(sims, dtype=np.float32)
        if out.ndim == 1:
            out[ia] = lane[:, 0]
        else:
            out[np.ix_(ia, ib)] = lane
        return out

    def _headings(self, base: int) -> None:
        """Which labels of the rows from ``base`` on name a speaker. A one-word label that is the only label of its
        passage and labels no other passage of the agent is a heading ("Kitchen: we swapped the quartz…"), not a
        speaker: a speaker says more than one thing. Such a passage counts as the user's note (no speaker), and
        becomes the line of a speaker once a second passage carries the label (then both are). ``user`` and
        ``assistant`` are always speakers."""
        for row in range(base, len(self._labels)):
            if all(label in _ROLES for label in self._labels[row]):  # the common case: nothing to decide
                self.known_speakers.update(self._labels[row])
                continue
            for label in set(self._labels[row]):
                rows = self._label_rows.setdefault(label, [])
                if len(rows) < 2:
                    rows.append(row)
                    if len(rows) == 2:  # a second passage: the first one's label was a speaker's after all
                        self._speaker_again(rows[0])
            if self._is_heading(row):
                self.speakers[row] = ()
                self.user_rows[row] = True
                self.dialogue[row] = False
            else:
                self.known_speakers.update(self._labels[row])

    def _is_heading(self, row: int) -> bool:
        labels = self._labels[row]
        return (len(labels) == 1 and " " not in labels[0] and len(self._label_rows[labels[0]]) == 1
                and not self._among_speakers(row, labels[0]))

    def _among_speakers(self, row: int, label: str) -> bool:
        """Whether ``row`` opens with its label and the passage said just before or after it opens with another known
        speaker's (``known_speakers``: not a role): a group chat, where a member who speaks once ("Lena: can't do
        merch on the 18th … my roommate Priya could?", "Rhian: I've broken my ankle") is still a speaker, not a note's
        heading (test15, test17). A note's headings ("Kitchen: …", "Garden: …") sit among the user's lines or other
        headings; a field inside a passage ("Budget: KSh 45,000 → KSh 52,000" under a document's version header,
        test9) opens nothing."""
        if not self._opens[row]:
            return False
        near = [r for r in (row - 1, row + 1) if 0 <= r < len(self._labels) and self._opens[r]]
        return any(other != label and other not in _ROLES and other in self.known_speakers
                   for r in near for other in self._labels[r])

    def _speaker_again(self, row: int) -> None:
        labels = self._labels[row]
        self.speakers[row] = labels
        self.user_rows[row] = "user" in labels
        self.dialogue[row] = self._stored_dialogue[row]
        self.known_speakers.update(labels)

    def supersede(self, old_ids: Sequence[str], new_id: str) -> None:
        """Passages ``old_ids`` were superseded by ``new_id`` (which may not be indexed yet)."""
        with self._lock:
            for pid in old_ids:
                row = self.row_of.get(pid)
                if row is not None and self.successor[row] < 0:
                    self._set_successor(row, new_id)

    def _set_successor(self, row: int, new_id: str) -> None:
        new = self.row_of.get(new_id)
        if new is None:
            self._waiting.setdefault(new_id, []).append(row)
        elif new != row:
            self.successor[row] = new

    def _link(self) -> None:
        """Link each dialogue line to the one said just before it (same conversation), by time."""
        n = len(self.ids)
        prev = np.full(n, -1, dtype=np.int64)
        order = np.argsort(self.start_at, kind="stable")
        cand = order[self.dialogue[order]]
        if len(cand) > 1:
            before, after = cand[:-1], cand[1:]
            ok = (self.start_at[after] > self.start_at[before]) & (
                self.start_at[after] - self.end_at[before] <= CONTEXT_GAP_S)
            prev[after[ok]] = before[ok]
        nxt = np.full(n, -1, dtype=np.int64)
        has = prev >= 0
        nxt[prev[has]] = np.flatnonzero(has)
        self.prev, self.next = prev, nxt
        own = self.keywords.lengths()
        self.context_lengths = (own + CONTEXT_WEIGHT * np.where(prev >= 0, own[np.maximum(prev, 0)], 0.0)
                                ).astype(np.float32)

    # -- ranking ---------------------------------------------------------------------------------------------
    def rank(self, query_vectors: np.ndarray | None, queries: Sequence[str], window: SearchWindow, *,
             limit: int, speaker: str | None = None, dated: Sequence[tuple[float, float]] = (),
             min_cosine: float = MIN_COSINE, rank_only: int = 0, cross_vectors: np.ndarray | None = None,
             keyword: KeywordHalf | None = None) -> list[Ranked]:
        """The best ``limit`` passages for these queries (best first), inside ``window``; passages said inside a
        ``dated`` range get DATE_BOOST; the last ``rank_only`` queries rank but do not judge confidence
        (``ranking.rank``); ``cross_vectors``: the queries' second vectors, for ``cross_rows``; ``keyword``: this
        index's ``keyword_half`` of the queries, computed ahead."""
        with self._lock:
            return rank(self, query_vectors, queries, window, limit, speaker, dated, min_cosine, rank_only,
                        cross_vectors, keyword)

    def keyword_half(self, queries: Sequence[str]) -> KeywordHalf:
        """The queries' terms and BM25 scores (``ranking.keyword_half``): what a search can rank while its queries are
        still being embedded."""
        with self._lock:
            return keyword_half(self, queries)

    @property
    def links(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """(has a line before, that line or 0) and (has a line after, that line or 0), for ``ranking.with_neighbours``:
        kept until ``prev``/``next`` are replaced (four passes over every row less per search)."""
        kept = self._links
        if kept is None or kept[0] is not self.prev or kept[1] is not self.next:
            prev, nxt = self.prev, self.next
            kept = self._links = (prev, nxt, ((prev >= 0, np.maximum(prev, 0)), (nxt >= 0, np.maximum(nxt, 0))))
        return kept[2]

    def terms_of(self, row: int) -> np.ndarray:
        """The term ids of one row (as indexed)."""
        i = bisect.bisect_right(self._row_bases, row) - 1
        base, flat, offsets = self._row_terms[i]
        k = row - base
        terms: np.ndarray = flat[int(offsets[k]):int(offsets[k + 1])]
        return terms

    def content_terms(self, row: int) -> frozenset[int]:
        """The term ids of what a passage says: a stored message's body without its envelope (``bodies``), else its
        terms. Kept per row (at most CONTENT_KEPT): the cue-link pass asks for the same cue passages' every search."""
        found = self._content.get(row)
        if found is None:
            body = self.bodies.get(row)
            found = body if body is not None else frozenset(self.terms_of(row).tolist())
            if len(self._content) >= CONTENT_KEPT:
                self._content.clear()
            self._content[row] = found
        return found

    def terms_in_context(self, row: int) -> set[int]:
        """The term ids of one row and of the line said just before it (what it answers, when linked): what the
        near-miss checks read, so that "rahul menon" after "what's your manager's name?" says "manager"."""
        have = set(self.terms_of(row).tolist())
        before = int(self.prev[row]) if row < len(self.prev) else -1
        if before >= 0:
            have.update(self.terms_of(before).tolist())
        return have

    def rows_lacking(self, rows: Sequence[int], asked: Sequence[int]) -> set[int]:
        """The rows that, with the line before them, do not say every one of the ``asked`` term ids the memory says
        somewhere (a term the memory never says cannot tell one passage from another)."""
        known = [tid for tid in asked if len(self.keywords.postings_of(tid)[0])]
        if not known or not rows:
            return set()
        return {r for r in rows if not self.terms_in_context(r).issuperset(known)}

    def context_of(self, passage_id: str) -> str | None:
        """The id of the line said just before this one (what it answers), if the passage is linked to one."""
        row = self.row_of.get(passage_id)
        if row is None or row >= len(self.prev) or self.prev[row] < 0:
            return None
        return self.ids[int(self.prev[row])]

    def said_by(self, speaker: str) -> np.ndarray:
        mask = self._speaker_rows.get(speaker)
        if mask is None or len(mask) != self.size:
            mask = self._speaker_rows[speaker] = np.fromiter((speaker in s for s in self.speakers), dtype=bool,
                                                             count=self.size)
        return mask

    def about_the_user(self, row: int) -> bool:
        """What the agent's user said or a note about them: lines labelled "user", or no speaker labels at all.
        A transcript between named people (an imported chat) is history, not the user's current state."""
        spk = self.speakers[row]
        return not spk or "user" in spk

    def in_window(self, window: SearchWindow, limit: int) -> list[str]:
        """Ids of the passages said inside ``window``, oldest first, at most ``limit`` (the earliest ones)."""
        with self._lock:
            mask = self.window_mask(window)
            rows = np.flatnonzero(mask) if mask is not None else np.arange(self.size)
            rows = rows[np.argsort(self.start_at[rows], kind="stable")][:limit]
            return [self.ids[r] for r in rows]

    def named_speaker(self, query: str, default: str | None) -> str | None:
        """The one known speaker a query names ("What did Caroline say…"), else ``default`` when it is a known
        speaker (e.g. "user" for a first-person question), else None."""
        named = {w for w in T.words(query) if w in self.known_speakers}
        if len(named) == 1:
            return named.pop()
        if not named and default in self.known_speakers:
            return default
        return None

    def window_mask(self, window: SearchWindow) -> np.ndarray | None:
        if window.start_at is None and window.end_at is None:
            return None
        mask = np.ones(self.size, dtype=bool)
        if window.start_at is not None:
            mask &= self.end_at >= window.start_at
        if window.end_at is not None:
            mask &= self.start_at <= window.end_at
        return mask
