"""OpenAI Realtime wire models: GA shapes in, Realtime error codes for bad input, unsupported fields listed."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_letta.core import codecs
from voice_letta.errors import ProtocolViolation
from voice_letta.wire import realtime as R
from voice_letta.wire import realtime_events as RE


def violation(text: str) -> R.RealtimeViolation:
    with pytest.raises(R.RealtimeViolation) as info:
        R.parse_client(text)
    return info.value


def test_parses_the_ga_client_events() -> None:
    upd = R.parse_client(json.dumps({"type": "session.update", "event_id": "e1", "session": {
        "type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"],
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 400}},
                  "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"}},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}}))
    assert isinstance(upd, R.SessionUpdate) and upd.event_id == "e1"
    assert upd.session.audio and upd.session.audio.input and upd.session.audio.input.turn_detection
    assert upd.session.audio.input.turn_detection.silence_duration_ms == 400
    item = R.parse_client(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}}))
    assert isinstance(item, R.ConversationItemCreate) and isinstance(item.item, R.MessageItem)
    assert item.item.text() == "hi"
    out = R.parse_client('{"type":"conversation.item.create","item":{"type":"function_call_output",'
                         '"call_id":"c1","output":"{}"}}')
    assert isinstance(out, R.ConversationItemCreate) and isinstance(out.item, R.FunctionCallOutputItem)
    trunc = R.parse_client('{"type":"conversation.item.truncate","item_id":"i","content_index":0,"audio_end_ms":5}')
    assert isinstance(trunc, R.ConversationItemTruncate) and trunc.audio_end_ms == 5
    create = R.parse_client('{"type":"response.create","response":{"metadata":{"k":"v"}}}')
    assert isinstance(create, R.ResponseCreate) and create.response and create.response.metadata == {"k": "v"}
    for kind in ("input_audio_buffer.commit", "input_audio_buffer.clear", "response.cancel"):
        assert R.parse_client(json.dumps({"type": kind})).type == kind


def test_turn_detection_null_is_told_apart_from_absent() -> None:
    off = R.parse_client('{"type":"session.update","session":{"audio":{"input":{"turn_detection":null}}}}')
    untouched = R.parse_client('{"type":"session.update","session":{"audio":{"input":{}}}}')
    assert isinstance(off, R.SessionUpdate) and isinstance(untouched, R.SessionUpdate)
    assert off.session.audio and off.session.audio.input and untouched.session.audio and untouched.session.audio.input
    assert "turn_detection" in off.session.audio.input.model_fields_set
    assert "turn_detection" not in untouched.session.audio.input.model_fields_set


def test_bad_input_has_realtime_error_codes() -> None:
    assert violation("not json").code == "invalid_json"
    assert violation("[1]").code == "invalid_json"
    err = violation('{"type":"nope","event_id":"e9"}')
    assert (err.code, err.param, err.event_id) == ("invalid_value", "type", "e9")
    err = violation('{"type":"conversation.item.truncate","item_id":"i"}')
    assert err.code == "missing_required_parameter" and err.param == "audio_end_ms"
    err = violation('{"type":"session.update","session":{"output_modalities":["video"]}}')
    assert err.code == "invalid_value" and err.param and "output_modalities" in err.param
    assert violation('{"event_id":"x"}').code == "missing_required_parameter"


def test_unsupported_and_unknown_fields_are_listed_not_dropped() -> None:
    ev = R.parse_client(json.dumps({"type": "session.update", "session": {
        "tracing": "auto", "brand_new_field": 1, "audio": {"output": {"speed": 1.2, "voice": "x"},
                                                            "input": {"noise_reduction": {"type": "far_field"}}},
        "tools": [{"type": "function", "name": "f", "extra_thing": True}]}}))
    assert sorted(R.unsupported_fields(ev)) == [
        "session.audio.input.noise_reduction.type", "session.audio.output.speed", "session.brand_new_field",
        "session.tools[].extra_thing", "session.tracing"]
    assert R.unsupported_fields(R.parse_client('{"type":"response.cancel"}')) == []


def test_audio_formats_decode_and_encode() -> None:
    pcm = codecs.array_to_pcm16(__import__("numpy").arange(-1000, 1000, 10, dtype="<i2"))
    assert R.decode_audio(base64.b64encode(pcm).decode(), "audio/pcm") == pcm
    ulaw = codecs.pcm16_to_ulaw(pcm)
    assert R.decode_audio(base64.b64encode(ulaw).decode(), "audio/pcmu") == codecs.ulaw_to_pcm16(ulaw)
    assert base64.b64decode(R.encode_audio(pcm, "audio/pcma")) == codecs.pcm16_to_alaw(pcm)
    with pytest.raises(R.RealtimeViolation):
        R.decode_audio("***", "audio/pcm")
    with pytest.raises(R.RealtimeViolation):
        R.decode_audio(base64.b64encode(b"\x00\x01\x02").decode(), "audio/pcm")


def test_server_events_have_ga_names_and_event_ids() -> None:
    ev = json.loads(RE.encode(RE.SpeechStarted(audio_start_ms=10, item_id="item_1")))
    assert ev["type"] == "input_audio_buffer.speech_started" and ev["event_id"].startswith("event_")
    err = json.loads(RE.encode(RE.error_event(R.RealtimeViolation("bad", code="invalid_value", param="x",
                                                                 event_id="e"))))
    assert err == {"type": "error", "event_id": err["event_id"], "error": {
        "type": "invalid_request_error", "code": "invalid_value", "message": "bad", "param": "x", "event_id": "e"}}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)
event_like = st.fixed_dictionaries({"type": st.sampled_from([*sorted(R.CLIENT_TYPES), "x"])},
                                   optional={"event_id": st.text(), "session": json_values, "item": json_values,
                                             "audio": st.text(), "item_id": json_values, "response": json_values,
                                             "audio_end_ms": json_values, "content_index": json_values})


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), event_like.map(json.dumps)))
def test_any_input_parses_or_is_a_typed_violation(text: str) -> None:
    try:
        ev = R.parse_client(text)
    except ProtocolViolation as exc:
        assert isinstance(exc, R.RealtimeViolation) and exc.code
    else:
        R.unsupported_fields(ev)  # never raises either


def test_fields_are_strict_on_json_types() -> None:
    """A threshold of true was 1.0 (server VAD never fired), "false" was false, "800" was 800: invalid_value now."""
    td = '{"type":"session.update","session":{"type":"realtime","audio":{"input":{"turn_detection":%s}}}}'
    for bad, field in (('{"type":"server_vad","threshold":true}', "threshold"),
                       ('{"type":"server_vad","create_response":"false"}', "create_response"),
                       ('{"type":"server_vad","silence_duration_ms":"800"}', "silence_duration_ms")):
        err = violation(td % bad)
        assert err.code == "invalid_value" and err.param and err.param.endswith(field), (bad, err.param)
    err = violation('{"type":"session.update","session":{"type":"realtime","max_output_tokens":"100"}}')
    assert err.code == "invalid_value" and err.param and "max_output_tokens" in err.param
    assert R.parse_client(td % '{"type":"server_vad","threshold":1,"silence_duration_ms":800}')  # int for a float
