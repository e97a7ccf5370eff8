"""The sans-I/O Twilio codec: literal messages in, typed events and JSON out (no sockets, no sleeps).

(Pure tests; they live here with the other Twilio tests because tests/unit/wire belongs to the wire owners.)
"""

from __future__ import annotations

import base64
import json

import pytest

from voice_letta.core.codecs import pcm16_to_ulaw
from voice_letta.errors import ProtocolViolation
from voice_letta.wire import twilio as T

START = json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {
    "streamSid": "MZ1", "accountSid": "AC1", "callSid": "CA1", "tracks": ["inbound"],
    "customParameters": {"agent_id": "agent-1"}, "somethingNew": True,
    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})


def started() -> T.TwilioCodec:
    codec = T.TwilioCodec()
    (ev,) = codec.receive_text(START)
    assert ev == T.CallStarted("MZ1", "CA1", "AC1", {"agent_id": "agent-1"}, "audio/x-mulaw", 8000)
    return codec


def media(payload: bytes) -> str:
    return json.dumps({"event": "media", "sequenceNumber": "2", "streamSid": "MZ1", "media": {
        "track": "inbound", "chunk": "1", "timestamp": "20", "payload": base64.b64encode(payload).decode()}})


def echo(name: str) -> str:
    return json.dumps({"event": "mark", "sequenceNumber": "9", "streamSid": "MZ1", "mark": {"name": name}})


def test_inbound_events() -> None:
    codec = started()
    assert codec.receive_text('{"event": "connected", "protocol": "Call", "version": "1.0.0"}') == \
        [T.CallConnected("Call")]
    (audio,) = codec.receive_text(media(b"\xff" * 160))
    assert isinstance(audio, T.AudioReceived) and audio.pcm16 == b"\x00\x00" * 160 and audio.timestamp_ms == 20
    assert codec.receive_text('{"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": "7"}}') == [T.DtmfReceived("7")]
    assert codec.receive_text('{"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA1"}}') == [T.CallStopped()]
    assert codec.receive_text('{"event": "brand_new_event", "x": 1}') == []
    assert codec.receive_text(echo("resp_unknown:100")) == []


@pytest.mark.parametrize("text", [
    "{nope", "[]", '{"event": 1}', '{"event": "media"}', '{"event": "media", "media": {"payload": "!!"}}',
    '{"event": "start", "start": {}}', '{"event": "mark", "mark": {"name": 5}}', "x" * 70_000,
    # not a key of the keypad: it became a "[keypad] Z" turn that cut the agent off
    '{"event": "dtmf", "dtmf": {"digit": "Z"}}', '{"event": "dtmf", "dtmf": {"digit": "12"}}',
])
def test_malformed_messages_raise_protocol_violation(text: str) -> None:
    with pytest.raises(ProtocolViolation):
        started().receive_text(text)


def test_outbound_audio_is_framed_20ms_with_marks_and_a_padded_tail() -> None:
    codec = started()
    codec.begin_response("resp_a")
    out = [json.loads(m) for m in codec.send_audio(b"\x10\x00" * (8 * 250))]  # 250 ms at 8 kHz
    out += [json.loads(m) for m in codec.end_response()]
    media_msgs = [m for m in out if m["event"] == "media"]
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for m in media_msgs)
    assert len(media_msgs) == 13  # 12 full frames + the padded 10 ms tail
    assert base64.b64decode(media_msgs[-1]["media"]["payload"])[80:] == b"\xff" * 80
    assert base64.b64decode(media_msgs[0]["media"]["payload"]) == pcm16_to_ulaw(b"\x10\x00" * 160)
    marks = [m["mark"]["name"] for m in out if m["event"] == "mark"]
    assert marks == ["resp_a:100", "resp_a:200", "resp_a:250"]
    assert [m["event"] for m in out][:6] == ["media"] * 5 + ["mark"]
    assert {m["streamSid"] for m in out} == {"MZ1"}
    # echoes report what was heard
    assert codec.receive_text(echo("resp_a:100")) == [T.PlaybackReached("resp_a", 100.0)]
    assert codec.receive_text(echo("resp_a:200")) == [T.PlaybackReached("resp_a", 200.0)]
    assert codec.receive_text(echo("resp_a:200")) == []  # a duplicate echo
    assert codec.heard_ms("resp_a") == 200.0


def test_marks_returned_after_clear_do_not_count() -> None:
    codec = started()
    codec.begin_response("resp_b")
    codec.send_audio(b"\x00\x00" * (8 * 400))
    assert codec.receive_text(echo("resp_b:100")) == [T.PlaybackReached("resp_b", 100.0)]
    assert [json.loads(m) for m in codec.send_clear()] == [{"event": "clear", "streamSid": "MZ1"}]
    assert codec.receive_text(echo("resp_b:200")) == []
    assert codec.receive_text(echo("resp_b:300")) == []
    assert codec.heard_ms("resp_b") == 100.0
    assert codec.send_audio(b"\x00\x00" * 160) == []  # no response: nothing to send until the next begins
    codec.begin_response("resp_c")
    assert len(codec.send_audio(b"\x00\x00" * 160)) == 1


def test_twiml_escapes_and_uses_connect_not_start() -> None:
    xml = T.twiml_connect_stream("wss://h/twilio/stream", {"agent_id": 'a"<b>&'})
    assert "<Connect><Stream url=\"wss://h/twilio/stream\">" in xml and "<Start>" not in xml
    assert 'value="a&quot;&lt;b&gt;&amp;"' in xml
