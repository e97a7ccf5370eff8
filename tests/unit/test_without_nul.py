"""``providers.fallback.without_nul``: no NUL leaves a model's stream, every other character does, and a delta
without NUL is passed on as is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voice_letta.agent.ports import ChatDelta, ToolCallDelta
from voice_letta.providers.fallback import without_nul

TEXT = st.text(alphabet=st.sampled_from(["\x00", "a", " ", "é", "\\", "u", "0", "\n", "😀"]), max_size=12)
MAYBE = st.none() | TEXT


@given(MAYBE, st.lists(st.tuples(MAYBE, MAYBE, MAYBE), max_size=3))
def test_nul_is_dropped_and_nothing_else(content: str | None, calls: list[tuple[str | None, ...]]) -> None:
    delta = ChatDelta(content=content, tool_calls=tuple(ToolCallDelta(i, *c) for i, c in enumerate(calls)),
                      finish_reason="stop")
    out = without_nul(delta)

    def drop(text: str | None) -> str | None:
        return None if text is None else text.replace("\x00", "")

    assert out.content == drop(content)
    assert [(c.index, c.id, c.name, c.arguments) for c in out.tool_calls] == [
        (i, drop(a), drop(b), drop(c)) for i, (a, b, c) in enumerate(calls)]
    assert out.finish_reason == "stop"
    if not any("\x00" in t for t in (content, *(x for c in calls for x in c)) if t is not None):
        assert out is delta
