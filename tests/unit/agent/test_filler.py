"""The filler extractor streams pre_exec_msg out of argument JSON that arrives in arbitrary fragments."""

from __future__ import annotations

import json

import pytest

from voice_letta.agent.filler import StreamingFieldExtractor


def feed_all(text: str, size: int) -> tuple[str, list[str]]:
    ex = StreamingFieldExtractor("pre_exec_msg")
    pieces = [ex.feed(text[i:i + size]) for i in range(0, len(text), size)]
    return ex.value, [p for p in pieces if p]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50, 1000])
def test_value_is_decoded_identically_for_any_fragmentation(size: int) -> None:
    msg = 'Let me check "quotes", a \\ backslash, caf\u00e9 and a tab\tnow.'
    args = json.dumps({"pre_exec_msg": msg, "query": "x"})
    value, _ = feed_all(args, size)
    assert value == msg


def test_value_streams_before_the_json_is_complete() -> None:
    args = json.dumps({"pre_exec_msg": "One moment, looking it up.", "order_id": "1234"})
    cut = args.index("looking")
    value, pieces = feed_all(args[:cut], 3)
    assert value == "One moment, "
    assert len(pieces) > 1


def test_nested_or_later_keys_named_the_same_are_ignored() -> None:
    args = json.dumps({"filter": {"pre_exec_msg": "nested"}, "note": "pre_exec_msg", "pre_exec_msg": "Top."})
    value, _ = feed_all(args, 4)
    assert value == "Top."


def test_unicode_escape_split_across_fragments() -> None:
    args = '{"pre_exec_msg": "caf\\u00e9 time"}'
    value, _ = feed_all(args, 1)
    assert value == "café time"


def test_missing_field_yields_nothing() -> None:
    value, pieces = feed_all('{"query": "weather"}', 5)
    assert value == "" and pieces == []


@pytest.mark.parametrize("size", [1, 2, 5, 6, 7, 13, 1000])
@pytest.mark.parametrize(("said", "heard"), [
    ("One moment\u0000, checking.", "One moment, checking."),  # NUL: dropped, as providers drop a raw one
    ("On it \U0001F600 now.", "On it \U0001F600 now."),  # json.dumps writes it as a surrogate pair
    ("half \ud83d pair", "half \ufffd pair"),  # a lone high surrogate, then text
    ("half \ud83d\n", "half \ufffd\n"),  # then another escape
    ("low \ude00 alone", "low \ufffd alone"),
    ("ends \ud83d", "ends \ufffd"),  # then the closing quote
    ("spelled \\u0000 out", "spelled \\u0000 out"),  # an escaped backslash: six characters of text
])
def test_escapes_decode_to_speakable_text(said: str, heard: str, size: int) -> None:
    """What json.loads gives, minus what a listener's text cannot carry: the value is spoken, streamed as JSON
    text (orjson refuses a lone surrogate) and stored (PostgreSQL refuses NUL)."""
    value, pieces = feed_all(json.dumps({"pre_exec_msg": said, "q": "x"}), size)
    assert value == heard == "".join(pieces)
    value.encode("utf-8")  # no lone surrogate left
