"""Users mix English with other languages: a fact said as "cita con el dentista", "Termin beim Zahnarzt", "dawai" or
"despedida" is found by a question asked in English, and a question with such words finds what was said in English
(recall/languages.py feeds the keyword half's expansion: the vector half is an English MiniLM). A window asked in
another language's time words ("¿qué te dije ayer?") or named by its medium ("the family chat", "what got edited")
is listed. Real server, real SQLite file, the REST search.
"""

from __future__ import annotations

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_media_and_kinds import DAY, HOUR, _load, _search

MIXED = [
    (20 * DAY, "user: booked the car in for its MOT at the garage on the high street, Thursday morning"),
    (19 * DAY, "user: my cousin Ines is staying with us for two weeks from the 3rd"),
    (18 * DAY, "user: la cita con el dentista es el jueves 14 a las diez, Dr Ferrer"),
    (17 * DAY, "user: the eye test at Specsavers is on the 9th at half two"),
    (16 * DAY, "user: GP surgery wants a blood sample before the review, any morning before 11"),
    (15 * DAY, "user: amma ki dawai khatam ho gayi, the metformin, I pick it up from Boots on Friday"),
    (14 * DAY, "user: kids' swimming lessons moved to Wednesdays at 5"),
    (13 * DAY, "user: lola Remy's despedida is at the parish hall on Saturday, bring pancit"),
    (12 * DAY, "user: we renewed the home insurance with Aviva, due in March"),
    (11 * DAY, "user: mein Bruder kommt am Sonntag, Zug um 14 Uhr aus Köln"),
    (10 * DAY, "user: the plumber is coming on Tuesday to look at the boiler"),
    (9 * DAY, "user: office party is on the 19th at the Italian place near work"),
    (8 * DAY, "user: signed up for the 10k run in April, training starts Monday"),
    (7 * DAY, "user: Secret Santa at work: I drew Priya, limit twenty pounds"),
    (6 * DAY, "user: the vet said Biscuit needs his booster in two weeks"),
]


async def test_an_english_question_finds_what_was_said_in_another_language(server: Running) -> None:
    agent_id = await _load(server, MIXED)
    for question, said in (("When is my dentist appointment?", "cita con el dentista"),
                           ("When is my brother's train?", "mein Bruder"),
                           ("When is the farewell party?", "despedida"),
                           ("Where do I collect mum's medicine?", "dawai")):
        assert any(said in t for t in await _search(server, agent_id, question, 3)), question


async def test_a_question_in_another_language_finds_what_was_said_in_english(server: Running) -> None:
    agent_id = await _load(server, MIXED)
    for question, said in (("¿Cuándo es la fiesta de la oficina?", "office party"),
                           ("Wann kommt der Klempner?", "plumber"),
                           ("Who did I get for amigo secreto?", "Secret Santa")):
        assert any(said in t for t in await _search(server, agent_id, question, 3)), question


async def test_windows_in_other_words_are_listed(server: Running) -> None:
    lines = [
        (3 * DAY, "Lena: who's taking the recycling out this week?"),
        (DAY + 3 * HOUR, "Sam: the landlord's coming Thursday to read the meter"),
        (DAY + 2 * HOUR, "Lena: I moved the grocery money to the shared pot"),
        (DAY + HOUR, "Noor: can someone feed the cat tomorrow morning?"),
    ]
    agent_id = await _load(server, lines)
    yesterday = {text for back, text in lines if back < 2 * DAY}
    for question in ("What came up in the house chat yesterday?", "What did the flatmates send yesterday?",
                     "¿Qué se dijo ayer?", "What did I miss hier?"):
        assert set(await _search(server, agent_id, question)) == yesterday, question


INFLECTED = [
    (20 * DAY, "user: booked the car in for its MOT at the garage on the high street, Thursday morning"),
    (19 * DAY, "user: the eye test at Specsavers is on the 9th at half two"),
    (18 * DAY, "user: мама записалась к врачу на пятницу, в десять утра"),  # "врач" in the dative
    (17 * DAY, "user: kids' swimming lessons moved to Wednesdays at 5"),
    (16 * DAY, "user: tata ma jutro rano wizytę u lekarza, zawiozę go"),  # "lekarz" in the genitive
    (15 * DAY, "user: we renewed the home insurance with Aviva, due in March"),
    (14 * DAY, "user: office party is on the 19th at the Italian place near work"),
    (13 * DAY, "user: the plumber is coming on Tuesday to look at the boiler"),
    (12 * DAY, "user: the school's parents evening is on the 21st"),
]


async def test_a_word_of_another_language_is_found_in_its_inflected_forms(server: Running) -> None:
    """The table says "врач" and "вечеринка"; people write "к врачу", "вечеринку" (recall/inflections.py: the forms
    their Snowball stemmer reduces to the same stem, with an ending English words do not have). Both ways: an English
    question finds the inflected word, and a question that says an inflected form finds the English line."""
    agent_id = await _load(server, INFLECTED)
    for question, said in (("Who is seeing the doctor on Friday?", "врачу"),
                           ("Which doctor visit is on Friday?", "врачу"),
                           ("Когда вечеринку устраивают?", "office party")):
        found = await _search(server, agent_id, question, 3)
        assert any(said in t for t in found), (question, found)
