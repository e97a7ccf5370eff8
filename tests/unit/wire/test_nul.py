"""The NUL character (U+0000) in any text of a JSON body or frame is refused with the wire's own typed error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_letta.errors import ProtocolViolation
from voice_letta.wire import native as N
from voice_letta.wire import realtime as R
from voice_letta.wire import twilio as T
from voice_letta.wire._json import refuse_nul


@pytest.mark.parametrize(("value", "param"), [
    ({"a": "x\u0000"}, "a"), ({"a": [{"b": "ok"}, {"b": "\u0000"}]}, "a.1.b"), ({"a\u0000": 1}, None),
    ({"a": {"b": {"c": ["", "", "\u0000"]}}}, "a.b.c.2"),
])
def test_names_the_field(value: dict[str, object], param: str | None) -> None:
    for raw in (json.dumps(value), json.dumps(value).encode()):
        with pytest.raises(ProtocolViolation) as err:
            refuse_nul(raw)
        assert (err.value.code, err.value.param) == ("invalid_request", param)


_NO_NUL = st.text(alphabet=st.characters(blacklist_characters="\x00"))


@given(st.recursive(_NO_NUL, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(_NO_NUL.filter(lambda k: len(k) <= 3), inner, max_size=3), max_leaves=8))
def test_json_without_nul_passes_whatever_its_escapes(value: object) -> None:
    text = json.dumps(value)  # escapes such as "\\u0000" as text (a backslash then "u0000") must not trip it
    refuse_nul(text)
    refuse_nul(text.encode())
    refuse_nul(json.dumps(value, ensure_ascii=False), value)


@given(st.text(), st.text(), st.booleans())
def test_json_with_nul_anywhere_in_a_string_is_refused(before: str, after: str, as_key: bool) -> None:
    text = before + "\u0000" + after
    with pytest.raises(ProtocolViolation):
        refuse_nul(json.dumps({text: 1} if as_key else {"x": [text]}))


def test_each_wire_gives_its_own_code_and_keeps_the_event_id() -> None:
    with pytest.raises(ProtocolViolation) as native:
        N.parse_client('{"type": "input_text", "text": "hi\\u0000", "event_id": "e1"}')
    assert (native.value.code, native.value.event_id) == ("invalid_event", "e1")
    with pytest.raises(R.RealtimeViolation) as realtime:
        R.parse_client('{"type": "conversation.item.create", "event_id": "e2", "item": {"type": "message", '
                       '"role": "user", "content": [{"type": "input_text", "text": "hi\\u0000"}]}}')
    assert (realtime.value.code, realtime.value.param, realtime.value.event_id) == (
        "invalid_value", "item.content.0.text", "e2")
    with pytest.raises(ProtocolViolation) as twilio:
        T.parse_inbound('{"event": "start", "streamSid": "MZ1", "start": {"callSid": "CA1", "accountSid": "AC1", '
                        '"customParameters": {"agent": "a\\u0000"}, "mediaFormat": {"encoding": "audio/x-mulaw", '
                        '"sampleRate": 8000, "channels": 1}}}')
    assert twilio.value.code == "invalid_event"
    N.parse_client('{"type": "input_text", "text": "what is \\\\u0000?"}')  # the escape as text: fine
