"""REST for archival memory (passages), the messages import and the sleeptime hand-off queue.

Routes (their contract, with every field, limit and error, is the REST table of docs/protocol.md):
``GET/POST /v1/agents/{id}/archival``, ``POST …/archival/batch``, ``GET …/archival/search``,
``DELETE …/archival/{passage_id}``, ``PUT …/embedding``, ``POST …/archival/reembed``, ``POST …/messages/import``,
``GET …/memory/jobs``. The embedders they use are built by ``server/embedders.py``. The three writes take an
``Idempotency-Key`` (``server/request_keys.py``); an import skips messages an earlier import stored. A passage is
edited in place by ``PATCH …/archival/{passage_id}`` (``server/http_passage_edit.py``).
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from voice_letta import config as C
from voice_letta import ids
from voice_letta.agent.memory_manager import MemoryManager
from voice_letta.agent.memory_search import Hit, MemorySearch, SearchWindow
from voice_letta.agent.models import EmbeddingConfig, Message, Passage
from voice_letta.agent.ports import EmbedderFactory, HeldKey, KeyedImport, KeyedPassages, MemoryJob
from voice_letta.agent.recall.listing import Listed
from voice_letta.agent.recall.plain import embedding_text
from voice_letta.errors import ConfigError, ProtocolViolation, ProviderError, in_the_future
from voice_letta.server.http_admin import parse_body
from voice_letta.server.keys import AGENTS, STORE
from voice_letta.server.params import float_query, int_query
from voice_letta.server.request_keys import Outcome, idempotency_key, once, render

MEMORY_SEARCH = web.AppKey("memory_search", MemorySearch)
MEMORY_MANAGER = web.AppKey("memory_manager", MemoryManager)
BACKGROUND_EMBEDDERS = web.AppKey("background_embedders", EmbedderFactory)  # bulk work, off the server's cores

routes = web.RouteTableDef()


class PassageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    synopsis: str = Field(default="", max_length=2_000)
    # when it was said, epoch seconds (strict: JSON true is not the second 1 of 1970)
    start_at: float | None = Field(default=None, ge=0, allow_inf_nan=False, strict=True)
    end_at: float | None = Field(default=None, ge=0, allow_inf_nan=False, strict=True)
    # ids of the agent's passages whose facts this one replaces: they are marked superseded by it
    supersedes: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("text")
    @classmethod
    def _says_something(cls, text: str) -> str:
        return says_something(text)


def says_something(text: str) -> str:
    """A passage's text, or ValueError when it is only whitespace or invisible marks.

    A passage of spaces, line breaks or invisible marks (U+200B, U+FEFF) was stored (201): it matches no question,
    yet fills search results and a window's listing, and the client learns nothing of its mistake."""
    if all(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise ValueError("text is only whitespace or invisible characters: a passage must say something")
    return text


MAX_BATCH_PASSAGES = 1000


class PassageBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passages: list[PassageCreate] = Field(min_length=1, max_length=MAX_BATCH_PASSAGES)


MAX_IMPORT_MESSAGES = 1000


class ImportedMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1, max_length=20_000)
    said_at: float = Field(ge=0, allow_inf_nan=False, strict=True)  # epoch seconds (not a JSON true or "1")


class MessagesImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[ImportedMessage] = Field(min_length=1, max_length=MAX_IMPORT_MESSAGES)
    archive: bool = True  # hand the conversation to the sleeptime agent (an "import" memory job)


class ReembedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=256, ge=1, le=2000)


def passage_json(p: Passage, score: float | None = None, confidence: float | None = None) -> dict[str, Any]:
    data = p.model_dump(mode="json", exclude={"embedding"})
    if score is not None:
        data["score"] = round(score, 6)
    if confidence is not None:
        data["confidence"] = round(confidence, 4)
    return data


def job_json(j: MemoryJob) -> dict[str, Any]:
    return {
        "id": j.id, "agent_id": j.agent_id, "kind": j.kind, "status": j.status, "attempts": j.attempts,
        "through_seq": j.through_seq, "older_from_seq": j.payload.older_from_seq,
        "older_through_seq": j.payload.older_through_seq, "newer_from_seq": j.payload.newer_from_seq,
        "newer_through_seq": j.payload.newer_through_seq, "from_char": j.payload.from_char,
        "to_char": j.payload.to_char, "run_after": j.run_after, "created_at": j.created_at,
        "updated_at": j.updated_at, "error": j.error,
    }


