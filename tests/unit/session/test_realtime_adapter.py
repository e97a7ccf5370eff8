"""The Realtime adapter without sockets: session events → Realtime events, session.update → engine settings, and
the inbound path under arbitrary client input."""

from __future__ import annotations

import asyncio
import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from voice_letta.session import events as E
from voice_letta.session.realtime import RealtimeTransport
from voice_letta.session.realtime_in import DEFAULT_SESSION, aggressiveness, session_update
from voice_letta.session.realtime_out import Formats, RealtimeRenderer
from voice_letta.session.settings import Settings
from voice_letta.wire import native as W
from voice_letta.wire import realtime as R
from voice_letta.wire import realtime_events as RE


def kinds(events: list[RE.ServerEvent]) -> list[str]:
    return [e.type for e in events]


def speaking_renderer() -> RealtimeRenderer:
    """A renderer whose current response has started sending audio."""
    r = RealtimeRenderer("sess-1", "agent")
    r.render(E.ResponseStarted("resp-1", "agent-1", ("audio",)))
    r.render(E.TextOut("resp-1", "Hello there."))
    r.render(E.AudioStarted("resp-1", 24000))
    assert r.audio(b"\x00\x00" * 480) is not None
    return r


def test_speech_over_the_agent_is_announced_only_when_it_barges_in() -> None:
    r = speaking_renderer()
    assert r.render(E.UserSpeechStarted("utt-a", 1200)) == []  # held: the client would stop playback
    cleared = r.render(E.PlaybackCleared("resp-1"))  # the engine accepted the interruption
    assert kinds(cleared) == ["input_audio_buffer.speech_started"]
    assert kinds(r.render(E.UserSpeechStopped("utt-a", 2400))) == ["input_audio_buffer.speech_stopped"]


def test_a_cough_over_the_agent_is_never_announced() -> None:
    r = speaking_renderer()
    assert r.render(E.UserSpeechStarted("utt-b", 1200)) == []
    assert r.render(E.UserSpeechStopped("utt-b", 1500)) == []
    assert r.render(E.UtteranceIgnored("utt-b")) == []
    ended = r.render(E.ResponseEnded("resp-1", "turn-1", "completed", "stop", {}, {}, text="Hello there."))
    assert "input_audio_buffer.speech_started" not in kinds(ended)


def test_speech_when_the_agent_is_silent_is_announced_at_once_with_the_item_id() -> None:
    r = RealtimeRenderer("sess-1", "agent")
    started = r.render(E.UserSpeechStarted("utt-c", 300))
    committed = r.render(E.UtteranceCommitted("utt-c", 1800.0))
    assert kinds(started) == ["input_audio_buffer.speech_started"]
    assert kinds(committed) == ["input_audio_buffer.committed", "conversation.item.added"]
    assert started[0].item_id == committed[0].item_id == r.item_id_of("utt-c")  # type: ignore[attr-defined]


def test_live_captions_become_append_only_transcription_deltas() -> None:
    r = RealtimeRenderer("sess-1", "agent")
    deltas = [r.render(E.TranscriptPartial("utt-d", text, 500.0 * i, 80.0))
              for i, text in enumerate(["What is", "What is the", "What's the", "What is the weather"], 1)]
    # the last word of a caption is held back (it may be cut off); a caption that revises sent words waits
    assert [[e.delta for e in d] for d in deltas] == [["What"], [" is"], [], [" the"]]  # type: ignore[attr-defined]
    final = r.render(E.Transcribed("What is the weather like?", 2000.0, 90.0, utterance_id="utt-d"))
    assert kinds(final)[0] == "conversation.item.input_audio_transcription.delta"
    assert final[0].delta == " weather like?"  # type: ignore[attr-defined]
    assert final[1].transcript == "What is the weather like?"  # type: ignore[attr-defined]
    revised = r.render(E.TranscriptPartial("utt-e", "You scream", 500.0, 80.0))
    final = r.render(E.Transcribed("Ice cream", 900.0, 90.0, utterance_id="utt-e"))
    assert kinds(revised) == ["conversation.item.input_audio_transcription.delta"]
    assert kinds(final)[0] == "conversation.item.input_audio_transcription.completed"  # no delta to retract


def test_caption_deltas_add_up_to_the_final_transcript_when_whisper_punctuates_a_pause() -> None:
    """Whisper's captions of a growing utterance end in '?' or '...' where the speaker only paused (seen with
    espeak and flite voices): the deltas must still add up to the final transcript."""
    cases = [(["Good morning", "Good morning, can you hear?"], "Good morning, can you hear me clearly?"),
             (["Please tell me", "Please tell me a long story", "Please tell me a long story about..."],
              "Please tell me a long story about the sea."),
             (["What is that?"], "What is the weather like in Paris today?")]
    for n, (captions, final) in enumerate(cases):
        r = RealtimeRenderer("sess-1", "agent")
        out = [e for text in captions for e in r.render(E.TranscriptPartial(f"utt-{n}", text, 500.0, 80.0))]
        out += r.render(E.Transcribed(final, 2000.0, 90.0, utterance_id=f"utt-{n}"))
        deltas = [e.delta for e in out if e.type == "conversation.item.input_audio_transcription.delta"]  # type: ignore[attr-defined]
        assert "".join(deltas) == final, (captions, deltas)


