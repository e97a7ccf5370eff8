"""The sans-I/O event-stream decoder: events, line endings, comments, and chunks split anywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_letta.wire.sse import SseDecoder, SseEvent


def decode(*chunks: bytes) -> list[SseEvent]:
    decoder = SseDecoder()
    out: list[SseEvent] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + decoder.finish()


def test_data_lines_make_one_event_per_blank_line() -> None:
    assert decode(b'data: {"a":1}\n\ndata: [DONE]\n\n') == [SseEvent('{"a":1}'), SseEvent("[DONE]")]


def test_multi_line_data_joins_with_newlines_and_event_names_are_kept() -> None:
    stream = b"event: message_delta\ndata: one\ndata:two\n\n"
    assert decode(stream) == [SseEvent("one\ntwo", "message_delta")]


def test_comments_unknown_fields_and_empty_events_are_ignored() -> None:
    stream = b": keepalive\n\nid: 7\nretry: 100\n\nfoo: bar\ndata: x\n\n\n\n"
    assert decode(stream) == [SseEvent("x")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_of_the_spec(newline: bytes) -> None:
    stream = b"data: a" + newline + newline + b"data: b" + newline + newline
    assert decode(stream) == [SseEvent("a"), SseEvent("b")]


def test_crlf_split_between_two_reads_is_one_line_end() -> None:
    assert decode(b"data: a\r", b"\n\r", b"\n") == [SseEvent("a")]


def test_a_utf8_character_split_across_reads_is_not_cut() -> None:
    encoded = 'data: {"t":"café 日本"}\n\n'.encode()
    cut = encoded.index("日".encode()) + 1
    assert decode(encoded[:cut], encoded[cut:]) == [SseEvent('{"t":"café 日本"}')]


def test_finish_flushes_an_event_without_its_blank_line() -> None:
    assert decode(b"data: last") == [SseEvent("last")]
    assert decode(b"data: last\n") == [SseEvent("last")]


def test_an_oversized_line_is_an_error_not_unbounded_memory() -> None:
    decoder = SseDecoder(max_event_bytes=64)
    with pytest.raises(ValueError):
        decoder.feed(b"data: " + b"x" * 100)
    with pytest.raises(ValueError):
        SseDecoder(max_event_bytes=64).feed(b"data: " + b"x" * 40 + b"\ndata: " + b"y" * 40 + b"\n")


_payload = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40)


@given(st.lists(st.tuples(st.sampled_from([None, "delta", "ping"]), st.lists(_payload, min_size=1, max_size=3)),
                max_size=6),
       st.sampled_from([b"\n", b"\r\n", b"\r"]), st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_any_split_of_a_stream_decodes_to_the_same_events(
    events: list[tuple[str | None, list[str]]], newline: bytes, cuts: list[int],
) -> None:
    stream = b""
    expected = []
    for name, lines in events:
        if name is not None:
            stream += b"event: " + name.encode() + newline
        for line in lines:
            stream += b"data: " + line.encode() + newline
        stream += newline
        expected.append(SseEvent("\n".join(lines), name))
    points = sorted({c % (len(stream) + 1) for c in cuts})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert decode(*pieces) == expected
