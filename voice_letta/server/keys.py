"""Typed application state keys (aiohttp ``web.AppKey``)."""

from __future__ import annotations

import weakref

from aiohttp import web

from voice_letta.agent.bus import MemoryBus
from voice_letta.agent.loop import VoiceAgent
from voice_letta.agent.ports import ChatModelFactory, Store, ToolExecutor
from voice_letta.agent.service import AgentService
from voice_letta.config import ServerConfig
from voice_letta.server.metrics import Metrics
from voice_letta.session.speech import SpeechEngines
from voice_letta.tools_runtime.service import ToolService

CONFIG = web.AppKey("config", ServerConfig)
STORE = web.AppKey("store", Store)
MODELS = web.AppKey("models", ChatModelFactory)
AGENT = web.AppKey("agent", VoiceAgent)
AGENTS = web.AppKey("agents", AgentService)
METRICS = web.AppKey("metrics", Metrics)
LIVE_SOCKETS = web.AppKey("live_sockets", weakref.WeakSet[web.WebSocketResponse])
BUS = web.AppKey("memory_bus", MemoryBus)
OVERRIDES = web.AppKey("overrides", object)  # server.app.Overrides (typed loosely to avoid an import cycle)
TOOLS = web.AppKey("tools", ToolService)
TOOL_EXECUTOR = web.AppKey("tool_executor", ToolExecutor)
SPEECH = web.AppKey("speech", SpeechEngines)  # STT/TTS engines shared by every voice session
