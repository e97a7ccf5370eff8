"""Updates said in passing (recall/updates.py): which earlier passage a cue passage updates."""

from __future__ import annotations

import numpy as np

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.cued import cue_target, cued_updates
from voice_letta.agent.recall.cues import cues
from voice_letta.agent.recall.facts import PLACE, Query, part_of, same_fact, says_new_place, typed_change, typed_changes
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.quantity import DAY as ASKS_DAY
from voice_letta.agent.recall.quantity import MONEY
from voice_letta.agent.recall.updates import place_groups
from voice_letta.agent.recall.vector import SearchWindow

DAY = 86400.0


def _index(texts: list[str], vectors: np.ndarray, days: list[float]) -> PassageIndex:
    index = PassageIndex("m", vectors.shape[1])
    at = [1_000_000.0 + d * DAY for d in days]
    index.add([f"p{i}" for i in range(len(texts))], texts, [""] * len(texts), at, at, vectors.astype(np.float32),
              [True] * len(texts))
    return index


def test_a_cue_passage_does_not_update_a_candidate_when_an_earlier_passage_is_far_more_like_it() -> None:
    # The question finds the flight (and the wedding's postponement, loosely); the wedding's plan shares nothing
    # with it and is not a candidate. The postponement is 0.4 alike the flight (above CUE_COSINE, a strong cue)
    # but 0.7 alike the plan (more than CUE_TARGET_MARGIN closer): it must not be listed as replacing the flight.
    flight = [1.0, 0.0, 0.0, 0.0]
    plan = [0.0, 1.0, 0.0, 0.0]
    pushed = [0.4, 0.7, float(np.sqrt(1 - 0.16 - 0.49)), 0.0]
    index = _index(["user: my flight to rome leaves on may third", "user: our wedding is planned for june",
                    "user: we pushed the wedding back to september"], np.array([flight, plan, pushed]), [-60, -59, -3])
    assert cue_target(index, 2)[0] == 1 and list(index.cue_targets) == [2]
    ranked = index.rank(np.array([flight], dtype=np.float32), ["when does my flight to rome leave"],
                        SearchWindow(None, None), limit=3, speaker="user")
    assert ranked[0].passage_id == "p0" and ranked[0].previous == ()
    assert all("p0" not in r.previous for r in ranked)
    # without the plan, the postponement is most like the flight and still counts as its update (what MiniLM
    # cannot tell apart: the limit, documented)
    alone = _index(["user: my flight to rome leaves on may third", "user: we pushed the wedding back to september"],
                   np.array([flight, pushed]), [-60, -3])
    assert cue_target(alone, 1)[0] == 0
    # a line on the same thing a little closer than the fact does not stop the link (within the margin)
    near = [0.0, 0.0, 0.85, float(np.sqrt(1 - 0.85 ** 2))]  # 0.5 alike the postponement, 0.1 more than the flight
    close = _index(["user: my flight to rome leaves on may third", "user: i booked an aisle seat",
                    "user: we pushed the wedding back to september"], np.array([flight, near, pushed]),
                   [-60, -59, -3])
    ranked = close.rank(np.array([flight], dtype=np.float32), ["when does my flight to rome leave"],
                        SearchWindow(None, None), limit=3, speaker="user")
    assert ranked[0].passage_id == "p2" and ranked[0].previous == ("p0",)
    # a new passage clears the cache (an import may add an earlier, closer one)
    alone.add(["p9"], ["user: our wedding is planned for june"], [""], [1_000_000.0 - 59 * DAY],
              [1_000_000.0 - 59 * DAY], np.array([plan], dtype=np.float32), [True])
    assert alone.cue_targets == {} and cue_target(alone, 1)[0] == 2


def test_a_new_state_beginning_is_an_update_cue() -> None:
    _, cue, strong = cues(["user: i just started a new job at stripe", "user: i joined a climbing gym",
                           "user: she became head nurse", "user: i work at google as an engineer",
                           "user: the restart button is broken"])
    assert cue.tolist() == [True, True, True, False, False]
    assert strong.tolist() == cue.tolist()


def _query(index: PassageIndex, text: str, cosines: list[float]) -> Query:
    return Query.of(T.query_terms(text), np.asarray(cosines, dtype=np.float32))


