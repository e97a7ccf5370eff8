"""The streaming sentence splitter: exact slices, early first segment, no cuts in numbers or titles."""

from __future__ import annotations

import pytest

from voice_letta.session.sentences import SentenceSplitter, speakable


def split(deltas: list[str], **kw: int) -> list[str]:
    sp = SentenceSplitter(**kw)
    out: list[str] = []
    for d in deltas:
        out += sp.feed(d)
    return out + sp.flush()


def test_segments_are_exact_slices_of_the_stream() -> None:
    text = "Hello there, my friend. It costs 3.50 dollars today! Dr. Smith agrees? Yes. Bye now."
    deltas = [text[i:i + 3] for i in range(0, len(text), 3)]
    segs = split(deltas)
    assert "".join(segs) == text
    assert segs[0].startswith("Hello there")
    assert any("3.50" in s for s in segs) and not any(s.rstrip().endswith("3.") for s in segs)
    assert not any(s.rstrip().endswith("Dr.") for s in segs)


def test_sentence_is_emitted_as_soon_as_the_next_space_arrives() -> None:
    sp = SentenceSplitter()
    assert sp.feed("The lights are off now.") == []
    assert sp.feed(" And") == ["The lights are off now. "]
    assert sp.flush() == ["And"]


def test_first_segment_may_end_at_a_clause() -> None:
    sp = SentenceSplitter(first_min_chars=20)
    assert sp.feed("Well, that is a long story to tell, ") == ["Well, that is a long story to tell, "]
    # later segments wait for a full stop
    assert sp.feed("and it goes on, and on, ") == []


def test_short_fragments_are_joined() -> None:
    segs = split(["Ok. ", "Sure. ", "That is a complete sentence. "])
    assert segs == ["Ok. Sure. That is a complete sentence. "]  # "Ok. Sure." alone is under min_chars


def test_long_run_on_text_is_cut() -> None:
    text = "word " * 100
    segs = split([text], max_chars=60)
    assert all(len(s) <= 61 for s in segs) and "".join(segs) == text


def test_flush_if_terminal_for_fillers() -> None:
    sp = SentenceSplitter()
    sp.feed("Let me check")
    assert sp.flush_if_terminal() == []
    sp.feed(" my notes.")
    assert sp.flush_if_terminal() == ["Let me check my notes."]


@pytest.mark.parametrize(("segment", "words"), [
    ("**Sure!** Here are two options:", "Sure! Here are two options:"),
    ("1. **Pasta** with pesto\n", "1. Pasta with pesto"),
    ("2. *Tacos* — quick", "2. Tacos — quick"),
    ("### Tip", "Tip"),
    ("- one item", "one item"),
    ("> quoted wisdom", "quoted wisdom"),
    ("See [the menu](https://example.com/a_(b)) now.", "See the menu now."),
    ("Use `pip install x` here, ~~old~~ new.", "Use pip install x here, old new."),
    ("**5** stars", "5 stars"),
    ("2 * 3 = 6, and 4*5 = 20.", "2 * 3 = 6, and 4*5 = 20."),
    ("snake_case_name stays", "snake_case_name stays"),
    ("---", ""),
    ("Plain words stay as they are.", "Plain words stay as they are."),
    ("Happy birthday! 🎉🎂 Your table is booked 👍.", "Happy birthday! Your table is booked."),
    ("Flags 🇬🇧 and 👩🏽\u200d💻 coders ❤️", "Flags and coders"),
    ("Details at https://www.opentable.com/r/dishoom-london?rid=12345&lang=en-GB today.",
     "Details at opentable.com today."),
    ("See www.bbc.co.uk/news.", "See bbc.co.uk."),
    ("It costs $1,250.50, 20% off at 20°C.", "It costs $1,250.50, 20% off at 20°C."),
])
def test_speakable_drops_markdown_marks_emoji_and_web_paths_only(segment: str, words: str) -> None:
    assert speakable(segment) == words
