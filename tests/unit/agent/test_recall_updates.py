"""Updates said in passing (recall/updates.py): which earlier passage a cue passage updates."""

from __future__ import annotations

import numpy as np

from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.updates import cue_target, cues
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
