"""TextToolCalls (Hermes-style calls written as text) and describe_markup (an HTML answer named by its title)."""

from __future__ import annotations

import json

import pytest

from voice_letta.agent.ports import ChatDelta, ToolCallDelta
from voice_letta.providers._errors import describe_markup
from voice_letta.providers.text_tool_calls import MAX_CALL_CHARS, TextToolCalls

OFFERED = {"search_memory": "search_memory", "weather_get": "weather.get", "weather.get": "weather.get"}


def run(*pieces: str, finish: str = "stop") -> tuple[str, list[ToolCallDelta], list[str]]:
    """Feed ``pieces`` as content deltas, then the finish; (text, calls, finish reasons) of what comes out."""
    f = TextToolCalls(OFFERED)
    out: list[ChatDelta] = []
    for piece in pieces:
        out += f.feed(ChatDelta(content=piece))
    out += f.feed(ChatDelta(finish_reason=finish))  # type: ignore[arg-type]
    out += f.flush()
    text = "".join(d.content or "" for d in out)
    return text, [c for d in out for c in d.tool_calls], [d.finish_reason for d in out if d.finish_reason]


def test_plain_text_and_angle_brackets_pass_through_unchanged() -> None:
    text, calls, finish = run("I <3 you, ", "2 < 3 and <b>bold</b>", " <tool")
    assert text == "I <3 you, 2 < 3 and <b>bold</b> <tool" and calls == [] and finish == ["stop"]


def test_a_call_split_anywhere_is_one_call_and_the_text_around_it_stays() -> None:
    block = '<tool_call>{"name": "search_memory", "arguments": {"query": "dentist"}}</tool_call>'
    for cut in range(1, len(block)):
        text, calls, finish = run("Hold on. " + block[:cut], block[cut:] + " ok")
        assert text == "Hold on.  ok", cut
        assert [(c.index, c.name, json.loads(c.arguments or "")) for c in calls] == [
            (0, "search_memory", {"query": "dentist"})]
        assert finish == ["tool_calls"]


def test_a_stand_in_name_is_ours_again_and_bad_blocks_stay_text() -> None:
    _, calls, _ = run('<tool_call>{"name": "weather_get", "arguments": {}}</tool_call>')
    assert calls[0].name == "weather.get" and calls[0].arguments == "{}"
    for bad in ('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>',
                "<tool_call>{not json}</tool_call>",
                '<tool_call>{"name": "search_memory", "arguments": [1]}</tool_call>',
                '<tool_call>{"arguments": {}}</tool_call>'):
        text, calls, finish = run(bad)
        assert text == bad and calls == [] and finish == ["stop"]


def test_an_unclosed_block_is_a_call_at_the_end_only_if_its_json_is_whole() -> None:
    _, calls, _ = run('<tool_call>{"name": "search_memory", "arguments": {"query": "x"}}')
    assert [c.name for c in calls] == ["search_memory"]
    text, calls, _ = run('<tool_call>{"name": "search_memory", "argu')
    assert text == '<tool_call>{"name": "search_memory", "argu' and calls == []


def test_a_block_longer_than_the_cap_is_let_go_as_text() -> None:
    f = TextToolCalls(OFFERED)
    out = f.feed(ChatDelta(content="<tool_call>" + "x" * MAX_CALL_CHARS))
    assert len("".join(d.content or "" for d in out)) == len("<tool_call>") + MAX_CALL_CHARS


@pytest.mark.parametrize(("page", "named"), [
    ("<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>",
     "an HTML page titled '502 Bad Gateway'"),
    ("<!doctype html><body><h1>Access &amp; usage policy</h1></body>", "an HTML page titled 'Access & usage policy'"),
    ("<HTML><HEAD><script>x()</script></HEAD><BODY>Blocked by   Zscaler</BODY></HTML>",
     "an HTML page ('Blocked by Zscaler')"),
    ("<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>", "markup ('AccessDenied')"),
])
def test_markup_is_named_by_its_title_heading_or_words(page: str, named: str) -> None:
    assert describe_markup(page) == named


def test_words_in_the_finishing_delta_are_kept_when_the_finish_becomes_tool_calls() -> None:
    f = TextToolCalls(OFFERED)
    out = f.feed(ChatDelta(content='<tool_call>{"name": "search_memory", "arguments": {}}</tool_call>'))
    out += f.feed(ChatDelta(content=" Done.", finish_reason="stop"))
    assert "".join(d.content or "" for d in out) == " Done."
    assert [d.finish_reason for d in out if d.finish_reason] == ["tool_calls"]
