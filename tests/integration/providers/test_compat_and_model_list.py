"""OpenAI-compatible servers (Ollama, vLLM, SGLang): base URLs, chat through the fakes, model listing."""

from __future__ import annotations

import socket

import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.ollama_server import FakeOllamaServer
from tests.fakes.openai_server import FakeOpenAIServer, Text
from tests.integration.providers.helpers import collect, request, text_of
from voice_letta import config as C
from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.errors import ProviderUnavailable
from voice_letta.providers.compat import (
    DUMMY_API_KEY,
    make_compat_model,
    ollama_openai_url,
    ollama_root_url,
    openai_base_url,
)
from voice_letta.providers.model_list import ModelInfo, list_models
from voice_letta.providers.registry import ProviderRegistry


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "given",
    ["http://10.0.0.5:11434", "http://10.0.0.5:11434/", "http://10.0.0.5:11434/v1", "http://10.0.0.5:11434/v1/",
     "10.0.0.5:11434"],
)
def test_ollama_base_url_accepted_with_or_without_v1(given):
    assert ollama_root_url(given) == "http://10.0.0.5:11434"
    assert ollama_openai_url(given) == "http://10.0.0.5:11434/v1"


@pytest.mark.parametrize(
    ("provider", "given", "expected"),
    [
        (ProviderName.VLLM, "http://gpu:8000", "http://gpu:8000/v1"),
        (ProviderName.VLLM, "http://gpu:8000/v1/", "http://gpu:8000/v1"),
        (ProviderName.SGLANG, "http://gpu:30000/", "http://gpu:30000/v1"),
        (ProviderName.SGLANG, "http://gpu:30000/v1", "http://gpu:30000/v1"),
        (ProviderName.OLLAMA, None, "http://127.0.0.1:11434/v1"),
        (ProviderName.VLLM, None, "http://127.0.0.1:8000/v1"),
        (ProviderName.SGLANG, None, "http://127.0.0.1:30000/v1"),
    ],
)
def test_compat_base_urls_are_normalized_to_v1(provider, given, expected):
    assert openai_base_url(provider, given, env={}) == expected


def test_base_url_from_environment():
    assert openai_base_url(ProviderName.OLLAMA, None, env={"OLLAMA_HOST": "0.0.0.0:1234"}) == "http://0.0.0.0:1234/v1"
    assert openai_base_url(ProviderName.VLLM, None, env={"VLLM_BASE_URL": "http://h:1/v1"}) == "http://h:1/v1"


@pytest.mark.parametrize("provider", [ProviderName.OLLAMA, ProviderName.VLLM, ProviderName.SGLANG])
async def test_compat_providers_chat_through_openai_protocol_with_dummy_key(fake_openai, provider):
    # The fake serves /v1; give the root so that normalization is exercised too.
    reg = ProviderRegistry(env={})
    cfg = LLMConfig(provider=provider, model="qwen2.5:0.5b", base_url=fake_openai.root_url)
    try:
        fake_openai.script([Text("Local hello.")])
        assert text_of(await collect(reg.for_config(cfg), request(cfg))) == "Local hello."
    finally:
        await reg.aclose()
    body = fake_openai.requests[0]
    assert body["model"] == "qwen2.5:0.5b" and body["max_tokens"] == cfg.max_tokens
    assert "max_completion_tokens" not in body


async def test_compat_model_uses_configured_key_env(fake_openai):
    cfg = LLMConfig(provider=ProviderName.VLLM, model="m", base_url=fake_openai.base_url, api_key_env="VK")
    m = make_compat_model(cfg, env={"VK": "vllm-secret"})
    assert m.client.api_key == "vllm-secret"
    await m.aclose()
    m = make_compat_model(cfg, env={})
    assert m.client.api_key == DUMMY_API_KEY
    await m.aclose()


async def test_ollama_listing_keeps_models_without_capabilities(fake_ollama: FakeOllamaServer):
    for base in (fake_ollama.root_url, fake_ollama.base_url):
        models = await list_models(ProviderName.OLLAMA, base_url=base, env={})
        assert models == [
            ModelInfo(id="qwen2.5:0.5b", provider=ProviderName.OLLAMA, context_window=32768,
                      capabilities=["completion", "tools"]),
            ModelInfo(id="old-llama:latest", provider=ProviderName.OLLAMA, context_window=8192, capabilities=[]),
        ]
    assert {r["model"] for r in fake_ollama.show_requests} == {"qwen2.5:0.5b", "old-llama:latest"}


async def test_ollama_listing_unreachable_raises_unavailable():
    with pytest.raises(ProviderUnavailable):
        await list_models(ProviderName.OLLAMA, base_url=f"http://127.0.0.1:{closed_port()}", env={})


