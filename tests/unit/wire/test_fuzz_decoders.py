"""Property-based fuzzing of the sans-I/O decoders: any input gives a typed message or ``ProtocolViolation``.

Random text, random JSON, and (most useful) well-formed messages of every known type with random values in
every field, which is where validators meet odd values ("²".isdigit() is True, for one).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voice_letta.errors import ProtocolViolation
from voice_letta.wire import native as N
from voice_letta.wire import twilio as T

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
odd_text = st.sampled_from(["²", "١٢", "-5", "--5", "1e3", " 7", "0x10", "", "\x00", "9" * 30, "+3", "½"])
values = json_values | odd_text


def message_with(kind_field: str, kinds: tuple[str, ...], fields: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    nested = st.dictionaries(st.sampled_from(fields), values | st.dictionaries(st.sampled_from(fields), values,
                                                                                max_size=6), max_size=8)
    return st.builds(lambda kind, body: {**body, kind_field: kind}, st.sampled_from(kinds), nested)


NATIVE_FIELDS = ("session", "agent", "input_sample_rate_hz", "output_sample_rate_hz", "turn_mode", "vad", "voice",
                 "text", "event_id", "response_id", "played_ms", "reason", "engine", "silence_ms", "threshold",
                 "barge_in", "aggressiveness", "min_speech_ms")
TWILIO_FIELDS = ("streamSid", "sequenceNumber", "start", "media", "mark", "dtmf", "stop", "callSid", "accountSid",
                 "customParameters", "mediaFormat", "encoding", "sampleRate", "channels", "tracks", "track",
                 "chunk", "timestamp", "payload", "name", "digit", "protocol", "version")


def native_ok(text: str) -> None:
    try:
        N.parse_client(text)
    except ProtocolViolation as exc:
        assert exc.code in ("invalid_json", "invalid_event", "unknown_event", "frame_too_large"), exc.code


@FUZZ
@given(st.text(max_size=3000))
def test_native_decoder_takes_any_text(text: str) -> None:
    native_ok(text)


@FUZZ
@given(message_with("type", (*N.CLIENT_TYPES, "nope"), NATIVE_FIELDS))
def test_native_decoder_takes_any_message(msg: dict[str, Any]) -> None:
    native_ok(json.dumps(msg))


@FUZZ
@given(st.binary(max_size=200_000))
def test_audio_frames_are_checked_without_crashing(data: bytes) -> None:
    try:
        N.check_audio_frame(data)
    except ProtocolViolation as exc:
        assert exc.code in ("frame_too_large", "odd_frame_length")
    else:
        assert len(data) % 2 == 0 and len(data) <= N.MAX_AUDIO_FRAME_BYTES


def twilio_ok(codec: T.TwilioCodec, text: str) -> None:
    try:
        codec.receive_text(text)
    except ProtocolViolation as exc:
        assert exc.code in ("invalid_json", "invalid_event", "frame_too_large"), exc.code


@FUZZ
@given(st.text(max_size=3000))
def test_twilio_decoder_takes_any_text(text: str) -> None:
    twilio_ok(T.TwilioCodec(), text)


@FUZZ
@given(st.lists(message_with("event", (*T.KNOWN_EVENTS, "nope"), TWILIO_FIELDS), max_size=6))
def test_twilio_decoder_takes_any_sequence_of_messages(msgs: list[dict[str, Any]]) -> None:
    codec = T.TwilioCodec()
    for msg in msgs:
        twilio_ok(codec, json.dumps(msg))


@FUZZ
@given(odd_text | st.text(max_size=12))
def test_an_odd_media_timestamp_is_not_fatal(timestamp: str) -> None:
    codec = T.TwilioCodec()
    media = {"event": "media", "streamSid": "MZ1",
             "media": {"track": "inbound", "chunk": "1", "timestamp": timestamp, "payload": "//8="}}
    events = codec.receive_text(json.dumps(media))
    assert len(events) == 1 and isinstance(events[0], T.AudioReceived)
