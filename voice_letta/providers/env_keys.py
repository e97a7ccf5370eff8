"""Where provider credentials come from: the environment variables of each provider's API key (and of Azure's
endpoint and API version), shared by the registry (``registry.py``), the OpenAI-compatible servers
(``compat.py``, where a key is optional) and model listing (``model_list.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.config import env_value

API_KEY_ENVS: dict[ProviderName, tuple[str, ...]] = {
    ProviderName.OPENAI: ("OPENAI_API_KEY",),
    ProviderName.ANTHROPIC: ("ANTHROPIC_API_KEY",),
    ProviderName.AZURE: ("AZURE_OPENAI_API_KEY", "AZURE_API_KEY"),
    ProviderName.OLLAMA: ("OLLAMA_API_KEY",),
    ProviderName.VLLM: ("VLLM_API_KEY",),
    ProviderName.SGLANG: ("SGLANG_API_KEY",),
}
AZURE_ENDPOINT_ENVS = ("AZURE_OPENAI_ENDPOINT", "AZURE_API_BASE")
AZURE_API_VERSION_ENVS = ("AZURE_OPENAI_API_VERSION", "AZURE_API_VERSION", "OPENAI_API_VERSION")


def first_env(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        # as meant (config.env_value): a .env file written on Windows leaves "\r" at each line's end (the SDKs
        # refuse to send "Bearer sk-…\r"), and ``docker run --env-file`` keeps KEY="sk-…"'s quotes (the provider
        # refused '"sk-…"' with a 401): either way every turn failed with the spoken apology
        value = env_value(env.get(name))
        if value:
            return value
    return None


def resolve_api_key(config: LLMConfig, env: Mapping[str, str]) -> str | None:
    """``config.api_key_env`` when set, else the provider's usual variables; None when none is set."""
    names = (config.api_key_env,) if config.api_key_env else API_KEY_ENVS.get(config.provider, ())
    return first_env(env, names)
