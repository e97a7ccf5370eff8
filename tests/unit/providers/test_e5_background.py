"""Passages the cross-lingual lane judges in the background (an upgrade's or a bulk import's thousands,
``recall/loaded.py``) never hold up a search: they are embedded by an engine of their own, in one thread that runs
at the lowest CPU priority and outside the embedding semaphore searches wait on (providers/e5_embed.py). At 100k
unjudged passages searches took 2.3 s p50 while both shared one engine and one priority."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import numpy as np
import pytest

from voice_letta.config import CROSS_EMBED_DIM
from voice_letta.providers import e5_embed
from voice_letta.providers._inference import inference_semaphore


@pytest.fixture
def held_batch(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event, list[tuple[int, int]]]:
    """A background batch that runs until the test lets it go; records (thread id, nice value) of where it ran."""
    started, release = threading.Event(), threading.Event()
    where: list[tuple[int, int]] = []

    def encode(texts: list[str]) -> np.ndarray:
        where.append((threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        started.set()
        assert release.wait(10)
        return np.ones((len(texts), CROSS_EMBED_DIM), dtype=np.float32)

    monkeypatch.setattr(e5_embed, "_encode_background", encode)
    monkeypatch.setattr(e5_embed, "wants", lambda texts: [True] * len(texts))
    return started, release, where


async def test_background_judging_leaves_the_embedding_slots_to_searches(
    held_batch: tuple[threading.Event, threading.Event, list[tuple[int, int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release, where = held_batch
    asked: list[list[str]] = []
    monkeypatch.setattr(e5_embed, "_encode", lambda texts, is_query: asked.append(texts) or np.zeros(
        (len(texts), CROSS_EMBED_DIM), dtype=np.float32))
    lane = e5_embed.E5Lane()
    judging = asyncio.create_task(lane.judge(["passage one", "passage two"], background=True))
    assert await asyncio.to_thread(started.wait, 10)
    sem = inference_semaphore("embed")
    free = sem._value  # what a search would find
    # a question is embedded while the background batch still runs: it waits for no engine lock and no slot
    assert not e5_embed._model_lock.locked()
    await asyncio.wait_for(lane.embed_queries(["where is grandpa's checkup?"]), 5)
    assert asked == [["where is grandpa's checkup?"]] and not judging.done()
    release.set()
    got = await judging
    assert [v is not None for v in got] == [True, True]
    assert sem._value == free  # the background batch never took a slot
    [(thread, nice)] = where
    assert thread != threading.get_native_id()  # not the event loop's thread
    if sys.platform == "linux":
        assert nice == e5_embed.BACKGROUND_NICE


async def test_a_search_s_own_judging_stays_in_the_foreground(monkeypatch: pytest.MonkeyPatch) -> None:
    # new passages of a turn, and the newest ones a loading search judges before it answers, are waited on
    ran: list[int] = []
    monkeypatch.setattr(e5_embed, "wants", lambda texts: [True] * len(texts))
    monkeypatch.setattr(e5_embed, "_encode", lambda texts, is_query: ran.append(
        os.getpriority(os.PRIO_PROCESS, threading.get_native_id())) or np.ones((len(texts), CROSS_EMBED_DIM),
                                                                                 dtype=np.float32))
    got = await e5_embed.E5Lane().judge(["a passage"])
    assert got[0] is not None and ran == [os.getpriority(os.PRIO_PROCESS, 0)]
