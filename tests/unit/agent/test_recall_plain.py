"""A passage's words without its format (recall/plain.py): what its vector and keyword terms are taken from."""

from __future__ import annotations

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.plain import embedding_text, message_parts, plain


def test_plain_text_is_returned_as_it_is() -> None:
    for text in ("user: the dentist moved me to friday, 3pm", "Kitchen: tiles, grout, sealant, paint, brushes",
                 "user: hi, yes, ok\nassistant: sure, fine, thanks", "{not json at all", "<3 you, see you at 5"):
        assert plain(text) == text


def test_a_chat_exports_message_object_gives_its_sender_text_and_date_not_its_keys_and_ids() -> None:
    record = ('{"id": 9120, "type": "message", "date": "2027-03-02T08:15:40", "date_unixtime": "1803975340", '
              '"from": "Ilse Brandt", "from_id": "user4470021", "text": ["the boiler man comes ", '
              '{"type": "mention", "text": "@ruud"}, " on friday at 8, not thursday"]}')
    words = plain(record)
    assert words.startswith("Ilse Brandt: the boiler man comes @ruud on friday at 8, not thursday")
    assert words.endswith("2 March 2027, 08:15")  # a date said as words: "2027-03-02" read as digits is a phone
    for noise in ("9120", "1803975340", "user4470021", "from_id", "unixtime", "{", '"'):
        assert noise not in words


def test_an_sms_backup_element_gives_its_body_and_contact_with_entities_decoded() -> None:
    element = ('<sms protocol="0" address="+4915112345678" date="1803975340000" type="1" subject="null" '
               'body="Hausmeister kommt Mo 9 Uhr, bitte Keller aufschlie&#223;en &amp; Z&#228;hler ablesen" '
               'toa="null" sc_toa="null" read="1" status="-1" locked="0" date_sent="0" '
               'readable_date="02.03.2027 09:15:40" contact_name="Frau Wolff" />')
    words = plain(element)
    assert words.startswith("Hausmeister kommt Mo 9 Uhr, bitte Keller aufschließen & Zähler ablesen")
    assert "Frau Wolff" in words and "02.03.2027" in words
    for noise in ("protocol", "toa", "null", "1803975340000", "locked", "&amp;", "<sms"):
        assert noise not in words


def test_a_form_keeps_its_keys_because_they_say_what_a_short_value_is() -> None:
    words = plain('{"kind": "subscription", "service": "climbing gym", "price_eur": 59.0, "billing_day": 3, '
                  '"uuid": "0f8fad5b-d9cb-469f-a165-70867728950e", "active": true}')
    assert words == "kind subscription, service climbing gym, price eur 59.0, billing day 3"


def test_an_html_mail_body_gives_its_text_without_tags_scripts_or_styles() -> None:
    mail = ('<html><head><style>p {color: red}</style></head><body><p>Dear Ms Okafor,</p><p>Your MRI at '
            '<b>St Luke&rsquo;s</b> is now on <i>Tuesday 14 April, 7:40am</i>.</p><script>track()</script></body>'
            '</html>')
    assert plain(mail) == "Dear Ms Okafor,\nYour MRI at St Luke’s is now on Tuesday 14 April, 7:40am."


def test_a_calendar_event_gives_its_summary_place_people_and_times() -> None:
    event = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:7hs9d@cal.example\r\nDTSTAMP:20270301T100000Z\r\n"
             "SUMMARY:Parent-teacher meeting (Ms Dube)\r\nDTSTART;TZID=Africa/Harare:20270311T153000\r\n"
             "LOCATION:Room 12\\, Borrowdale Primary\r\nORGANIZER;CN=Thandeka Dube:mailto:tdube@school.example\r\n"
             "END:VEVENT\r\nEND:VCALENDAR")
    assert plain(event) == "Parent-teacher meeting (Ms Dube), 11 March 2027, 15:30, Room 12, Borrowdale Primary, " \
                           "Thandeka Dube"


