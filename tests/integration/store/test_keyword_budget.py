"""Keyword search leaves out words too common to be worth scoring (store/fts.py ``select_terms``).

Real SQLite files: document counts come from the fts5vocab tables of migration 0003, which hold Porter stems,
so the Python stemmer must agree with FTS5's tokenizer; that is checked against FTS5 itself.
"""

from __future__ import annotations

import sqlite3

from tests.integration.store.helpers import make_agent, msg
from voice_letta import ids
from voice_letta.agent.models import Passage
from voice_letta.store import SqliteStore
from voice_letta.store.fts import porter_stem, select_terms

# Everyday words with every kind of English suffix Porter handles (plurals, -ing, -ed, -ational, -ness, -ful...)
WORDS_TEXT = """
caresses ponies ties caress cats feed agreed plastered motoring sing conflated troubled sized hopping tanned
falling hissing fizzed failing filing happy sky relational conditional rational valenci hesitanci digitizer
conformabli radicalli differentli vileli analogousli vietnamization predication operator feudalism
decisiveness hopefulness callousness formaliti sensitiviti sensibiliti triplicate formative formalize
electriciti electrical hopeful goodness revival allowance inference airliner gyroscopic adjustable
defensible irritant replacement adjustment dependent adoption homologou communism activate angulariti
homologous effective bowdlerize probate rate cease controll roll generalizations oscillators sister
sisters lives living lived running runner marathon marathons birthday birthdays wedding weddings coffee
coffees doctors knee knees vegan vegetarian recipes baking baked bakery podcasts listening
"""
WORDS = WORDS_TEXT.split()


def test_porter_stem_agrees_with_the_fts5_porter_tokenizer() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'porter unicode61')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    words = list(dict.fromkeys(WORDS))
    conn.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", list(enumerate(words)))
    fts5 = dict(conn.execute("SELECT doc, term FROM v").fetchall())
    disagree = [(w, fts5[i], porter_stem(w)) for i, w in enumerate(words) if fts5[i] != porter_stem(w)]
    assert disagree == []
    assert len(words) > 100


def test_select_terms_keeps_the_rarest_within_the_budget_in_query_order() -> None:
    counts = {"coffe": 900, "lisbon": 3, "sister": 400, "marathon": 700}
    terms = ["coffee", "sister", "lisbon", "marathon", "zyzzyva"]
    assert select_terms(terms, counts, 1000) == ["sister", "lisbon", "zyzzyva"]  # 0 + 3 + 400; 700 would overflow
    assert select_terms(terms, counts, 10_000) == terms
    assert select_terms(["coffee"], counts, 100) == []  # a lone common word is not worth a search
    assert select_terms(["coffee", "unknownword"], counts, 0) == ["unknownword"]  # found nowhere: free
    assert select_terms([], counts, 10) == []


def _passage(agent_id: str, text: str) -> Passage:
    return Passage(id=ids.passage_id(), agent_id=agent_id, text=text, synopsis="")


async def test_common_words_are_left_out_of_passage_and_message_searches(store: SqliteStore) -> None:
    agent = await make_agent(store)
    other = await make_agent(store, "bob")
    # "coffee" is in 30 passages (some of another agent: counts are per database), "lisbon" in one
    await store.insert_passages([_passage(agent.id, f"we had coffee number {i}") for i in range(20)])
    await store.insert_passages([_passage(other.id, f"bob drinks coffee {i}") for i in range(10)])
    [lisbon] = await store.insert_passages([_passage(agent.id, "my sister moved to Lisbon with her coffees")])
    await store.append_messages([msg(agent.id, "user", f"coffee again, cup {i}") for i in range(30)]
                                + [msg(agent.id, "user", "I ran the Lisbon marathon")])
    await store.evict_messages(agent.id, through_seq=31)

    store.keyword_doc_budget = 10
    hits = await store.search_passages_text(agent.id, "coffee in Lisbon", limit=50)
    assert [h.passage.id for h in hits] == [lisbon.id]  # coffee alone no longer matches
    assert [pid for pid, _ in await store.search_passage_ids(agent.id, "coffee in Lisbon", limit=50)] == [lisbon.id]
    assert await store.search_passages_text(agent.id, "coffee?") == []
    mhits = await store.search_messages(agent.id, "coffee in lisbon", limit=50)
    assert [h.message.content for h in mhits] == ["I ran the Lisbon marathon"]
    assert await store.search_messages(agent.id, "COFFEE") == []

    store.keyword_doc_budget = 10_000  # a large budget keeps every word
    assert len(await store.search_passages_text(agent.id, "coffee in Lisbon", limit=50)) == 21
    assert len(await store.search_messages(agent.id, "coffee in lisbon", limit=50)) == 31


async def test_counts_follow_inserts_and_deletes(store: SqliteStore) -> None:
    agent = await make_agent(store)
    store.keyword_doc_budget = 3
    stored = await store.insert_passages([_passage(agent.id, f"piano lesson {i}") for i in range(4)])
    assert await store.search_passages_text(agent.id, "piano") == []  # 4 documents > 3
    await store.delete_passage(agent.id, stored[0].id)
    assert len(await store.search_passages_text(agent.id, "piano")) == 3