def test_news_about_another_attribute_of_the_same_subject_is_not_a_new_version() -> None:
    texts = ["user: my sister maya lives in lisbon", "user: my sister maya just started a job at a museum",
             "user: my sister maya moved to porto", "user: my brother started working at a bakery",
             "user: my brother lives in austin now"]
    index = _index(texts, np.eye(5), [-60, -2, -1, -3, -1])
    live = _query(index, "where does maya live", [0.67, 0.60, 0.63, 0.1, 0.1])
    assert not same_fact(index, 0, 1, live)  # a job does not replace where she lives
    assert same_fact(index, 0, 2, live)  # a move does ("moved" is of the family of "live")
    work = _query(index, "where does maya work", [0.6, 0.7, 0.5, 0.1, 0.1])
    assert not same_fact(index, 0, 1, work)  # nor where she works: each says only its own attribute's words
    anything = _query(index, "what does maya do", [0.6, 0.7, 0.5, 0.1, 0.1])
    assert not same_fact(index, 0, 1, anything)  # whatever the question asks
    assert same_fact(index, 0, 2, anything)
    brother = _query(index, "where does my brother live", [0.1, 0.1, 0.1, 0.43, 0.65])
    assert not same_fact(index, 3, 4, brother)  # both ways: his new home does not replace his job either
    weigh = _index(["user: i weigh about one ninety", "user: good news im down to one eighty two"], np.eye(2),
                   [-20, -5])
    assert same_fact(weigh, 0, 1, _query(weigh, "how much do i weigh", [0.57, 0.04]))  # no shared word: unaffected


def test_a_long_note_is_replaced_only_for_the_part_a_later_line_changes() -> None:
    note = ("The user talked about her family: her brother Marco lives in Turin and works as a chef, her sister "
            "Giulia is a nurse in Utrecht, and her parents still live in the house in Bari where she grew up. Her "
            "father Paolo turns seventy in June and the family is planning a dinner for him.")
    fix = "The user corrected herself: her father's seventieth birthday is in July, not June."
    index = _index([note, fix], np.eye(2), [-54, -6])
    dad = _query(index, "When does my dad turn seventy?", [0.16, 0.38])
    said = set(index.terms_of(1).tolist())
    part = part_of(index, 0, dad, said)
    assert part is not None and {T.term_id("paolo"), T.term_id("june")} <= part and T.term_id("turin") not in part
    assert same_fact(index, 0, 1, dad)
    assert not same_fact(index, 0, 1, _query(index, "Where does my brother live?", [0.6, 0.1]))
    assert part_of(index, 1, dad, said) is None  # a short passage is one fact
    assert part_of(index, 0, _query(index, "What are my relatives up to?", [0.3, 0.1]), said) is None  # no word
    # the part is around the words the later passage does not say: a heading word both say ("family") is no part
    family = _query(index, "What is the family planning?", [0.4, 0.1])
    assert part_of(index, 0, family, said | set(T.term_ids("family"))) == part_of(index, 0, _query(
        index, "What is planning?", [0.4, 0.1]), said)
    assert part_of(index, 0, _query(index, "father june", [0.4, 0.4]), said) is None  # it says them all


def test_versions_of_one_fact_go_newest_first_and_nothing_else_moves() -> None:
    index = _index(["a", "b", "c", "d", "e"], np.eye(5), [-40, -30, -5, -20, -1])
    # rows 0 (40 days ago), 2 (5 days) and 4 (yesterday) are versions of one fact; 1 and 3 are other results
    order, previous, pulled = place_groups(index, [0, 1, 2, 3, 4], [[0, 4, 2]])
    assert order == [4, 2, 0, 1, 3] and previous == {4: [2, 0]} and pulled == {}
    order, previous, _ = place_groups(index, [2, 1, 0, 3, 4], [[0, 4, 2]])  # members older than the best ranked stay
    assert order == [4, 2, 1, 0, 3] and previous == {4: [2, 0]}
    order, _, _ = place_groups(index, [4, 1, 0, 3, 2], [[0, 4]])  # the newest already ranks first: nothing moves
    assert order == [4, 1, 0, 3, 2]


def test_a_later_version_from_outside_the_candidates_is_pulled_in_at_the_best_members_rank() -> None:
    # implicit_updates finds later versions among all of the agent's passages, not only this search's candidates:
    # such a member used to crash the search (ValueError from list.index)
    index = _index(["a", "b", "c", "d", "e"], np.eye(5), [-40, -30, -5, -20, -1])
    order, previous, pulled = place_groups(index, [1, 0, 3], [[0, 4]])
    assert order == [1, 4, 0, 3] and previous == {4: [0]} and pulled == {4: 0}
    order, previous, pulled = place_groups(index, [1, 3], [[2, 4]])  # no member ranked: nothing to place
    assert order == [1, 3] and previous == {} and pulled == {}


def test_a_change_from_now_on_or_of_the_holder_of_a_role_is_a_strong_cue() -> None:
    texts = ["mrs o says it's 2,225 a month from now on", "one more change, the party's now the 21st",
             "mr beale's off sick, ivy's got a supply teacher", "tom is covering for priya next week",
             "im at home now", "we need to change the oil"]
    _, cue, strong = cues(texts)
    assert cue.tolist() == [True, True, True, True, True, False]
    assert strong.tolist() == [True, True, True, True, False, False]


