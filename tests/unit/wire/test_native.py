"""Native protocol wire models: strict parsing with typed error codes."""

from __future__ import annotations

import json

import pytest

from voice_letta.core.turns import VadParams
from voice_letta.errors import ProtocolViolation
from voice_letta.wire import native as W


def code_of(text: str) -> str:
    with pytest.raises(ProtocolViolation) as info:
        W.parse_client(text)
    return info.value.code


def test_parses_every_client_event() -> None:
    msg = W.parse_client(json.dumps({"type": "session.update", "session": {
        "agent": "a", "input_sample_rate_hz": 8000, "turn_mode": "push_to_talk",
        "vad": {"engine": "silero", "silence_ms": 500, "barge_in_min_ms": 200}}}))
    assert isinstance(msg, W.SessionUpdate) and msg.session.vad is not None
    assert msg.session.vad.silence_ms == 500
    assert isinstance(W.parse_client('{"type":"input_text","text":"hi"}'), W.InputText)
    assert isinstance(W.parse_client('{"type":"input_audio.commit"}'), W.InputAudioCommit)
    assert isinstance(W.parse_client('{"type":"input_audio.clear"}'), W.InputAudioClear)
    assert isinstance(W.parse_client('{"type":"response.cancel"}'), W.ResponseCancel)
    create = W.parse_client('{"type":"response.create","instructions":"Greet.","output_modalities":["text"]}')
    assert isinstance(create, W.ResponseCreate) and create.output_modalities == ["text"]
    p = W.parse_client('{"type":"playback.progress","response_id":"r","played_ms":120.5}')
    assert isinstance(p, W.PlaybackProgress) and p.played_ms == 120.5
    s = W.parse_client('{"type":"playback.stopped","response_id":"r","played_ms":3}')
    assert isinstance(s, W.PlaybackStopped) and s.reason == "cleared"


@pytest.mark.parametrize(("text", "code"), [
    ("nope", "invalid_json"),
    ("[]", "invalid_json"),
    ('{"text": "x"}', "invalid_event"),
    ('{"type": 3}', "invalid_event"),
    ('{"type": "response.create.now"}', "unknown_event"),
    ('{"type": "response.create", "output_modalities": ["audio", "text"]}', "invalid_event"),
    ('{"type": "input_text", "text": ""}', "invalid_event"),
    ('{"type": "input_text", "text": "a", "x": 1}', "invalid_event"),
    ('{"type": "session.update", "session": {"input_sample_rate_hz": 22050}}', "invalid_event"),
    ('{"type": "session.update", "session": {"turn_mode": "always"}}', "invalid_event"),
    ('{"type": "session.update", "session": {"vad": {"silence_ms": 5}}}', "invalid_event"),
    ('{"type": "playback.progress", "played_ms": 1}', "invalid_event"),
])
def test_malformed_events_have_codes(text: str, code: str) -> None:
    assert code_of(text) == code


def test_oversize_text_frame() -> None:
    assert code_of(json.dumps({"type": "input_text", "text": "a" * 20_000})) == "frame_too_large"


def test_audio_frame_checks() -> None:
    W.check_audio_frame(b"\x00\x00" * 10)
    with pytest.raises(ProtocolViolation) as odd:
        W.check_audio_frame(b"\x00" * 3)
    assert odd.value.code == "odd_frame_length"
    with pytest.raises(ProtocolViolation) as big:
        W.check_audio_frame(b"\x00" * (W.MAX_AUDIO_FRAME_BYTES + 2))
    assert big.value.code == "frame_too_large"


def test_merge_vad_keeps_unset_fields_and_checks_consistency() -> None:
    base = VadParams()
    merged = W.merge_vad(base, W.VadConfig(silence_ms=400, engine="webrtc"))
    assert merged.silence_ms == 400 and merged.min_speech_ms == base.min_speech_ms
    with pytest.raises(ProtocolViolation):
        W.merge_vad(base, W.VadConfig(min_speech_ms=2000, max_utterance_ms=1500))


def test_server_messages_encode_with_type() -> None:
    out = json.loads(W.encode(W.ErrorOut(code="x", message="y")))
    assert out == {"type": "error", "code": "x", "message": "y", "retryable": False, "event_id": None}


@pytest.mark.parametrize("text", [
    '{"type": "session.update", "session": {"partial_transcripts": "yes"}}',
    '{"type": "session.update", "session": {"vad": {"silence_ms": "800"}}}',
    '{"type": "session.update", "session": {"vad": {"barge_in": "false"}}}',
    '{"type": "session.update", "session": {"vad": {"threshold": true}}}',
    '{"type": "response.create", "greeting": 1}',
    '{"type": "playback.progress", "response_id": "r", "played_ms": "100"}',
])
def test_fields_are_strict_on_json_types(text: str) -> None:
    """"false" was read as false, true as a VAD threshold of 1.0, "800" as 800: each is an invalid_event now."""
    assert code_of(text) == "invalid_event"
    assert W.parse_client('{"type": "playback.progress", "response_id": "r", "played_ms": 100}')  # int for a float


def test_strict_session_update_names_the_field() -> None:
    with pytest.raises(ProtocolViolation) as info:
        W.parse_client('{"type": "session.update", "session": {"vad": {"barge_in": "false"}}}')
    assert "session.vad.barge_in" in info.value.message
