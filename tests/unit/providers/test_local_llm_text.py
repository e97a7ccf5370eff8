from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voice_letta.agent.models import AgentState, Block
from voice_letta.agent.prompt import compile_system_prompt
from voice_letta.providers.local_llm_prompt import plain_memory
from voice_letta.providers.local_llm_stream import LeadingTagFilter


def agent() -> AgentState:
    return AgentState(id="agent-1", name="a", blocks=[
        Block(id="b1", label="persona", value="I am Juniper,\na calm assistant.", limit=500, description="Who."),
        Block(id="b2", label="human", value="", limit=500, description="The user."),
        Block(id="b3", label="shop_hours", value="9 to 5", limit=500, description="Hours.", read_only=True),
    ])


def test_memory_blocks_become_plain_labelled_lines() -> None:
    system = compile_system_prompt(agent())
    plain = plain_memory(system)
    assert "<persona>" not in plain and "</value>" not in plain and "<memory_blocks>" not in plain
    assert "About you: I am Juniper, a calm assistant." in plain
    assert "About the user: (nothing yet)" in plain
    assert "Shop hours: 9 to 5" in plain
    assert plain.startswith(agent().system.rstrip())  # the instructions before the blocks are kept as they are


def test_a_prompt_without_blocks_is_left_alone() -> None:
    assert plain_memory("You are a helpful assistant.") == "You are a helpful assistant."


def run(pieces: list[str]) -> str:
    f = LeadingTagFilter()
    return "".join(f.feed(p) for p in pieces) + f.flush()


def test_an_echoed_label_at_the_start_of_a_reply_is_dropped() -> None:
    assert run(["<per", "sona>", ": I am", " Juniper."]) == "I am Juniper."
    assert run(["assistant: Hello there."]) == "Hello there."
    assert run(["Human: hi"]) == "hi"


def test_a_normal_reply_is_untouched_even_in_tiny_pieces() -> None:
    assert run(list("Paris is the capital of France.")) == "Paris is the capital of France."
    assert run(["Sure."]) == "Sure."
    assert run(["My human friend says hi."]) == "My human friend says hi."
    assert run(["Users can ", "ask me anything."]) == "Users can ask me anything."
    assert run(["System", " ready."]) == "System ready."


def test_a_normal_reply_streams_from_its_first_characters() -> None:
    f = LeadingTagFilter()
    assert f.feed("Pa") == "Pa"  # "Pa" cannot start a label
    g = LeadingTagFilter()
    assert g.feed("Pe") == ""  # "Pe" could be "persona:"
    assert g.feed("ter") == "Peter"


@given(st.lists(st.text(max_size=12), max_size=12))
def test_only_a_leading_label_can_disappear(pieces: list[str]) -> None:
    text = "".join(pieces)
    out = run(pieces)
    assert text.endswith(out)
