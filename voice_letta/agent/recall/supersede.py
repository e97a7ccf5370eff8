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


def current(row: int, successor: np.ndarray) -> int:
    """The newest passage in ``row``'s chain of successors (``row`` itself when it is not superseded)."""
    seen = {row}
    for _ in range(MAX_CHAIN):
        nxt = int(successor[row])
        if nxt < 0 or nxt in seen:
            break
        seen.add(nxt)
        row = nxt
    return row


def current_first(order: Sequence[int], previous: dict[int, list[int]], successor: np.ndarray,
                  allowed: np.ndarray | None) -> tuple[list[int], dict[int, list[int]], dict[int, int]]:
    """``order`` with each superseded row's current successor placed just before it (unless it already ranks
    higher). Returns the new order, ``previous`` extended (successor -> rows it replaces, newest first) and the
    successors that were pulled in or moved up, each with the replaced row whose rank it took. ``allowed``: rows a
    successor may come from (the search's time window), None for any."""
    out: list[int] = []
    placed: set[int] = set()
    took: dict[int, int] = {}
    prev = {k: list(v) for k, v in previous.items()}
    for r in order:
        if r in placed:
            continue
        s = current(r, successor)
        if s != r and (allowed is None or bool(allowed[s])):
            if s not in placed:
                out.append(s)
                placed.add(s)
                took[s] = r
            replaced = prev.setdefault(s, [])
            if r not in replaced:
                replaced.append(r)
                replaced.sort(reverse=True)  # rows are in insertion order: newest first
        out.append(r)
        placed.add(r)
    return out, prev, took
