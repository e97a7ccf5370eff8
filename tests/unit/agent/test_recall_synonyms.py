"""recall/synonyms.py: a question in other words than the memory's gets one more query."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.synonyms import expand


@pytest.mark.parametrize(("question", "dense", "said"), [
    ("What should I buy for my mum on the trip?", "what should i buy for my mother on the trip?", "amma"),
    ("What is my other half's occupation?", "what is my partner's job?", "husband"),
    ("what does our kitty need every morning", "what does our cat need every morning", "cat"),
    ("When am I coming home from the Dutch event?", "when am i return from the dutch event?", "return"),
    ("Which plane brings us back?", "which flight brings us back?", "flight"),
    ("What's my dissertation about?", "what's my thesis about?", "thesis"),
    ("Who do I report to?", "who do i boss?", "manager"),
    ("What is Mia allergic to?", "what is mia allergy to?", "allergy"),
])
def test_a_word_of_a_group_gets_the_plain_word_and_every_other(question: str, dense: str, said: str) -> None:
    extra = expand(question)
    assert extra is not None
    assert extra.dense == dense
    assert said in T.words(extra.keywords)
    assert set(T.words(question.lower())) <= set(T.words(extra.keywords))  # the question's own words stay


def test_the_plain_word_keeps_the_question_for_the_vector_half() -> None:
    extra = expand("Where does my mother live?")
    assert extra is not None and extra.dense == "Where does my mother live?"  # the same vector: no new embedding
    assert {"mum", "mom", "amma"} <= set(T.words(extra.keywords))


def test_a_phrase_adds_no_loose_words_and_an_extra_starts_nothing() -> None:
    extra = expand("What's my partner's job?")
    assert extra is not None
    words = T.words(extra.keywords)
    assert "spouse" in words and "occupation" in words
    assert "half" not in words and "line" not in words and "living" not in words  # "other half", "line of work"
    assert expand("Is the lead pipe safe?") is None  # "lead" is a keyword extra of "boss" only
    assert expand("How much do I pay for parking?") is None  # "pay": an extra of "salary"
    extra = expand("What's my manager's name?")
    assert extra is not None and "lead" in T.words(extra.keywords)


@pytest.mark.parametrize("question", [
    "What are the kittens called?",  # a kitten is not a cat
    "Where do my parents live?",  # parents are not a mother
    "Which house did we look at?",  # a house is not a flat
    "What did I tell you yesterday?",
    "",
])
def test_no_wider_or_narrower_word(question: str) -> None:
    assert expand(question) is None


def test_moving_house_is_said_in_other_languages_but_a_house_is_not_a_flat() -> None:
    extra = expand("When did I move house?")
    assert extra is not None and "mudanza" in T.words(extra.keywords)
    assert not {"flat", "apartment", "condo"} & set(T.words(extra.keywords))


def test_a_son_is_said_in_other_languages_but_is_not_the_children() -> None:
    extra = expand("What does my son like?")
    assert extra is not None and extra.dense == "What does my son like?"
    assert {"hijo", "filho"} <= set(T.words(extra.keywords))
    assert not {"kids", "children", "child", "daughter"} & set(T.words(extra.keywords))


@pytest.mark.parametrize(("question", "dense", "said"), [
    # the words English speakers mix in from the languages of their family (Spanish, Portuguese, Hindi/Urdu, Tagalog…)
    ("Where is my abuela?", "where is my grandmother?", "nani"),
    ("What did my nani cook?", "what did my grandmother cook?", "abuela"),
    ("When does my avó land?", "when does my grandmother land?", "grandma"),
    ("What did my jefe say?", "what did my boss say?", "manager"),
    ("Where does my kuya work?", "where does my brother work?", "hermano"),
    ("Is my tía coming?", "is my aunt coming?", "auntie"),
    ("What does my mother-in-law want?", "What does my mother-in-law want?", "suegra"),
])
def test_a_family_word_of_another_language_is_the_same_person(question: str, dense: str, said: str) -> None:
    extra = expand(question)
    assert extra is not None and extra.dense == dense
    assert said in T.words(extra.keywords)


def test_english_questions_reach_the_words_of_other_languages() -> None:
    for question, member in (("Which cousin is collecting me?", "primo"), ("Who is my boss?", "jefe"),
                             ("Where is my grandmother staying?", "lola"), ("What does my aunt do?", "tita"),
                             ("Where does my mother live?", "nanay")):
        extra = expand(question)
        assert extra is not None and member in T.words(extra.keywords), question
    # a mother-in-law is not a mother: the longer phrase wins
    extra = expand("Where does my mother-in-law live?")
    assert extra is not None and "mum" not in T.words(extra.keywords)


@pytest.mark.parametrize(("question", "member"), [
    ("What instrument do I play?", "cello"),
    ("Which Celtic tongue am I picking up?", "welsh"),
    ("Which lodging do we have in the north?", "hotel"),
    ("When does my travel document run out?", "passport"),
    ("What ailment does my partner's mum have?", "arthritis"),
    ("What sport do I play now?", "badminton"),
])
def test_a_kind_adds_its_members_to_the_keyword_half(question: str, member: str) -> None:
    extra = expand(question)
    assert extra is not None and member in T.words(extra.keywords)
    assert extra.dense.lower().startswith(question.lower().split()[0])  # the kind itself stays in the vector half


@pytest.mark.parametrize(("question", "member"), [
    ("Where am I flying from?", "volaris"),  # an airline's name says which flight ("booked the volaris from tijuana")
    ("What flight am I on?", "ryanair"),
    ("How does my mother get around these days?", "cane"),
    ("How many guests are coming?", "headcount"),
    ("How old is Duke?", "yo"),  # "Duke (Clydesdale x, 14 yo)": years old, as written
    ("What is the blood sugar marker for the diabetic patient?", "hba1c"),
    ("What antibiotic is she on?", "amoxicillin"),
])
def test_a_kind_of_everyday_thing_adds_its_members(question: str, member: str) -> None:
    extra = expand(question)
    assert extra is not None and member in T.words(extra.keywords)


def test_motor_cover_is_insurance() -> None:
    extra = expand("By what date must the motor cover be extended?")
    assert extra is not None and extra.dense == "by what date must the insurance be extended?"
    assert "insurer" in T.words(extra.keywords)
    assert expand("Who's covering my shifts?") is None  # "cover" alone starts nothing


def test_a_member_adds_no_kind_nor_another_member() -> None:
    assert expand("I've been learning the cello") is None
    assert expand("Where is the hotel?") is None


@pytest.mark.parametrize(("question", "dense", "said"), [
    ("Which airport does my dad's brother fly into?", "which airport does my uncle fly into?", "tío"),
    ("When is my wife’s mum visiting?", "when is my mother-in-law visiting?", "suegra"),
    ("What does my sisters boy study?", "what does my nephew study?", "sobrino"),
    ("What is my brother's wife called?", "what is my sister-in-law called?", "bhabhi"),
    ("Where does my mum's mum live?", "where does my grandmother live?", "nani"),
])
def test_kin_said_through_another_is_the_one_person(question: str, dense: str, said: str) -> None:
    extra = expand(question)
    assert extra is not None and extra.dense == dense
    assert said in T.words(extra.keywords)


def test_kin_through_another_is_one_role_for_the_compatibility_check() -> None:
    from voice_letta.agent.recall.roles import composed, query_roles

    assert composed("Which airport does my dad's brother fly into?") == "which airport does my uncle fly into?"
    assert len(query_roles(T.query_terms("When does my dad's brother land?"), "When does my dad's brother land?")) == 1
    # an in-law keeps its two roles (the lexicon has one word a role)
    assert len(query_roles(T.query_terms("When is my wife's mum visiting?"), "When is my wife's mum visiting?")) == 2


@pytest.mark.parametrize(("question", "said"), [
    ("Who's my teeth-straightening doctor?", "orthodontist"),  # a profession told by what it does
    ("Who's my teeth-straightening doctor?", "ortho"),  # ... and its shortening
    ("When do I see the heart specialist?", "cardiologist"),
    ("Who is my skin doctor?", "dermatologist"),
    ("Who does my taxes?", "accountant"),
    ("Where does my dad get his kidney treatment?", "dialysis"),
    ("Which city is the wedding in?", "shaadi"),  # an event of another culture as its kind
    ("Where is the wedding reception?", "walima"),
    ("When is the funeral?", "lamay"),
    ("Which boy asked me to the dance?", "prom"),
    ("Which relative rang about the invitation?", "khala"),  # kin of any language for "relative"
    ("Which relative rang about the invitation?", "called"),
    ("What room is my grandmother in?", "porpor"),
])
def test_a_kind_told_by_what_it_is_adds_its_names(question: str, said: str) -> None:
    extra = expand(question)
    assert extra is not None and said in T.words(extra.keywords), (question, extra)


def test_a_part_of_an_event_does_not_add_the_event() -> None:
    # "nikah" is one part of a wedding: asked, it adds neither the wedding nor its other parts (a near miss)
    extra = expand("When is Sana's nikah?")
    assert extra is None or "mehndi" not in T.words(extra.keywords)
    ortho = expand("Who is my orthodontist?")
    assert ortho is None or "teeth" not in T.words(ortho.keywords)


@pytest.mark.parametrize(("question", "said"), [
    ("When is my ortho appointment?", "appt"),  # a texted shortening is the same word
    ("When is my bio test?", "biology"),
    ("Who is my bestie?", "friend"),
    ("Which supermarket do I use?", "tesco"),  # a brand as its kind, like an airline
    ("Who do I bank with?", "monzo"),
    ("Which phone network am I on?", "vodafone"),
    ("What do I pay for streaming?", "netflix"),
    ("Where do we go for Friday prayers?", "masjid"),
])
def test_shortenings_and_brands(question: str, said: str) -> None:
    extra = expand(question)
    assert extra is not None and said in T.words(extra.keywords), (question, extra)


@pytest.mark.parametrize(("question", "said"), [
    ("Where do I get my glasses?", "optician"),
    ("Who fixes my car?", "mechanic"),
    ("Who gives me driving lessons?", "instructor"),
    ("When do I fly home for the holidays?", "bakasyon"),
    ("What medicine does abbu take?", "dawai"),
    ("Which market do I buy fish at?", "palengke"),
])
def test_more_kinds_and_words_of_other_languages(question: str, said: str) -> None:
    extra = expand(question)
    assert extra is not None and said in T.words(extra.keywords), (question, extra)


@pytest.mark.parametrize(("question", "dense"), [
    ("When is the shaadi?", "when is the wedding?"),  # another language's name of the same event, both ways
    ("When is my bday?", "when is my birthday?"),
    ("What are we doing for Tet?", "what are we doing for lunar new year?"),
    ("Where is Noche Buena this year?", "where is christmas eve dinner this year?"),
])
def test_an_event_named_in_another_language_is_the_event(question: str, dense: str) -> None:
    extra = expand(question)
    assert extra is not None and extra.dense == dense


@pytest.mark.parametrize(("question", "said"), [
    ("What do I take for my blood pressure?", "amlodipine"),  # a medicine told by what it treats
    ("Which blood thinner is dad on?", "warfarin"),
    ("What do I take for my thyroid?", "levothyroxine"),
    ("What do I take for my thyroid?", "endocrinologist"),  # a word of two kinds adds both
])
def test_medicines_by_what_they_treat(question: str, said: str) -> None:
    extra = expand(question)
    assert extra is not None and said in T.words(extra.keywords), (question, extra)
