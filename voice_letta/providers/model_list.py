"""``list_models(provider)``: which models a provider offers, with context window and capabilities.

    ==========  =========================================================================================
    openai      GET /v1/models through the SDK. OPENAI_API_KEY, OPENAI_BASE_URL
    vllm        GET /v1/models (``max_model_len`` → context window). VLLM_BASE_URL, VLLM_API_KEY
    sglang      GET /v1/models. SGLANG_BASE_URL, SGLANG_API_KEY
    ollama      native GET /api/tags, then POST /api/show per model for ``<arch>.context_length`` and
                ``capabilities``; models whose /api/show has no ``capabilities`` (Ollama before 0.6.4)
                are kept, with no capabilities. OLLAMA_BASE_URL or OLLAMA_HOST (with or without /v1)
    anthropic   ``client.models.list()``. ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL
    azure       deployments only (an agent's model is a deployment name, never a base model): the ones named
                in the environment always appear (AZURE_OPENAI_DEPLOYMENTS comma-separated,
                AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_MODEL), merged with the resource's data-plane
                ``GET /openai/deployments`` (api-version 2022-12-01, the last that lists them) when it
                answers, leaving out embedding, audio and image deployments, which cannot chat.
                AZURE_OPENAI_ENDPOINT or AZURE_API_BASE, AZURE_OPENAI_API_KEY or AZURE_API_KEY
    local       the embedded model, ``voice_letta.config.LOCAL_LLM_MODEL``
    ==========  =========================================================================================

``base_url`` and ``api_key`` arguments win over the environment. Failures raise ``ProviderError``s,
except Azure's endpoint listing, which is best effort.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from pydantic import BaseModel, Field

from voice_letta import config as C
from voice_letta.agent.models import ProviderName
from voice_letta.errors import (
    ConfigError,
    ProviderBadRequest,
    ProviderTimeout,
    ProviderUnavailable,
)
from voice_letta.providers._errors import map_provider_errors
from voice_letta.providers.anthropic_chat import anthropic_base_url
from voice_letta.providers.compat import (
    DUMMY_API_KEY,
    ollama_root_url,
    openai_base_url,
    resolve_base_url,
)
from voice_letta.providers.env_keys import API_KEY_ENVS, AZURE_ENDPOINT_ENVS, first_env

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 10.0
AZURE_LIST_TIMEOUT_S = 5.0
AZURE_DEPLOYMENT_ENVS = ("AZURE_OPENAI_DEPLOYMENTS", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_MODEL")
_SHOW_CONCURRENCY = 4


class ModelInfo(BaseModel):
    id: str
    provider: ProviderName
    context_window: int | None = None
    capabilities: list[str] = Field(default_factory=list)


async def list_models(
    provider: ProviderName | str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> list[ModelInfo]:
    provider = ProviderName(provider)
    match provider:
        case ProviderName.LOCAL:
            return [ModelInfo(id=C.LOCAL_LLM_MODEL, provider=provider, context_window=C.DEFAULT_CONTEXT_WINDOW,
                              capabilities=["completion", "tools"])]
        case ProviderName.OLLAMA:
            return await _list_ollama(ollama_root_url(resolve_base_url(provider, base_url, env)))
        case ProviderName.VLLM | ProviderName.SGLANG:
            compat_key = api_key or first_env(env, API_KEY_ENVS[provider]) or DUMMY_API_KEY
            return await _list_openai(provider, openai_base_url(provider, base_url, env), compat_key)
        case ProviderName.OPENAI:
            key = api_key or first_env(env, API_KEY_ENVS[provider])
            if key is None:
                raise ConfigError("listing OpenAI models needs OPENAI_API_KEY")
            return await _list_openai(provider, base_url or first_env(env, ("OPENAI_BASE_URL",)), key)
        case ProviderName.ANTHROPIC:
            key = api_key or first_env(env, API_KEY_ENVS[provider])
            if key is None:
                raise ConfigError("listing Anthropic models needs ANTHROPIC_API_KEY")
            return await _list_anthropic(anthropic_base_url(base_url or first_env(env, ("ANTHROPIC_BASE_URL",))), key)
        case ProviderName.AZURE:
            return await _list_azure(base_url=base_url, api_key=api_key, env=env)
    raise ConfigError(f"unknown provider {provider!r}")


# ---------------------------------------------------------------------------------------------------------


def _context_from_extra(extra: Mapping[str, Any] | None) -> int | None:
    for name in ("max_model_len", "context_length", "context_window", "max_context_length"):
        value = (extra or {}).get(name)
        if isinstance(value, int) and value > 0:
            return value
    return None


async def _list_openai(provider: ProviderName, base_url: str | None, api_key: str) -> list[ModelInfo]:
    import openai

    client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=LIST_TIMEOUT_S)
    try:
        async with map_provider_errors(str(provider), (api_key,)):
            return [
                ModelInfo(id=m.id, provider=provider, context_window=_context_from_extra(m.model_extra))
                async for m in client.models.list()
            ]
    finally:
        await client.close()


async def _list_anthropic(base_url: str | None, api_key: str) -> list[ModelInfo]:
    import anthropic

    client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=LIST_TIMEOUT_S)
    try:
        async with map_provider_errors("anthropic", (api_key,)):
            out = []
            async for m in client.models.list():
                caps = ["completion", "tools"]
                if m.capabilities is not None:
                    caps += [
                        name
                        for name, value in m.capabilities.model_dump().items()
                        if isinstance(value, dict) and value.get("supported") is True
                    ]
                out.append(ModelInfo(id=m.id, provider=ProviderName.ANTHROPIC,
                                     context_window=m.max_input_tokens, capabilities=caps))
            return out
    finally:
        await client.close()


async def _list_ollama(root: str) -> list[ModelInfo]:
    timeout = aiohttp.ClientTimeout(total=LIST_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"{root}/api/tags") as resp:
                await _raise_for_status(resp)
                tags = await resp.json()
            names = [m.get("model") or m.get("name") for m in tags.get("models", [])]
            semaphore = asyncio.Semaphore(_SHOW_CONCURRENCY)

            async def show(name: str) -> ModelInfo:
                async with semaphore:
                    return await _ollama_show(session, root, name)

            return list(await asyncio.gather(*(show(n) for n in names if n)))
    except TimeoutError as exc:
        raise ProviderTimeout(f"ollama: listing models at {root} timed out") from exc
    except aiohttp.ClientError as exc:
        raise ProviderUnavailable(f"ollama: cannot list models at {root} ({type(exc).__name__})") from exc


async def _raise_for_status(resp: aiohttp.ClientResponse) -> None:
    if resp.status < 400:
        return
    text = (await resp.text())[:300]
    error = ProviderUnavailable if resp.status >= 500 else ProviderBadRequest
    raise error(f"ollama: HTTP {resp.status}: {text}")


async def _ollama_show(session: aiohttp.ClientSession, root: str, name: str) -> ModelInfo:
    """One model's details; a failing or minimal /api/show still yields the model."""
    info: dict[str, Any] = {}
    try:
        async with session.post(f"{root}/api/show", json={"model": name, "name": name}) as resp:
            if resp.status < 400:
                info = await resp.json()
            else:
                log.warning("ollama /api/show %s: HTTP %d", name, resp.status)
    except aiohttp.ClientError as exc:
        log.warning("ollama /api/show %s failed: %s", name, type(exc).__name__)
    context_window = None
    model_info = info.get("model_info") or {}
    arch = model_info.get("general.architecture")
    if arch and isinstance(model_info.get(f"{arch}.context_length"), int):
        context_window = model_info[f"{arch}.context_length"]
    else:
        context_window = next(
            (v for k, v in model_info.items() if k.endswith(".context_length") and isinstance(v, int)), None
        )
    capabilities = info.get("capabilities")
    return ModelInfo(
        id=name,
        provider=ProviderName.OLLAMA,
        context_window=context_window,
        capabilities=[str(c) for c in capabilities] if isinstance(capabilities, list) else [],
    )


