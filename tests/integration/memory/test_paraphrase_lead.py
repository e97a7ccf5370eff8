"""An answer in other words that stands out (recall/confidence.py ``lead``), through the real server and a real
SQLite file: a passage sharing no word with the question, closer in meaning than every other passage by a clear
margin, is answered with confidence; a same-topic passage that does not say what is asked is not. Facts written for
these tests."""

from __future__ import annotations

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_near_miss_qualifiers import _agent, _top

LINES = [
    "user: we finally picked a caterer for the wedding, rosa's cantina is doing tacos and churros",
    "user: the wedding venue is the old boathouse by the river, about a hundred and twenty guests",
    "user: my sister is flying in from lisbon on the fourteenth to help with the flowers",
    "user: the dog needs his ear drops twice a day now, the vet said for two weeks",
    "user: I started learning portuguese on an app, ten minutes every morning",
    "user: the car's mot is due on the third of february",
]


async def test_an_answer_in_other_words_that_stands_out_is_confident(server: Running) -> None:
    agent_id, ids = await _agent(server, LINES)
    # each was under 0.5 before (0.42, 0.21, 0.25: MiniLM puts a paraphrase at cosine 0.3-0.45)
    for question, row in (("Who is making the food for the big day?", 0), ("What medicine does my pet get?", 3),
                          ("Which language am I studying?", 4)):
        top = await _top(server, agent_id, question)
        assert top["id"] == ids[row] and float(top["confidence"]) >= 0.5, (question, top)
    for question in ("What time does the ceremony start?", "Who is the photographer?", "What did the vet charge?"):
        top = await _top(server, agent_id, question)
        assert float(top["confidence"]) < 0.5, (question, top)
