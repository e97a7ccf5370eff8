"""Who may change what (recall/groups.py, recall/speakers.py): in a group chat a shared plan is changed by whichever
member says the new value, a person's own attribute only by its holder; a signed note's upper-case labels are its
headings, not its senders (labels naming a thing or a slot: test_recall_labels.py)."""

from __future__ import annotations

import numpy as np

from voice_letta.agent.recall.facts import Query
from voice_letta.agent.recall.groups import shared_plan
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.speakers import speakers
from voice_letta.agent.recall.vector import SearchWindow

DAY = 86400.0


def test_an_upper_case_label_opening_a_signed_note_is_its_heading() -> None:
    # a couple's shared wedding note (test16): each heading said twice, each note signed by its writer
    for line in ("COLOURS: terracotta out, dusty blue with the sage \u2014 T",
                 "VENUE: Lourensford can't do March, Vrede en Lust has it \u2014 R", "DATE: 27 March -- Ruan"):
        assert speakers(line) == (), line
    assert speakers("JOHN: hello there") == ("john",)  # a transcript's upper-case name, unsigned
    assert speakers("Coach Dave: see you there - T") == ("coach dave",)  # a sender's label is no heading


def _index(texts: list[str], vectors: np.ndarray) -> PassageIndex:
    index = PassageIndex("g", vectors.shape[1])
    at = [1_000_000.0 + i * DAY for i in range(len(texts))]
    index.add([f"p{i}" for i in range(len(texts))], texts, [""] * len(texts), at, at, vectors, [True] * len(texts))
    return index


CHAT = ["Dev: gig confirmed fri dec 18 at the Loving Touch, 40 min set",
        "Keisha: rehearsal stays tuesdays 7-10 at Rock City",
        "Marcus: merch table: shirts $20, stickers $3",
        "Keisha: fell off my bike, wrist's broken",
        "Dev: talked to Tony, he can sub on the 18th",
        "Marcus: print run cost more, shirts going to $25",
        "Dev: rock city flooded, rehearsal moves to thursdays at my garage"]


def _query(question: str, n: int) -> Query:
    return Query.of([t for t in question.lower().replace("?", "").split()], np.zeros(n), question)


def test_a_group_plan_is_changed_by_any_member_a_persons_own_only_by_its_holder() -> None:
    rng = np.random.default_rng(0)
    index = _index(CHAT, rng.normal(size=(len(CHAT), 8)).astype(np.float32))
    assert shared_plan(index, 1, 6, _query("What day is rehearsal?", len(CHAT)))
    assert not shared_plan(index, 1, 5, _query("What day is rehearsal?", len(CHAT)))  # the shirts' price, no day
    assert shared_plan(index, 2, 5, _query("How much are shirts?", len(CHAT)))
    assert not shared_plan(index, 3, 4, _query("Is Keisha still out?", len(CHAT)))  # names a member
    assert not shared_plan(index, 2, 5, _query("How much are my shirts?", len(CHAT)))  # the asker's own
    two = _index(["Caroline: I paint on sundays", "Melanie: I paint on mondays now"],
                 rng.normal(size=(2, 8)).astype(np.float32))
    assert not shared_plan(two, 0, 1, _query("What day is the painting?", 2))  # two people: each their own life


def test_another_members_later_price_ranks_over_the_first_one() -> None:
    # the shirts' price said by Marcus, changed by Dev ("going to $25", 0.47 alike, farther from the question): each
    # member says two lines (a label said once is no speaker); without the rule Dev's line was someone else's history
    texts = ["Marcus: merch table: shirts $20, stickers $3, the EP on cassette $8",
             "Keisha: rehearsal stays tuesdays 7-10 at Rock City rehearsal, room 6",
             "Dev: talked to Tony, he can sub on the 18th",
             "Keisha: fell off my bike, wrist's broken",
             "Marcus: promoter bumped the guarantee to $400",
             "Dev: Priya confirmed for merch. also shirts going to $25, the new print run cost more"]
    v = np.eye(6, dtype=np.float32)
    v[5] = [0.47, 0, 0, 0, 0, 0.88]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = _index(texts, v)
    q = np.asarray([[0.6, 0, 0, 0, 0, 0.3]], dtype=np.float32)
    q /= np.linalg.norm(q)
    ranked = [r.passage_id for r in index.rank(q, ["How much are shirts?"], SearchWindow(None, None), limit=4,
                                               speaker=None)]
    assert ranked[:2] == ["p5", "p0"]


def test_a_members_later_line_about_another_attribute_of_the_plan_is_no_version() -> None:
    # test16 (written before the rule was seen): a later line of the same plan about another of its attributes (each
    # member says two lines: a label said once is no speaker)
    rng = np.random.default_rng(1)
    hockey = ["Coach Dave: roster's set: goalies Mason and Ethan, C is Brody, A's are Aanya and Jonah",
              "Karen: team fees are $480 per player",
              "Coach Dave: new goalie Tyler Baptiste, he'll wear 31",
              "Dana: Tyler asked if he can wear 35 instead, 31 was his old partner's number",
              "Coach Dave: Brody's back, he's got the C again",
              "Karen: skate sharpening at Pro Skate this week",
              "Dana: thanks coach!"]
    index = _index(hockey, rng.normal(size=(len(hockey), 8)).astype(np.float32))
    assert not shared_plan(index, 0, 3, _query("Who is the captain?", len(hockey)))  # a number changed, no captain
    assert shared_plan(index, 2, 3, _query("What number does Tyler wear?", len(hockey)))
    study = ["Aisyah: study group every Thursday 8pm at the library room 3",
             "Kavitha: final confirmed 14 Dec 9am, 3 hours",
             "Wei Jie: I take antibiotics, Harith cardio",
             "Kavitha: faculty email, final shifted to 16 Dec, same hall",
             "Aisyah: Thursday clash with the lab report, so Wednesday 8pm instead"]
    index = _index(study, rng.normal(size=(len(study), 8)).astype(np.float32))
    day = _query("What day does the group meet?", len(study))
    assert not shared_plan(index, 0, 3, day)  # it moves the exam, not the group's day
    assert shared_plan(index, 0, 4, day)  # it names the old day next to the new one
    assert shared_plan(index, 1, 3, _query("When is the final?", len(study)))
