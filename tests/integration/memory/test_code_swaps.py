"""A code replaced by another of its series (recall/cues.py ``code_swaps``, recall/revisions.py ``swapped_after``) and
mails whose header fields are named in the user's language (recall/mails.py ``is_email``), through the real server.
Found by test11 (blind in session 12): an airline's change relayed in Thai ("ยกเลิกไฟลท์ FD3437 ย้ายเราไป FD3441")
and a Dutch travel agent's mails ("Van:" / "Onderwerp:") kept the first booking on top for English questions: no change
word of a language the rules know, a cosine of 0.3 to the question, and header fields read as the speakers "van" and
"onderwerp". The conversations here are written for the test (not test11's)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, first_of, search

DAY = 86400.0
# a family chat switching between Korean and English, as such chats do; the change is said in Korean only
BOOKED = "2026년 11월 18일 오후 9:10, 수진 : Jeju flight 예약 완료! OZ8917, 12월 19일 오전 8:10 김포 출발"
OTHER = [
    "2026년 11월 20일 오후 7:02, 엄마 : 김장은 12월 12일 토요일에 대구 집에서 하자",
    "2026년 11월 24일 오전 10:15, 수진 : 렌터카는 제주공항에서 픽업, 예약번호 JJ-4471",
    "2026년 11월 27일 오후 1:30, 민호 : 숙소는 애월 게스트하우스 2박, 체크인 오후 3시",
]
SWAPPED = "2026년 12월 2일 오후 3:40, 민호 : 아시아나 문자 왔어. OZ8917 결항이래, OZ8925로 변경됨, 9시 40분 출발"


async def _trip(server: Running, extra: list[str]) -> tuple[str, list[str]]:
    agent = await create_voice_agent(server)
    now = time.time()
    texts = [BOOKED, *OTHER, SWAPPED, *extra]
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - (20 - 2 * i) * DAY}
                                            for i, t in enumerate(texts)])
    return agent["id"], ids


# The code rule is tested on MiniLM alone (no_lane) and with the cross-lingual lane. With the lane these Korean lines
# are scored by e5; until two lane rows were compared by e5 too (recall/cross.py, session 14) the rental car's line
# ("렌터카는 제주공항에서 픽업": Jeju airport) came first for "Which flight…": MiniLM scores any two such lines alike,
# so the version machinery could take it for the flights' newer version.


async def test_an_english_question_finds_the_code_that_replaced_the_booked_one(no_lane: Running) -> None:
    await _finds_the_replacing_code(no_lane)


async def test_with_the_cross_lingual_lane_too(server: Running) -> None:
    await _finds_the_replacing_code(server)


async def _finds_the_replacing_code(server: Running) -> None:
    agent, ids = await _trip(server, [])
    booked, swapped = ids[0], ids[4]
    found = await search(server, agent, "Which flight are we taking to Jeju?", limit=3)
    assert found[0]["id"] == swapped and booked in found[0]["previously"], [p["text"] for p in found]


async def test_the_booked_code_said_alone_after_the_swap_is_back(no_lane: Running) -> None:
    server = no_lane
    back = "2026년 12월 5일 오후 6:20, 수진 : OZ8917 다시 운항한대! 원래 비행기로 돌려놨어, 8시 10분 그대로"
    agent, ids = await _trip(server, [back])
    booked, swapped, again = ids[0], ids[4], ids[5]
    found = await search(server, agent, "Which flight are we taking to Jeju?", limit=3)
    assert found[0]["id"] == again and swapped in found[0]["previously"], [p["text"] for p in found]
    assert booked != found[0]["id"]


async def test_a_passage_saying_both_codes_is_not_replaced_by_one_naming_them(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    both, later = await batch(server, agent["id"], [
        {"text": "user: flights booked, out on GA408 Dec 3 and back on GA409 Dec 10", "start_at": now - 9 * DAY},
        {"text": "user: remember online check-in for GA408 and GA409 opens 24 hours before",
         "start_at": now - 2 * DAY},
    ])
    found = await search(server, agent["id"], "When do we fly back?", limit=3)
    assert found[0]["id"] == both and not found[0]["previously"], [p["text"] for p in found]
    assert later


async def test_mails_with_their_fields_named_in_french_are_versions_of_one_booking(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()

    def mail(day: str, subject: str, body: str) -> str:
        return (f"De : Agence Soleil <resa@agence-soleil.example>\nEnvoyé : {day}\nÀ : claire.martin@example.fr\n"
                f"Objet : {subject}\n\nBonjour Claire, {body}\nCordialement, Agence Soleil")

    first, other, changed = await batch(server, agent["id"], [
        {"text": mail("lundi 16 novembre 2026 10:12", "Votre séjour à Annecy",
                      "votre hôtel à Annecy : Hôtel du Lac, 3 nuits à partir du 18 décembre."),
         "start_at": now - 20 * DAY},
        {"text": mail("mardi 24 novembre 2026 09:30", "Votre location de voiture",
                      "votre voiture de location Europcar est à retirer à la gare d'Annecy le 18 décembre."),
         "start_at": now - 12 * DAY},
        {"text": mail("jeudi 3 décembre 2026 16:45", "RE: Votre séjour à Annecy",
                      "l'Hôtel du Lac est complet : votre hôtel à Annecy est maintenant l'Hôtel Les Trésoms, "
                      "mêmes dates."),
         "start_at": now - 3 * DAY},
    ])
    await first_of(server, agent["id"], "Which hotel are we staying at in Annecy?", changed, [first])
    assert other
