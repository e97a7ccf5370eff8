"""``serve`` (preload on) loads the default local embedder before it takes traffic: the first search or memory
job used to load it mid-traffic (~3 s of CPU, most of it importing onnx with the GIL held)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
from tests.integration.agent.conftest import FAKE_ENV
from voice_letta.config import ServerConfig
from voice_letta.providers import local_embed
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.server.app import Overrides, create_app


async def start(tmp_path: Path, *, preload: bool) -> web.AppRunner:
    cfg = ServerConfig(db_path=tmp_path / "voice.db", enable_sandbox=False, preload_local_models=preload)
    runner = web.AppRunner(create_app(cfg, Overrides(models=ProviderRegistry(env=FAKE_ENV), stt=ScriptedSTT([]),
                                                     tts=ScriptedTTS())))
    await runner.setup()
    return runner


async def test_preload_loads_the_local_embedder_at_start_and_only_then(tmp_path: Path) -> None:
    loaded = dict(local_embed._models)
    local_embed._models.clear()  # as in a fresh process
    try:
        runner = await start(tmp_path / "lazy", preload=False)
        try:
            assert local_embed._models == {}
        finally:
            await runner.cleanup()
        runner = await start(tmp_path / "eager", preload=True)
        try:
            assert list(local_embed._models) == [local_embed.default_engine()]
        finally:
            await runner.cleanup()
    finally:
        local_embed._models.update({k: v for k, v in loaded.items() if k not in local_embed._models})
