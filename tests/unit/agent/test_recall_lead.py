"""A paraphrase that stands out (recall/confidence.py ``lead``, LEAD_MIN, LEAD_LIFT): a result sharing no word with
the question that is closer in meaning than every other candidate by LEAD_MIN is put LEAD_LIFT higher."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall.confidence import LEAD_LIFT, LEAD_MIN, MISFIT_MAX, confidence, lead
from voice_letta.agent.recall.holders import relatives_thing


def test_lead_is_the_distance_to_the_closest_other_candidate() -> None:
    assert abs(lead(0.42, [0.30, 0.42]) - 0.12) < 1e-9  # the closest: ahead of the second
    assert abs(lead(0.30, [0.30, 0.42]) + 0.12) < 1e-9  # another is closer
    assert lead(0.42, [0.42, 0.42]) == 0.0  # a tie leads nothing
    assert lead(0.42, [0.42]) == 0.0  # the only candidate: nothing to lead


def test_only_a_result_sharing_no_word_and_standing_out_is_lifted() -> None:
    plain = confidence(0.38, 0.0)
    assert confidence(0.38, 0.0, lead=LEAD_MIN) == confidence(0.38 + LEAD_LIFT, 0.0) > plain
    assert confidence(0.38, 0.0, lead=LEAD_MIN - 0.01) == plain  # not far enough ahead
    # a shared word: the cosine may come from the thing's words, not from what is asked about it
    assert confidence(0.38, 0.2, lead=0.3) == confidence(0.38, 0.2)
    assert confidence(None, 0.0, lead=0.3) == confidence(None, 0.0)  # no vector, no lead
    assert confidence(0.38, 0.0, lead=0.3, misfit=True) <= MISFIT_MAX  # a cap still caps
    # about someone else: the lead says the topic, not whose it is ("my apartment" / "my sister's flat")
    assert confidence(0.38, 0.0, lead=0.3, other_role=True) == confidence(0.38, 0.0, other_role=True)
    assert confidence(0.38, 0.0, lead=0.3, other_speaker=True) == confidence(0.38, 0.0, other_speaker=True)


@pytest.mark.parametrize(("question", "text", "relatives"), [
    ("What's wrong with my apartment?", "user: my sister's flat in leeds has a damp problem", True),
    ("Where is our new car parked?", "user: my husband's van is in the side lane", True),
    ("What's wrong with my apartment?", "user: the boiler in my flat keeps cutting out", False),  # the user's own
    ("What's wrong with my sister's apartment?", "user: my sister's flat has a damp problem", False),  # asked of her
    ("Who is cooking for the big day?", "user: my mum's friend rosa is doing the food", False),  # no "my <thing>"
])
def test_a_relatives_thing_is_no_lead_for_the_users_own(question: str, text: str, relatives: bool) -> None:
    assert relatives_thing(question, text) is relatives
