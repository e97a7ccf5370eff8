"""``PATCH /v1/agents/{agent_id}/archival/{passage_id}``: correct one archived passage in place (and ``GET`` it).

A user who told the agent a wrong fact ("my sister lives in Porto", when it is Lisbon) needs the memory to say the
right one, and search to find the new words and no longer the old ones. The edit is checked like an insert
(``POST …/archival``: the same limits, strict JSON types, times in epoch seconds and not ahead of the clock), the
passage is embedded again when its words change (in this process, like a single insert), and the update, its
keyword terms, its FTS rows and the change log that other processes reload from are one store transaction
(``Store.update_passage``), with the ``Idempotency-Key`` response in it too. This process's search index of the
agent is dropped and, if it was loaded, loaded again in the background; live sessions get ``memory.updated``.

When the text changes and no ``synopsis`` is given, the synopsis is cleared: it summarised the old words, and a
search for the old fact would still find the passage through it.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from voice_letta import config as C
from voice_letta.agent.models import Passage
from voice_letta.agent.ports import HeldKey, KeyedPassages
from voice_letta.agent.recall.plain import embedding_text
from voice_letta.errors import ConflictError, NotFoundError, ProtocolViolation, ProviderError, in_the_future
from voice_letta.server.http_admin import parse_body
from voice_letta.server.http_memory import MEMORY_SEARCH, passage_json, says_something
from voice_letta.server.keys import AGENTS, STORE
from voice_letta.server.request_keys import Outcome, idempotency_key, once, render

routes = web.RouteTableDef()

EDIT_ATTEMPTS = 3  # another edit of the passage came between the read and the write: read it again


class PassageEdit(BaseModel):
    """What changes (absent or null: as it is); the limits are ``PassageCreate``'s."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=20_000)
    synopsis: str | None = Field(default=None, max_length=2_000)
    start_at: float | None = Field(default=None, ge=0, allow_inf_nan=False, strict=True)
    end_at: float | None = Field(default=None, ge=0, allow_inf_nan=False, strict=True)

    @field_validator("text")
    @classmethod
    def _says_something(cls, text: str | None) -> str | None:
        return None if text is None else says_something(text)


@routes.get("/v1/agents/{agent_id}/archival/{passage_id}")
async def get_passage(request: web.Request) -> web.Response:
    """One passage by id (what a client edits: it reads the passage, then sends the change)."""
    agent_id, passage_id = request.match_info["agent_id"], request.match_info["passage_id"]
    store = request.app[STORE]
    await store.get_agent(agent_id)
    found = await store.get_passages(agent_id, [passage_id])
    if not found:
        raise NotFoundError(f"unknown passage {passage_id} of agent {agent_id}")
    return web.json_response(passage_json(found[0]))


@routes.patch("/v1/agents/{agent_id}/archival/{passage_id}")
async def edit_passage(request: web.Request) -> web.Response:
    agent_id, passage_id = request.match_info["agent_id"], request.match_info["passage_id"]
    idempotency_key(request)  # a malformed key is a 400 before anything else is read
    await request.app[STORE].get_agent(agent_id)
    body = await parse_body(request, PassageEdit)
    if all(v is None for v in (body.text, body.synopsis, body.start_at, body.end_at)):
        raise ProtocolViolation("nothing to change: give text, synopsis, start_at or end_at", code="invalid_request")

    async def run(held: HeldKey | None) -> Outcome:
        return 200, await _edit(request, agent_id, passage_id, body, held)

    # the passage is part of the route: one key sent to edit two passages is two requests (409 reused)
    return await once(request, agent_id, f"PATCH /archival/{passage_id}", body, run, run_finishes=True)


async def _edit(request: web.Request, agent_id: str, passage_id: str, body: PassageEdit, held: HeldKey | None
                ) -> dict[str, Any]:
    """Read the passage, apply the edit, write it if the passage is still as read (``expected``): two edits at
    once (one of the text, one of the time) would otherwise each write back the other's field as it was before.
    Lost to another edit, it is applied again to what that one stored, up to ``EDIT_ATTEMPTS`` times (then 409)."""
    store = request.app[STORE]
    keyed = None if held is None else KeyedPassages(held, lambda stored, _: (200, render(passage_json(stored[0]))))
    for attempt in range(1, EDIT_ATTEMPTS + 1):
        found = await store.get_passages(agent_id, [passage_id], with_vectors=True)
        if not found:  # another agent's passage is not this agent's either
            raise NotFoundError(f"unknown passage {passage_id} of agent {agent_id}")
        current = found[0]
        start, end = _times(current, body)
        text = current.text if body.text is None else body.text
        synopsis = body.synopsis if body.synopsis is not None else current.synopsis if text == current.text else ""
        edited = current.model_copy(update={"text": text, "synopsis": synopsis, "start_at": start, "end_at": end})
        if (text, synopsis) != (current.text, current.synopsis):
            edited = await _embedded(request, edited)
        try:
            updated = await store.update_passage(edited, expected=current, keyed=keyed)
            break
        except ConflictError:
            if attempt == EDIT_ATTEMPTS:
                raise
    # the index is loaded again with the new words and vector, in the background (not by the next search)
    request.app[MEMORY_SEARCH].forget(agent_id, reload=True)
    await request.app[AGENTS].publish_memory_change(agent_id=agent_id)
    return passage_json(updated)


def _times(current: Passage, body: PassageEdit) -> tuple[float, float]:
    """The passage's new ``start_at``/``end_at``, checked as an insert's. A passage said at one moment (start =
    end) moves whole when only ``start_at`` is given; a range keeps the end not given."""
    was_start = next(t for t in (current.start_at, current.end_at, current.created_at) if t is not None)
    was_end = next(t for t in (current.end_at, current.start_at, current.created_at) if t is not None)
    start = was_start if body.start_at is None else body.start_at
    end = was_end if body.end_at is None else body.end_at
    if body.start_at is not None and body.end_at is None and was_start == was_end:
        end = start
    limit = time.time() + C.SAID_AT_FUTURE_S
    for name, value in (("start_at", body.start_at), ("end_at", body.end_at)):
        if value is not None and value > limit:
            raise in_the_future(f"a passage's {name}", value, param=name)
    if end < start:
        raise ProtocolViolation("a passage's end_at is before its start_at", code="invalid_request",
                                param="end_at" if body.end_at is not None else "start_at")
    return start, end


async def _embedded(request: web.Request, passage: Passage) -> Passage:
    """``passage`` with a vector of its new words from the agent's embedder (none when the server has none)."""
    embedder = await request.app[MEMORY_SEARCH].embedder_for(passage.agent_id)
    if embedder is None:
        return passage.model_copy(update={"embedding": None, "embedding_model": None, "embedding_dim": None})
    [vector] = await embedder.embed([embedding_text(passage.text, passage.synopsis)])
    if len(vector) != embedder.dim:
        raise ProviderError(f"{embedder.model} returned vectors that are not {embedder.dim}-d", retryable=False)
    return passage.model_copy(update={"embedding": vector, "embedding_model": embedder.model,
                                      "embedding_dim": embedder.dim})
