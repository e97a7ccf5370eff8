"""The store contract for turns: turn records, the replay rule and the agent lease."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from voice_letta import config as C
from voice_letta.agent.models import Message, TurnRecord


class TurnEnding(Protocol):
    """What the replay rule reads of a turn: a ``TurnRecord``, or a store's lighter view of one."""

    @property
    def status(self) -> str: ...
    @property
    def started_at(self) -> float: ...
    @property
    def ended_at(self) -> float | None: ...
    @property
    def error(self) -> str | None: ...


def is_retry_of(latest: TurnEnding, now: float, *, replay_window_s: float, retry_window_s: float) -> bool:
    """Is a request equal to the agent's latest turn a retry of it (no Idempotency-Key)? A completed turn is
    replayed only shortly after it ended; one that failed, was cut off or died is run again for a while longer."""
    if latest.status == "completed" or (latest.ended_at is not None and latest.error is None):
        return latest.ended_at is not None and now - latest.ended_at <= replay_window_s
    return now - latest.started_at <= retry_window_s


def never_completed(turn: TurnEnding) -> bool:
    """A turn that failed, was cut off or died (running with a dead holder, incomplete): one ``is_retry_of``
    would run again. A key-less re-send of such a turn is its retry even when other turns of the agent ran
    since (``begin_turn``), as long as its input is still in context."""
    return not (turn.status == "completed" or (turn.ended_at is not None and turn.error is None))


@dataclass(frozen=True, slots=True)
class TurnBegun:
    """What ``Store.begin_turn`` found and did, in one transaction, once it held the agent's lease."""

    lease: int  # the lease token; ``end_turn`` / ``release_agent`` give the lease back only if it still matches
    previous: TurnRecord | None  # the agent's latest turn with this fingerprint; then nothing was inserted
    inserted: list[Message]  # the input rows as stored (with their seq)
    history: list[Message]  # the agent's in-context messages after the insert, in seq order


class BeginCancelled(asyncio.CancelledError):
    """``begin_turn`` was cancelled, and its transaction ran to its end first: ``begun`` is what it did (``None``:
    the lease was busy). Raised only by a store whose ``begin_turn_survives_cancel`` is true; the caller gives back
    a lease it no longer wants and raises a plain ``CancelledError`` on: asyncio's TaskGroup and timeout in Python
    3.11 know a cancellation by its exact type and take this subclass for an error."""

    def __init__(self, begun: TurnBegun | None) -> None:
        super().__init__()
        self.begun = begun


class TurnStore(Protocol):
    """Turn records and the agent lease (one turn at a time per agent, across processes)."""

    async def save_turn(self, turn: TurnRecord) -> None: ...
    async def find_turn(self, agent_id: str, fingerprint: str) -> TurnRecord | None: ...
    async def list_turns(self, agent_id: str, *, limit: int = 50, status: str | None = None) -> list[TurnRecord]:
        """The agent's latest ``limit`` turns (with that ``status``), oldest first."""
        ...

    async def mark_unfinished_turns(self, *, now: float) -> int:
        """At start-up: 'running' turns whose agent lease is not held (their process died) → 'incomplete'."""
        ...

    async def busy_lease_holders(self) -> list[str]:
        """The holders of busy agent leases (expired or not)."""
        ...

    async def begin_turn(
        self, turn: TurnRecord, rows: Sequence[Message], *, holder: str, lease_s: float, now: float,
        replay_window_s: float = C.REPLAY_WINDOW_S, retry_window_s: float = C.RETRY_WINDOW_S,
        key_ttl_s: float = C.IDEMPOTENCY_KEY_TTL_S, supersede_abandoned: bool = False,
        supersede_window_s: float = C.SUPERSEDE_WINDOW_S,
    ) -> TurnBegun | None:
        """Take the agent's lease for ``holder`` and start the turn, all in one transaction.

        ``None`` (and nothing written) when another holder's lease is busy and not expired. Otherwise the turn
        this one retries, if any, is returned as ``previous`` and nothing is stored: with
        ``turn.idempotency_key``, the agent's turn with that key started within ``key_ttl_s``; without, the
        agent's latest turn when it has ``turn.fingerprint`` and ``is_retry_of`` says so, else the agent's latest
        other turn with ``turn.fingerprint`` when it started within ``retry_window_s``, ``never_completed`` and its
        input rows are still in context (a re-send queued behind other turns of the agent). Else ``turn`` is saved
        and ``rows`` appended; first, with ``supersede_abandoned``, the input rows of the agent's latest turn are
        deleted when it was abandoned (cut off before any output) within ``supersede_window_s``. The in-context
        history is read last.

        Cancelled once its transaction may have started, a store whose ``begin_turn_survives_cancel`` attribute is
        true lets it finish and raises ``BeginCancelled`` with what it did; any other store's caller must keep the
        call running itself (a task and a shield) to learn whether it took the lease.
        """
        ...

    async def end_turn(
        self, agent_id: str, turn: TurnRecord | None, rows: Sequence[Message], *, holder: str, lease: int
    ) -> list[Message]:
        """Append ``rows``, save ``turn`` (when given) and give the lease back, in one transaction."""
        ...

    async def release_agent(self, agent_id: str, *, holder: str, lease: int) -> None:
        """Give a lease back without writing anything else (a no-op when it is no longer this holder's)."""
        ...

    async def renew_leases(self, holder: str, *, until: float) -> int:
        """Extend every busy agent lease and running memory job of ``holder`` to ``until``; returns how many."""
        ...

    async def release_holder(self, holder: str, *, now: float) -> int:
        """``holder`` is dead: free its agent leases (their holder becomes ``''``, no one, so their agents' jobs
        wait for no affinity) and make its running jobs claimable now. Returns how many busy leases and running
        jobs it freed."""
        ...