def test_a_commit_without_speech_is_acknowledged_as_an_empty_item() -> None:
    r = RealtimeRenderer("sess-1", "agent")
    out = r.render(E.UtteranceDiscarded("no_speech"))
    assert kinds(out) == ["input_audio_buffer.committed", "conversation.item.added",
                          "conversation.item.input_audio_transcription.completed", "conversation.item.done"]
    assert out[2].transcript == ""  # type: ignore[attr-defined]
    assert r.render(E.UtteranceDiscarded("cleared")) == []  # a clear is answered by input_audio_buffer.cleared


def test_a_response_with_a_client_tool_call_renders_items_in_order() -> None:
    r = RealtimeRenderer("sess-1", "agent")
    r.render(E.ResponseStarted("resp-2", "agent-1", ("audio",), {"client_event_id": "x"}))
    added = r.render(E.ToolCallOut("resp-2", 0, "call_1", "get_weather", '{"city":', True))
    more = r.render(E.ToolCallOut("resp-2", 0, None, None, '"Paris"}', True))
    hidden = r.render(E.ToolCallOut("resp-2", 1, "call_2", "search_memory", "{}", False))
    done = r.render(E.ResponseEnded("resp-2", "turn-2", "completed", "tool_calls",
                                    {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                                     "cached_tokens": 4}, {}, text=""))
    assert kinds(added) == ["response.output_item.added", "conversation.item.added",
                            "response.function_call_arguments.delta"]
    assert kinds(more) == ["response.function_call_arguments.delta"] and hidden == []
    assert kinds(done) == ["response.function_call_arguments.done", "response.output_item.done",
                           "conversation.item.done", "response.done"]
    final = done[-1].response  # type: ignore[attr-defined]
    assert final.metadata == {"client_event_id": "x"} and final.status == "completed"
    assert [(i.type, i.name, i.arguments) for i in final.output] == [("function_call", "get_weather",
                                                                      '{"city":"Paris"}')]
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.total_tokens) == (10, 5, 15)
    assert final.usage.input_token_details.cached_tokens == 4


def test_a_failed_response_reports_its_error_in_response_done_not_as_an_error_event() -> None:
    r = RealtimeRenderer("sess-1", "agent")
    r.render(E.ResponseStarted("resp-3", "agent-1", ("audio",)))
    assert r.render(E.ErrorRaised("provider_unavailable", "down", True, response_id="resp-3")) == []
    r.render(E.TextOut("resp-3", "Sorry.", "fallback"))
    done = r.render(E.ResponseEnded("resp-3", "turn-3", "failed", "error", {}, {}, text="Sorry."))
    final = done[-1].response  # type: ignore[attr-defined]
    assert final.status == "failed" and final.status_details.error.code == "provider_unavailable"


def test_session_update_maps_turn_detection_formats_and_realtime_extras() -> None:
    cfg = R.SessionConfig.model_validate({
        "instructions": "Be brief.", "output_modalities": ["text"],
        "tools": [{"type": "function", "name": "f", "description": "d"}],
        "audio": {"input": {"format": {"type": "audio/pcmu"},
                            "turn_detection": {"type": "server_vad", "threshold": 0.8, "silence_duration_ms": 700,
                                               "create_response": False, "interrupt_response": False}},
                  "output": {"format": {"type": "audio/pcma"}, "voice": "cedar"}}})
    update, formats, notes = session_update(cfg, Formats(), event_id="k")
    s = update.session
    assert (s.input_sample_rate_hz, s.output_sample_rate_hz, s.turn_mode) == (8000, 8000, "server_vad")
    assert s.voice == "cedar"
    assert s.vad is not None and (s.vad.silence_ms, s.vad.threshold, s.vad.barge_in) == (700, 0.8, False)
    assert s.vad.aggressiveness == 2 and s.output_modalities == ["text"]
    assert s.vad.end_of_turn == "silence"  # server_vad: silence_duration_ms alone ends the turn
    assert update.auto_respond is False and update.instructions == "Be brief."
    assert update.tools and update.tools[0].name == "f" and update.event_id == "k"
    assert (formats.input, formats.output) == ("audio/pcmu", "audio/pcma") and notes == []
    off, _, _ = session_update(R.SessionConfig.model_validate({"audio": {"input": {"turn_detection": None}}}),
                               Formats(), event_id="k2")
    assert off.session.turn_mode == "push_to_talk" and off.auto_respond is False  # the client asks itself
    semantic, f2, notes = session_update(R.SessionConfig.model_validate(
        {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}}}), Formats(),
        event_id="k3")
    assert semantic.session.vad is not None and semantic.session.vad.silence_ms == 1000
    assert (semantic.session.vad.end_of_turn, semantic.session.vad.min_silence_ms,
            semantic.session.vad.max_silence_ms) == ("words", 600, 3000)  # eagerness low: waits longer
    assert f2.turn_detection_type == "semantic_vad" and notes


