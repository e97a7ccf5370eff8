"""The sleeptime checks that keep handed-over lines from being lost or misremembered (pure functions)."""

from __future__ import annotations

from voice_letta.agent.sleeptime_checks import change_lines, ungrounded, verbatim_lines
from voice_letta.agent.sleeptime_prompt import Line

SAID = ["user: We finally moved to Bristol last weekend.", "assistant: Congratulations on the move!",
        "user: My daughter Ellie starts at Redland Green school in January.",
        "user: Also my new dentist is Dr Okafor on Gloucester Road."]
BLOCK = "Name: Priya. Lives in Leeds. Works as a nurse. Allergic to penicillin. Cat: Biscuit."


def lines(*texts: str) -> list[Line]:
    return [Line(t, 100.0 + i, i) for i, t in enumerate(texts)]


def test_user_lines_worth_keeping_and_the_question_a_short_answer_answers() -> None:
    older = lines("user: Hi!", "assistant: Hello, how can I help?", "user: I moved to Bristol last weekend.",
                  "assistant: Lovely. What's your dog called?", "user: Biscuit.", "user: Thanks!",
                  "tool result (weather): sunny", "user: ok cool")
    assert verbatim_lines(older) == [(2, 2), (3, 4), (7, 7)]  # "Hi!" and "Thanks!" have too few words
    assert verbatim_lines(lines("assistant: Anything else?", "tool result (x): y")) == []


def test_a_summary_or_block_must_say_what_was_said() -> None:
    sources = [*SAID, BLOCK]
    faithful = ["The user moved to Bristol last weekend; daughter Ellie starts Redland Green School in January.",
                "The user relocated to Bristol with the family; Ellie is enrolled at Redland Green from January 2027.",
                "Name: Priya. Lives in Bristol (moved late November 2026). Daughter Ellie starts Redland Green School "
                "in January 2027. Dentist: Dr Okafor, Gloucester Road. Works as a nurse. Cat: Biscuit.",
                "Small talk before ending the call.", "Identity: Priya. Plans: Ellie's school in January."]
    for text in faithful:
        assert ungrounded(text, sources) == [], text
    assert ungrounded("Mike had a party before the wedding; he wants to visit New York someday.", sources) == [
        "mike", "party", "wedding", "wants", "visit", "york", "someday"]
    assert ungrounded("Your identity is still a cat, not a dog.", sources) == []  # too few words to judge
    assert ungrounded("Your identity is still a cat, not a dog. You try to change your reality.", sources) == [
        "still", "dog", "try", "change", "reality"]


def test_a_paraphrase_is_not_an_invention_but_a_new_name_is() -> None:
    said = ["user: I'm really nervous about my knee operation at St Mary's next week."]
    assert ungrounded("The user is anxious about the upcoming knee surgery at St Mary's, scheduled next week.",
                      said) == []  # common words changed, every name said
    assert ungrounded("The user is anxious about the upcoming knee surgery with Dr Patel at the Royal Infirmary.",
                      said) == ["anxious", "upcoming", "surgery", "dr", "patel", "royal", "infirmary"]


def test_the_embedded_models_invented_summary_is_caught() -> None:
    invented = ("Mike: We finally moved to Bristol last weekend. The day before the wedding. I had a party and "
                "didn't want to leave. But it's nice that you're moving! Now let me just do something fun...")
    assert ungrounded(invented, SAID)[:3] == ["mike", "wedding", "party"]


def test_a_change_inside_a_chunk_after_the_users_other_lines_is_found() -> None:
    older = lines("user: landlord is mrs okafor, rent 2150 a month", "assistant: noted",
                  "user: mrs o says it's 2,225 a month from now on", "assistant: got it",
                  "user: the sweepers on my block switched to weds 8-10", "user: actually make that thursdays",
                  "assistant: Which day is bin collection now?", "user: mondays now", "user: i love the new flat")
    assert change_lines(older, [(0, 8)]) == [(2, 2), (4, 4), (5, 5)]
    assert change_lines(older, [(2, 8)]) == [(4, 4), (5, 5)]  # nothing of the user's before the first change
    assert change_lines(older, [(0, 1), (2, 3)]) == []  # each chunk alone: the change is dated already
    # a bare "now" is no change ("mondays now" answers a question), nor are small talk and the assistant's words
    assert change_lines(lines("user: i work at the library in town", "assistant: You switched jobs now?",
                              "user: yes since june", "user: im at home now"), [(0, 3)]) == []
    # a short answer keeps the assistant's question with it
    assert change_lines(lines("user: my bins go out on monday", "assistant: Did the day change?",
                              "user: yes, thursdays from now on"), [(0, 2)]) == [(1, 2)]
    assert change_lines(lines("user: my bins go out on monday", "assistant: ok",
                              "user: no wait, the bins go out on thursdays instead"), [(0, 2)]) == [(2, 2)]


def test_a_block_rewrite_of_a_few_words_none_said_is_refused_but_a_summary_is_not() -> None:
    # QA, session 17: the embedded model's rewrite of the placeholder user block after "I'm Jonas, I live in Leipzig
    # and my cat is called Pixel." Two content words ("birthday", "last"), said by nobody.
    placeholder = "Nothing is known about the user yet."
    transcript = "user: I'm Jonas, I live in Leipzig and my cat is called Pixel."
    garbage = "today's day, your birthday yesterday today tomorrow this week 2018 and last month (3 weeks)"
    assert ungrounded(garbage, (placeholder, transcript), judge_few=True) == ["birthday", "last"]
    assert ungrounded(garbage, (placeholder, transcript)) == []  # a chunk's summary: too few words to judge
    # A short faithful block passes; so does a short block of one said word among unsaid ones.
    assert ungrounded("Jonas. Leipzig. Cat Pixel.", (placeholder, transcript), judge_few=True) == []
    assert ungrounded("Jonas, from Leipzig", (placeholder, transcript), judge_few=True) == []
    assert ungrounded("Pleasantries exchanged", (transcript,)) == []

