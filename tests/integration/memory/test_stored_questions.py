"""A stored question is not a fact (recall/questions.py), through the real server and a real SQLite file.

Found by QA's blind set test4 (session 5): a radio presenter's daily assistant had archived the user's own memory
questions ("what did I say the door code was? / Let me check. [cut off]", "remind me what the poet's name was /
I'm not sure, could you tell me again?"). Asked "Do you remember the code for the studio door?", the unanswered
question ranked first, listed as replacing the answered one, ahead of the new code; "Do you remember the poet's
phone number?" (never said) was answered at 0.80 by the poet question.
"""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, search

DAY = 86400.0
CONVERSATION = [
    ("user: my show on riverside fm is thursdays from eight till ten at night\nassistant: Thursday nights. What's the "
     "show called?\nuser: the late shift", 20),
    ("user: the studio door code is four four seven one\nassistant: Got it, 4471.", 18),
    ("user: do you remember the studio door code?\nassistant: Yes, you told me it's 4471.", 15),
    ("user: next week's guest is the poet dara quinlan\nassistant: Lovely. Is it a live interview?\nuser: yeah live,"
     " about twenty minutes", 13),
    ("user: did I tell you who's producing the show?\nassistant: I don't think you've told me who produces it. Who "
     "is it?\nuser: it's marisol, she started last month", 12),
    ("user: what did I say the door code was?\nassistant: Let me check. [cut off]", 10),
    ("user: they changed the studio code to nine one nine three after the break-in\nassistant: Noted, the new code "
     "is 9193.", 8),
    ("user: remind me what the poet's name was\nassistant: I'm not sure, could you tell me again?\nuser: never mind",
     4),
    ("user: the station's paying me forty pounds a show now\nassistant: That's good news.", 3),
]


async def test_a_stored_question_never_outranks_the_fact_nor_answers_alone(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - d * DAY} for t, d in CONVERSATION])
    _, first_code, answered_code, poet, producer, asked_code, new_code, asked_poet, _ = ids

    for question in ("Do you remember the code for the studio door?", "What's the studio door code?",
                     "What did I tell you the keypad number is?"):  # the frame is not the past: the number now
        found = await search(server, agent["id"], question, limit=5)
        order = [p["id"] for p in found]
        at = order.index(new_code)
        assert at < order.index(first_code) and at < order.index(answered_code), [p["text"][:50] for p in found]
        assert set(found[at]["previously"]) == {first_code, answered_code}
        assert at == 0  # "tell" of the question's frame no longer finds "did I tell you who's producing the show?"
        assert all(asked_code not in p["previously"] for p in found)  # a question is no version of the code
        if asked_code in order:
            assert order.index(asked_code) > max(order.index(first_code), order.index(answered_code))
            assert found[order.index(asked_code)]["confidence"] < 0.5

    found = await search(server, agent["id"], "Do you remember the poet's name?", limit=5)
    assert found[0]["id"] == poet
    assert [p["id"] for p in found].index(asked_poet) > 0 if asked_poet in [p["id"] for p in found] else True
    found = await search(server, agent["id"], "Do you remember the poet's phone number?", limit=5)
    assert found[0]["id"] != asked_poet and found[0]["confidence"] < 0.5  # never said: nothing answers
    assert all(p["confidence"] < 0.5 for p in found if p["id"] == asked_poet)

    # a question the same passage answers is a fact like any other
    found = await search(server, agent["id"], "Who produces my show?", limit=3)
    assert found[0]["id"] == producer and found[0]["confidence"] >= 0.5
    # asked about the asking, the stored question is what answers
    found = await search(server, agent["id"], "What did I ask you about the poet?", limit=3)
    assert asked_poet in [p["id"] for p in found[:2]]


async def test_a_dialogue_line_asking_is_answered_by_the_next_line(server: Running) -> None:
    """One turn per passage (LoCoMo's shape): the question line is not flagged; its reply is found by it."""
    agent = await create_voice_agent(server)
    now = time.time()
    question, answer, *_ = await batch(server, agent["id"], [
        {"text": "Caroline: How old is Mia now?", "start_at": now - 5 * DAY},
        {"text": "Melanie: She turned six in March, can you believe it?", "start_at": now - 5 * DAY + 30},
        {"text": "Caroline: Wow. Are you still painting?", "start_at": now - 5 * DAY + 60},
        {"text": "Melanie: Yes, mostly landscapes by the lake.", "start_at": now - 5 * DAY + 90}])
    found = await search(server, agent["id"], "How old is Mia?", limit=3)
    assert {question, answer} <= {p["id"] for p in found[:2]}, [p["text"] for p in found]


async def test_the_users_own_question_archived_alone_is_not_its_answer(server: Running) -> None:
    """A push-to-talk archive keeps the user's lines one a passage: the user's earlier "Who do I see for my teeth?"
    matched the same question asked again first at 0.999, above the line that answers it (QA's outsider check,
    session 19). It goes after the answer and is no confident result; asked what was asked, it is found."""
    agent = await create_voice_agent(server)
    now = time.time()
    lines = ["user: I've switched dentists, I see Dr Byrne on Leeson Street for my teeth now.",
             "user: Who do I see for my teeth?",
             "user: The boiler service is booked for the 14th."]
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - (3 - i) * DAY} for i, t in enumerate(lines)])
    found = await search(server, agent["id"], "Who do I see for my teeth?")
    order = [p["id"] for p in found]
    assert order.index(ids[0]) < order.index(ids[1]), [(p["text"][:30], p["confidence"]) for p in found]
    assert next(p["confidence"] for p in found if p["id"] == ids[1]) < 0.5
    asked = await search(server, agent["id"], "What did I ask you about my teeth?")
    assert ids[1] in [p["id"] for p in asked[:3]]