@routes.get("/v1/agents/{agent_id}/archival")
async def list_passages(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    store = request.app[STORE]
    await store.get_agent(agent_id)
    passages = await store.list_passages(agent_id, limit=int_query(request, "limit", 100, maximum=1000),
                                         offset=int_query(request, "offset", 0, minimum=0, maximum=10**9))
    return web.json_response({"object": "list", "data": [passage_json(p) for p in passages],
                              "total": await store.count_passages(agent_id)})


@routes.get("/v1/agents/{agent_id}/archival/search")
async def search_passages(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    agent = await request.app[STORE].get_agent(agent_id)
    query = request.query.get("query", "").strip()
    if not query:
        raise ProtocolViolation("query parameter query is required", code="invalid_request", param="query")
    if len(query) > C.MAX_SEARCH_QUERY_CHARS:
        # a question is at most a few hundred characters; a pasted blob (a log, base64, a whole chat) costs the
        # ranking time that grows with its length, on the event loop every session shares
        raise ProtocolViolation(f"query parameter query is longer than {C.MAX_SEARCH_QUERY_CHARS:,} characters",
                                code="invalid_request", param="query")
    search = request.app[MEMORY_SEARCH]
    window = SearchWindow(float_query(request, "start_at", "a number (epoch seconds)"),
                          float_query(request, "end_at", "a number (epoch seconds)"))
    if window.start_at is not None and window.end_at is not None and window.end_at < window.start_at:
        # swapped parameters read nothing and the agent would say it remembers nothing: say so instead
        raise ProtocolViolation("query parameter end_at is before start_at", code="invalid_request", param="end_at")
    for name, value in (("start_at", window.start_at), ("end_at", window.end_at)):
        if value is not None and value > 1e11:  # JavaScript's Date.now(): a window in the year 58000 reads nothing
            raise ProtocolViolation(f"query parameter {name} looks like milliseconds; times are epoch seconds "
                                    "(divide by 1000)", code="invalid_request", param=name)
    limit = int_query(request, "limit", 5, maximum=100)
    now, given = time.time(), window.start_at is not None or window.end_at is not None
    if not given:  # "what did I say last tuesday?"
        window = await search.window_in_words(agent_id, query, now=now, tz=agent.timezone) or window
    listed = await search.listing(agent_id, [query], window, limit, False, agent.timezone, now)
    hits = listed[0] if listed is not None else await search.hybrid(agent_id, [query], window, limit=limit,
                                                                    include_messages=False, tz=agent.timezone,
                                                                    fill=True)
    return web.json_response({"object": "list",
                              "data": [passage_json(h.passage, h.score, h.confidence)
                                       | {"previously": [p.id for p in h.previously],
                                          "context": None if h.context is None else
                                          {"id": h.context.id, "text": h.context.text}}
                                       for h in hits if h.passage is not None],
                              "keyword_only": search.keyword_only(agent_id),
                              "window": _window_json(window, given, listed,
                                                     sum(isinstance(h, Listed) for h in hits))})


def _window_json(window: SearchWindow, given: bool, listed: tuple[list[Hit], int, tuple[str, SearchWindow] | None]
                 | None, filled: int) -> dict[str, Any] | None:
    """What the search read as its time window (docs/protocol.md): null when none; ``listed`` when the query named no
    topic and the window was listed in order rather than ranked, with how many passages it holds (``total``) and the
    part of the day listed first; ``filled``: the window's other passages listed after the ranked ones."""
    if window.start_at is None and window.end_at is None:
        return None
    part = None if listed is None or listed[2] is None else listed[2]
    return {"start_at": window.start_at, "end_at": window.end_at, "from": "given" if given else "words",
            "listed": listed is not None, "total": None if listed is None else listed[1], "filled": filled,
            "part": None if part is None else {"name": part[0], "start_at": part[1].start_at,
                                               "end_at": part[1].end_at}}


@routes.post("/v1/agents/{agent_id}/archival")
async def add_passage(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    idempotency_key(request)  # a malformed key is a 400 before anything else is read
    await request.app[STORE].get_agent(agent_id)
    body = await parse_body(request, PassageCreate)

    def respond(stored: list[Passage], marked: list[list[str]]) -> dict[str, Any]:
        return passage_json(stored[0]) | {"supersedes": marked[0]}

    async def run(held: HeldKey | None) -> Outcome:
        return 201, await _insert(request, agent_id, [body], bulk=False, held=held, respond=respond)

    return await once(request, agent_id, "POST /archival", body, run, run_finishes=True)


@routes.post("/v1/agents/{agent_id}/archival/batch")
async def add_passages(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    idempotency_key(request)
    await request.app[STORE].get_agent(agent_id)
    body = await parse_body(request, PassageBatch)

    def respond(stored: list[Passage], marked: list[list[str]]) -> dict[str, Any]:
        return {"object": "list", "data": [passage_json(p) | {"supersedes": m}
                                           for p, m in zip(stored, marked, strict=True)]}

    async def run(held: HeldKey | None) -> Outcome:
        return 201, await _insert(request, agent_id, body.passages, bulk=True, held=held, respond=respond)

    return await once(request, agent_id, "POST /archival/batch", body, run, run_finishes=True)


async def _insert(request: web.Request, agent_id: str, items: Sequence[PassageCreate], *, bulk: bool,
                  held: HeldKey | None, respond: Callable[[list[Passage], list[list[str]]], dict[str, Any]]
                  ) -> dict[str, Any]:
    """Embed (one batch) and store passages in one transaction with what each supersedes (and, under a claimed
    ``Idempotency-Key``, the response: ``respond``'s body, status 201), index them and tell live sessions.
    Returns the response body.

    A batch embeds in the background embedding process (niced, like the sleeptime agent's work) when the server
    has one, so a bulk load does not take CPU from voice turns; a single passage embeds in-process."""
    store = request.app[STORE]
    search = request.app[MEMORY_SEARCH]
    now = time.time()
    named = list(dict.fromkeys(pid for item in items for pid in item.supersedes))
    if named:
        found = {p.id for p in await store.get_passages(agent_id, named)}
        if unknown := [pid for pid in named if pid not in found]:
            first = next(i for i, item in enumerate(items) if unknown[0] in item.supersedes)
            raise ProtocolViolation(f"supersedes names passages this agent does not have: {', '.join(unknown[:5])}",
                                    code="invalid_request",
                                    param=f"passages.{first}.supersedes" if bulk else "supersedes")
    passages = []
    for k, item in enumerate(items):
        start = item.start_at if item.start_at is not None else item.end_at if item.end_at is not None else now
        end = item.end_at if item.end_at is not None else start
        if end < start:
            raise ProtocolViolation("a passage's end_at is before its start_at", code="invalid_request",
                                    param=f"passages.{k}.end_at" if bulk else "end_at")
        # When the words were said cannot be ahead of the clock (as a message's said_at): a passage dated in year
        # 31,690,708 (start_at 1e15) was stored, then every search_memory that showed it failed the turn.
        if end > now + C.SAID_AT_FUTURE_S:
            field = "start_at" if item.start_at is not None and start > now + C.SAID_AT_FUTURE_S else "end_at"
            raise in_the_future(f"a passage's {field}", start if field == "start_at" else end,
                                param=f"passages.{k}.{field}" if bulk else field)
        passages.append(Passage(id=ids.passage_id(), agent_id=agent_id, text=item.text, synopsis=item.synopsis,
                                start_at=start, end_at=end, created_at=now))
    embedder = await search.embedder_for(agent_id)
    if embedder is not None:
        background = request.app.get(BACKGROUND_EMBEDDERS) if bulk else None
        worker = embedder
        if background is not None:
            agent = await store.get_agent(agent_id)
            worker = background.for_config(agent.embedding)
            if (worker.model, worker.dim) != (embedder.model, embedder.dim):
                worker = embedder
        vectors = await worker.embed([embedding_text(p.text, p.synopsis) for p in passages])
        if any(len(v) != embedder.dim for v in vectors):
            raise ProviderError(f"{embedder.model} returned vectors that are not {embedder.dim}-d", retryable=False)
        model = {"embedding_model": embedder.model, "embedding_dim": embedder.dim}
        passages = [p.model_copy(update={"embedding": v, **model}) for p, v in zip(passages, vectors, strict=True)]
    keyed = None if held is None else KeyedPassages(held, lambda stored, marked: (201, render(respond(stored, marked))))
    stored, marked = await store.write_passages(passages, [item.supersedes for item in items], keyed=keyed)
    await search.index_passages(agent_id, stored)
    for p, ids_marked in zip(stored, marked, strict=True):
        search.supersede(agent_id, ids_marked, p.id)
    await request.app[AGENTS].publish_memory_change(agent_id=agent_id, passages_added=len(stored))
    return respond(stored, marked)


@routes.delete("/v1/agents/{agent_id}/archival/{passage_id}")
async def delete_passage(request: web.Request) -> web.Response:
    agent_id, passage_id = request.match_info["agent_id"], request.match_info["passage_id"]
    await request.app[STORE].delete_passage(agent_id, passage_id)
    request.app[MEMORY_SEARCH].forget(agent_id, reload=True)  # loaded again in the background if it was loaded
    await request.app[AGENTS].publish_memory_change(agent_id=agent_id, passages_removed=1)
    return web.json_response({"id": passage_id, "deleted": True})


@routes.put("/v1/agents/{agent_id}/embedding")
async def set_embedding(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    store = request.app[STORE]
    agent = await store.get_agent(agent_id)
    config = await parse_body(request, EmbeddingConfig)
    search = request.app[MEMORY_SEARCH]
    search.embedder_for_config(config)  # a model this server cannot run is refused here, not at search time
    await store.update_agent(agent.model_copy(update={"embedding": config}))
    search.forget(agent_id)
    _, stale = await store.passages_to_reembed(agent_id, config.model, config.dim, limit=0)
    return web.json_response({"embedding": config.model_dump(mode="json"), "to_reembed": stale})


@routes.post("/v1/agents/{agent_id}/archival/reembed")
async def reembed_passages(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    store = request.app[STORE]
    agent = await store.get_agent(agent_id)
    body = await parse_body(request, ReembedRequest)
    embedders = request.app.get(BACKGROUND_EMBEDDERS)
    embedder = (embedders.for_config(agent.embedding) if embedders is not None
                else await request.app[MEMORY_SEARCH].embedder_for(agent_id))
    if embedder is None:
        raise ConfigError("this server has no embedder")
    batch, stale = await store.passages_to_reembed(agent_id, embedder.model, embedder.dim, limit=body.limit)
    vectors = await embedder.embed([embedding_text(p.text, p.synopsis) for p in batch])
    if any(len(v) != embedder.dim for v in vectors):
        raise ProviderError(f"{embedder.model} returned vectors that are not {embedder.dim}-d", retryable=False)
    # a passage edited while its batch was embedded has its new words' vector already: not overwritten
    done = await store.set_passage_embeddings(agent_id, [(p.id, v) for p, v in zip(batch, vectors, strict=True)],
                                              model=embedder.model,
                                              embedded_from=[(p.text, p.synopsis) for p in batch])
    request.app[MEMORY_SEARCH].forget(agent_id)  # the next search loads the index with these vectors
    return web.json_response({"reembedded": done, "remaining": stale - done, "embedding_model": embedder.model,
                              "embedding_dim": embedder.dim})


@routes.post("/v1/agents/{agent_id}/messages/import")
async def import_messages(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    idempotency_key(request)
    await request.app[STORE].get_agent(agent_id)
    body = await parse_body(request, MessagesImport)
    limit = time.time() + C.SAID_AT_FUTURE_S
    if future := [i for i, m in enumerate(body.messages) if m.said_at > limit]:
        raise in_the_future("a message's said_at", body.messages[future[0]].said_at,
                            param=f"messages.{future[0]}.said_at")

    async def run(held: HeldKey | None) -> Outcome:
        return 202, await _import(request, agent_id, body, held)

    return await once(request, agent_id, "POST /messages/import", body, run, run_finishes=True)


async def _import(request: web.Request, agent_id: str, body: MessagesImport, held: HeldKey | None
                  ) -> dict[str, Any]:
    """Store the messages not stored by an earlier import and hand them to the sleeptime agent.

    What an earlier import stored is skipped in the insert's own transaction (``Store.import_messages``), so two
    overlapping imports sent at once, to one process or to several on the database, store the overlap once; the
    lines' memory jobs and, under a claimed ``Idempotency-Key``, the response are written in that transaction too."""
    ordered = sorted(body.messages, key=lambda m: m.said_at)  # stable: equal times keep the order given
    rows = [Message(id=ids.message_id(), agent_id=agent_id, role=m.role, content=m.content, created_at=m.said_at)
            for m in ordered]

    def respond(stored: list[Message], jobs: list[MemoryJob]) -> dict[str, Any]:
        return {"imported": len(stored), "duplicates": len(rows) - len(stored),
                "first_seq": stored[0].seq if stored else None, "last_seq": stored[-1].seq if stored else None,
                "job_id": jobs[0].id if jobs else None, "job_ids": [j.id for j in jobs]}

    keyed = None if held is None else KeyedImport(held, lambda stored, jobs: (202, render(respond(stored, jobs))))
    stored, jobs = await request.app[MEMORY_MANAGER].import_messages(agent_id, rows, archive=body.archive,
                                                                     keyed=keyed)
    return respond(stored, jobs)


@routes.get("/v1/agents/{agent_id}/memory/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    store = request.app[STORE]
    await store.get_agent(agent_id)
    jobs = await store.list_memory_jobs(agent_id, limit=int_query(request, "limit", 50, maximum=1000))
    return web.json_response({"object": "list", "data": [job_json(j) for j in jobs]})
