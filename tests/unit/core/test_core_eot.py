from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_letta.core.eot import EndOfTurnPolicy, classify


@pytest.mark.parametrize("text", [
    "I would like to order a pizza and",
    "I went to the store because",
    "I think that we should...",
    "Tell me about the weather and...",
    "I need a book of flight to",
    "My sister is",
    "So, um",
    "Can you remind me to-",
    "My favorite color is, ",
    "I want the",
    "Well, we're",
    "and then I’m",
])
def test_unfinished_phrases(text: str) -> None:
    assert classify(text) == "unfinished"


@pytest.mark.parametrize("text", ["What is the weather like today?", "Hello, how are you today?",
                                  "Can you check my order number 1234?", "  where is it?  "])
def test_complete_questions(text: str) -> None:
    assert classify(text) == "question"


@pytest.mark.parametrize("text", ["My name is Alice and my favorite color is blue.", "I love it.",
                                  "Remember that my sister lives in Paris.", "Stop!", '"Call me."'])
def test_complete_sentences(text: str) -> None:
    assert classify(text) == "complete"


def test_a_one_or_two_word_question_is_not_taken_as_complete() -> None:
    # Whisper writes the pause after a greeting as "Hello?": more usually follows
    assert classify("Hello?") == "complete"
    assert classify("You sure?") == "complete"


def test_a_question_that_ends_in_a_function_word_is_not_finished() -> None:
    assert classify("Can you tell me about?") == "unfinished"


def test_missing_terminal_punctuation_counts_only_for_a_punctuating_recognizer() -> None:
    assert classify("my phone number is 555") == "unfinished"
    assert classify("my phone number is 555", punctuated=False) == "complete"
    assert classify("turn off the lights and", punctuated=False) == "unfinished"  # the word still counts


@pytest.mark.parametrize("text", ["", "   ", "...", "?!", "—"])
def test_no_words_is_empty(text: str) -> None:
    assert classify(text) == "empty"


def test_policy_waits_longer_mid_phrase_and_less_after_a_question() -> None:
    policy = EndOfTurnPolicy(min_silence_ms=300, max_silence_ms=1500)
    assert policy.silence_ms("My sister is", 600) == 1500
    assert policy.silence_ms("Where is my phone?", 600) == 300
    assert policy.silence_ms("I love it.", 600) == 600
    assert policy.silence_ms("", 600) == 600
    # never shorter than asked for when the session's own silence is already shorter, nor longer when longer
    assert policy.silence_ms("Where is my phone?", 200) == 200
    assert policy.silence_ms("My sister is", 2000) == 2000


@given(st.text(max_size=200), st.integers(min_value=100, max_value=10_000))
def test_policy_is_total_and_bounded(text: str, base: int) -> None:
    policy = EndOfTurnPolicy(min_silence_ms=300, max_silence_ms=1500)
    assert classify(text) in ("empty", "unfinished", "question", "complete")
    assert min(base, 300) <= policy.silence_ms(text, base) <= max(base, 1500)
