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
``<root>/api``. vLLM and SGLang get ``/v1`` appended when it is missing. ``OLLAMA_HOST`` may be a bare
``host:port``. API keys (``config.api_key_env``, else OLLAMA_API_KEY / VLLM_API_KEY / SGLANG_API_KEY)
are optional: these servers get a dummy key when none is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.errors import ConfigError
from voice_letta.providers.openai_chat import OpenAIChatModel

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

API_KEY_ENVS: dict[ProviderName, tuple[str, ...]] = {
    ProviderName.OLLAMA: ("OLLAMA_API_KEY",),
    ProviderName.VLLM: ("VLLM_API_KEY",),
    ProviderName.SGLANG: ("SGLANG_API_KEY",),
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
        if env.get(name):
            return env[name]
    return DEFAULT_BASE_URLS[provider]


def openai_base_url(provider: ProviderName, base_url: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The ``/v1`` URL to give ``openai.AsyncOpenAI`` for this server."""
    raw = resolve_base_url(provider, base_url, env)
    return ollama_openai_url(raw) if provider is ProviderName.OLLAMA else with_v1(raw)


def resolve_api_key(config: LLMConfig, env: Mapping[str, str] = os.environ) -> str:
    names = (config.api_key_env,) if config.api_key_env else API_KEY_ENVS.get(config.provider, ())
    for name in names:
        if name and env.get(name):
            return env[name]
    return DUMMY_API_KEY


def make_compat_model(
    config: LLMConfig, *, api_key: str | None = None, env: Mapping[str, str] = os.environ
) -> OpenAIChatModel:
    """An ``OpenAIChatModel`` for an Ollama, vLLM or SGLang server (``max_tokens``, not ``max_completion_tokens``)."""
    return OpenAIChatModel(
        config,
        api_key=api_key or resolve_api_key(config, env),
        base_url=openai_base_url(config.provider, config.base_url, env),
        max_tokens_param="max_tokens",
    )
