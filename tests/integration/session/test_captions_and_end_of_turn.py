"""Live captions (transcript.partial), end of turn on words, push-to-talk timings and input_audio.empty.

Real WebSocket sessions with the fake LLM and a scripted STT that answers from the *length* of the audio it is
given, the way a real recognizer would: the paused fixtures (audio_fixtures/paused, Piper speech with a pause
inserted mid-sentence) are streamed in real time, so the server's VAD sees the real pause.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.fakes.native_client import load_wav, silence
from tests.fakes.openai_server import Text
from tests.fakes.scripted_speech import ScriptedSTT
from tests.integration.session.conftest import VoiceServer

PAUSED = json.loads((Path(__file__).resolve().parents[3] / "audio_fixtures/paused/transcripts.json").read_text())
SISTER = "paused/paused_my_sister_is_a.wav"
PADDING_S = 0.3  # the utterance audio starts prefix_padding_ms before the speech


def by_length(name: str, fixture: str) -> Callable[[bytes, int], str]:
    """What a recognizer would say for the first N seconds of the utterance in ``fixture``."""
    info = PAUSED["files"][name]
    words_before = info["before_pause"].rstrip(",")
    pause_end = info["pause_start_s"] + info["pause_s"] - info["speech_start_s"] + PADDING_S

    def text(pcm: bytes, rate: int) -> str:
        seconds = len(pcm) / 2 / rate
        if seconds < 0.6:
            return words_before.split()[0]
        return words_before if seconds < pause_end + 0.2 else info["text"]

    return text


async def test_captions_arrive_while_speaking_and_the_final_reuses_the_last_one(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]]
) -> None:
    stt = ScriptedSTT(by_length("paused_my_sister_is_a.wav", SISTER), partials=True, punctuates=True)
    vs = await voice_server_factory(stt=stt)
    agent = await vs.create_agent()
    vs.fake.script([Text("Good to know.")])
    pcm, rate = load_wav(SISTER)
    async with await vs.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=1.0)
        final = await c.wait_for("transcript.final", timeout_s=10)
        assert final["text"] == "My sister is a doctor in Boston."
        partials = c.timed("transcript.partial")
        final_at = c.timed("transcript.final")[0][0]
        assert all(at < final_at for at, _ in partials)
        texts = [p["text"] for _, p in partials]
        assert texts == ["My sister is", "My sister is a doctor in Boston."]  # only changes are sent
        audio_ms = [p["audio_ms"] for _, p in partials]
        assert audio_ms == sorted(audio_ms)
        done = await c.wait_for("response.done")
        assert done["status"] == "completed"
        assert done["timings_ms"]["stt_ms"] < 50  # the final transcript was the last partial: no STT after the turn
    # 1.9 s of speech in two runs: a transcription after every 500 ms of speech, and one in the pause (the last
    # caption already covered all the speech before the final pause, so none was needed there)
    assert len(stt.calls) >= 4, stt.calls


async def test_an_unfinished_phrase_survives_a_one_second_pause(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]]
) -> None:
    stt = ScriptedSTT(by_length("paused_my_sister_is_a.wav", SISTER), partials=True, punctuates=True)
    vs = await voice_server_factory(stt=stt)
    agent = await vs.create_agent()
    vs.fake.script([Text("Good to know.")])
    pcm, rate = load_wav(SISTER)
    async with await vs.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=1.0)
        await c.wait_for("response.done", timeout_s=10)
        await asyncio.sleep(0.3)
        finals = c.events("transcript.final")
    assert [f["text"] for f in finals] == ["My sister is a doctor in Boston."]


async def test_with_end_of_turn_on_silence_the_same_pause_cuts_the_user_off(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]]
) -> None:
    stt = ScriptedSTT(by_length("paused_my_sister_is_a.wav", SISTER), partials=True, punctuates=True)
    vs = await voice_server_factory(stt=stt)
    agent = await vs.create_agent()
    vs.fake.script([Text("Go on.")], [Text("Good to know.")])
    pcm, rate = load_wav(SISTER)
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"vad": {"end_of_turn": "silence"}})
        state = (await c.wait_for("session.updated"))["session"]
        assert state["vad"]["end_of_turn"] == "silence"
        await c.stream(pcm, rate=rate, speed=1.0)
        await c.wait_for("transcript.final", count=2, timeout_s=10)
    assert c.events("transcript.final")[0]["text"] == "My sister is"


async def test_a_complete_question_ends_the_turn_before_the_silence_timeout(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]]
) -> None:
    stt = ScriptedSTT(["What time is it?"], default="What time is it?", punctuates=True)
    vs = await voice_server_factory(stt=stt)
    agent = await vs.create_agent()
    vs.fake.script([Text("Noon.")])
    pcm, rate = load_wav("paused/complete_what_time_is_it.wav")
    async with await vs.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=1.0)
        done = await c.wait_for("response.done", timeout_s=10)
    endpointing = done["timings_ms"]["endpointing_ms"]
    assert endpointing < 600 - 100, done["timings_ms"]  # the speculative transcript at 240 ms ended it


async def test_partial_transcripts_can_be_turned_off(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]]
) -> None:
    stt = ScriptedSTT(by_length("paused_my_sister_is_a.wav", SISTER), partials=True, punctuates=True)
    vs = await voice_server_factory(stt=stt)
    agent = await vs.create_agent()
    vs.fake.script([Text("Good to know.")])
    pcm, rate = load_wav(SISTER)
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"partial_transcripts": False})
        assert (await c.wait_for("session.updated"))["session"]["partial_transcripts"] is False
        await c.stream(pcm, rate=rate, speed=1.0)
        await c.wait_for("transcript.final", timeout_s=10)
    assert c.events("transcript.partial") == []


async def test_push_to_talk_timings_do_not_count_the_key_held_after_speaking(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]]
) -> None:
    stt = ScriptedSTT(["Turn off the lights."], punctuates=True)
    vs = await voice_server_factory(stt=stt)
    agent = await vs.create_agent()
    vs.fake.script([Text("Done.")])
    pcm, rate = load_wav("lights_off.wav")
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"turn_mode": "push_to_talk"})
        await c.wait_for("session.updated")
        await c.stream(pcm + silence(1500, rate), rate=rate, speed=1.0)  # the key stays down 2.5 s after speech
        released = asyncio.get_running_loop().time()
        await c.send(type="input_audio.commit")
        done = await c.wait_for("response.done", timeout_s=10)
        first_audio = c.timed("response.audio.start")[0][0]
    t = done["timings_ms"]
    assert t["endpointing_ms"] == 0
    assert t["key_hold_ms"] > 2000  # reported, but not part of the stages
    assert t["voice_to_voice_ms"] < (first_audio - released) * 1000 + 100
    assert t["stt_ms"] < 50  # transcribed while the key was down
    assert len(stt.calls) == 1


async def test_an_empty_push_to_talk_commit_gets_input_audio_empty(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"turn_mode": "push_to_talk"})
        await c.wait_for("session.updated")
        await c.stream(silence(1000), speed=0)
        await c.send(type="input_audio.commit")
        empty = await c.wait_for("input_audio.empty")
        assert empty == {"type": "input_audio.empty", "reason": "no_speech"}
        pcm, rate = load_wav("low_noise.wav")
        await c.stream(pcm[:rate // 10 * 2], rate=rate, speed=0)
        await c.send(type="input_audio.commit")
        await c.wait_for("input_audio.empty", count=2)
    assert not c.events("response.created")


async def test_speech_that_transcribes_to_nothing_gets_input_audio_empty(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]]
) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT([""], default=""))
    agent = await vs.create_agent()
    pcm, rate = load_wav("hello.wav")
    async with await vs.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=0)
        empty = await c.wait_for("input_audio.empty", timeout_s=10)
    assert empty["reason"] == "no_words"
    assert not c.events("response.created")


async def test_a_broken_speech_engine_is_an_error_event_not_the_end_of_the_session(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]]
) -> None:
    def broken(pcm: bytes, rate: int) -> str:
        raise IndexError("a bug in the engine")

    vs = await voice_server_factory(stt=ScriptedSTT(broken, partials=True))
    agent = await vs.create_agent()
    vs.fake.script([Text("Still here.")])
    pcm, rate = load_wav("hello.wav")
    async with await vs.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=0)
        err = await c.wait_for("error", timeout_s=10)
        assert err["code"] == "stt_failed"
        await c.send(type="input_text", text="are you there?")
        done = await c.wait_for("response.done", timeout_s=10)
    assert done["status"] == "completed"


async def test_captions_come_every_half_second_of_audio_while_the_user_speaks(
    voice_server_factory: Callable[..., Awaitable[VoiceServer]]
) -> None:
    # a recognizer that says something new for every length, so every caption taken is sent
    stt = ScriptedSTT(lambda pcm, rate: f"words of {len(pcm) // 320} frames", partials=True)
    vs = await voice_server_factory(stt=stt)
    agent = await vs.create_agent()
    vs.fake.script([Text("Go on.")])
    pcm, rate = load_wav("long_story.wav")
    async with await vs.client(agent) as c:
        await c.stream(pcm, rate=rate, speed=1.0)
        await c.wait_for("response.done", timeout_s=20)
        audio_ms = [p["audio_ms"] for _, p in c.timed("transcript.partial")]
    # the short pauses between words count as time: captions of running speech are one interval apart
    # (plus a chunk or two while the previous transcription returns), not 500 ms of *voiced* frames apart
    gaps = [b - a for a, b in itertools.pairwise(audio_ms)]
    assert len(audio_ms) >= 4, audio_ms
    assert max(gaps) <= 640, gaps