def test_a_move_to_a_place_is_told_from_a_move_to_a_day() -> None:
    found = says_new_place(["the boathouse double booked us, we've moved to the old mill in marlow",
                            "we moved into a new flat", "my sister moved to porto", "the new venue is the red lion",
                            "dani's flight moved to the 19th", "we moved the wedding to september",
                            "the meeting got moved to next tuesday", "the sweepers switched to weds 8-10"])
    assert found.tolist() == [True, True, True, True, False, False, False, False]


def test_a_question_says_which_kind_of_value_it_asks_for() -> None:
    cos = np.zeros(1, dtype=np.float32)
    assert Query.of(["parti"], cos, "Where is the party being held?").kind & PLACE
    assert Query.of(["venu"], cos, "Which venue did we book?").kind & PLACE
    assert Query.of(["rent"], cos, "How much is my rent now?").kind & MONEY
    assert Query.of(["pai"], cos, "What do I pay the landlord each month?").kind & MONEY
    assert Query.of(["parti"], cos, "When is mum's party?").kind & ASKS_DAY
    assert Query.of(["parti"], cos, "Who is coming to the party?").kind == 0
    assert Query.of(["parti"], cos).kind == 0


def test_typed_changes_of_many_rows_agree_with_one_at_a_time() -> None:

    texts = ["user: rent is 2150 a month", "user: it's 2,225 a month from now on", "user: we moved to the old mill",
             "user: street cleaning is tues 8-10am", "user: the sweepers switched to weds 8-10", "user: i like tea"]
    index = PassageIndex("m", 4)
    index.add([f"p{i}" for i in range(len(texts))], texts, [""] * len(texts), [float(i) for i in range(len(texts))],
              [float(i) for i in range(len(texts))], np.eye(len(texts), 4, dtype=np.float32), [True] * len(texts))
    rows = np.arange(len(texts))
    for question in ("How much is my rent now?", "When is street cleaning?", "Where is the party?", "Who is it?"):
        query = Query.of([], np.zeros(len(texts), dtype=np.float32), question)
        for old in rows:
            assert typed_changes(index, int(old), rows, query).tolist() == [
                typed_change(index, int(old), int(r), query) for r in rows], question


def test_an_ending_cue_is_not_an_update_cue_alone() -> None:
    from voice_letta.agent.recall.facts import endings

    texts = ["user: rahul's leaving, from monday my lead is going to be fatima", "user: i stopped going to the pool",
             "user: Miso died last week", "user: Dave retired, new guy: Kenji", "user: gave up on duolingo",
             "user: i left my keys at the office", "user: we loved the new york trip", "user: my cat is called miso"]
    assert endings(texts).tolist() == [True, True, True, True, True, True, False, False]
    # "left" alone is everyday speech: it is no update cue (only with the old value's own word: names_value)
    assert cues(texts)[1].tolist()[5] is False


