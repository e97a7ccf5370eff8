"""OpenAI-compatible local servers: Ollama, vLLM and SGLang, all through ``OpenAIChatModel``.

Base URLs, from ``LLMConfig.base_url``, else the environment, else the default:

    =========  ==================================  ===========================
    provider   environment                         default
    =========  ==================================  ===========================
    ollama     OLLAMA_BASE_URL, OLLAMA_HOST        http://127.0.0.1:11434
    vllm       VLLM_BASE_URL                       http://127.0.0.1:8000
    sglang     SGLANG_BASE_URL                     http://127.0.0.1:30000
    =========  ==================================  ===========================

Ollama accepts its root with or without ``/v1``: chat uses ``<root>/v1`` and model listing the native
``<root>/api``. An Ollama model is asked once (``POST /api/show``) what it can do: one without the ``tools``
capability would refuse every request that carries tools, so it runs without them (a warning says so, once
per model, and ``POST /v1/llm/check`` reports it); ``vision`` tells whether it takes images.
vLLM and SGLang get ``/v1`` appended when it is missing. ``OLLAMA_HOST`` may be a bare
``host:port``. API keys (``config.api_key_env``, else OLLAMA_API_KEY / VLLM_API_KEY / SGLANG_API_KEY)
are optional: these servers get a dummy key when none is set.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Mapping

import aiohttp

from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.agent.ports import ChatDelta, ChatRequest
from voice_letta.errors import ConfigError
from voice_letta.providers import env_keys
from voice_letta.providers.openai_chat import OpenAIChatModel

log = logging.getLogger(__name__)
SHOW_TIMEOUT_S = 5.0

DUMMY_API_KEY = "not-needed"

COMPAT_PROVIDERS: frozenset[ProviderName] = frozenset({ProviderName.OLLAMA, ProviderName.VLLM, ProviderName.SGLANG})

DEFAULT_BASE_URLS: dict[ProviderName, str] = {
    ProviderName.OLLAMA: "http://127.0.0.1:11434",
    ProviderName.VLLM: "http://127.0.0.1:8000",
    ProviderName.SGLANG: "http://127.0.0.1:30000",
}

BASE_URL_ENVS: dict[ProviderName, tuple[str, ...]] = {
    ProviderName.OLLAMA: ("OLLAMA_BASE_URL", "OLLAMA_HOST"),
    ProviderName.VLLM: ("VLLM_BASE_URL",),
    ProviderName.SGLANG: ("SGLANG_BASE_URL",),
}

def _with_scheme(url: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


def ollama_root_url(base_url: str) -> str:
    """``http://h:11434``, ``http://h:11434/``, ``http://h:11434/v1/`` and ``h:11434`` → ``http://h:11434``."""
    url = _with_scheme(base_url)
    for suffix in ("/v1", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url.rstrip("/")


def ollama_openai_url(base_url: str) -> str:
    return ollama_root_url(base_url) + "/v1"


def with_v1(base_url: str) -> str:
    url = _with_scheme(base_url)
    return url if url.endswith("/v1") else url + "/v1"


def resolve_base_url(provider: ProviderName, base_url: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The configured, environment or default base URL of a compatible server, not yet normalized."""
    if provider not in COMPAT_PROVIDERS:
        raise ConfigError(f"{provider} is not an OpenAI-compatible local server")
    if base_url:
        return base_url
    for name in BASE_URL_ENVS[provider]:
        if value := env.get(name, "").strip():  # a Windows-written .env file leaves "\r" at the end
            return value
    return DEFAULT_BASE_URLS[provider]


def openai_base_url(provider: ProviderName, base_url: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The ``/v1`` URL to give ``openai.AsyncOpenAI`` for this server."""
    raw = resolve_base_url(provider, base_url, env)
    return ollama_openai_url(raw) if provider is ProviderName.OLLAMA else with_v1(raw)


def resolve_api_key(config: LLMConfig, env: Mapping[str, str] = os.environ) -> str:
    return env_keys.resolve_api_key(config, env) or DUMMY_API_KEY


async def ollama_capabilities(root_url: str, model: str) -> frozenset[str] | None:
    """What ``/api/show`` says the model can do; None when the server does not say (Ollama < 0.6.4)."""
    timeout = aiohttp.ClientTimeout(total=SHOW_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
            f"{root_url}/api/show", json={"model": model, "name": model}) as resp:
        if resp.status >= 400:
            return None
        info = await resp.json(content_type=None)
    caps = info.get("capabilities") if isinstance(info, dict) else None
    return frozenset(str(c) for c in caps) if isinstance(caps, list) else None


class OllamaChatModel(OpenAIChatModel):
    """Ollama's OpenAI endpoint, with the model's capabilities read from ``/api/show`` once."""

    def __init__(self, config: LLMConfig, *, api_key: str, base_url: str, root_url: str) -> None:
        super().__init__(config, api_key=api_key, base_url=base_url, max_tokens_param="max_tokens",
                         provider_label=ProviderName.OLLAMA.value)
        self._root_url = root_url
        self._caps: frozenset[str] | None = None
        self._known = False
        self._lock = asyncio.Lock()
        self._warned = False

    async def capabilities(self) -> frozenset[str] | None:
        """The model's capabilities (``completion``, ``tools``, ``vision``, ...), None if unknown."""
        if not self._known:
            async with self._lock:
                if not self._known:
                    try:
                        self._caps = await ollama_capabilities(self._root_url, self.config.model)
                        self._known = True
                    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # asked again next time
                        log.warning("ollama: /api/show %s failed (%s)", self.config.model, type(exc).__name__)
        return self._caps

    def warnings(self, caps: frozenset[str] | None) -> list[str]:
        if caps is not None and "tools" not in caps:
            return [f"the Ollama model {self.config.model} has no 'tools' capability: turns run without tools "
                    "(no search_memory, no custom tools); pick a model with tools for those"]
        return []

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        if request.tools:
            caps = await self.capabilities()
            if caps is not None and "tools" not in caps:
                if not self._warned:
                    self._warned = True
                    log.warning("%s", self.warnings(caps)[0])
                request = dataclasses.replace(request, tools=(), tool_choice="auto")
        async for delta in super().stream(request):
            yield delta


def make_compat_model(
    config: LLMConfig, *, api_key: str | None = None, env: Mapping[str, str] = os.environ
) -> OpenAIChatModel:
    """An ``OpenAIChatModel`` for an Ollama, vLLM or SGLang server (``max_tokens``, not ``max_completion_tokens``)."""
    key = api_key or resolve_api_key(config, env)
    if config.provider is ProviderName.OLLAMA:
        raw = resolve_base_url(config.provider, config.base_url, env)
        return OllamaChatModel(config, api_key=key, base_url=ollama_openai_url(raw), root_url=ollama_root_url(raw))
    return OpenAIChatModel(
        config,
        api_key=key,
        base_url=openai_base_url(config.provider, config.base_url, env),
        max_tokens_param="max_tokens",
    )
