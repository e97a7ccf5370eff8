"""recall/asked.py: another day of the week, a time of day asked and none said, the asked thing as another holder's,
no way back; and the kind a question asks when a title has a period (recall/quantity.py)."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall.asked import (
    envelope_phone,
    no_measure,
    no_place,
    no_price,
    no_time_of_day,
    no_way_back,
    only_arrival,
    only_sending,
    other_sender_phone,
    other_sum,
    other_weekday,
    weekdays,
)
from voice_letta.agent.recall.holders import other_holder_of, other_role_holder
from voice_letta.agent.recall.quantity import CLOCK, MONEY, PHONE, asked_kind, kinds_of_text


@pytest.mark.parametrize(("text", "days"), [
    ("swimming is mondays and wednesdays", {0, 2}),
    ("I work monday to thursday", {0, 1, 2, 3}),
    ("| Tue | intervals |\n| Thu | tempo |", {1, 3}),
    ("open Mon-Fri", {0, 1, 2, 3, 4}),
    ("friday till monday at the cottage", {4, 5, 6, 0}),
    ("we sat in the sun all afternoon", set()),
    ("booked for sat 12 dec", {5}),
])
def test_the_days_of_the_week_a_text_names(text: str, days: set[int]) -> None:
    assert weekdays(text) == days


@pytest.mark.parametrize(("question", "text", "other"), [
    ("What time is swimming on Thursdays?", "user: swimming is mondays and wednesdays at six", True),
    ("What time is swimming on Wednesdays?", "user: swimming is mondays and wednesdays at six", False),
    ("What time is the school run on Tuesday?", "user: I do the school run monday to friday at eight", False),
    ("What time is the gym on Saturday?", "user: the gym is open every day from six", False),
    ("What time is the run on Sunday?", "| Sun | long run |", False),
    ("What time is swimming?", "user: swimming is mondays at six", False),  # no day asked
    ("Do I have swimming on Thursdays?", "user: swimming is mondays and wednesdays", False),  # yes/no: "no" answers
    ("What did I do on Thursday?", "user: swimming on monday was cold", False),  # the past: a window
    ("What time is swimming on Thursdays?", "user: swimming is at six, it's lovely", False),  # no day said
])
def test_another_day_of_the_week(question: str, text: str, other: bool) -> None:
    assert other_weekday(question, text) is other


@pytest.mark.parametrize(("question", "text", "before", "lacking"), [
    ("What time does the party start?", "user: the party is at the bowling alley on saturday the thirteenth", 0, True),
    ("What time does the party start?", "user: the party starts at two at the bowling alley", 0, False),
    ("What time does the party start?", "user: half past two", CLOCK, False),  # the line before says the time
    ("What time is dinner?", "user: dinner is in the evening, around half seven", 0, False),
    ("When is the party?", "user: the party is on saturday the thirteenth", 0, False),  # a day will do
])
def test_a_time_of_day_asked(question: str, text: str, before: int, lacking: bool) -> None:
    assert no_time_of_day(question, text, before) is lacking


@pytest.mark.parametrize(("question", "text", "other"), [
    ("What is Priya allergic to?", "[18/11/2026, 08:40] Priya: gran's allergic to walnuts btw", True),
    ("What is Priya allergic to?", "Priya: I'm allergic to walnuts, gran's allergic to nothing", False),
    ("What is Priya allergic to?", "Tom: priya's allergic to walnuts, gran's fine", False),
    ("What is gran allergic to?", "[18/11/2026, 08:40] Priya: gran's allergic to walnuts btw", False),
    ("What's the wifi password at Sam's?", "user: the cabin's wifi password is pinecone77", True),
    ("What is Priya allergic to?", "user: she's allergic to walnuts", False),  # a pronoun may be Priya
    ("What is my wifi password?", "user: the cabin's wifi password is pinecone77", False),  # the user's cabin
    ("Am I allergic to anything?", "user: gideon is allergic to shellfish", True),  # the user asked: gideon's
    ("Am I allergic to anything?", "user: I'm allergic to nuts and gideon is allergic to shellfish", False),
    ("How much is my rent?", "user: the flat's rent is 900", False),  # the user's own flat
    ("What time is my flight?", "Ana: dad's flight lands at 9", False),  # someone else's line: not the user's words
    ("What is Audrey's tip for the dogs?", "Audrey: regular grooming is a tip I swear by", False),  # her own line
    ("What is Priya allergic to?", "Priya: honestly gran is allergic to walnuts", True),
    ("How much warfarin is my dad on?", "Walter's warfarin was lowered to 2 mg", False),  # a role said by name
    ("What was Dad's latest INR?", "The lab wants Walter's INR weekly; latest 2.9", False),
    # the user asked; "my" said, but of the user's person (QA, session 18: 0.95, 0.96 and 0.54 before)
    ("What's my locker number?", "user: my sister Orla's locker at school is number 14", True),
    ("What is my shoe size?", "user: my husband's shoe size is 44", True),
    ("What car do I drive?", "user: my boss's car is a Tesla", True),
    ("What's my locker number?", "user: my locker is number 14", False),
    ("Which locker is mine?", "user: my sister Orla's locker at school is number 14", True),
    ("Which locker is mine?", "user: my locker is number 14", False),
    ("What's my locker number?", "user: my new locker is 221, my sister's is 14", False),
    ("What car do I drive?", "user: I drive a Corolla, my husband's car is a Ford", False),
    ("What is my wife's job?", "user: my wife's job is nursing", False),  # the role asked is the holder said
    # a role asked for with "who" is the asked thing, not its holder (QA, session 18: 0.73)
    ("Who is my teacher?", "user: my son Cian's teacher is Ms Byrne", True),
    ("Who's my dentist?", "user: my wife's dentist is Dr Lee on Main Street", True),
    ("Who is my teacher?", "user: my teacher is Ms Byrne", False),
    ("Who is my son's teacher?", "user: my son Cian's teacher is Ms Byrne", False),
])
def test_the_asked_thing_as_another_holders(question: str, text: str, other: bool) -> None:
    assert other_holder_of(question, text) is other


@pytest.mark.parametrize(("question", "text", "none"), [
    ("When does Dev fly back to Mumbai?", "Ana: we have the back room\nAna: Dev can't make it, he's in Mumbai", True),
    ("When does Dev fly back to Mumbai?", "Ana: Dev's flying back on the 3rd", False),
    ("When does Dev fly back to Mumbai?", "Ana: Dev's return flight is the BA 139", False),
    ("When does Dev fly back to Mumbai?", "Ana: Dev is back in Mumbai by the 9th", False),
    ("When does Dev fly to London?", "Ana: we have the back room", False),  # no way back asked
])
def test_no_way_back(question: str, text: str, none: bool) -> None:
    assert no_way_back(question, text) is none


def test_a_title_with_a_period_still_asks_its_kind() -> None:
    assert asked_kind("What's Dr. Wong's phone number?") == PHONE
    assert asked_kind("What is Mr. Okafor's phone number?") == PHONE


@pytest.mark.parametrize(("question", "text", "other"), [
    ("What is the deposit on the flat?", "user: rent on the flat is 98,000 yen a month", True),
    ("How much is my car insurance?", "user: net is £3,750 now, £350 more into the holiday fund", True),
    ("How much is the rent on the flat?", "user: rent on the flat is 98,000 yen a month", False),
    ("What's the bond on the rental?", "user: we paid a bond of $1,960, rent's $490 a week", False),  # both said
    ("How much is the deposit?", "user: the flat is 98,000 yen a month", False),  # no other kind said
    ("What is the deposit on the flat?", "user: rent on the flat is due on the 27th", False),  # no money given
    ("How much does the plumber charge?", "user: the plumber's rent is $900", False),  # a price: any kind
    ("What's my salary?", "user: I'm on 45k plus a 5k bonus", False),  # an add-on said beside the main sum
])
def test_a_sum_of_another_kind(question: str, text: str, other: bool) -> None:
    assert other_sum(question, text) is other


def test_a_currency_sign_makes_a_sum_whatever_its_unit() -> None:
    assert kinds_of_text("- [x] phone moved to Fido, $38/mo") & MONEY
    assert not kinds_of_text("due on 14/12") & MONEY


@pytest.mark.parametrize(("query", "text", "flagged"), [
    ("When is mama's dentist appointment?", "user: the clinic called, dad's dental appointment is now the 9th", True),
    ("When is my sister's flight?", "user: my brother's flight lands at six", True),
    ("When is mama's dentist appointment?", "user: mum's dental appointment is now the 9th", False),  # the same role
    ("When is mama's dentist appointment?", "user: dad's appointment moved, mum's is still the 9th", False),  # said
    ("How much warfarin is my dad on?", "Walter's warfarin is 5mg now", False),  # a role may be said by name
    ("When is mama's dentist appointment?", "user: dad's car is booked in for the 9th", False),  # another thing
])
def test_another_of_the_users_people(query: str, text: str, flagged: bool) -> None:
    assert other_role_holder(query, text) is flagged


_MAIL = ("From: Harbour Removals <jobs@harbourremovals.co.uk>\nTo: Ines Costa <ines@example.com>\n"
         "Date: Mon, 7 Dec 2026 10:02\nSubject: Your move\n\nHi Ines,\n\nWe'll be with you on 14 December at 8am. "
         "Your driver is Gareth.\n\nKind regards,\nHarbour Removals\nT: 0161 496 0321 | M: 07700 900 412")


def test_a_number_in_another_senders_signature() -> None:
    assert other_sender_phone("What's Gareth's phone number?", _MAIL)
    assert not other_sender_phone("What's the number for Harbour Removals?", _MAIL)  # the sender's own
    in_body = _MAIL.replace("Your driver is Gareth.", "Your driver is Gareth, on 07700 900 777.")
    assert not other_sender_phone("What's Gareth's phone number?", in_body)  # given in the body: his
    signed = _MAIL.replace("Kind regards,\nHarbour Removals", "Kind regards,\nGareth Lloyd, Harbour Removals")
    assert not other_sender_phone("What's Gareth's phone number?", signed)
    assert not other_sender_phone("When is Gareth coming?", _MAIL)  # no number asked
    assert not other_sender_phone("What's Gareth's phone number?", "Gareth says the van is booked, 0161 496 0321")


@pytest.mark.parametrize(("query", "text", "flagged"), [
    ("When does the parcel arrive in Lagos?", "user: the parcel ships on the twelfth from the depot", True),
    ("When will the sofa be delivered?", "user: the sofa was dispatched from the warehouse on monday", True),
    ("When does the parcel arrive in Lagos?", "user: the parcel ships on the 12th, due in Lagos on the 20th", False),
    ("When does the parcel ship?", "user: the parcel arrives on the 20th", False),  # recall/opposites.py's
    ("Does the parcel arrive before Christmas?", "user: the parcel ships on the twelfth", False),  # yes/no
])
def test_an_arrival_asked_only_the_sending_said(query: str, text: str, flagged: bool) -> None:
    assert only_sending(query, text) is flagged


@pytest.mark.parametrize(("query", "text", "flagged"), [
    ("Where is Ilse's pottery course?", "user: ilse is going down to three days, she's started a pottery course", True),
    ("Where does Sam park at work?", "Sam has moved to day shifts from December, 7am to 3pm.", True),
    ("Where is Ilse's pottery course?", "user: ilse's pottery course is at the arts centre on mondays", False),
    ("Where does my sister live?", "user: my sister moved to denver in may", False),
    ("Where's my apartment?", "user: new place is 1418 alvarado st apt 3B", False),  # an address
    ("Where is the spare key?", "user: spare key's under the blue pot", False),
    ("Where does Sam work?", "user: Sam started at Brightwell last week", False),  # a name inside the sentence
    ("When is Ilse's pottery course?", "user: ilse started a pottery course", False),  # no place asked
])
def test_a_place_asked_needs_one_said(query: str, text: str, flagged: bool) -> None:
    assert no_place(query, text) is flagged


def test_a_role_in_the_asked_thing_is_not_the_holder() -> None:
    # "Nadia's dentist appointment": Nadia holds it; "dentist" says what it is
    text = "[2026-11-25 00:20] Nadia: dentist rang, Kofi's appointment is now the 27th same time"
    assert other_holder_of("When is Nadia's dentist appointment?", text)
    # a role that holds it may be said by name (recall/roles.py's)
    assert not other_holder_of("How much warfarin is my dad on?", "Walter's warfarin is five milligrams now")
    assert not other_holder_of("What is Dad's INR?", "Walter's INR was 2.4 on monday")


@pytest.mark.parametrize(("query", "text", "flagged"), [
    ("When does Ilse leave Porto?", "user: my cousin Ilse comes from Porto on the 3rd, I'll get her", True),
    ("What time does the ferry leave?", "user: the ferry lands in Naxos at 14:20", True),
    ("When does Ilse leave Porto?", "user: Ilse leaves Porto on the 3rd and arrives here at 9", False),
    ("When does Ilse arrive?", "user: Ilse comes from Porto on the 3rd", False),
    ("When does the ferry leave?", "user: the ferry to Naxos is at 7:40 from pier 2", False),
])
def test_a_departure_asked_only_the_arrival_said(query: str, text: str, flagged: bool) -> None:
    assert only_arrival(query, text) is flagged


@pytest.mark.parametrize(("query", "text", "flagged"), [
    ("When is Kemal's dentist appointment?", "user: kemal rang the clinic and moved my dentist appointment to friday",
     True),
    ("When is Kemal's dentist appointment?", "user: kemal moved his dentist appointment to friday", False),
    # the speaker says who they are: "my" is theirs
    ("When is Kemal's dentist appointment?", "user: it's kemal, my dentist appointment is friday at 3", False),
    # the question asks about the user's own thing too
    ("What are my shifts at Scoops?", "user: scoops changed my shifts to friday nights", False),
])
def test_the_asked_thing_said_as_the_speakers_own(query: str, text: str, flagged: bool) -> None:
    assert other_holder_of(query, text) is flagged


def test_a_number_in_a_messages_envelope_is_its_correspondents() -> None:
    sms = ('<sms address="+27825550148" date="1795277441000" type="1" body="Plumber is Sipho from QuickFix, he&apos;ll '
           'come Thursday 10am" readable_date="21 Nov 2026 18:10:41" contact_name="Mr Pieterse (landlord)" />')
    assert envelope_phone("What's Sipho's phone number?", sms)
    assert not envelope_phone("What's my landlord's phone number?", sms)
    assert not envelope_phone("When is Sipho coming?", sms)
    told = sms.replace("Plumber is Sipho from QuickFix", "Plumber is Sipho, 082 555 0199")
    assert not envelope_phone("What's Sipho's phone number?", told)
    assert not envelope_phone("What's Sipho's phone number?", "user: the plumber is Sipho, from +27825550148")


@pytest.mark.parametrize(("question", "text", "lacking"), [
    ("How much did the new membrane cost?", "Ros — new membrane in, watermaker back to 60 L/h", True),
    ("How much was the new dinghy lock?", "Pete — new dinghy lock, 2908, the old one seized with salt", True),
    ("How much did the new membrane cost?", "Ros — new membrane in, cost us 340 but worth it", False),
    ("How much did the new membrane cost?", "new membrane in, $340", False),
    ("How much did the deposit cost?", "user: paid the deposit to the tenant's agent, won't try that again", True),
    ("How much was the new dinghy lock?", "new dinghy lock was forty quid", False),
    ("How much did I pay for the bike?", "user: got the bike for 450 off a guy in Leith", False),
    ("How much is my rent?", "user: rent is 900 a month", False),  # no word of paying asked: other_sum's
    ("How do I pay rent?", "user: rent goes by standing order on the first", False),  # how, not how much
    ("When was the bride-price meeting?", "user: the bride-price talks went well", False),
    ("How much did I pay Lalamove?", "GCash: You have sent PHP 4,200.00 to LALAMOVE PH on 03-12-2026", False),
    ("How much were the Bullitts each?", "ordered 3 Bullitt cargo bikes, kr 24.500 each", False),
    ("How much did the hearing aid repair cost?", "hearing aid back. Forty thousand pesos, highway robbery", False),
])
def test_a_price_asked_and_none_said(question: str, text: str, lacking: bool) -> None:
    assert no_price(question, text) is lacking


@pytest.mark.parametrize(("question", "text", "lacking"), [
    ("What did calf 702 weigh?", "Luis 5am - 3 heifer calves overnight! 701, 702, 703. 702 is small, bottle-fed", True),
    ("What did calf 702 weigh?", "702 weighed 38 at birth", False),
    ("What did calf 702 weigh?", "702 came in at 38kg", False),
    ("What depth did we anchor in?", "Thursday 1400 anchored Sandy Island, 6 h 10 min, saw 22 kn", True),
    ("What depth did we anchor in at Sandy Island?", "anchored Sandy Island in 6m of water", False),
    ("How far is the trailhead?", "it's a twenty minute drive from the cabin", False),  # a distance said as a time
    ("How far is the trailhead?", "the trailhead is up past the lake", True),
    ("How long is the drive?", "the drive is up past the lake", False),  # "how long" may be a time: not judged
])
def test_a_measure_asked_and_none_said(question: str, text: str, lacking: bool) -> None:
    assert no_measure(question, text) is lacking


@pytest.mark.parametrize(("question", "text", "lacking"), [
    # a word of paying about something else in the same note; "at 6 pm" is a time, not what something went for
    ("How much did the Peterbilt headlight repair cost?",
     "Ray's 105 at Peterbilt for the headlight, rolling again 1pm. 4490 late, Kellogg's charged no fine", True),
    ("How much did 1005's renovation permit cost?", "1005 has a renovation permit; work stops at 6 pm", True),
    ("What concentration of dexamethasone did I use?", "Started the 24 h dexamethasone time course, samples at 0, 3, 6",
     True),
    ("What concentration of dexamethasone did I use?", "dex at 100 nM in the media", False),
    ("What dose of warfarin is dad on?", "dad's on five milligrams of warfarin now", False),
    ("How many miles are on Dee's truck?", "Marcus out of hours till Tue (34 hr reset). Dee takes truck 112", True),
    ("How many miles are on Dee's truck?", "Dee's truck 112 is at 412,000 miles", False),
])
def test_a_price_or_measure_asked_and_said_of_something_else(question: str, text: str, lacking: bool) -> None:
    assert (no_price(question, text) or no_measure(question, text)) is lacking
