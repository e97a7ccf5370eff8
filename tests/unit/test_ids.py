"""Identifiers: creation-time order, the random part's uniqueness, and a forked child's own random bytes."""

from __future__ import annotations

import os
import re
import time

from voice_letta import ids


def test_ids_keep_their_format_and_sort_by_creation_millisecond() -> None:
    first = ids.message_id()
    time.sleep(0.003)
    second = ids.message_id()
    for made in (first, second, ids.agent_id(), ids.turn_id(), ids.passage_id()):
        assert re.fullmatch(r"[a-z]+-[0-9a-f]{32}", made), made
    assert first < second  # the millisecond comes first
    assert int(first[4:16], 16) <= time.time_ns() // 1_000_000 <= int(first[4:16], 16) + 60_000
    assert re.fullmatch(r"call_[0-9a-f]{24}", ids.tool_call_id())
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{32}", ids.completion_id())


def test_random_parts_do_not_repeat_across_blocks() -> None:
    made = [ids.message_id() for _ in range(5000)]  # several blocks of random bytes
    assert len({m[16:] for m in made}) == len(made)


def test_a_forked_child_does_not_repeat_the_parents_random_bytes() -> None:
    ids.message_id()  # the parent holds a partly used block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, ids.random_hex(10).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child != ids.random_hex(10) and len(child) == 20
