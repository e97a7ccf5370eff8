"""Records read by their layout (recall/layouts.py, recall/records.py): Markdown tables, CSV, JSON objects, key: value
records; their holders; which later record is a new version; questions that offer two values (facts.choice_of)."""

from __future__ import annotations

from voice_letta.agent.recall import speakers as S
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.cues import change_kinds
from voice_letta.agent.recall.facts import choice_of
from voice_letta.agent.recall.layouts import FIELDS, LINES, chunk_lines, layout_items
from voice_letta.agent.recall.quantity import DAY, MONEY
from voice_letta.agent.recall.records import items, other_holder, same_holder

TABLE = ("## Subscriptions\n| service | provider | price | renews |\n|---|---|---|---|\n"
         "| streaming | Flixo | $15.99 | 1st |\n| music | Tunely | $9.99 | 20th |\n| cloud | Skybox | $2.99 | 8th |")


def test_a_markdown_table_is_one_item_per_row_held_by_its_first_cell() -> None:
    rows = items(TABLE)
    assert [r.shape for r in rows] == [4, 4, 4]
    assert [r.holder for r in rows] == [frozenset(T.term_ids(w)) for w in ("streaming", "music", "cloud")]
    # a row holds the header's words: "provider: Flixo"
    assert set(T.term_ids("provider price flixo")) <= rows[0].terms and rows[0].person
    assert not set(T.term_ids("tunely")) & rows[0].terms
    # an abbreviated day is the day ("What do I do on Thursdays?"), the holder stays as written
    week = items("## Week\n| day | class |\n|---|---|\n| Tue | spin |\n| Thu | yoga at the hall |")
    assert set(T.term_ids("thursday")) <= week[1].terms and week[1].holder == frozenset(T.term_ids("thu"))


def test_a_bare_row_said_later_is_a_new_version_of_its_row_only() -> None:
    table, row = items(TABLE), items("| streaming | Vidflix | $12.99 | 15th |")
    assert same_holder(table, row) and not other_holder(table, row)
    assert not same_holder(table, items("| streaming | Flixo | $15.99 | 1st |"))  # says nothing new
    # another row of as many columns is another thing; another number of columns says nothing either way
    assert other_holder(table, items("| gym | Pulse | $30 | 3rd |"))
    assert not same_holder(table, items("| streaming | Vidflix |")) and not other_holder(table, items("| a | b |"))


def test_csv_blocks_and_bare_csv_lines_are_rows() -> None:
    block = items("service,provider,price,renews\nstreaming,Flixo,15.99,1st\nmusic,Tunely,9.99,20th")
    assert [r.holder for r in block] == [frozenset(T.term_ids(w)) for w in ("streaming", "music")]
    assert same_holder(block, items("streaming,Vidflix,12.99,15th"))
    # prose with commas is no CSV: a spoken line, a list in a sentence, lines of speech
    assert items("I bought eggs, milk, bread") == ()
    assert [i.shape for i in items("user: oh, well, ok\nassistant: sure, fine, great")] == [LINES, LINES]


def test_a_json_object_is_a_field_record_held_by_its_kind_and_name() -> None:
    visit = items('{"kind": "appointment", "with": "Dr Lund", "what": "check-up", "date": "2027-01-12", '
                  '"time": "09:15"}')
    assert {f.shape for f in visit} == {FIELDS} and len(visit) == 5
    assert visit[0].holder == frozenset(T.term_ids("appointment Dr Lund"))
    moved = items('{"kind": "appointment", "with": "Dr Lund", "what": "check-up", "date": "2027-01-19", '
                  '"time": "11:00", "note": "they rang to move it"}')
    assert same_holder(visit, moved) and not other_holder(visit, moved)
    # the same person as a contact, another pet of the same kind: other things
    assert other_holder(visit, items('{"kind": "contact", "name": "Dr Lund", "phone": "0301 555 0101"}'))
    mochi = items('{"type": "pet", "name": "Mochi", "species": "cat", "vet": "Dr Lund"}')
    assert other_holder(mochi, items('{"type": "pet", "name": "Pepper", "species": "cat", "vet": "Dr Lund"}'))
    # a nested object's fields, a list's values
    car = items('{"kind": "vehicle", "model": "Skoda Fabia", "insurance": {"insurer": "Aviva", '
                '"renews": "2027-03-01"}, "drivers": ["me", "Sam"]}')
    assert set(T.term_ids("insurance insurer aviva")) <= car[2].terms and car[4].person
    assert car[0].holder == frozenset(T.term_ids("vehicle Skoda Fabia"))
    # not an object: no items, and a JSON list or a broken object is left alone
    assert items('["a", "b"]') == () and layout_items('{"kind": "x", "name": ') == ()