def test_defaults_and_threshold_mapping() -> None:
    update, _, _ = session_update(DEFAULT_SESSION, Formats(), event_id="init")
    assert update.session.input_sample_rate_hz == 24000 and update.session.turn_mode == "server_vad"
    assert update.session.vad is not None and update.session.vad.silence_ms == 500
    assert [aggressiveness(t) for t in (0.0, 0.2, 0.5, 0.8, 1.0)] == [0, 1, 2, 2, 3]
    rendered = RealtimeRenderer("s", "m").session_out(Settings(agent_id="a"))
    assert rendered.audio.input.turn_detection is not None and rendered.tool_choice == "auto"


class _Socket:
    def __init__(self, frames: list[str]) -> None:
        self.frames = list(frames)
        self.sent: list[dict[str, object]] = []

    async def receive_text(self) -> str | None:
        return self.frames.pop(0) if self.frames else None

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))


def _drain(frames: list[str]) -> tuple[list[object], list[dict[str, object]]]:
    async def run() -> tuple[list[object], list[dict[str, object]]]:
        socket = _Socket(frames)
        transport = RealtimeTransport(socket, session_id="sess-1", model="agent")
        inputs = []
        while (item := await transport.receive()) is not None:
            inputs.append(item)
        return inputs, socket.sent

    return asyncio.run(run())


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                                        max_size=3), max_leaves=12)
client_events = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(R.CLIENT_TYPES))},
    optional={"event_id": st.text(max_size=8), "audio": st.sampled_from(["", "AAAA", "not base64", "AAE="]),
              "item_id": st.text(max_size=8), "audio_end_ms": st.integers(-5, 10_000),
              "item": st.one_of(json_values, st.fixed_dictionaries({
                  "type": st.sampled_from(["message", "function_call_output", "function_call"]),
                  "role": st.sampled_from(["user", "assistant", "system"]),
                  "content": st.just([{"type": "input_text", "text": "hi"}]), "call_id": st.just("c1"),
                  "output": st.just("{}"), "name": st.just("f")})),
              "session": json_values, "response": json_values})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(client_events.map(json.dumps), st.text(max_size=30)), max_size=8))
def test_any_client_stream_gives_engine_input_or_realtime_errors(frames: list[str]) -> None:
    inputs, sent = _drain(frames)
    assert isinstance(inputs[0], E.UpdateSession)  # the Realtime defaults, first
    for ev in sent:
        assert isinstance(ev["type"], str) and ev["event_id"]
        if ev["type"] == "error":
            err = ev["error"]
            assert isinstance(err, dict) and err["type"] == "invalid_request_error" and err["code"]
    for item in inputs:
        assert isinstance(item, (bytes, E.UpdateSession, E.AddInput, E.CreateResponse, E.Truncate,
                                 W.InputAudioCommit, W.InputAudioClear, W.ResponseCancel))


def test_audio_appended_right_after_a_format_change_is_decoded_in_the_new_format() -> None:
    """A client switching to G.711 sends ``session.update`` and at once its µ-law frames, without waiting for
    ``session.updated`` (the openai SDK and Twilio bridges do): the frames were decoded as PCM16 (half the samples,
    noise at the wrong rate) and 100 ms of µ-law counted as 17 ms, so the commit was refused as too small."""
    ulaw_100ms = base64.b64encode(b"\xff" * 800).decode()
    frames = [json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
                  "format": {"type": "audio/pcmu"}, "turn_detection": None}}}}),
              json.dumps({"type": "input_audio_buffer.append", "audio": ulaw_100ms}),
              json.dumps({"type": "input_audio_buffer.commit", "event_id": "c1"})]
    inputs, sent = _drain(frames)
    assert [len(i) for i in inputs if isinstance(i, bytes)] == [1600]  # 800 samples of PCM16 at 8 kHz
    assert any(isinstance(i, W.InputAudioCommit) for i in inputs)
    assert not [ev for ev in sent if ev["type"] == "error"], sent


def test_a_format_change_during_a_response_applies_from_the_next_response() -> None:
    """The engine keeps a response's output rate to its end: its deltas and ``response.done`` stayed PCM16 while
    the renderer re-encoded them as µ-law at once (24 kHz samples sent as 8 kHz G.711: slow, low and garbled)."""
    r = speaking_renderer()
    r.formats = Formats(output="audio/pcmu")  # session.updated arrives mid-response
    frame = b"\x01\x02" * 480
    delta = r.audio(frame)
    assert delta is not None and base64.b64decode(delta.delta) == frame
    done = r.render(E.ResponseEnded("resp-1", "turn-1", "completed", "stop", {}, {}, text="Hello there."))
    finished = next(e for e in done if e.type == "response.done")
    assert finished.response.audio.output.format.type == "audio/pcm"  # type: ignore[attr-defined]
    r.render(E.ResponseStarted("resp-2", "agent-1", ("audio",)))
    r.render(E.TextOut("resp-2", "Bye."))
    r.render(E.AudioStarted("resp-2", 8000))
    delta = r.audio(frame[:320])
    assert delta is not None and len(base64.b64decode(delta.delta)) == 160  # µ-law: one byte a sample
