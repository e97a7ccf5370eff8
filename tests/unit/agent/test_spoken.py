"""SpokenTextFilter: context notes a model copies into its reply are never spoken, however the text is split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_letta.agent.spoken import MAX_DROP_CHARS, MAX_THOUGHT_CHARS, SpokenTextFilter, strip_markers


@pytest.mark.parametrize(("reply", "spoken"), [
    ("<context>Current time: Monday 2026-11-30 09:00 UTC.</context> Good morning!", "Good morning!"),
    ("Good morning! <context>Current time: Monday.</context>", "Good morning! "),
    ("Hi <context>x</context> there.", "Hi there."),
    ("[context] Current time: Monday. Hello.", " Current time: Monday. Hello.".lstrip()),
    ("Sure[interrupted: the user cut this reply off here], go on.", "Sure, go on."),
    ("</context>Hello.", "Hello."),
    ("Use a list [1, 2] or <b>bold</b>.", "Use a list [1, 2] or <b>bold</b>."),
    ("3 < 4 and [x] stays.", "3 < 4 and [x] stays."),
    ("Ends with a bracket [", "Ends with a bracket ["),
    ("<CONTEXT>shouted</CONTEXT>Fine.", "Fine."),
    # a reasoning model's thoughts and a Hermes-style tool call written as text are no reply either
    ("<think>\nThe user greets me. Keep it short.\n</think>\n\nHello! How can I help?", "Hello! How can I help?"),
    ("<thinking>Plan: greet.</thinking>Hi.", "Hi."),
    ('<tool_call>\n{"name": "search_memory", "arguments": {"query": "sister"}}\n</tool_call>', ""),
    ("Sure. <Think>hidden</THINK> Done.", "Sure. Done."),
    ("<th> and <b>think</b> stay.", "<th> and <b>think</b> stay."),
])
def test_markers_are_dropped_everything_else_kept(reply: str, spoken: str) -> None:
    assert strip_markers(reply) == spoken


def test_text_is_held_only_while_it_may_be_a_marker() -> None:
    f = SpokenTextFilter()
    assert f.feed("Hello ") == "Hello "
    assert f.feed("<con") == ""  # could become <context>
    assert f.feed("text>secret</con") == ""
    assert f.feed("text> world") == "world"
    assert f.feed(" and [") == " and "
    assert f.feed("1]") == "[1]"
    assert f.flush() == ""


def test_an_unclosed_marker_is_dropped_only_so_far() -> None:
    f = SpokenTextFilter()
    out = f.feed("<context>" + "x" * (MAX_DROP_CHARS + 50)) + f.feed(" tail") + f.flush()
    assert out.endswith("tail") and len(out) < MAX_DROP_CHARS


def test_a_long_chain_of_thought_is_dropped_whole_and_an_unclosed_one_only_so_far() -> None:
    f = SpokenTextFilter()
    thought = "Let me reason step by step. " * 300  # ~8,400 characters: far more than a context note
    out = "".join(f.feed(c) for c in ["<think>", thought, "</think>", "The answer is four."]) + f.flush()
    assert out == "The answer is four."
    f = SpokenTextFilter()
    out = f.feed("<think>" + "x" * (MAX_THOUGHT_CHARS + 50)) + f.feed(" tail") + f.flush()
    assert out.endswith("tail") and len(out) < MAX_DROP_CHARS


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["Hello", " ", "<context>", "</context>", "[context", "[interrupted: x", "]", "<",
                                 "[", "time: 9:00", "b>", ".", "con", "text>", "\n", "<cont", "[inter", "<think>",
                                 "</think>", "<thi", "nk>", "<tool_call>", "</tool_call>", "ing>"]),
                max_size=25),
       st.data())
def test_any_split_speaks_the_same_as_the_whole(pieces: list[str], data: st.DataObject) -> None:
    text = "".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    f = SpokenTextFilter()
    streamed = "".join(f.feed(c) for c in chunks) + f.flush()
    assert streamed == strip_markers(text)
    assert "<context>" not in streamed.lower() and "[interrupted" not in streamed.lower()
    assert "<think>" not in streamed.lower() and "<tool_call>" not in streamed.lower()


@given(st.text(alphabet=st.characters(blacklist_characters="<["), max_size=200))
def test_text_without_brackets_passes_unchanged(text: str) -> None:
    f = SpokenTextFilter()
    assert f.feed(text) + f.flush() == text


@pytest.mark.parametrize(("reply", "spoken"), [
    ("<con</context>text>", "<con text>"),
    ("[inter<context>x</context>rupted: x]", "[inter rupted: x]"),
    ("<cont</context>ext>hello", "<cont ext>hello"),
])
def test_a_drop_never_splices_a_marker_together(reply: str, spoken: str) -> None:
    assert strip_markers(reply) == spoken
    for cut in range(len(reply) + 1):  # and the same in any two deltas
        f = SpokenTextFilter()
        assert f.feed(reply[:cut]) + f.feed(reply[cut:]) + f.flush() == spoken
