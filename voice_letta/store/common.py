"""What every store backend shares besides the row codecs (``rows.py``): the rules of the ``Store`` contract
that are not SQL.

- new blocks get their defaults and limits checked here (``new_block``), block writes are validated here
  (``updated_block``), and passages get their ``embedding_dim`` filled in (``prepared_passages``), so the
  SQLite and PostgreSQL adapters reject exactly the same input with exactly the same errors;
- memory-job rows have the same columns on both backends (``JOB_COLUMNS``, ``job_from_row``);
- a request key held by another request is read the same way (``key_claim``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from voice_letta import config as C
from voice_letta.agent.models import Block, Passage
from voice_letta.agent.ports import (
    Change,
    HandoffRange,
    HeldKey,
    KeyClaim,
    KeyClaimLost,
    MemoryJob,
    MessageTail,
    NewBlock,
    PassageTexts,
)
from voice_letta.errors import ConfigError
from voice_letta.ids import block_id as new_block_id
from voice_letta.store import rows as R
from voice_letta.store.faults import KEYED_WRITE_UNCOMMITTED, crash_point
from voice_letta.store.rows import Row

BLOCK_FIELDS = frozenset({"limit", "description", "read_only", "label"})

_T = TypeVar("_T")


def new_block(spec: NewBlock, index: int | None = None) -> Block:
    """A new block from ``spec``; ``index``: its place in the request's ``blocks``, for the error's ``param``
    (``blocks.0.value``: a client's form can point at the field, as for every other 400)."""
    where = "" if index is None else f"blocks.{index}."
    limit = spec.limit if spec.limit is not None else C.DEFAULT_BLOCK_CHAR_LIMIT
    if limit <= 0:
        raise ConfigError(f"block {spec.label!r}: the limit must be positive", param=f"{where}limit")
    if len(spec.value) > limit:
        raise ConfigError(f"block {spec.label!r} value is {len(spec.value)} characters; the limit is {limit}",
                          param=f"{where}value")
    return Block(
        id=new_block_id(), label=spec.label, value=spec.value, limit=limit, description=spec.description,
        read_only=spec.read_only,
    )


def check_block_fields(fields: dict[str, Any]) -> None:
    if unknown := set(fields) - BLOCK_FIELDS:
        raise ConfigError(f"unknown block fields: {sorted(unknown)}")


def updated_block(current: Block, value: str, fields: dict[str, Any]) -> Block:
    """``current`` with ``value`` and ``fields`` applied (version unchanged), or ConfigError."""
    # Read-only protects a block from the agents; the operator edits it by saying what it stays: read_only true
    # (a shared fact such as opening hours, changed for every agent at once) or false (unlocked).
    if current.read_only and "read_only" not in fields:
        raise ConfigError(f"block {current.label!r} is read-only: send read_only true with the new value to edit it "
                          "and keep it read-only, or false to unlock it", param="read_only")
    try:
        new = Block.model_validate({**current.model_dump(), **fields, "value": value})
    except ValidationError as exc:
        raise ConfigError(f"invalid block fields: {exc}") from exc
    if new.limit <= 0:
        raise ConfigError("a block's limit must be positive", param="limit")
    if len(new.value) > new.limit:
        # the field at fault: the new value, or (the value as it was) a limit lowered below it
        raise ConfigError(
            f"block {new.label!r} value is {len(new.value)} characters; the limit is {new.limit}. "
            "Shorten it or summarize it.", param="value" if value != current.value else "limit"
        )
    return new


async def passage_rows(passages: Sequence[Passage]) -> list[tuple[Any, ...]]:
    """``rows.passage_params`` of each passage, computed on a worker thread: a passage's keyword terms and flags
    (``encode_passage``) cost ~5 ms of CPU for 2,000 characters, and a batch of them on the event loop stalled every
    session of the process (QA: 1,000 passages of ~2,000 characters held the loop ~10 s)."""
    return await asyncio.to_thread(lambda: [R.passage_params(p) for p in passages])


def prepared_passages(passages: Iterable[Passage]) -> list[Passage]:
    """Passages with ``embedding_dim`` filled in from their embedding (ConfigError when they disagree)."""
    stored: list[Passage] = []
    for p in passages:
        if p.embedding is not None:
            if p.embedding_dim is not None and p.embedding_dim != len(p.embedding):
                raise ConfigError(
                    f"passage {p.id}: embedding has {len(p.embedding)} values, embedding_dim says {p.embedding_dim}"
                )
            p = p.model_copy(update={"embedding_dim": len(p.embedding)})
        stored.append(p)
    return stored


def passage_texts(found: Sequence[Row]) -> PassageTexts:
    """``load_passage_texts`` rows (id, text, synopsis, start, end, terms) as the port's value."""
    return PassageTexts(ids=tuple(r[0] for r in found), texts=tuple(r[1] for r in found),
                        synopses=tuple(r[2] for r in found), start_at=tuple(float(r[3]) for r in found),
                        end_at=tuple(float(r[4]) for r in found),
                        terms=tuple(None if r[5] is None else bytes(r[5]) for r in found),
                        superseded_by=tuple(r[6] for r in found))


# ``load_message_tail``: out-of-context rows carry content and terms, in-context ones only where they are.
MESSAGE_TAIL_SQL = (
    "SELECT id, seq, role, CASE WHEN in_context <> 0 THEN '' ELSE coalesce(content, '') END, created_at, "
    "in_context <> 0, "
    "CASE WHEN in_context <> 0 THEN NULL ELSE terms END FROM messages WHERE agent_id = {agent} AND seq > {after} "
    "AND role IN ('user', 'assistant') AND NOT (kind = 'imported' AND seq <= {seen}) ORDER BY seq"
)


def message_tail(found: Sequence[Row]) -> MessageTail:
    return MessageTail(ids=tuple(r[0] for r in found), seqs=tuple(int(r[1]) for r in found),
                       roles=tuple(r[2] for r in found), contents=tuple(r[3] for r in found),
                       created_at=tuple(float(r[4]) for r in found), in_context=tuple(bool(r[5]) for r in found),
                       terms=tuple(None if r[6] is None else bytes(r[6]) for r in found))


def chunked(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def flat(rows: Iterable[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


# --- memory jobs (the sleeptime hand-off queue) -----------------------------------------------------------
JOB_COLUMNS = (
    "id, agent_id, kind, payload, through_seq, status, attempts, run_after, created_at, updated_at, error, crashes"
)


def job_from_row(r: Row) -> MemoryJob:
    return MemoryJob(
        id=int(r[0]), agent_id=r[1], kind=r[2], payload=HandoffRange(**json.loads(r[3])),
        through_seq=int(r[4]), status=r[5], attempts=int(r[6]), run_after=float(r[7]), created_at=float(r[8]),
        updated_at=float(r[9]), error=r[10], crashes=int(r[11]),
    )


# --- the change log --------------------------------------------------------------------------------------
def change_from_row(r: Row) -> Change:
    payload = json.loads(str(r[4])) if r[4] not in (None, "", "{}") else {}
    return Change(
        id=int(r[0]), agent_id=str(r[1]), kind=r[2], origin=str(r[3]), at=float(r[5]),
        passage_id=payload.get("id"), passages_added=int(payload.get("passages_added", 0)),
        passages_removed=int(payload.get("passages_removed", 0)), reason=str(payload.get("reason", "")),
    )


def key_claim(fingerprint: str, held: Sequence[Any]) -> KeyClaim:
    """What a request with ``fingerprint`` finds in a key's row ``(fingerprint, status, body, created_at,
    lease_until)`` that another request claimed: another request's key, that request's first response, or still
    running."""
    theirs, status, body, created_at, lease_until = held
    if theirs != fingerprint:
        return KeyClaim("mismatch", created_at=float(created_at), lease_until=float(lease_until))
    if status is None:
        return KeyClaim("running", created_at=float(created_at), lease_until=float(lease_until))
    return KeyClaim("replay", status=int(status), body=body, created_at=float(created_at),
                    lease_until=float(lease_until))


def finish_params(held: HeldKey, status: int, body: str) -> tuple[Any, ...]:
    """The parameters of a backend's ``FINISH`` (a held request key's response, written in its write's transaction)."""
    return status, body, held.agent_id, held.key, held.fingerprint, held.claimed_at


def key_finished(rowcount: int, held: HeldKey) -> None:
    """After ``FINISH`` in a keyed write's own transaction: the claim must still have been held (else the write is
    rolled back: another process took the key over), then the test-only crash point before the commit."""
    if rowcount != 1:
        raise KeyClaimLost(f"agent {held.agent_id}: the claim of a request key ended before its write")
    crash_point(KEYED_WRITE_UNCOMMITTED)