@pytest.mark.parametrize("provider", [ProviderName.OPENAI, ProviderName.VLLM, ProviderName.SGLANG])
async def test_openai_protocol_listing(fake_openai: FakeOpenAIServer, provider):
    fake_openai.models = ["fake-model", "other-model"]
    models = await list_models(provider, base_url=fake_openai.base_url, api_key="sk-list-123456", env={})
    assert [m.id for m in models] == ["fake-model", "other-model"]
    assert all(m.provider == provider for m in models)


async def test_anthropic_listing(fake_anthropic: FakeAnthropicServer):
    models = await list_models("anthropic", base_url=fake_anthropic.base_url, api_key="sk-ant-123456", env={})
    assert [(m.id, m.context_window) for m in models] == [("claude-fake", 200000)]


async def test_azure_env_deployments_listed_when_endpoint_unreachable():
    env = {
        "AZURE_OPENAI_DEPLOYMENTS": "gpt-4o-prod, gpt-4o-mini",
        "AZURE_OPENAI_DEPLOYMENT": "voice-deploy",
        "AZURE_OPENAI_MODEL": "gpt-4o-mini",
        "AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
        "AZURE_OPENAI_API_KEY": "azure-secret",
        "AZURE_OPENAI_API_VERSION": "2024-10-21",
    }
    models = await list_models(ProviderName.AZURE, env=env)
    assert [m.id for m in models] == ["gpt-4o-prod", "gpt-4o-mini", "voice-deploy"]
    assert all(m.provider == ProviderName.AZURE for m in models)


async def test_azure_lists_chat_deployments_never_base_models(fake_openai: FakeOpenAIServer):
    # what the resource's model list mixes in: base models and an embedding model, none of them deployments
    fake_openai.models = ["gpt-4o-2024-08-06", "text-embedding-3-small", "gpt-35-turbo"]
    fake_openai.deployments = [("gpt-4o-prod", "gpt-4o"), ("voice-mini", "gpt-4o-mini"),
                               ("embeds", "text-embedding-3-small"), ("stt", "whisper")]
    env = {"AZURE_OPENAI_DEPLOYMENT": "gpt-4o-prod", "AZURE_API_BASE": fake_openai.root_url,
           "AZURE_API_KEY": "azure-secret", "AZURE_API_VERSION": "2024-10-21"}
    models = await list_models(ProviderName.AZURE, env=env)
    assert [m.id for m in models] == ["gpt-4o-prod", "voice-mini"]
    assert fake_openai.paths == ["/openai/deployments?api-version=2022-12-01"]


async def test_azure_without_a_deployments_listing_gives_the_configured_ones(fake_openai: FakeOpenAIServer):
    fake_openai.models = ["gpt-4o-2024-08-06", "text-embedding-3-small"]  # deployments: None → 404
    env = {"AZURE_OPENAI_DEPLOYMENTS": "a, b", "AZURE_API_BASE": fake_openai.root_url, "AZURE_API_KEY": "k"}
    models = await list_models(ProviderName.AZURE, env=env)
    assert [m.id for m in models] == ["a", "b"]


async def test_azure_env_deployments_without_endpoint():
    models = await list_models(ProviderName.AZURE, env={"AZURE_OPENAI_MODEL": "only-one"})
    assert [m.id for m in models] == ["only-one"]


async def test_local_listing_is_the_embedded_model():
    models = await list_models(ProviderName.LOCAL, env={})
    assert [m.id for m in models] == [C.LOCAL_LLM_MODEL]


async def test_ollama_model_without_tools_capability_runs_without_tools():
    from tests.fakes.ollama_server import DEFAULT_SHOW
    from tests.integration.providers.helpers import WEATHER, collect, request, text_of
    from voice_letta.agent.models import LLMConfig
    from voice_letta.providers.compat import OllamaChatModel, make_compat_model

    show = {**DEFAULT_SHOW, "gemma:2b": {"model_info": {}, "capabilities": ["completion"]}}
    server = FakeOllamaServer(show=show)
    await server.start()
    try:
        for name, keeps_tools in (("gemma:2b", False), ("qwen2.5:0.5b", True), ("old-llama:latest", True)):
            cfg = LLMConfig(provider=ProviderName.OLLAMA, model=name, base_url=server.root_url)
            model = make_compat_model(cfg, env={})
            assert isinstance(model, OllamaChatModel)
            try:
                for _ in range(2):
                    assert text_of(await collect(model, request(cfg, tools=(WEATHER,)))) == "OK."
                    assert ("tools" in server.requests[-1]) is keeps_tools
                    assert ("tool_choice" in server.requests[-1]) is keeps_tools
                warnings = model.warnings(await model.capabilities())
                assert bool(warnings) is not keeps_tools
            finally:
                await model.aclose()
        # asked once per model, not per request
        assert [r["model"] for r in server.show_requests] == ["gemma:2b", "qwen2.5:0.5b", "old-llama:latest"]
    finally:
        await server.aclose()
