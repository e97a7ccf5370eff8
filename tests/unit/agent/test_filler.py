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
