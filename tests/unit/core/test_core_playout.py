from __future__ import annotations

import pytest

from voice_letta.core.playout import PlayoutLedger


def ledger() -> PlayoutLedger:
    led = PlayoutLedger()
    led.add_segment("Hello there. ", 1000)
    led.add_segment("How are you today? ", 1500)
    led.add_segment("I remember your dog.", 1200)
    return led


def test_nothing_played_means_nothing_heard() -> None:
    assert ledger().heard_text() == ""
    assert ledger().heard_ms == 0


def test_whole_segments_fully_played_are_heard() -> None:
    led = ledger()
    led.on_played(1000)
    assert led.heard_text() == "Hello there."
    led.on_played(2500)
    assert led.heard_text() == "Hello there. How are you today?"


def test_partly_played_segment_is_cut_at_a_word_boundary() -> None:
    led = ledger()
    led.on_played(1000 + 750)  # half of "How are you today?": chars 0..9 of 18
    assert led.heard_text() == "Hello there. How are"
    led.on_played(1000 + 1400)
    assert led.heard_text() == "Hello there. How are you"


def test_less_than_one_word_of_a_segment_gives_nothing_of_it() -> None:
    led = ledger()
    led.on_played(1000 + 100)
    assert led.heard_text() == "Hello there."
    led2 = ledger()
    led2.on_played(300)  # "Hello" ends at 5/12 of the first segment
    assert led2.heard_text() == ""
    led2.on_played(500)
    assert led2.heard_text() == "Hello"


def test_played_position_is_monotonic_and_capped() -> None:
    led = ledger()
    led.on_played(2000)
    led.on_played(500)
    assert led.heard_ms == 2000
    led.on_played(99_999)
    assert led.heard_ms == 3700
    assert led.fully_heard
    assert led.heard_text() == led.text == "Hello there. How are you today? I remember your dog."


def test_stripped_segments_are_joined_with_a_space() -> None:
    led = PlayoutLedger()
    led.add_segment("One two.", 500)
    led.add_segment("Three four.", 500)
    led.on_played(1000)
    assert led.heard_text() == "One two. Three four."


def test_twilio_marks_advance_heard_ms_until_clear() -> None:
    led = ledger()
    led.mark_sent("r1-1", 1000)
    led.mark_sent("r1-2", 1800)
    led.mark_sent("r1-3", 3700)
    assert led.on_mark("r1-1")
    assert led.heard_text() == "Hello there."
    assert not led.on_mark("nobody-sent-this")
    assert led.on_mark("r1-2")
    assert led.heard_ms == 1800
    assert led.heard_text() == "Hello there. How are"
    led.clear_sent()  # Twilio now echoes the pending mark although its audio was dropped
    assert not led.on_mark("r1-3")
    assert led.heard_ms == 1800
    assert led.heard_text() == "Hello there. How are"


def test_zero_length_and_negative_segments() -> None:
    led = PlayoutLedger()
    led.add_segment("", 0)
    led.add_segment("Hi.", 200)
    led.on_played(200)
    assert led.heard_text() == "Hi."
    with pytest.raises(ValueError):
        led.add_segment("x", -1)


def test_heard_text_at_a_position_ignores_the_furthest_report() -> None:
    ledger = PlayoutLedger()
    ledger.add_segment("One two three.", 1000.0)
    ledger.add_segment(" Four five six.", 1000.0)
    ledger.on_played(1900.0)  # the server's own estimate ran ahead
    assert ledger.heard_text() == "One two three. Four five"
    assert ledger.heard_text_at(1000.0) == "One two three."  # the client says it stopped here
    assert ledger.heard_text_at(0.0) == ""
    assert ledger.heard_text_at(99_999.0) == "One two three. Four five six."  # capped at what was synthesized
    assert ledger.heard_ms == 1900.0  # unchanged