def test_key_value_records_are_field_records_and_no_speakers_lines() -> None:
    text = "kind: appointment\nwith: Dr Lund\ndate: 2027-01-12\nprice_eur: 60"
    assert S.speakers(text) == () and [f.key for f in items(text)][3] == frozenset(T.term_ids("price eur"))
    assert S.speakers('{"kind": "contact", "name": "Dr Lund"}') == ()
    # a transcript stays a transcript: names are capitalised, roles are speakers, a label said twice is a speaker's
    assert S.speakers("Ana: booked the hall\nTom: great") == ("ana", "tom")
    assert S.speakers("user: the plumber is dave\nassistant: noted") == ("user", "assistant")
    assert S.speakers("marco: on my way\nmarco: running late") == ("marco",)
    assert S.speakers("hello there\nmarco: on my way\njess: ok") == ("marco", "jess")  # no key names a field
    # keys cased as a form's ("Name:", "Phone:") when most of them name fields; a first line without a value is the
    # title, and holds the record with its kind
    card = items("Dentist appointment\nDate: 2027-01-12\nTime: 09:15\nWith: Dr Lund")
    assert S.speakers("Dentist appointment\nDate: 2027-01-12\nTime: 09:15\nWith: Dr Lund") == ()
    assert [f.shape for f in card] == [FIELDS] * 4 and card[0].holder == frozenset(T.term_ids("Dentist appointment"))
    # a Markdown note keeps its own reading (records.items: list items, no holder)
    assert [f.shape for f in items("## Boiler\nEngineer: Tom Bright\nNext: power flush")] == [-1, -1]


def test_a_question_that_offers_two_values() -> None:
    assert choice_of("Am I on mornings or afternoons?") == (frozenset(T.term_ids("mornings")),
                                                            frozenset(T.term_ids("afternoons")))
    assert choice_of("Do I take the bus or the train to work?") is None  # the values are not at the end
    assert choice_of("Do I take the bus or the train?") == (frozenset(T.term_ids("bus")),
                                                           frozenset(T.term_ids("train")))
    assert choice_of("Is Ana coming or not?") is None and choice_of("What time is the party?") is None


def test_json_lines_arrays_calendar_entries_and_tsv_are_records_too() -> None:
    mochi = items('{"kind": "pet", "name": "Mochi", "food": "renal diet"}')
    one, two = '{"kind": "pet", "name": "Mochi", "food": "kibble"}', '{"kind": "pet", "name": "Pepper", "food": "wet"}'
    for text in (f"[{one}, {two}]", f"{one}\n{two}"):
        pets = items(text)
        assert S.speakers(text) == () and len(pets) == 6 and same_holder(pets, mochi) and not other_holder(pets, mochi)
    # a calendar entry: its UID or SUMMARY holds it, a moved DTSTART is a new version, another event is not
    event = "BEGIN:VEVENT\nUID:e1@cal\nSUMMARY:Dentist\nDTSTART;TZID=Europe/Berlin:20270112T091500\nEND:VEVENT"
    assert S.speakers(event) == () and len(items(event)) == 5
    assert same_holder(items(event), items(event.replace("20270112T091500", "20270119T110000")))
    assert other_holder(items(event), items("BEGIN:VEVENT\nUID:e2@cal\nSUMMARY:Haircut\nDTSTART:20270110T100000"))
    # a TSV block and a later TSV line
    block = items("service\tprovider\tprice\nstreaming\tFlixo\t15.99\nmusic\tTunely\t9.99")
    assert len(block) == 2 and same_holder(block, items("streaming\tVidflix\t12.99"))


def test_a_chunk_of_speech_is_one_item_a_line() -> None:
    standup = chunk_lines("[09:01] Lena: the billing export is mine\n[09:02] Raj: I'll take the flaky tests")
    assert [i.shape for i in standup] == [LINES, LINES] and set(T.term_ids("flaky tests")) <= standup[1].terms
    assert not set(T.term_ids("lena")) & standup[0].terms  # the label is no word of the line
    # a question and the line answering it are one: an exchange is one fact
    assert chunk_lines("assistant: What are you driving?\nuser: a white corolla") == ()
    assert len(chunk_lines("user: new client, Hoshino\nassistant: What rate did you [cut off]\nuser: 4 yen")) == 2
    # prose and one-line passages are no chunks
    assert chunk_lines("user: hi") == ()
    assert chunk_lines("Walter takes metoprolol.\nHis cardiologist is Dr Kahale.") == ()


def test_the_kind_of_value_a_change_gives_is_read_next_to_its_cue() -> None:
    kinds = change_kinds(["Finance check-in, 4 Dec. The January ad spend is cut to €5,000 after the Q4 review.",
                          "Weekly sync, 30 Nov. The release slips to 28 January: the payments provider needs time.",
                          "Weekly sync, 23 Nov. Felix takes over the migration script.", "user: my rent is 900"])
    assert kinds[0] & MONEY and not kinds[0] & DAY  # the heading's date is no value the change gives
    assert kinds[1] & DAY and not kinds[2] and not kinds[3]  # no value next to the cue: none read