def test_csv_rows_give_their_values_with_the_headers_words() -> None:
    table = "date;amount;payee\n2027-02-27;64,20;Stadtwerke Gas\n2027-02-28;12,99;Spotify"
    assert plain(table).splitlines() == ["date 27 February 2027, amount 64,20, payee Stadtwerke Gas",
                                         "date 28 February 2027, amount 12,99, payee Spotify"]


def test_keyword_terms_and_embedding_text_come_from_the_words() -> None:
    record = '{"id": 5531, "from": "Ruud", "from_id": "user77", "text": "the plumber is now Bas from Aquafix"}'
    terms = T.terms(T.passage_document(record, "synopsis words"))
    assert "plumber" in terms and "5531" not in terms and "user77" not in terms and "from_id" not in terms
    assert embedding_text(record, "") == "Ruud: the plumber is now Bas from Aquafix"
    # the vector's words leave out an envelope's numbers and dates (its names stay); the keyword terms keep them
    sms = ('<sms address="+27825550148" date="1795277441000" type="1" body="Plumber is Sipho from QuickFix, he will '
           'come Thursday 10am" readable_date="21 Nov 2026 18:10:41" contact_name="Mr Pieterse (landlord)" />')
    said = "Plumber is Sipho from QuickFix, he will come Thursday 10am"
    assert embedding_text(sms, "") == f"{said} Mr Pieterse (landlord)"
    assert "+27825550148" in plain(sms) and "21 Nov 2026 18:10:41" in plain(sms)


def test_an_exports_messages_and_html_bodies_give_their_text_and_sender() -> None:
    teams = ('{"id": "1616990032035", "replyToId": null, "etag": "1616990032035", "messageType": "message", '
             '"createdDateTime": "2027-03-02T09:14:05.123Z", "importance": "normal", "from": {"application": null, '
             '"user": {"id": "8ea0e38b-efb3-4757-924a-5f94061cf8c2", "displayName": "Robin Kline"}}, '
             '"body": {"contentType": "html", "content": "<p>The offsite moved to the <b>Harbour Room</b>, '
             'Thursday 9:30.</p>"}, "attachments": []}')
    assert plain(teams) == "Robin Kline: The offsite moved to the Harbour Room, Thursday 9:30. 2 March 2027, 09:14"
    chat = ('{"name": "Lima family", "messages": [{"creator": {"name": "Ana Lima", "email": "ana@example.com"}, '
            '"created_date": "Tuesday, 2 March 2027 at 09:14:05 UTC", "text": "the piano tuner comes on friday at '
            'four", "topic_id": "uHx7cQ2bQ"}]}')
    assert message_parts(chat) == ("the piano tuner comes on friday at four",
                                   "Ana Lima\nana@example.com\nTuesday, 2 March 2027 at 09:14:05 UTC")
    assert message_parts('{"kind": "contact", "name": "Ines", "phone": "+55 11 3081 2290"}') is None
    assert message_parts("user: my phone is 07700 900 412") is None


def test_a_text_exports_stamps_go_only_when_asked_and_senders_stay() -> None:
    export = "[11/27/2026 7:12 PM] kaiwen.lim\ncan someone cover vesper on the 19th?\n" \
             "26/11/2026, 14:12 - Tía Luz: la novena es en la casa de Andrés\nJo Kimura  9:40 PM\nwork trip that week"
    assert plain(export) == export
    assert plain(export, stamps=True).splitlines() == [
        "kaiwen.lim", "can someone cover vesper on the 19th?", "Tía Luz: la novena es en la casa de Andrés",
        "Jo Kimura", "work trip that week"]


def test_hostile_text_is_read_as_text() -> None:
    for text in ("[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000, "<a>" * 3000 + "</a>" * 3000,
                 "a,b,c\n1,2\x00,3\n4,5,6", "<!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>", '{"date": "2026-13-45"}'):
        plain(text)
        message_parts(text)
        embedding_text(text, "")
    assert plain("[" * 5000 + "]" * 5000) == "[" * 5000 + "]" * 5000