def test_a_later_ending_that_names_the_old_value_is_its_new_version() -> None:
    # The manager's answer and the change share only the old manager's name, which the question does not say; they
    # are 0.2 alike (below CUE_COSINE), the change is 0.3 to the question against the answer's 0.6.
    answer = [0.6, 0.8, 0.0, 0.0, 0.0]
    change = [0.3, 0.2, float(np.sqrt(1 - 0.09 - 0.04)), 0.0, 0.0]
    other = [0.0, 0.0, 0.0, 1.0, 0.0]
    q = np.array([[1.0, 0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    texts = ["assistant: What's your manager's name there?\nuser: rahul menon",
             "user: the canteen does a good thali on fridays",
             "user: rahul's leaving, from monday my lead is going to be fatima sheikh"]
    index = _index(texts, np.array([answer, other, change]), [-30, -20, -2])
    ranked = index.rank(q, ["Who is my manager?"], SearchWindow(None, None), limit=3, speaker="user")
    assert ranked[0].passage_id == "p2" and ranked[0].previous == ("p0",), [(r.passage_id, r.previous) for r in ranked]
    # the same change without an ending cue is not linked ("rahul's great, my lead says…"), nor an ending that names
    # only a word the question says or many passages say
    for later in ("user: rahul is great, my lead is going to be fatima sheikh for the audit",
                  "user: the manager I met at the canteen is leaving for mumbai"):
        index = _index([*texts[:2], later], np.array([answer, other, change]), [-30, -20, -2])
        ranked = index.rank(q, ["Who is my manager?"], SearchWindow(None, None), limit=3, speaker="user")
        assert ranked[0].passage_id == "p0" and ranked[0].previous == (), [(r.passage_id, r.previous) for r in ranked]
    common = ["user: rahul menon is my manager", "user: rahul menon plays cricket", "user: rahul menon has a dog",
              "user: rahul menon lives in aundh", "user: rahul menon likes chai",
              "user: rahul's leaving, from monday my lead is going to be fatima sheikh"]
    vectors = np.array([answer, other, other, other, other, change])
    index = _index(common, vectors, [-30, -20, -19, -18, -17, -2])
    ranked = index.rank(q, ["Who is my manager?"], SearchWindow(None, None), limit=3, speaker="user")
    assert ranked[0].passage_id == "p0" and ranked[0].previous == ()


def test_a_question_whether_a_state_still_holds_is_told_by_its_words() -> None:
    cos = np.zeros(1, dtype=np.float32)
    for question in ("do i still have a loose tooth", "Am I still driving Chachu's car?",
                     "Is Dev not coming anymore?", "Do I take the blue pills any longer?"):
        assert Query.of([], cos, question).still, question
    for question in ("Where is my tooth fairy money?", "When is the stillwater trip?", ""):
        assert not Query.of([], cos, question).still, question


def test_a_keyword_query_links_versions_that_both_say_its_words() -> None:
    # "user 5k personal best" is far in meaning from every log line (0.20 / 0.23, under MIN_COSINE): the later PB
    # is still the newer version of the older one, for both say the asked "5k" (test13)
    from voice_letta.agent.recall.updates import newest_first
    old_pb, new_pb, shoes = [1.0, 0.0, 0.0], [0.76, float(np.sqrt(1 - 0.76 ** 2)), 0.0], [0.0, 0.0, 1.0]
    index = _index(["hackney parkrun in 24:10, a new 5k PB", "22:58 at hackney parkrun, 5k PB again",
                    "retired the pegasus, easy runs in asics now"], np.array([old_pb, new_pb, shoes]), [-30, -2, -1])
    query = _query(index, "user 5k personal best", [0.23, 0.20, 0.30])
    assert newest_first(index, np.arange(3), query) == [[0, 1]]
    # a later line saying none of the question's words still needs MIN_COSINE
    other = _index(["hackney parkrun in 24:10, a new 5k PB", "22:58 at hackney parkrun again",
                    "retired the pegasus, easy runs in asics now"], np.array([old_pb, new_pb, shoes]), [-30, -2, -1])
    assert newest_first(other, np.arange(3), _query(other, "user 5k personal best", [0.23, 0.20, 0.30])) == []


def test_a_note_kind_opening_a_passage_is_no_speaker() -> None:
    from voice_letta.agent.recall.speakers import speakers
    assert speakers("Update: Dr. Hsu's office moved June's checkup to Friday") == ()
    assert speakers("ok context: i live in a 3br in greenpoint w jess") == ()
    assert speakers("UPS update: your package is scheduled for Friday") == ()
    assert speakers("Rudy: demo starts Monday Jan 11") == ("rudy",)
    # inside a message under its sender's line it stays that message's label (someone else's line)
    assert speakers("[11/30/2026 6:18 PM] priya_dm\none-shot update: we're at Rahim's") == ("one-shot update",)


def test_the_cue_passages_kept_for_the_cue_link_pass_follow_the_rows_an_add_appends() -> None:
    # recall/cued.py keeps the cue passages' rows and vectors per index (not gathered from the whole matrix every
    # search): a change added after a search must be compared at the next one
    flight = [1.0, 0.0, 0.0, 0.0]
    moved = [0.8, 0.6, 0.0, 0.0]
    again = [0.75, 0.0, float(np.sqrt(1 - 0.75 ** 2)), 0.0]
    other = [0.0, 0.0, 0.0, 1.0]
    index = _index(["user: my flight to rome leaves on may third", "user: i booked an aisle seat"],
                   np.array([flight, other]), [-60, -50])
    question = "when does my flight to rome leave"
    assert not cued_updates(index, [0], _query(index, question, [1.0, 0.0])).get(0)
    index.add(["p2"], ["user: my flight to rome got moved to may tenth"], [""], [1_000_000.0 - 5 * DAY],
              [1_000_000.0 - 5 * DAY], np.array([moved], dtype=np.float32), [True])
    assert cued_updates(index, [0], _query(index, question, [1.0, 0.0, 0.8])) == {0: [2]}
    # a change said before the flight's line sits between the two later ones among the kept cue passages: the ones
    # compared are then not consecutive there (gathered, not sliced), and the links are the same
    index.add(["p3", "p4"], ["user: i moved my dentist appointment to friday",
                             "user: the flight to rome was moved again to may 12"],
              ["", ""], [1_000_000.0 - 70 * DAY, 1_000_000.0 - DAY], [1_000_000.0 - 70 * DAY, 1_000_000.0 - DAY],
              np.array([other, again], dtype=np.float32), [True, True])
    assert cued_updates(index, [0], _query(index, question, [1.0, 0.0, 0.8, 0.0, 0.75])) == {0: [2, 4]}