def azure_env_deployments(env: Mapping[str, str]) -> list[str]:
    names: list[str] = []
    for var in AZURE_DEPLOYMENT_ENVS:
        for name in (env.get(var) or "").split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


async def _list_azure(*, base_url: str | None, api_key: str | None, env: Mapping[str, str]) -> list[ModelInfo]:
    models = [ModelInfo(id=d, provider=ProviderName.AZURE, capabilities=["completion", "tools"])
              for d in azure_env_deployments(env)]
    endpoint = base_url or first_env(env, AZURE_ENDPOINT_ENVS)
    key = api_key or first_env(env, API_KEY_ENVS[ProviderName.AZURE])
    if not endpoint or not key:
        return models
    seen = {m.id for m in models}
    try:
        listed = await _azure_deployments(endpoint, key)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # best effort: the env names are the answer
        log.warning("azure: listing deployments at the endpoint failed: %s", type(exc).__name__)
        return models
    for deployment, model in listed:
        if deployment not in seen and not NOT_CHAT_MODELS.search(model or deployment):
            seen.add(deployment)
            models.append(ModelInfo(id=deployment, provider=ProviderName.AZURE, capabilities=["completion", "tools"]))
    return models


# Deployments of these model families cannot answer chat completions.
NOT_CHAT_MODELS = re.compile(r"embedding|whisper|tts|dall-e|gpt-image|transcribe|realtime|sora|moderation", re.I)
AZURE_DEPLOYMENTS_API_VERSION = "2022-12-01"  # later data-plane versions dropped the deployments listing


async def _azure_deployments(endpoint: str, key: str) -> list[tuple[str, str | None]]:
    """(deployment name, model) pairs from the resource's data plane; [] when it does not list them."""
    url = f"{endpoint.rstrip('/')}/openai/deployments"
    timeout = aiohttp.ClientTimeout(total=AZURE_LIST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
            url, params={"api-version": AZURE_DEPLOYMENTS_API_VERSION}, headers={"api-key": key}) as resp:
        if resp.status >= 400:
            log.warning("azure: GET /openai/deployments answered HTTP %d; listing the configured deployments only",
                        resp.status)
            return []
        body = await resp.json(content_type=None)
    data = body.get("data") if isinstance(body, dict) else None
    out: list[tuple[str, str | None]] = []
    for item in data if isinstance(data, list) else []:
        ready = isinstance(item, dict) and item.get("status", "succeeded") == "succeeded"
        if ready and isinstance(item.get("id"), str):
            model = item.get("model")
            out.append((item["id"], model if isinstance(model, str) else None))
    return out
