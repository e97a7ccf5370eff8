"""``ProviderRegistry``: the ``ChatModelFactory`` that turns an agent's ``LLMConfig`` into a ChatModel.

    registry = ProviderRegistry(local_factory=LocalChatModel, env=os.environ)
    model = registry.for_config(agent.llm)      # FallbackChatModel over llm, llm.fallback, ... (fallback.py)
    ...
    await registry.aclose()                     # closes every client it built

Each distinct model config (by its JSON, without its ``fallback``) gets its own adapter and its own SDK
client, built once and reused, so fifty concurrent streams of one agent share one connection pool, a model
used by several chains has one client, and no client is ever mutated. The agent's own model is built when
its chain is; fallbacks when first needed, so a fallback with a missing key fails only that link. One
``ModelHealth`` holds the cooldowns of every model the registry serves.

API keys come from ``config.api_key_env`` when set, else the provider's usual variable:

    =========  ==================================================================
    openai     OPENAI_API_KEY (required); base URL: config.base_url, OPENAI_BASE_URL
    anthropic  ANTHROPIC_API_KEY (required); base URL: config.base_url, ANTHROPIC_BASE_URL
    azure      AZURE_OPENAI_API_KEY or AZURE_API_KEY (required);
               endpoint: config.base_url, AZURE_OPENAI_ENDPOINT, AZURE_API_BASE;
               API version: config.api_version, AZURE_OPENAI_API_VERSION, AZURE_API_VERSION,
               OPENAI_API_VERSION, else ``DEFAULT_AZURE_API_VERSION``; config.model is the deployment
    ollama / vllm / sglang: see ``compat.py`` (keys optional)
    local      built by the ``local_factory`` given to the registry
    =========  ==================================================================
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.agent.ports import ChatModel
from voice_letta.errors import ConfigError
from voice_letta.providers.compat import COMPAT_PROVIDERS, make_compat_model
from voice_letta.providers.env_keys import (
    API_KEY_ENVS,
    AZURE_API_VERSION_ENVS,
    AZURE_ENDPOINT_ENVS,
    first_env,
    resolve_api_key,
)
from voice_letta.providers.fallback import ChainLink, ChatObserver, FallbackChatModel, ModelHealth, health_key
from voice_letta.providers.retry import DEFAULT_BASE_DELAY_S, DEFAULT_MAX_DELAY_S

log = logging.getLogger(__name__)

DEFAULT_AZURE_API_VERSION = "2024-10-21"


def _require_key(config: LLMConfig, env: Mapping[str, str]) -> str:
    key = resolve_api_key(config, env)
    if key is None:
        names = (config.api_key_env,) if config.api_key_env else API_KEY_ENVS[config.provider]
        raise ConfigError(
            f"no API key for provider {config.provider.value!r} (model {config.model!r}): "
            f"set the environment variable {' or '.join(names)}"
        )
    return key


def _azure_endpoint(config: LLMConfig, env: Mapping[str, str]) -> str:
    endpoint = config.base_url or first_env(env, AZURE_ENDPOINT_ENVS)
    if not endpoint:
        raise ConfigError("no Azure OpenAI endpoint: set LLMConfig.base_url or " + " or ".join(AZURE_ENDPOINT_ENVS))
    return endpoint


_HOST_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$")


def check_base_url(url: str) -> None:
    """A model's ``base_url`` is an http(s) URL with a host a client can connect to; else ConfigError (a 400). Before,
    ``http://256.1.1.1``, ``http://[::1``, ``ftp://x`` or ``http://a b`` were stored and every turn of the agent
    failed with the spoken apology (the SDK's URL parser refused it inside the turn)."""
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            problem = "is not an http(s) URL with a host"
        elif any(c.isspace() for c in url):
            problem = "holds a space"
        elif ":" in host or re.fullmatch(r"[0-9.]+", host):
            ipaddress.ip_address(host)  # 256.1.1.1, [::1 with no end
        elif not _HOST_NAME.match(host.encode("idna").decode("ascii")):
            problem = "has a host name that is no DNS name"
    except (ValueError, UnicodeError):
        problem = "is not a valid URL"
    if problem is not None:
        raise ConfigError(f"base_url {url[:200]!r} {problem}")


MAX_CONFIG_OBJECTS = 4096  # config objects remembered by identity (agents' cached states); cleared when full


class ProviderRegistry:
    """Builds, caches and closes chat models; implements ``ChatModelFactory``."""

    def __init__(
        self,
        local_factory: Callable[[LLMConfig], ChatModel] | None = None,
        env: Mapping[str, str] = os.environ,
        *,
        retry_base_delay_s: float = DEFAULT_BASE_DELAY_S,
        retry_max_delay_s: float = DEFAULT_MAX_DELAY_S,
        health: ModelHealth | None = None,
        observer: ChatObserver | None = None,
    ) -> None:
        self._local_factory = local_factory
        self._env = env
        self._retry_base_delay_s = retry_base_delay_s
        self._retry_max_delay_s = retry_max_delay_s
        self.health = health or ModelHealth()
        self.observer = observer  # set by the server before the first turn (metrics)
        self._adapters: dict[str, ChatModel] = {}
        self._chains: dict[str, FallbackChatModel] = {}
        self._by_config: dict[int, tuple[LLMConfig, FallbackChatModel]] = {}  # id(config) -> (config, its chain)

    # --- ChatModelFactory ----------------------------------------------------------------------------------
    def for_config(self, config: LLMConfig) -> ChatModel:
        # A cached agent hands the same config object every turn: found by identity, its JSON key (a pydantic dump,
        # ~20 us on the loop, twice a turn) is built only for another object. Configs are never changed in place
        # (an update makes a new agent state).
        by_id = self._by_config.get(id(config))
        if by_id is not None and by_id[0] is config and by_id[1].observer is self.observer:
            return by_id[1]
        key = config.model_dump_json()
        model = self._chains.get(key)
        if model is None:
            chain = config.chain()
            self.adapter(chain[0])  # the agent's own model is built now: a config error shows at once
            links = [ChainLink(i, c, health_key(c), self._lazy(c)) for i, c in enumerate(chain)]
            model = FallbackChatModel(links, health=self.health, observer=self.observer,
                                      base_delay_s=self._retry_base_delay_s, max_delay_s=self._retry_max_delay_s)
            self._chains[key] = model
        elif model.observer is not self.observer:
            model.observer = self.observer
        if len(self._by_config) >= MAX_CONFIG_OBJECTS:
            self._by_config.clear()
        self._by_config[id(config)] = (config, model)  # the config kept: its id is not reused
        return model

    def check(self, config: LLMConfig) -> None:
        # The embedded model is not checked: a server without it (tests, a remote-only deployment) still stores
        # local agents, and its first turn says why it cannot run one. A key the server lacks fails every turn.
        for link in config.chain():
            provider = link.provider
            if link.base_url is not None and provider is not ProviderName.LOCAL:
                check_base_url(link.base_url)
            if link.max_tokens is not None and link.max_tokens >= link.context_window:
                # a provider refuses such a request every turn (the prompt needs room in the window too)
                raise ConfigError(f"max_tokens {link.max_tokens} must be below context_window {link.context_window} "
                                  f"(model {link.model!r})")
            if provider in (ProviderName.OPENAI, ProviderName.ANTHROPIC, ProviderName.AZURE):
                _require_key(link, self._env)
                if provider is ProviderName.AZURE:
                    _azure_endpoint(link, self._env)
            elif provider is not ProviderName.LOCAL and provider not in COMPAT_PROVIDERS:
                raise ConfigError(f"unknown LLM provider {provider!r}")

    def _lazy(self, config: LLMConfig) -> Callable[[], ChatModel]:
        built: list[ChatModel] = []  # asked for on every turn: looked up (a pydantic dump and copy) once

        def model() -> ChatModel:
            if not built:
                built.append(self.adapter(config))
            return built[0]

        return model

    def adapter(self, config: LLMConfig) -> ChatModel:
        """The bare adapter for one model of a chain (no retries, no fallback), built once per distinct config."""
        if config.fallback is not None:
            config = config.model_copy(update={"fallback": None})
        key = config.model_dump_json()
        model = self._adapters.get(key)
        if model is None:
            model = self._build(config)
            self._adapters[key] = model
            log.info("built chat model %r", model)
        return model

    def build(self, config: LLMConfig) -> ChatModel:
        """A new adapter for one model that the registry does not keep: the caller closes it (checks)."""
        return self._build(config.model_copy(update={"fallback": None}))

    @property
    def cached_models(self) -> int:
        return len(self._adapters)

    async def aclose(self) -> None:
        adapters, self._adapters, self._chains = list(self._adapters.values()), {}, {}
        self._by_config = {}
        for model in adapters:
            try:
                await model.aclose()
            except Exception:
                log.exception("closing %r failed", model)

    # --- construction --------------------------------------------------------------------------------------
    def _build(self, config: LLMConfig) -> ChatModel:
        env = self._env
        provider = config.provider
        if provider is ProviderName.LOCAL:
            if self._local_factory is None:
                raise ConfigError("provider 'local' needs the embedded model, which this server was not given")
            return self._local_factory(config)
        if provider is ProviderName.OPENAI:
            from voice_letta.providers.openai_chat import OpenAIChatModel

            return OpenAIChatModel(
                config, api_key=_require_key(config, env),
                base_url=config.base_url or first_env(env, ("OPENAI_BASE_URL",)),
            )
        if provider is ProviderName.ANTHROPIC:
            from voice_letta.providers.anthropic_chat import AnthropicChatModel

            return AnthropicChatModel(
                config,
                api_key=_require_key(config, env),
                base_url=config.base_url or first_env(env, ("ANTHROPIC_BASE_URL",)),
            )
        if provider is ProviderName.AZURE:
            from voice_letta.providers.openai_chat import OpenAIChatModel

            endpoint = _azure_endpoint(config, env)
            api_version = (
                config.api_version or first_env(env, AZURE_API_VERSION_ENVS) or DEFAULT_AZURE_API_VERSION
            )
            return OpenAIChatModel.azure(
                config, api_key=_require_key(config, env), endpoint=endpoint, api_version=api_version
            )
        if provider in COMPAT_PROVIDERS:
            return make_compat_model(config, api_key=resolve_api_key(config, env), env=env)
        raise ConfigError(f"unknown LLM provider {provider!r}")
