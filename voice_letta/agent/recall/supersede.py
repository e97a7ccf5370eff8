"""Superseded passages go after the passage that replaced them.

A passage is *superseded* when a later one replaces its facts: the sleeptime agent says so when it archives an
update ("I moved to Seattle" replaces "I live in Boston"), or a REST insert names what it replaces. Search keeps
the older passage (it answers "where did I live before?") but never lets it stand alone at the top: wherever it
ranks, its current successor (the end of its chain) is placed just before it, pulled into the results if it did
not rank at all, and reports it as what it replaces (``previously``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_CHAIN = 16  # successor hops followed (chains only grow forward in time; this only bounds a corrupt loop)


def chain(row: int, successor: np.ndarray) -> list[int]:
    """The rows that replace ``row``, nearest first, down its chain of successors (a loop stops it)."""
    seen = {row}
    out: list[int] = []
    for _ in range(MAX_CHAIN):
        row = int(successor[row])
        if row < 0 or row in seen:
            break
        seen.add(row)
        out.append(row)
    return out


def current(row: int, successor: np.ndarray) -> int:
    """The newest passage in ``row``'s chain of successors (``row`` itself when it is not superseded)."""
    later = chain(row, successor)
    return later[-1] if later else row


def current_first(order: Sequence[int], previous: dict[int, list[int]], successor: np.ndarray,
                  allowed: np.ndarray | None, said_at: np.ndarray | None = None
                  ) -> tuple[list[int], dict[int, list[int]], dict[int, int]]:
    """``order`` with each superseded row's current successor placed just before it (unless it already ranks
    higher), and the rows of ``order`` in between (the same chain, said after it) right after the successor, newest
    first: Boston -> Seattle -> Portland ranks Portland, Seattle, Boston wherever Boston ranked. Returns the new
    order, ``previous`` extended (successor -> rows it replaces, newest first) and the successors that were pulled in
    or moved up, each with the replaced row whose rank it took. ``allowed``: rows a successor may come from (the
    search's time window), None for any. ``said_at``: when each row was said (default: rows are in time order)."""
    def when(row: int) -> float:
        return float(said_at[row]) if said_at is not None else float(row)

    out: list[int] = []
    placed: set[int] = set()
    took: dict[int, int] = {}
    prev = {k: list(v) for k, v in previous.items()}
    ends = {r: current(r, successor) for r in order}
    for r in order:
        if r in placed:
            continue
        s = ends[r]
        if s != r and (allowed is None or bool(allowed[s])):
            if s not in placed:
                out.append(s)
                placed.add(s)
                took[s] = r
            between = sorted((x for x in order if x not in placed and x != r and ends[x] == s and when(x) > when(r)),
                             key=when, reverse=True)
            for x in [*between, r]:
                replaced = prev.setdefault(s, [])
                if x not in replaced:
                    replaced.append(x)
                    replaced.sort(key=when, reverse=True)  # newest first
            for x in between:
                out.append(x)
                placed.add(x)
        out.append(r)
        placed.add(r)
    return out, prev, took
