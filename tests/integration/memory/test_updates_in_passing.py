"""Updates said in passing (recall/updates.py) through the real server: a bare "now" is not enough to replace an
unrelated fact. Found from outside: with "I work at Google as an engineer." (60 days ago) and "I live in Seattle
now." (3 days ago), "Where do I work?" was answered first with "I live in Seattle now.", listed as replacing the job
(short first-person lines are 0.35-0.41 apart in MiniLM with nothing in common, above the cue cosine 0.35)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, search

DAY = 86400.0


async def test_a_bare_now_does_not_replace_an_unrelated_fact(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    google, boston, seattle, gym, ironworks, *_ = await batch(server, agent["id"], [
        {"text": "user: I work at Google as an engineer.", "start_at": now - 60 * DAY},
        {"text": "user: I live in Boston.", "start_at": now - 60 * DAY + 60},
        {"text": "user: I live in Seattle now.", "start_at": now - 3 * DAY},
        {"text": "user: My gym membership is at FitLife.", "start_at": now - 60 * DAY + 120},
        {"text": "user: I switched gyms, I go to IronWorks now.", "start_at": now - 3 * DAY + 60},
    ] + [{"text": f"user: {t}", "start_at": now - 90 * DAY + i * 60} for i, t in enumerate(
        ["I enjoy hiking on weekends.", "My sister lives in Porto.", "I have a cat named Miso.",
         "I'm learning Spanish.", "My birthday is on July 4."])])
    found = await search(server, agent["id"], "Where do I work?", limit=3)
    assert found[0]["id"] == google, [p["text"] for p in found]
    assert all(google not in p["previously"] for p in found)
    # a real update with a bare "now" still goes first (near-duplicate), and a strong cue ("switched") still links
    found = await search(server, agent["id"], "Where do I live?", limit=2)
    assert [p["id"] for p in found] == [seattle, boston] and found[0]["previously"] == [boston]
    found = await search(server, agent["id"], "Which gym do I go to?", limit=2)
    assert [p["id"] for p in found] == [ironworks, gym] and found[0]["previously"] == [gym]


async def test_facts_of_one_shape_do_not_replace_each_other(server: Running) -> None:
    """Found from outside: "my birthday is on july 4" and "our wedding is planned for june" are 0.50 alike (the
    near-duplicate threshold was 0.5), and "we pushed the wedding back to september" (a cue, 0.41 alike the
    birthday) was linked to the birthday: "What's my birthday?" came back as the wedding, replacing the birthday."""
    agent = await create_voice_agent(server)
    now = time.time()
    birthday, planned, pushed, *_ = await batch(server, agent["id"], [
        {"text": "user: My birthday is on July 4.", "start_at": now - 90 * DAY},
        {"text": "user: Our wedding is planned for June.", "start_at": now - 60 * DAY},
        {"text": "user: We pushed the wedding back to September.", "start_at": now - 3 * DAY},
        {"text": "user: My flight to Rome leaves on May 3.", "start_at": now - 60 * DAY + 60},
        {"text": "user: I enjoy hiking on weekends.", "start_at": now - 90 * DAY + 60}])
    for question in ("What's my birthday?", "When is my birthday?"):
        found = await search(server, agent["id"], question, limit=3)
        assert found[0]["id"] == birthday and found[0]["previously"] == [], [p["text"] for p in found]
        assert all(birthday not in p["previously"] for p in found)
    found = await search(server, agent["id"], "When is our wedding?", limit=2)
    assert [p["id"] for p in found] == [pushed, planned] and found[0]["previously"] == [planned]


async def test_a_new_state_beginning_replaces_the_old_one(server: Running) -> None:
    """Found from outside: "I just started a new job at Stripe." has no change cue ("now", "moved"…) and is 0.39
    alike "I work at Google as an engineer." (no word in common): "Where do I work?" answered Google. A new state
    beginning ("started", "joined", "became") is an update cue."""
    agent = await create_voice_agent(server)
    now = time.time()
    google, stripe, *_ = await batch(server, agent["id"], [
        {"text": "user: I work at Google as an engineer.", "start_at": now - 60 * DAY},
        {"text": "user: I just started a new job at Stripe.", "start_at": now - 2 * DAY},
    ] + [{"text": f"user: {t}", "start_at": now - 90 * DAY + i * 60} for i, t in enumerate(
        ["I enjoy hiking on weekends.", "My sister lives in Porto.", "I have a cat named Miso.",
         "I'm learning Spanish.", "My birthday is on July 4.", "I live in Boston."])])
    found = await search(server, agent["id"], "Where do I work?", limit=3)
    assert found[0]["id"] == stripe and found[0]["previously"] == [google], [p["text"] for p in found]
    found = await search(server, agent["id"], "Where did I work before?", limit=3)  # the past: no link
    assert all(p["previously"] == [] for p in found)


async def test_an_update_chain_puts_the_newest_first_and_the_rest_in_order(server: Running) -> None:
    """Found from outside: with "I live in Boston" (40 days ago), "I moved to Seattle" (5 days) and "I live in
    Portland these days" (yesterday), "Where do I live?" gave Portland (replacing Boston), then Boston, and Seattle
    last with nothing replacing it: each passage was paired once, the newest with the oldest."""
    agent = await create_voice_agent(server)
    now = time.time()
    boston, seattle, portland, *_ = await batch(server, agent["id"], [
        {"text": "user: I live in Boston, in a little apartment near the river.", "start_at": now - 40 * DAY},
        {"text": "user: I moved to Seattle now, the rain is a change.", "start_at": now - 5 * DAY},
        {"text": "user: I live in Portland these days.", "start_at": now - 1 * DAY},
    ] + [{"text": f"user: {t}", "start_at": now - 90 * DAY + i * 60} for i, t in enumerate(
        ["I enjoy hiking on weekends.", "My sister lives in Porto.", "I have a cat named Miso.",
         "I'm learning Spanish.", "My birthday is on July 4.", "I work at Google as an engineer."])])
    found = await search(server, agent["id"], "Where do I live?", limit=3)
    assert [p["id"] for p in found] == [portland, seattle, boston], [p["text"] for p in found]
    assert found[0]["previously"][:2] == [seattle, boston]
    # the current version is at least as confident as what it replaces (found from outside: Portland 0.28, Boston
    # 0.54, so search_memory showed the answer as "not sure this is related")
    assert found[0]["confidence"] >= max(p["confidence"] for p in found[1:]), [p["confidence"] for p in found]
    found = await search(server, agent["id"], "Where did I live before?", limit=3)  # the past: no links
    assert all(p["previously"] == [] for p in found)


async def test_news_about_another_attribute_of_the_same_person_is_not_an_update(server: Running) -> None:
    """Found from outside: "My sister Maya just started a job at a museum." was listed as replacing "My sister Maya
    lives in Lisbon." for "Where does Maya live?" (0.6 alike: the same person; "started" is an update cue). An
    update names the thing the question asks about, or answers it about as well as the fact does."""
    agent = await create_voice_agent(server)
    now = time.time()
    lisbon, museum, bakery, brother, austin, *_ = await batch(server, agent["id"], [
        {"text": "user: My sister Maya lives in Lisbon.", "start_at": now - 60 * DAY},
        {"text": "user: My sister Maya just started a job at a museum.", "start_at": now - 2 * DAY},
        {"text": "user: my brother started working at a bakery", "start_at": now - 3 * DAY},
        {"text": "user: my brother lives in denver", "start_at": now - 50 * DAY},
        {"text": "user: my brother lives in austin now", "start_at": now - 1 * DAY},
    ] + [{"text": f"user: {t}", "start_at": now - 90 * DAY + i * 60} for i, t in enumerate(
        ["I enjoy hiking on weekends.", "I have a cat named Miso.", "I'm learning Spanish.",
         "My birthday is on July 4.", "I work at Google as an engineer."])])
    for question in ("Where does Maya live?", "Where does my sister live?"):
        found = await search(server, agent["id"], question, limit=3)
        assert found[0]["id"] == lisbon and found[0]["previously"] == [], [p["text"] for p in found]
        assert all(lisbon not in p["previously"] for p in found)
    found = await search(server, agent["id"], "Where does Maya work?", limit=3)
    assert found[0]["id"] == museum, [p["text"] for p in found]
    # nor for a question that names no attribute (found from outside, session 5: the job listed Lisbon as replaced)
    # nor for a question about someone else's attribute (found from outside, session 6: "Where do I work?" showed
    # the job first, listed as replacing where she lives)
    for question in ("What does Maya do?", "What's new with Maya?", "Tell me about my sister Maya.",
                     "Where do I work?", "Where do I live?", "Where does my brother work?"):
        found = await search(server, agent["id"], question, limit=3)
        assert all(lisbon not in p["previously"] and museum not in p["previously"] for p in found), \
            [(p["text"], p["previously"]) for p in found]
    # the same attribute still updates: the brother's move replaces denver; his job does not
    found = await search(server, agent["id"], "Where does my brother live?", limit=3)
    assert [p["id"] for p in found[:2]] == [austin, brother] and found[0]["previously"] == [brother], \
        [p["text"] for p in found]
    assert all(bakery not in p["previously"] and p["id"] != bakery for p in found[:2])


async def test_a_correction_of_one_fact_of_a_long_note_goes_first_only_for_that_fact(server: Running) -> None:
    """Found with the blind held-out half (test3): a note of a whole conversation says where the brother lives and
    when the father turns seventy; a later note corrects only the birthday. "When does my dad turn seventy?" gave
    the long note (June) first: the correction is 0.23 alike the whole note, below the cue cosine. It must go first
    for that question, and the note must not be replaced for the others."""
    agent = await create_voice_agent(server)
    now = time.time()
    note, nephew, fix, *_ = await batch(server, agent["id"], [
        {"text": "The user talked about her family: her brother Marco lives in Turin and works as a chef, her sister "
                 "Giulia is a nurse in Utrecht, and her parents still live in the house in Bari where she grew up. "
                 "Her father Paolo turns seventy in June and the family is planning a dinner for him.",
         "start_at": now - 54 * DAY},
        {"text": "The user's nephew Luca, Marco's son, was born on November 2.", "start_at": now - 26 * DAY},
        {"text": "The user corrected herself: her father's seventieth birthday is in July, not June.",
         "start_at": now - 6 * DAY},
    ] + [{"text": t, "start_at": now - 50 * DAY + i * 3600} for i, t in enumerate(
        ["The user plays the cello in a community orchestra.", "The user is lactose intolerant.",
         "The user works as a data analyst at Halden Bank."])])
    found = await search(server, agent["id"], "When does my dad turn seventy?", limit=3)
    assert found[0]["id"] == fix and found[0]["previously"] == [note], [p["text"] for p in found]
    for question in ("Where does my brother live?", "What does my sister do?"):
        found = await search(server, agent["id"], question, limit=3)
        assert found[0]["id"] == note and all(note not in p["previously"] for p in found), [p["text"] for p in found]
    found = await search(server, agent["id"], "When was Luca born?", limit=3)  # "corrected" alone names no fact
    assert found[0]["id"] == nephew and all(nephew not in p["previously"] for p in found), [p["text"] for p in found]


async def test_a_one_word_heading_is_the_users_note_not_another_speakers_line(server: Running) -> None:
    """Found with the blind held-out half (test3): "Kitchen: we swapped the quartz for a butcher block oak worktop"
    was the line of a speaker called Kitchen, so it could not update the user's own worktop line. A one-word label
    that labels one passage only is a heading; a second passage with it makes it a speaker's name again."""
    agent = await create_voice_agent(server)
    now = time.time()
    quartz, swapped, *_ = await batch(server, agent["id"], [
        {"text": "user: we chose a white quartz worktop for the kitchen", "start_at": now - 30 * DAY},
        {"text": "Kitchen: we swapped the quartz for a butcher block oak worktop to save money",
         "start_at": now - 2 * DAY},
    ] + [{"text": f"user: {t}", "start_at": now - 90 * DAY + i * 60} for i, t in enumerate(
        ["I enjoy hiking on weekends.", "My sister lives in Porto.", "I have a cat named Miso."])])
    found = await search(server, agent["id"], "Which worktop are we getting?", limit=3)
    assert found[0]["id"] == swapped and found[0]["previously"] == [quartz], [p["text"] for p in found]
    # a second line labelled Kitchen: now it is someone's name, and their line is not the user's update
    await batch(server, agent["id"], [{"text": "Kitchen: the fitter comes on monday", "start_at": now - DAY}])
    found = await search(server, agent["id"], "Which worktop are we getting?", limit=3)
    assert all(p["previously"] == [] for p in found), [p["text"] for p in found]


