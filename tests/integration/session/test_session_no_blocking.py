"""A live voice session (audio in, VAD, STT, agent, TTS, paced audio out) never blocks the event loop from
voice-letta's own code (blockbuster): the loop is shared by every session of the process."""

from __future__ import annotations

from blockbuster import blockbuster_ctx

from tests.fakes.native_client import load_wav, silence
from tests.fakes.openai_server import Text
from tests.integration.session.conftest import VoiceServer


async def test_voice_and_text_turns_do_not_block_the_loop(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("Sure. It is sunny today.")], [Text("Text works too.")])
    speech, rate = load_wav("weather.wav")
    async with await vs.client(agent) as c:
        with blockbuster_ctx(["voice_letta"]):
            await c.stream(speech + silence(900, rate), rate=rate, speed=4.0)
            await c.wait_for("transcript.final")
            await c.wait_for("response.done")
            await c.send(type="input_text", text="and in text?")
            await c.wait_for("response.done", count=2)
    rows = await vs.assistant_rows(agent)
    assert [r.content for r in rows][-2:] == ["Sure. It is sunny today.", "Text works too."]
