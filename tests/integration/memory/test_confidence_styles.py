"""Confidence for facts stored the way the product stores them: third-person notes ("The user …", "Robin …" or
no subject: what an integrator writes through the archival API) and the sleeptime agent's format (the lines said,
with a third-person synopsis, which may also name the user or leave out the subject), through the real server and
a real SQLite file. Facts and questions written for this test, not used to choose the confidence corrections
(recall/confidence.py): a clear question about a stored fact is answered with confidence >= 0.5; a question nothing
answers stays below it."""

from __future__ import annotations

import time

import pytest

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent, finish_call, manager, rethink_call, store_call
from tests.integration.memory.test_recall import batch, search

DAY = 86400.0
FACTS = [  # (first-person line, third-person synopsis, a clear question)
    ("I keep bees in the back garden, three hives.", "The user keeps three beehives in their back garden.",
     "What hobby do I have in the garden?"),
    ("I'm a paramedic, I work for the county ambulance service.", "The user works as a paramedic for the county "
     "ambulance service.", "What is my job?"),
    ("My son Felix plays the cello.", "The user's son Felix plays the cello.", "Which instrument does my son play?"),
    ("I'm lactose intolerant so no milk for me.", "The user is lactose intolerant.", "Can I drink milk?"),
    ("I grew up in Cork, in Ireland.", "The user grew up in Cork, Ireland.", "Where was I raised?"),
    ("I drive an old green Volvo estate.", "The user drives an old green Volvo estate.", "What car do I drive?"),
]
# An integrator's notes under one-word headings, telegraphic (what test4's "Funding: ESRC studentship, £19,237 a year"
# looked like): a one-word label cannot be told from a speaker's name by its form (recall/text.py).
HEADING_NOTES = ["Hobbies: three beehives in the back garden.", "Work: paramedic, county ambulance service.",
                 "Family: son Felix, plays the cello.", "Diet: lactose intolerant, no milk.",
                 "Background: grew up in Cork, Ireland.", "Car: an old green Volvo estate."]
UNANSWERABLE = ["What's my mother's maiden name?", "How tall am I?", "Which bank do I use?",
                "What did I study at university?"]


def note(synopsis: str, subject: str) -> str:
    """The synopsis with another subject: "Robin keeps…" (the model read the name in the human block), or none
    ("Keeps three beehives…", subject "")."""
    if subject:
        return synopsis.replace("The user", subject)
    rest = synopsis.removeprefix("The user's ").removeprefix("The user ")
    return rest[:1].upper() + rest[1:]


def stored(style: str, now: float) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i, (line, synopsis, _) in enumerate(FACTS):
        at = now - (20 - i) * DAY
        written = note(synopsis, "Robin") if "named" in style else note(synopsis, "") if "no subject" in style \
            else synopsis
        if style == "heading notes":
            out.append({"text": HEADING_NOTES[i], "start_at": at})
        elif style.startswith("third person"):
            out.append({"text": written, "start_at": at})
        else:  # the sleeptime agent's chunk: the lines as said, and its synopsis
            out.append({"text": f"user: {line}\nassistant: Noted.", "synopsis": written, "start_at": at})
    return out


async def answers_most_confidently(server: Running, agent_id: str, ids: list[str]) -> None:
    """Every fact's question finds its passage first, most of them with confidence >= 0.5, and no unanswerable
    question gets a confident result. Most, not all: a paraphrase ("Where was I raised?" / "grew up in Cork") can
    stay "not sure". Before the storage-style corrections 1 (third person) and 3 (sleeptime) of the 6 reached 0.5;
    before synopses naming the user and notes without a subject counted as third person: sleeptime named 2, no
    subject 2 (note) and 3."""
    confident = []
    for i, (_, _, question) in enumerate(FACTS):
        found = await search(server, agent_id, question, limit=3)
        assert found and found[0]["id"] == ids[i], (question, [p["text"] for p in found])
        confident.append((question, round(found[0]["confidence"], 2)))
    assert sum(c >= 0.5 for _, c in confident) >= 4, confident
    for question in UNANSWERABLE:
        found = await search(server, agent_id, question, limit=3)
        assert not found or found[0]["confidence"] < 0.5, (question, found[0]["text"], found[0]["confidence"])


# Not "third person, named" (an archival note "Robin keeps…" without synopsis): a name lowers the cosine more than
# "The user" does, and the third-person shift lifts it from 1 to 2 of 6 only (docs/benchmarks.md).
@pytest.mark.parametrize("style", ["third person", "sleeptime", "sleeptime, named", "third person, no subject",
                                   "sleeptime, no subject", "heading notes"])
async def test_clear_answers_are_confident_and_unanswerable_questions_are_not(server: Running, style: str) -> None:
    agent = await create_voice_agent(server)
    ids = await batch(server, agent["id"], stored(style, time.time()))
    await answers_most_confidently(server, agent["id"], ids)


async def test_an_imported_conversation_archived_by_the_sleeptime_agent_is_answered_with_confidence(
        server: Running) -> None:
    """The documented path end to end: ``POST …/messages/import``, the sleeptime agent (scripted) archives each
    exchange with a third-person synopsis, and the REST search answers from those chunks."""
    agent = await create_voice_agent(server)
    t0 = time.time() - 30 * DAY
    conversation = []
    for i, (line, _, _) in enumerate(FACTS):
        conversation += [{"role": "user", "content": line, "said_at": t0 + 600 * i},
                         {"role": "assistant", "content": "Noted.", "said_at": t0 + 600 * i + 20}]
    server.fake.script([store_call(*[(2 * i, 2 * i + 1, synopsis) for i, (_, synopsis, _) in enumerate(FACTS)])],
                       [rethink_call("Paramedic; grew up in Cork; son Felix (cello); keeps bees.")], [finish_call()])
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import",
                                        json={"messages": conversation})
    assert status == 202, body
    jobs = await manager(server).wait_idle(agent["id"])
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")]
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert [p["synopsis"] for p in listed["data"]] == [synopsis for _, synopsis, _ in FACTS]
    ids = [p["id"] for p in listed["data"]]
    await answers_most_confidently(server, agent["id"], ids)