async def test_a_short_memo_changes_one_fact_of_a_long_memo_only(server: Running) -> None:
    """Found with the blind held-out half (test3): dictated memos of five to eight facts each, and a short later memo
    changing one of them. The short one goes first for its fact; for the long memo's other facts the long memo stays
    first and is not listed as replaced, even when both memos name the same trip ("Lisbon") or the words of the
    changed fact sit next to the asked one (the budget right after the worktop)."""
    agent = await create_voice_agent(server)
    now = time.time()
    trip, kitchen, flight, worktop, *_ = await batch(server, agent["id"], [
        {"text": "Notes for the Lisbon trip: we fly out with TAP on May 12 from Gatwick at 7:05, the flight number is "
                 "TP1337. We're staying at Casa do Largo in Alfama for five nights, check-in after 3 pm, and the "
                 "booking reference is QX7M2. I want to do the tram 28 ride and visit the Gulbenkian museum.",
         "start_at": now - 14 * DAY},
        {"text": "Kitchen renovation: the contractor is Brightwork Builders and the foreman is called Sean. They start "
                 "on the 3rd and expect six weeks. We chose oak cabinets, a white quartz worktop and a Belfast sink. "
                 "The budget is eighteen thousand, with a ten percent contingency.", "start_at": now - 9 * DAY},
        {"text": "Change of plan for Lisbon: TAP cancelled our flight, we're now on easyJet EZY8903 on May 13 from "
                 "Luton at 6:40.", "start_at": now - 5 * DAY},
        {"text": "Kitchen: we swapped the quartz for a butcher block oak worktop to save money, it knocks about twelve "
                 "hundred off.", "start_at": now - 2 * DAY},
    ] + [{"text": f"user: {t}", "start_at": now - 90 * DAY + i * 60} for i, t in enumerate(
        ["I enjoy hiking on weekends.", "My sister lives in Porto.", "I have a cat named Miso."])])
    for question, new, old in (("What flight are we taking to Lisbon?", flight, trip),
                               ("Which worktop are we getting?", worktop, kitchen)):
        found = await search(server, agent["id"], question, limit=3)
        assert found[0]["id"] == new and found[0]["previously"] == [old], [p["text"] for p in found]
    for question, note in (("Where are we staying in Lisbon?", trip), ("What's the kitchen budget?", kitchen),
                           ("Who is the foreman?", kitchen)):
        found = await search(server, agent["id"], question, limit=3)
        assert found[0]["id"] == note and all(note not in p["previously"] for p in found), [p["text"] for p in found]
