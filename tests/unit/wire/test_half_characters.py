"""Half of a surrogate pair in a JSON frame becomes U+FFFD (wire/_json.py), at any depth json.loads accepts."""

from __future__ import annotations

from typing import Any

from voice_letta.wire._json import json_object


def test_half_an_emoji_deep_in_a_frame_is_replaced_without_recursion() -> None:
    # ~950 levels pass json.loads; the first walk recursed per level and raised RecursionError (found in review)
    frame = json_object('{"a":' * 950 + '"\\ud83c"' + "}" * 950, max_bytes=10**6, what="text frames")
    node: Any = frame
    for _ in range(950):
        node = node["a"]
    assert node == "\ufffd"


def test_pairs_stay_and_halves_in_keys_and_lists_are_replaced() -> None:
    frame = json_object('{"t": "\\ud83c\\udf89 ok \\ud83c", "\\udf89k": ["x\\udf89", {"y": "\\ud83c"}]}',
                        max_bytes=10**6, what="text frames")
    assert frame == {"t": "\U0001f389 ok \ufffd", "\ufffdk": ["x\ufffd", {"y": "\ufffd"}]}
