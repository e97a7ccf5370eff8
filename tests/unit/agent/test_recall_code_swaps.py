"""Codes of one series said together (recall/cues.py ``code_swaps``) and mail headers told by their shape in any
language (recall/mails.py ``is_email``)."""

from __future__ import annotations

from voice_letta.agent.recall.cues import code_swaps
from voice_letta.agent.recall.speakers import speakers
from voice_letta.agent.recall.text import is_email, message_body, term_ids


def _id(code: str) -> int:
    return term_ids(code)[0]


def test_two_codes_of_one_series_name_each_other_in_any_script() -> None:
    found = set(code_swaps("แอร์เอเชียยกเลิกไฟลท์ FD3437 ย้ายเราไป FD3441 ออก 10:40 นะ"))
    assert found == {(_id("fd3437"), _id("fd3441")), (_id("fd3441"), _id("fd3437"))}
    # another series (other letters, other length) is no successor: the connecting flight of an itinerary
    assert code_swaps("KL1167 Amsterdam 06:55, then AY531 to Rovaniemi") == ()
    assert set(code_swaps("uw vlucht KL1167 … AY531 is omgeboekt naar AY535")) == {
        (_id("ay531"), _id("ay535")), (_id("ay535"), _id("ay531"))}


def test_times_units_and_words_are_no_codes() -> None:
    assert code_swaps("at 10am or 11am, 5km then 10km") == ()
    assert code_swaps("covid19 and covid20") == ()  # five letters: a word with a number, not a code
    assert code_swaps("flight BA117") == ()  # one code alone names no successor


def test_a_mail_is_told_by_its_header_block_whatever_the_field_names() -> None:
    dutch = ("Van: Ingrid Bakker <ingrid@reisbureau.example>\nVerzonden: maandag 30 november 2026 14:20\n"
             "Aan: sanne@example.nl\nOnderwerp: Uw hotel\n\nBeste Sanne, het hotel heeft gebeld.")
    french = ("De : Agence Soleil <resa@soleil.example>\nEnvoyé : lundi 16 novembre 2026 10:12\n"
              "À : claire@example.fr\nObjet : Votre hôtel\n\nBonjour Claire, Hôtel du Lac, 3 nuits.")
    for mail in (dutch, french):
        assert is_email(mail) and speakers(mail) == ()
        body = message_body(mail)
        assert body is not None and "@" not in body and "hotel" in body.lower().replace("ô", "o")
    # a transcript's labelled lines and a record's fields are no mail: no address opens them, or no body follows
    assert not is_email("Ana: mail me at ana@example.com\nTom: ok\nAna: thanks\n\nlater that day")
    assert not is_email("owner: ana@example.com\nplan: pro\nrenews: 2027-01-01")


def test_a_title_line_above_a_header_block_is_no_speaker() -> None:
    # an app's export: one title line, then the fields (one of them no mail client's: "First Viewed")
    titled = ("Message\nSent: 11/21/2026 at 09:12 AM\nFrom: Ann Lee\nTo: Bo Lee\nFirst Viewed: 11/21/2026 at 09:59 AM\n"
              "Subject: Swim\n\nSwimming moves to Thursdays at 5.")
    assert is_email(titled) and speakers(titled) == ()
    assert message_body(titled) == "Swim\n\nSwimming moves to Thursdays at 5."
    # a line with a colon is no title, and a title needs a header field right under it
    assert not is_email("Note: call Ann\nFrom: Ann Lee\nSubject: Swim\n\nThursdays")
    assert not is_email("Shopping\nmilk\nFrom: the corner shop\nSubject: none\n\neggs")


def test_a_mails_subject_is_part_of_what_it_says() -> None:
    reply = ("From: Bo Lee <bo@example.com>\nTo: Ann Lee <ann@example.com>\nSubject: RE: Fwd: Christmas change\n\n"
             "Yes, the original it is.\n\nBest,\nBo")
    assert message_body(reply) == "Christmas change\n\nYes, the original it is.\n"
