"""``Idempotency-Key`` on the memory write routes (``POST …/messages/import``, ``…/archival``, ``…/archival/batch``,
``PATCH …/archival/{passage_id}``).

A client that timed out, or a proxy that retried, sends the same request again. With the same key (per agent, for
``IDEMPOTENCY_KEY_TTL_S`` from its first use) the server answers with the first response (status and body, the
same ids; header ``Idempotent-Replayed: true``) and stores nothing again (docs/protocol.md §Retried writes):

- the key is claimed in the database (``Store.claim_request_key``) before the request's work runs, so a retry
  that reaches another worker process, or another server on the same PostgreSQL, finds it;
- the same key with another route or body is a 409 ``idempotency_key_reused``; while the first request still
  runs, a 409 ``idempotency_key_in_use`` with ``Retry-After`` (the retry is not held open: a proxy's retry must
  not pile up behind a long embedding run);
- a request that fails (any error response) releases its key: it stored nothing, so a retry runs it again;
- a running request renews its claim's lease every ``KEY_RENEW_S``; a claim whose process died is taken over
  ``KEY_LEASE_S`` after its last renewal (it was 10 minutes after the claim, whatever happened: a retry of a
  request whose server was killed waited that long);
- every write records its first response in the transaction that stores what it wrote: an archival write's
  passages (``Store.write_passages`` with ``KeyedPassages``), an edit's passage (``Store.update_passage``), an
  import's lines and their memory jobs (``Store.import_messages`` with ``KeyedImport``). A process killed before
  that commit leaves nothing, so the retry that takes the claim over runs the request as the first attempt would
  have (the same counts, new ids); one killed after it leaves everything, and the retry is the replay.

The fingerprint is the route and the body as parsed (its fields in declared order, defaults filled in), so a
retry that serialises the same JSON with other whitespace or key order is the same request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel

from voice_letta import config as C
from voice_letta.agent.ports import HeldKey, KeyClaimLost, Store
from voice_letta.errors import ProtocolViolation, StorageError
from voice_letta.server.keys import STORE
from voice_letta.store.faults import KEYED_WRITE_COMMITTED, crash_point
from voice_letta.wire.openai_chat import error_body

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
KEY_LEASE_S = 60.0  # a claim not renewed for this long belongs to a dead process
KEY_RENEW_S = 15.0  # four renewals a lease: one lost to a busy database does not end it
REPLAYED_HEADER = "Idempotent-Replayed"

Outcome = tuple[int, dict[str, Any]]
Run = Callable[[HeldKey | None], Awaitable[Outcome]]


def idempotency_key(request: web.Request) -> str | None:
    """The request's ``Idempotency-Key`` (None without one); 400 when it is empty, longer than 255 characters, or
    holds control characters or bytes that are not UTF-8 (the same rule as for chat turns)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_CHARS:
        raise ProtocolViolation(f"{HEADER} must be 1 to {MAX_KEY_CHARS} characters", code="invalid_request",
                                param=HEADER)
    if not key.isprintable():  # undecodable bytes arrive as surrogates, which are not printable either
        raise ProtocolViolation(f"{HEADER} must be printable UTF-8 text", code="invalid_request", param=HEADER)
    return key


def fingerprint(route: str, body: BaseModel) -> str:
    return hashlib.sha256(route.encode() + b"\n" + body.model_dump_json().encode()).hexdigest()


def render(data: dict[str, Any]) -> str:
    """A response body as sent and as recorded under its key (the same bytes for the replay)."""
    return orjson.dumps(data).decode()


async def once(request: web.Request, agent_id: str, route: str, body: BaseModel, run: Run, *,
               run_finishes: bool = False) -> web.Response:
    """Run ``run`` (it returns the response's status and JSON body) once per ``Idempotency-Key`` of the agent.

    ``run`` gets the claimed key (None without one). With ``run_finishes`` it records the response under the key
    in its own write's transaction (``KeyedPassages``); else it is recorded here, after ``run``."""
    key = idempotency_key(request)
    if key is None:
        status, data = await run(None)
        return web.json_response(data, status=status)
    store = request.app[STORE]
    mark = fingerprint(route, body)
    now = time.time()
    claim = await store.claim_request_key(agent_id, key, mark, now=now, ttl_s=C.IDEMPOTENCY_KEY_TTL_S,
                                          lease_s=KEY_LEASE_S)
    if claim.outcome == "replay":
        return web.Response(status=claim.status or 200, text=claim.body, content_type="application/json",
                            headers={REPLAYED_HEADER: "true"})
    if claim.outcome == "mismatch":
        return _conflict(f"{HEADER} {key!r} was already used for a different request to this agent; use a new key "
                         "for a new request", "idempotency_key_reused")
    if claim.outcome == "running":
        return _conflict(f"a request with {HEADER} {key!r} is still running; retry it after it finished",
                         "idempotency_key_in_use", retry_after_s=1)
    held = HeldKey(agent_id, key, mark, claim.created_at)
    keeper = asyncio.create_task(_keep_claim(store, held), name=f"keep request key of {agent_id}")
    try:
        status, data = await run(held)
    except KeyClaimLost:  # its lease was not renewed in time and another request took the key: that one stores it
        log.warning("agent %s: the claim of a request key ended before its write (not renewed for %.0f s); "
                    "rolled back", agent_id, KEY_LEASE_S)
        return _conflict(f"a request with {HEADER} {key!r} is still running; retry it after it finished",
                         "idempotency_key_in_use", retry_after_s=1)
    except Exception:
        try:  # nothing was stored: a retry runs it again
            await store.release_request_key(agent_id, key, mark, claimed_at=held.claimed_at)
        except StorageError:  # the database is down: the claim ends with its lease
            log.warning("agent %s: could not release a request key", agent_id, exc_info=True)
        raise
    finally:
        keeper.cancel()
    text = render(data)
    if run_finishes:
        crash_point(KEYED_WRITE_COMMITTED)
    elif not await store.finish_request_key(agent_id, key, mark, status=status, body=text,
                                            claimed_at=held.claimed_at):
        log.warning("agent %s: the claim of a request key ended before its request (not renewed for %.0f s)",
                    agent_id, KEY_LEASE_S)
    return web.Response(status=status, text=text, content_type="application/json")


async def _keep_claim(store: Store, held: HeldKey) -> None:
    """Renew the claim's lease while its request runs (cancelled when it ends): a live request keeps its key
    however long its embedding takes, and a dead process's claim ends ``KEY_LEASE_S`` after its last renewal."""
    while True:
        await asyncio.sleep(KEY_RENEW_S)
        try:
            if not await store.renew_request_key(held, lease_until=time.time() + KEY_LEASE_S):
                return  # finished meanwhile, or taken over: nothing to keep
        except StorageError:  # the database is busy or down: the next renewal may get through
            log.warning("agent %s: could not renew the claim of a request key", held.agent_id, exc_info=True)


def _conflict(message: str, code: str, *, retry_after_s: float | None = None) -> web.Response:
    headers = {"Retry-After": str(math.ceil(retry_after_s))} if retry_after_s is not None else None
    return web.json_response(error_body(message, type_="conflict_error", code=code, param=HEADER), status=409,
                             headers=headers)
