from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voice_letta.providers.whisper_stt import compression_ratio, drop_repeated_tail


def test_a_repeated_tail_is_dropped() -> None:
    assert drop_repeated_tail("We are going to the beach and then to a restaurant Then to a restaurant") == (
        "We are going to the beach and then to a restaurant")
    assert drop_repeated_tail("Where did I leave my keys? Where did I leave my keys?") == "Where did I leave my keys?"
    assert drop_repeated_tail("thank you thank you thank you") == "thank you"


def test_single_word_repeats_and_plain_text_are_kept() -> None:
    assert drop_repeated_tail("My phone number is five five five") == "My phone number is five five five"
    assert drop_repeated_tail("Hello, how are you today?") == "Hello, how are you today?"
    assert drop_repeated_tail("") == ""


def test_loops_compress_well() -> None:
    assert compression_ratio("So what? " * 20) > 2.4
    assert compression_ratio("Last summer I drove along the coast with my brother.") < 2.4


@given(st.text(max_size=300))
def test_dropping_a_repeated_tail_only_ever_shortens_to_a_prefix(text: str) -> None:
    out = drop_repeated_tail(text)
    assert text.startswith(out)
