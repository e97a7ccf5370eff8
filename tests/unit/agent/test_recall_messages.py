"""Stored messages (recall/text.py): a mail's headers are no speakers; a message's envelope (date line, sender line,
chat line head, mail headers and sign-off) is not what it says; change cues of messages that restate a plan."""

from __future__ import annotations

from voice_letta.agent.recall import speakers as S
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.cues import cues

MAIL = ("From: Orla Quinn <orla@quaysidelettings.ie>\nTo: Sam Reyes <sam@mail.com>\nDate: Tue, 10 Mar 2026 09:12\n"
        "Subject: Re: Flat 2\n\nHi Sam,\n\nBrendan will hand over the keys at the flat instead.\n\nKind regards,\n"
        "Orla Quinn\nQuayside Lettings | 021 455 0199")


def test_a_mail_with_its_headers_has_no_speakers_and_its_body_is_what_it_says() -> None:
    assert T.is_email(MAIL) and S.speakers(MAIL) == ()
    body = T.message_body(MAIL)
    assert body is not None and "hand over the keys" in body
    assert "Quayside" not in body and "orla@" not in body  # headers and the signature are the envelope
    # a mail pasted under the user's own line is the user's line
    pasted = "user: flights\n---\nFrom: bookings@air.example\nSubject: Your e-ticket\nOut 14 May 07:10"
    assert not T.is_email(pasted) and "user" in S.speakers(pasted)


def test_the_envelopes_of_exports_are_not_their_words() -> None:
    assert T.message_body("Nov 29, 2026  11:02 PM\nMe\nswap is fri in homeroom") == "swap is fri in homeroom"
    assert T.message_body("Jo Kimura  9:03 PM\nthe cup is at the sportsplex") == "the cup is at the sportsplex"
    assert T.message_body("[2026-11-22 22:30] Nadia: concert is 10 dec\n[2026-11-22 22:58] Me: ok") == (
        "concert is 10 dec\nok")
    # the sender of an exported message is its own line: a label in its body is no speaker ("secret santa: …")
    assert S.speakers("Nov 29, 2026  11:02 PM\nMe\nsecret santa: i got ethan") == ()
    assert S.speakers("Caroline: hi") == ("caroline",)
    # short days and months are time words: "fri nights" and "swap is fri" share no topic
    assert not T.body_terms("its fri nights 5-10") & T.body_terms("swap is fri in homeroom")
    # a chat export's JSON or XML message record: its text, not its sender, stamp or ids
    record = ('{"sender_name": "Joana Reis", "timestamp_ms": 1796560389412, '
              '"content": "the boiler engineer comes on Thursday morning"}')
    assert T.message_body(record) == "the boiler engineer comes on Thursday morning"
    sms = '<sms address="+27825550148" date="1795083641000" type="2" body="my car is the white Polo, CA 123-456" />'
    assert T.message_body(sms) == "my car is the white Polo, CA 123-456"
    assert T.message_body('{"name": "Ines", "phone": "0821234567"}') is None  # a contact record is no message
    # plain speech, a transcript and a note have none
    for text in ("user: I moved to Lisbon in May", "Caroline: hi\nMelanie: hello", "## Reno\n- Budget: $38,000"):
        assert T.message_body(text) is None
    # time words, greetings and titles say no topic two messages share
    assert T.body_terms("from next week, mrs ortiz said hi") == frozenset(T.term_ids("ortiz"))
    assert T.body_terms("4.2 ships") == frozenset(T.term_ids("4 2 ships"))


def test_a_message_that_restates_a_plan_says_a_change() -> None:
    for line in ("we're at the other fields now. Same day, first game 10:15", "still the 10th at 6",
                 "we settled at forty nine thousand", "counted again, it's fourteen kids",
                 "space 7 is being resurfaced, so please use no. 12", "si tita baby na lang ang kukuha ng box"):
        assert cues([line])[1][0], line
    for line in ("it was the same as ever", "we still talk every week", "I counted the kids"):
        assert not cues([line])[1][0], line


def test_a_change_updates_the_passage_it_shares_the_asked_word_with() -> None:
    import numpy as np

    from voice_letta.agent.recall.index import PassageIndex
    from voice_letta.agent.recall.vector import SearchWindow

    # the change is more like the brunch line (0.7) than the room's (0.6), beyond CUE_BEST_MARGIN, but says "room"
    # with the room's line only: it is that line's new version (test8: "What room is por por in?")
    room, brunch = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    moved = [0.6, 0.7, float(np.sqrt(1 - 0.36 - 0.49))]
    texts = ["user: nana lives at Oakview care home, room 12", "user: every sunday we do brunch with nana at the cafe",
             "user: nana fell, they moved her to room 31 on the ground floor"]
    index = PassageIndex("m", 3)
    at = [1_000_000.0, 1_000_000.0 + 86400, 1_000_000.0 + 20 * 86400]
    index.add(["p0", "p1", "p2"], texts, [""] * 3, at, at, np.array([room, brunch, moved], dtype=np.float32),
              [True] * 3)
    query = np.array([[0.6, 0.6, float(np.sqrt(1 - 0.72))]], dtype=np.float32)
    ranked = index.rank(query, ["What room is nana in?"], SearchWindow(None, None), limit=3, speaker="user")
    assert ranked[0].passage_id == "p2" and ranked[0].previous == ("p0",), [(r.passage_id, r.previous) for r in ranked]
