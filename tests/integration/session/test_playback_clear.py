"""No audio frame of a response may follow its ``playback.clear``, and none may leak into the next response.

The defect this guards against: on a cut the session clears the writer, then cancels the turn task; the speaker
is a child task of the turn and is cancelled a loop iteration later. When it was waiting for the writer to have
room (TTS is faster than real time, so it usually is) or its next TTS part had just arrived, it resumed first
and pushed the cancelled response's audio into the freshly cleared pacer: frames went out after
``playback.clear``, and the leftover partial frame started the next response.

``MarkerTTS`` fills each response's audio with one sample value, so every frame says whose it is; the output
rate equals the TTS rate, so no resampler blurs the values.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from tests.fakes.openai_server import Text
from tests.integration.session.conftest import VoiceServer
from voice_letta.agent.ports import SpeechChunk

RATE_HZ = 24000
FIRST, SECOND = 1000, 2000


class MarkerTTS:
    """4.4 s of audio per text in 110 ms parts (plus 7 samples, so a partial frame is always pending)."""

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[SpeechChunk]:
        value = FIRST if text.startswith("One") else SECOND
        for _ in range(40):
            yield SpeechChunk(np.full(RATE_HZ * 110 // 1000 + 7, value, "<i2").tobytes(), RATE_HZ)
            await asyncio.sleep(0)


def timeline(messages: list[tuple[float, Any]]) -> list[tuple[str, frozenset[int]]]:
    out: list[tuple[str, frozenset[int]]] = []
    for _at, msg in messages:
        if isinstance(msg, bytes):
            out.append(("audio", frozenset(np.frombuffer(msg, "<i2").tolist())))
        else:
            out.append((msg["type"], frozenset()))
    return out


@pytest.mark.parametrize("cut_after_s", [0.15, 0.3, 0.45])
async def test_no_frame_follows_playback_clear_and_none_prefixes_the_next_response(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]], cut_after_s: float
) -> None:
    vs = await voice_server_factory(tts=MarkerTTS())
    agent = await vs.create_agent()
    vs.fake.script([Text("One long reply that goes on and on.")], [Text("Two is the next reply.")])
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"output_sample_rate_hz": RATE_HZ})
        await c.wait_for("session.updated")
        await c.send(type="input_text", text="first")
        await c.wait_for("response.audio.start")
        await asyncio.sleep(cut_after_s)
        await c.send(type="response.cancel")
        await c.wait_for("response.done", status="cancelled")
        await asyncio.sleep(0.3)  # anything late would have arrived by now
        await c.send(type="input_text", text="second")
        await c.wait_for("response.done", count=2, timeout_s=20)

    seq = timeline(c.messages)
    clear_at = next(i for i, (kind, _) in enumerate(seq) if kind == "playback.clear")
    second_start = next(i for i, (kind, _) in enumerate(seq) if kind == "response.audio.start" and i > clear_at)
    before_clear = [v for kind, v in seq[:clear_at] if kind == "audio"]
    assert before_clear and all(v == {FIRST} for v in before_clear)
    late = [v for kind, v in seq[clear_at:second_start] if kind == "audio"]
    assert late == [], f"{len(late)} frames of the cancelled response after playback.clear"
    second = [v for kind, v in seq[second_start:] if kind == "audio"]
    assert second and all(v == {SECOND} for v in second), "the next response starts with audio of the cut one"
