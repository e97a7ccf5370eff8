"""How people say a change without the English change words (recall/cues.py, recall/mails.py): a figure going to a sum,
a value holding from a day on, a reply quoting the mail it changes."""

from __future__ import annotations

from voice_letta.agent.recall.cues import cues
from voice_letta.agent.recall.mails import mail_body


def test_a_figure_going_to_a_sum_is_a_cue() -> None:
    _, cue, strong = cues(["also shirts going to $25, the new print run cost more", "0/1 going to £650 from Feb",
                           "we're going to the shop"])
    assert cue.tolist() == [True, True, False]
    assert strong.tolist() == cue.tolist()


def test_a_value_from_a_day_on_is_a_cue_a_range_is_not() -> None:
    _, cue, _ = cues(["Tresiba 16u from tonight, Dr Papadaki emailed", "1/2 let to Priya Nair from 1 Nov, agreed £680",
                      "From January please use the new PO 45102", "finance approved £500 a day from January.",
                      "the shop is open from Monday to Friday", "off from 2 Jan till the 9th",
                      "the photos from Saturday's party", "from monday-friday 9 to 5"])
    assert cue.tolist() == [True, True, True, True, False, False, False, False]


def test_a_reply_says_its_own_lines_not_the_quoted_mail() -> None:
    body = mail_body("From: Magnus Eide <magnus@nordlys.app>\nSubject: Re: Onboarding screens\n"
                     "Small change - we need 8 screens, not 6, and we'll go to €4,000.\n"
                     "> Fixed fee €3,200 for the 6 onboarding screens, 50% upfront.\n"
                     "On Mon, 3 Nov 2026, Magnus Eide <magnus@nordlys.app> wrote:")
    assert body == "Onboarding screens\nSmall change - we need 8 screens, not 6, and we'll go to €4,000."


def test_headers_with_no_blank_line_after_them_still_leave_a_body() -> None:
    assert mail_body("From: Wise <noreply@wise.com>\nSubject: You received €340\nReference: menus Bica") == (
        "You received €340\nReference: menus Bica")
    # with a blank line the block ends there, as before (a body line shaped like a field stays body)
    assert mail_body("From: a@b.com\nTo: c@d.com\nSubject: hi\n\nBody line\nAttached: x") == (
        "hi\n\nBody line\nAttached: x")
