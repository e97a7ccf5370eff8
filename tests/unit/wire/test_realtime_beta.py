"""``wire.realtime_beta``: the beta dialect of the Realtime protocol, translated both ways."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from voice_letta.wire import realtime as R
from voice_letta.wire import realtime_beta as RB
from voice_letta.wire import realtime_events as RE

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=4), max_leaves=20)
BETA_KEYS = st.sampled_from(["modalities", "input_audio_format", "output_audio_format", "voice", "speed",
                             "turn_detection", "input_audio_transcription", "input_audio_noise_reduction",
                             "max_response_output_tokens", "audio", "instructions", "temperature", "tools"])


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["session.update", "response.create", "input_audio_buffer.append", "bogus"]),
       body=st.dictionaries(BETA_KEYS, JSON, max_size=6), wrapper=st.sampled_from(["session", "response"]))
def test_any_beta_client_event_translates_and_then_parses_or_is_a_typed_error(
        kind: str, body: dict[str, Any], wrapper: str) -> None:
    event = {"type": kind, wrapper: body}
    ga = RB.client_to_ga(event)
    assert isinstance(ga, dict) and ga["type"] == kind
    try:
        R.parse_client(json.dumps(ga))
    except R.RealtimeViolation as exc:
        assert exc.code in ("invalid_value", "missing_required_parameter")


def test_flat_session_fields_move_under_audio() -> None:
    ga = RB.client_to_ga({"type": "session.update", "session": {
        "modalities": ["text", "audio"], "input_audio_format": "g711_alaw", "output_audio_format": "pcm16",
        "voice": "alloy", "speed": 1.2, "turn_detection": None, "input_audio_transcription": {"model": "whisper-1"},
        "max_response_output_tokens": 200, "instructions": "Be brief."}})
    session = ga["session"]
    assert session["output_modalities"] == ["audio"] and session["max_output_tokens"] == 200
    assert session["audio"] == {
        "input": {"format": {"type": "audio/pcma"}, "turn_detection": None,
                  "transcription": {"model": "whisper-1"}},
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.2}}
    assert session["instructions"] == "Be brief."
    parsed = R.parse_client(json.dumps(ga))
    assert isinstance(parsed, R.SessionUpdate) and parsed.session.audio is not None


def test_a_text_only_beta_response_asks_for_text() -> None:
    ga = RB.client_to_ga({"type": "response.create", "response": {"modalities": ["text"], "voice": "ash",
                                                                  "output_audio_format": "g711_ulaw"}})
    assert ga["response"] == {"output_modalities": ["text"],
                              "audio": {"output": {"voice": "ash", "format": {"type": "audio/pcmu"}}}}


def test_server_events_get_their_beta_names_and_shapes() -> None:
    delta = RE.AudioDelta(response_id="r", item_id="i", output_index=0, content_index=0, delta="AAAA")
    assert RB.server_to_beta(json.loads(RE.encode(delta)))["type"] == "response.audio.delta"  # type: ignore[index]
    assert RB.server_to_beta({"type": "conversation.item.done", "item": {}}) is None
    item = {"id": "i", "type": "message", "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "Hi."}]}
    created = RB.server_to_beta({"type": "conversation.item.added", "item": item})
    assert created == {"type": "conversation.item.created",
                       "item": {**item, "content": [{"type": "audio", "transcript": "Hi."}]}}
    response = {"id": "r", "status": "completed", "output": [item], "output_modalities": ["audio"],
                "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "ash"}}}
    done = RB.server_to_beta({"type": "response.done", "response": response})
    assert done is not None
    assert done["response"]["modalities"] == ["text", "audio"]
    assert done["response"]["output_audio_format"] == "g711_ulaw" and done["response"]["voice"] == "ash"
    assert done["response"]["output"][0]["content"][0]["type"] == "audio"
    assert "audio" not in done["response"] and "output_modalities" not in done["response"]


def test_who_speaks_beta() -> None:
    assert RB.wants_beta({"OpenAI-Beta": "realtime=v1"}, "")
    assert RB.wants_beta({"OpenAI-Beta": "assistants=v2, realtime=v1"}, "")
    assert RB.wants_beta({}, "realtime, openai-insecure-api-key.x, openai-beta.realtime-v1")
    assert not RB.wants_beta({}, "realtime, openai-insecure-api-key.x")
    assert not RB.wants_beta({"OpenAI-Beta": "assistants=v2"}, "")
