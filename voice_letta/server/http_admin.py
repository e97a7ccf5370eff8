"""REST for agents, memory blocks, messages, models, tokens, health and metrics."""

from __future__ import annotations

import time
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from voice_letta import config as C
from voice_letta.agent.models import AgentState, ProviderName
from voice_letta.agent.service import AgentCreate, BlockUpdate
from voice_letta.errors import NotFoundError
from voice_letta.server.auth import TokenScope, issue_token
from voice_letta.server.keys import AGENTS, CONFIG, METRICS, MODELS, STORE
from voice_letta.server.params import bool_query, int_query, optional_int_query, url_query
from voice_letta.wire._json import as_utf8, refuse_nul, validate_body

routes = web.RouteTableDef()
M = TypeVar("M", bound=BaseModel)


async def parse_body(request: web.Request, model: type[M]) -> M:
    """A REST body, validated strictly on JSON types: ``true`` is not the number 1 (``"turn_budget_s": true`` was a
    one-second budget, ``"ttl_s": true`` a one-second token), ``"5"`` is not 5 and ``"no"`` is not ``false``; a
    JSON integer is still a number where a float is asked. The error names the field (docs/protocol.md)."""
    body, raw = validate_body(model, as_utf8(await request.read(), request.charset) or b"{}", strict=True)
    refuse_nul(raw)
    return body


def agent_json(agent: AgentState) -> dict[str, Any]:
    data = agent.model_dump(mode="json")
    for tool in data.get("tools", []):
        tool.pop("source_code", None)
    return data


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "time": time.time()})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: tuple[TokenScope, ...] = Field(default=("voice",), min_length=1, max_length=2)
    agent: str = Field(min_length=1, max_length=200, description="agent id or unique name the token is for")
    ttl_s: int = Field(default=C.TOKEN_TTL_S, ge=1, le=C.MAX_TOKEN_TTL_S)


@routes.post("/v1/tokens")
async def tokens(request: web.Request) -> web.Response:
    """A scoped token (server/auth.py): minted with the API key only (ADMIN), for one agent and scope."""
    req = await parse_body(request, TokenRequest)
    key = request.app[CONFIG].api_key
    if key is None:
        return web.json_response({"token": None, "expires_at": None, "note": "the server needs no key"})
    agent = await request.app[AGENTS].find(req.agent)
    if agent is None:
        raise NotFoundError(f"no agent {req.agent[:80]!r}: give an agent id or a unique agent name",
                            code="agent_not_found")
    token, claims = issue_token(key, scopes=tuple(dict.fromkeys(req.scopes)), agent_id=agent.id, ttl_s=req.ttl_s)
    return web.json_response({"token": token, "expires_at": claims.exp, "scopes": list(claims.scopes),
                              "agent_id": agent.id})


@routes.post("/v1/agents")
async def create_agent(request: web.Request) -> web.Response:
    from voice_letta.server.http_memory import MEMORY_SEARCH  # http_memory imports this module

    req = await parse_body(request, AgentCreate)
    if req.embedding is not None:  # as PUT …/embedding and PATCH do: a model this server cannot run is a 400
        request.app[MEMORY_SEARCH].embedder_for_config(req.embedding)
    for llm in (req.llm, req.sleeptime_llm):  # and a model it cannot reach (no key): a 400, not a failed turn each time
        if llm is not None:
            request.app[MODELS].check(llm)
    agent = await request.app[AGENTS].create(req)
    return web.json_response(agent_json(agent), status=201)


@routes.get("/v1/agents")
async def list_agents(request: web.Request) -> web.Response:
    agents = await request.app[STORE].list_agents()
    return web.json_response({"object": "list", "data": [agent_json(a) for a in agents]})


@routes.get("/v1/agents/{agent_id}")
async def get_agent(request: web.Request) -> web.Response:
    return web.json_response(agent_json(await request.app[STORE].get_agent(request.match_info["agent_id"])))


