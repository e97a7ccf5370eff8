"""Changing an agent in place, and trying a model configuration before using it.

    PATCH  /v1/agents/{agent_id}
           body AgentUpdate (agent/service.py): any setting but the memory blocks; llm, sleeptime_llm,
           embedding and buffer are JSON merge patches; "fallback" replaces the chain (one model, a list, null)
           -> 200 the agent (blocks, messages and archival memory untouched), plus "to_reembed": int when
              the embedding model changed (passages found by keyword only until POST .../archival/reembed)
    GET    /v1/agents/{agent_id}/turns?limit=50&status=
           -> 200 {"object": "list", "data": [TurnRecord]} (oldest first): status (running, completed, failed,
              cancelled, abandoned, incomplete), stop_reason, error, provider, model, fallback_used,
              first_token_ms, usage {prompt_tokens, completion_tokens, total_tokens, cached_tokens, estimated},
              timings_ms, steps, started_at, ended_at, idempotency_key (the fingerprint is not shown)
    POST   /v1/llm/check
           body LLMConfig (with its fallback chain)
           -> 200 {"ok": bool (the agent's own model answered), "results": [{"index", "provider", "model",
              "ok", "first_token_ms", "total_ms", "reply", "error": {"code", "message"} | null,
              "warnings": [str]}]} — one short real request per model of the chain, nothing stored

Errors use the server's OpenAI-style error body (400 invalid_request / invalid_config, 404 not_found).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import web

from voice_letta.agent.models import EmbeddingConfig, LLMConfig
from voice_letta.agent.ports import ChatMessage, ChatModel, ChatModelFactory, ChatRequest
from voice_letta.agent.service import AgentUpdate
from voice_letta.errors import ProtocolViolation, VoiceLettaError
from voice_letta.server.http_admin import agent_json, parse_body
from voice_letta.server.keys import AGENTS, MODELS, STORE
from voice_letta.server.params import int_query

routes = web.RouteTableDef()

CHECK_PROMPT = (ChatMessage("system", "This is a connection check. Reply with the single word OK."),
                ChatMessage("user", "Say OK."))
CHECK_MAX_TOKENS = 8
CHECK_TIMEOUT_CAP_S = 30.0


@routes.patch("/v1/agents/{agent_id}")
async def update_agent(request: web.Request) -> web.Response:
    from voice_letta.server.http_memory import MEMORY_SEARCH  # http_memory imports this package's http_admin

    agent_id = request.match_info["agent_id"]
    req = await parse_body(request, AgentUpdate)
    search = request.app[MEMORY_SEARCH]

    def check_embedding(config: EmbeddingConfig) -> None:
        search.embedder_for_config(config)  # a model this server cannot run is refused here (ConfigError)

    before = await request.app[STORE].get_agent(agent_id)
    agent = await request.app[AGENTS].update(agent_id, req, check_embedding=check_embedding,
                                             check_llm=request.app[MODELS].check)
    body = agent_json(agent)
    if agent.embedding != before.embedding:
        search.forget(agent_id)
        _, stale = await request.app[STORE].passages_to_reembed(agent_id, agent.embedding.model,
                                                                agent.embedding.dim, limit=0)
        body["to_reembed"] = stale
    return web.json_response(body)


TURN_STATUSES = ("running", "completed", "failed", "cancelled", "abandoned", "incomplete")


@routes.get("/v1/agents/{agent_id}/turns")
async def list_turns(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    status = request.query.get("status")
    if status is not None and status not in TURN_STATUSES:
        raise ProtocolViolation(f"status must be one of {', '.join(TURN_STATUSES)}", code="invalid_request",
                                param="status")
    store = request.app[STORE]
    await store.get_agent(agent_id)
    turns = await store.list_turns(agent_id, limit=int_query(request, "limit", 50, maximum=1000), status=status)
    return web.json_response({"object": "list",
                              "data": [t.model_dump(mode="json", exclude={"fingerprint"}) for t in turns]})


@routes.post("/v1/llm/check")
async def check_llm(request: web.Request) -> web.Response:
    config = await parse_body(request, LLMConfig)
    results = [await check_model(request.app[MODELS], link, i) for i, link in enumerate(config.chain())]
    return web.json_response({"ok": results[0]["ok"], "results": results})


async def check_model(models: ChatModelFactory, config: LLMConfig, index: int = 0) -> dict[str, Any]:
    """One short real request to one model: did it answer, how fast, and anything an operator should know."""
    result: dict[str, Any] = {"index": index, "provider": config.provider.value, "model": config.model,
                              "ok": False, "first_token_ms": None, "total_ms": None, "reply": None, "error": None,
                              "warnings": []}
    started = time.perf_counter()
    build = getattr(models, "build", None)
    try:
        model: ChatModel = build(config) if build is not None else models.for_config(config)
    except VoiceLettaError as exc:
        result["error"] = {"code": exc.code, "message": exc.message}
        return result
    text: list[str] = []
    try:
        capabilities, warnings = getattr(model, "capabilities", None), getattr(model, "warnings", None)
        if capabilities is not None and warnings is not None:  # e.g. an Ollama model without tools
            result["warnings"] += warnings(await capabilities())
        async with asyncio.timeout(min(config.timeout_s, CHECK_TIMEOUT_CAP_S) + 5):
            request = ChatRequest(CHECK_PROMPT, config, max_tokens=CHECK_MAX_TOKENS, first_token_timeout_s=0)
            async for delta in model.stream(request):
                if (delta.content or delta.tool_calls) and result["first_token_ms"] is None:
                    result["first_token_ms"] = round((time.perf_counter() - started) * 1000, 1)
                if delta.content:
                    text.append(delta.content)
        result["ok"] = True
    except VoiceLettaError as exc:
        result["error"] = {"code": exc.code, "message": exc.message}
    except TimeoutError:
        result["error"] = {"code": "provider_timeout", "message": "no complete answer within the check's time"}
    finally:
        if build is not None:
            with contextlib.suppress(Exception):
                await model.aclose()
    result["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    result["reply"] = "".join(text).strip()[:200] or None
    first = result["first_token_ms"]
    deadline = config.first_token_timeout_s
    if result["ok"] and first is not None and deadline and first > deadline * 1000:
        result["warnings"].append(
            f"the first token took {first / 1000:.1f} s, more than first_token_timeout_s ({deadline:g} s): turns "
            "will hand over to the fallback (or say 'One moment.'); raise it or pick a faster model")
    return result


__all__ = ["check_model", "routes"]


