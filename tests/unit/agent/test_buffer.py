"""Eviction planning (agent.buffer): Letta's static-buffer scenarios, ported with exact boundaries."""

from __future__ import annotations

import pytest

from voice_letta.agent.buffer import estimate_tokens, plan_eviction, token_budget
from voice_letta.agent.models import BufferConfig, Message, ToolCall
from voice_letta.agent.sleeptime import build_request_text, build_transcript

# A 16-line road-trip conversation (our own wording of Letta's MESSAGE_TRANSCRIPTS): user on even lines.
ROAD_TRIP = [
    "user: Hey, I'm planning a road trip down the California coast next month.",
    "assistant: That sounds wonderful! Where are you thinking of stopping along the way?",
    "user: Definitely Big Sur, and I want to end up in Santa Barbara for a few days.",
    "assistant: Great picks. Big Sur has amazing hikes; Santa Barbara has a lovely waterfront.",
    "user: I'm really into craft coffee, so I'd love to find some good roasters.",
    "assistant: Noted. I'll look for small-batch roasters in both places.",
    "user: I prefer independent cafes over chains, if possible.",
    "assistant: Independent cafes only, got it.",
    "user: Also, I'm vegan, so food spots need solid vegan options.",
    "assistant: Understood, I'll focus on vegan-friendly restaurants.",
    "user: For the drive I like upbeat podcasts, nothing too heavy.",
    "assistant: I can suggest a few lighthearted shows for the long stretches.",
    "user: My birthday is June 12th, I'm turning 30 during the trip, so maybe a vegan bakery for a cake?",
    "assistant: Happy early birthday! I'll find a vegan bakery in Santa Barbara.",
    "user: I'll be working remotely as a UX designer on my MacBook Pro, so I need wifi.",
    "assistant: I'll put together a day-by-day plan now.",
]


def transcript_messages(lines: list[str], *, t0: float = 1_700_000_000.0) -> list[Message]:
    out = []
    for i, line in enumerate(lines):
        role, text = line.split(": ", 1)
        out.append(Message(id=f"m{i}", agent_id="a", seq=i + 1, role=role,  # type: ignore[arg-type]
                           content=text, created_at=t0 + 10 * i))
    return out


def buffer(max_messages: int, min_messages: int, tokens: int | None = None) -> BufferConfig:
    # Letta's unit scenario uses limit 8 / min 4; our API requires both > 4, so bypass validation here.
    return BufferConfig.model_construct(max_messages=max_messages, min_messages=min_messages,
                                        max_context_tokens=tokens)


def test_road_trip_eviction_keeps_min_and_numbers_newer_lines_on() -> None:
    messages = transcript_messages(ROAD_TRIP)
    plan = plan_eviction(messages, buffer(8, 4))
    assert plan is not None
    assert [m.seq for m in plan.evicted] == list(range(1, 13))  # lines 0..11
    assert [m.seq for m in plan.kept] == [13, 14, 15, 16]  # lines 12..15, min = 4 kept
    assert plan.through_seq == 12
    assert plan.kept[0].role == "user"
    text = build_request_text(build_transcript(plan.evicted, plan.kept), "eviction", keep_messages=4)
    assert "0. user: Hey, I'm planning a road trip" in text
    assert "11. assistant: I can suggest a few lighthearted shows" in text
    assert "15. assistant: I'll put together a day-by-day plan now." in text
    older, newer = text.split("(Newer) lines still in view:")
    assert "12. user: My birthday is June 12th" in newer
    assert "12. user" not in older


def test_no_eviction_at_or_below_max() -> None:
    messages = transcript_messages(ROAD_TRIP)
    assert plan_eviction(messages[:8], buffer(8, 4)) is None
    assert plan_eviction(messages[:9], buffer(8, 4)) is not None


def test_cut_walks_forward_to_the_next_user_message() -> None:
    messages = transcript_messages(ROAD_TRIP[:15])  # 15 messages; target cut at 15 - 4 = 11 (assistant)
    plan = plan_eviction(messages, buffer(8, 4))
    assert plan is not None
    assert len(plan.evicted) == 12 and plan.kept[0].content.startswith("My birthday")  # type: ignore[union-attr]
    assert len(plan.kept) == 3  # best effort: one fewer than min, as Letta documents


def test_all_assistant_window_keeps_the_newest_min_instead_of_wiping_it() -> None:
    # Letta evicted everything but the system message here; we keep the newest min messages.
    messages = transcript_messages([f"assistant: filler {i}." for i in range(15)])
    plan = plan_eviction(messages, buffer(8, 4))
    assert plan is not None
    assert [m.seq for m in plan.kept] == [12, 13, 14, 15]
    assert len(plan.evicted) == 11


def test_all_user_window_cuts_exactly_at_max_minus_min() -> None:
    messages = transcript_messages([f"user: message {i}." for i in range(15)])
    plan = plan_eviction(messages, buffer(8, 4))
    assert plan is not None and len(plan.kept) == 4 and plan.through_seq == 11


def test_fallback_cut_never_orphans_a_tool_result() -> None:
    msgs = [Message(id=f"m{i}", agent_id="a", seq=i + 1, role="assistant", content=f"a{i}") for i in range(10)]
    call = ToolCall(id="c1", name="roll_dice", arguments="{}")
    msgs[5] = Message(id="m5", agent_id="a", seq=6, role="assistant", tool_calls=[call])
    msgs[6] = Message(id="m6", agent_id="a", seq=7, role="tool", tool_call_id="c1", content="Rolled a 10!")
    plan = plan_eviction(msgs, buffer(5, 4))  # target cut at index 6: the tool result
    assert plan is not None
    assert plan.kept[0].role != "tool"
    assert all(m.role != "tool" for m in plan.kept[:1])
    evicted_ids = {m.id for m in plan.evicted}
    assert ("m5" in evicted_ids) == ("m6" in evicted_ids)


def test_token_budget_evicts_before_the_message_count_is_reached() -> None:
    msgs = transcript_messages(ROAD_TRIP[:6])
    msgs[1] = msgs[1].model_copy(update={"content": "x" * 4000})  # ~1000 tokens
    budget = 600
    assert sum(estimate_tokens(m) for m in msgs) > budget
    plan = plan_eviction(msgs, buffer(30, 15), budget_tokens=budget)
    assert plan is not None and plan.reason == "tokens"
    assert msgs[1] in plan.evicted and plan.kept[0].role == "user"
    assert sum(estimate_tokens(m) for m in plan.kept) <= budget // 2


def test_token_budget_defaults_to_three_quarters_of_the_context_window() -> None:
    assert token_budget(BufferConfig(), 8192) == 6144
    assert token_budget(BufferConfig(max_context_tokens=1000), 8192) == 1000


@pytest.mark.parametrize(("max_m", "min_m"), [(10, 5), (31, 15), (30, 16)])
def test_valid_buffer_lengths(max_m: int, min_m: int) -> None:
    cfg = BufferConfig(max_messages=max_m, min_messages=min_m)
    assert (cfg.max_messages, cfg.min_messages) == (max_m, min_m)