@routes.delete("/v1/agents/{agent_id}")
async def delete_agent(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    await request.app[AGENTS].delete(agent_id)
    return web.json_response({"id": agent_id, "deleted": True})


@routes.get("/v1/agents/{agent_id}/blocks")
async def list_blocks(request: web.Request) -> web.Response:
    blocks = await request.app[STORE].list_blocks(request.match_info["agent_id"])
    return web.json_response({"object": "list", "data": [b.model_dump(mode="json") for b in blocks]})


async def _block_by_label(request: web.Request) -> str:
    agent_id, label = request.match_info["agent_id"], request.match_info["label"]
    for block in await request.app[STORE].list_blocks(agent_id):
        if block.label == label:
            return block.id
    raise NotFoundError(f"agent {agent_id} has no block labelled {label!r}")


@routes.get("/v1/agents/{agent_id}/blocks/{label}")
async def get_agent_block(request: web.Request) -> web.Response:
    block = await request.app[STORE].get_block(await _block_by_label(request))
    return web.json_response(block.model_dump(mode="json"))


@routes.patch("/v1/agents/{agent_id}/blocks/{label}")
async def update_agent_block(request: web.Request) -> web.Response:
    block_id = await _block_by_label(request)
    req = await parse_body(request, BlockUpdate)
    block = await request.app[AGENTS].update_block(block_id, req)
    return web.json_response(block.model_dump(mode="json"))


@routes.get("/v1/blocks/{block_id}")
async def get_block(request: web.Request) -> web.Response:
    block = await request.app[STORE].get_block(request.match_info["block_id"])
    return web.json_response(block.model_dump(mode="json"))


@routes.patch("/v1/blocks/{block_id}")
async def update_block(request: web.Request) -> web.Response:
    req = await parse_body(request, BlockUpdate)
    block = await request.app[AGENTS].update_block(request.match_info["block_id"], req)
    return web.json_response(block.model_dump(mode="json"))


@routes.get("/v1/agents/{agent_id}/messages")
async def list_messages(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    store = request.app[STORE]
    await store.get_agent(agent_id)
    in_context = bool_query(request, "in_context")
    messages = await store.list_messages(agent_id, in_context=in_context, limit=int_query(request, "limit", 100),
                                         after_seq=optional_int_query(request, "after_seq", minimum=0, maximum=2**62))
    return web.json_response({"object": "list", "data": [m.model_dump(mode="json") for m in messages]})


@routes.get("/v1/models")
async def openai_models(request: web.Request) -> web.Response:
    """Agents, listed the way OpenAI lists models, so stock clients can pick one as ``model``."""
    agents = await request.app[STORE].list_agents()
    return web.json_response({"object": "list", "data": [
        {"id": a.id, "object": "model", "created": int(a.created_at), "owned_by": "voice-letta", "name": a.name}
        for a in agents]})


@routes.get("/v1/providers/{provider}/models")
async def provider_models(request: web.Request) -> web.Response:
    from voice_letta.server.providers_glue import list_provider_models

    try:
        provider = ProviderName(request.match_info["provider"])
    except ValueError as exc:
        names = ", ".join(p.value for p in ProviderName)
        raise NotFoundError(f"unknown provider; known: {names}") from exc
    models = await list_provider_models(provider, base_url=url_query(request, "base_url"))
    return web.json_response({"object": "list", "provider": provider.value, "data": models})


@routes.get("/v1/config/defaults")
async def defaults(request: web.Request) -> web.Response:
    return web.json_response({
        "max_message_buffer": C.DEFAULT_MAX_MESSAGE_BUFFER, "min_message_buffer": C.DEFAULT_MIN_MESSAGE_BUFFER,
        "max_tool_rounds": C.DEFAULT_MAX_TOOL_ROUNDS, "local_llm_model": C.LOCAL_LLM_MODEL,
    })

