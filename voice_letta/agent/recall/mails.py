"""Mails stored as they came: their header block is no speakers' lines and no part of what they say."""

from __future__ import annotations

import re

# An e-mail archived as it came (an integration that stores each mail of a thread): header lines ("From: …",
# "To: …", "Cc: …", "Date: …", "Subject: …") then the body. Its headers are no speakers' lines: read as labels, every
# mail was the line of the speakers "from", "to", "date", nobody's, and no later mail of the thread (the agent's, the
# landlord's, the removal firm's) was a version of an earlier one (test8).
MAIL_HEADER = re.compile(r"^[ \t]*(?:from|to|cc|bcc|date|sent|subject|reply-to)[ \t]*:[ \t]", re.IGNORECASE)


# A mail client names its header fields in the user's language ("Van:" / "Verzonden:" / "Onderwerp:", "De :" /
# "Objet :", "Von:" / "Betreff:", "差出人:"): its shape tells it too, wherever it is in no list. The first line is a
# field whose value is an address ("Van: Ingrid Bakker <ingrid@d-reizen.nl>"), the lines up to the first blank one
# are all fields (at least three, each named once), and a body follows.
ADDRESS_FIELD = re.compile(r"^[ \t]*[^\s:<>@][^:<>@\n]{0,30}?[ \t]*:[ \t]+(?:[^\n<>@:]{0,60}<)?[\w.+-]+@[\w-]+"
                            r"(?:\.[\w-]+)+>?[ \t]*$", re.MULTILINE)
_FIELD = re.compile(r"^[ \t]*([^\s:][^:\n]{0,30}?)[ \t]*:[ \t]*\S")
HEADER_SHAPE_FIELDS = 3


# An app's export may put one title line above each message's header block ("Message" / "Sent: … / From: … / First
# Viewed: … / Subject: …", a co-parenting app's; "Forwarded message"): its header fields were read as the speakers
# "first viewed", nobody's, so no message of the thread was a version of another (test12). A title is short, has no
# colon and is followed at once by a field.
_TITLE_CHARS = 40


def titled(first: str, second: str) -> bool:
    """Whether ``first`` is a title line above a header block that ``second`` opens (see above)."""
    return (len(first) <= _TITLE_CHARS and ":" not in first
            and (MAIL_HEADER.match(second) is not None or ADDRESS_FIELD.match(second) is not None))


def mail_lines(text: str) -> list[str]:
    """The lines of ``text`` from its header block on: without a title line above it (see above)."""
    lines = text.lstrip().splitlines()
    return lines[1:] if len(lines) > 2 and titled(lines[0], lines[1]) else lines


def is_email(text: str) -> bool:
    """A mail with its headers: it opens with header lines, at least two of its first lines, "From:" or "Subject:"
    among them; or, in any language, a block of at least HEADER_SHAPE_FIELDS fields opening with an address field
    (``ADDRESS_FIELD``) and then a blank line and a body. One title line may come first (``mail_lines``)."""
    lines = mail_lines(text)
    head = [line for line in lines[:6] if line.strip()]
    found = [line for line in head if MAIL_HEADER.match(line)]
    # from its first line: a mail the user pastes under a line of their own ("user: flights / --- / From: …") is the
    # user's line
    if (len(found) >= 2 and bool(head) and head[0] == found[0]
            and any(line.lstrip()[:4].lower() in ("from", "subj") for line in found)):
        return True
    if not lines or ADDRESS_FIELD.match(lines[0]) is None:
        return False
    block = next((i for i, line in enumerate(lines[:9]) if not line.strip()), -1)
    if block < HEADER_SHAPE_FIELDS or not any(line.strip() for line in lines[block:]):
        return False
    fields = [_FIELD.match(line) for line in lines[:block]]
    # each field once: a transcript's labels repeat ("Ana: … / Tom: … / Ana: …")
    names = [m.group(1).lower() for m in fields if m is not None]
    return len(names) == block and len(set(names)) == block


_SIGN_OFF = re.compile(r"^[ \t]*(?:--[ \t]*|(?:(?:kind|best|warm|many)[ \t]+)?(?:regards|wishes|thanks|best|cheers|"
                       r"sincerely|yours(?:[ \t]+\w+)?|thank you)[ \t]*[,.!]?[ \t]*|sent from my\b.*)$", re.IGNORECASE)
# A reply quotes the mail it answers below itself ("> Fixed fee €3,200 for the 6 onboarding screens", "On 3 Dec,
# Magnus wrote:"): those lines are the earlier mail's words, the old values the reply changes ("we need 8 screens,
# not 6"), not what this mail says (test15: a reply quoting "12 spot illustrations" stood for the spots' count).
_QUOTED = re.compile(r"^[ \t]*(?:>|On\b.{0,120}\bwrote:[ \t]*$)")
_SUBJECT = re.compile(r"^[ \t]*subject[ \t]*:[ \t]*(?:(?:re|fwd?|aw|sv)[ \t]*:[ \t]*)*(.*)$", re.IGNORECASE)


def mail_body(text: str) -> str:
    """What a mail says (``is_email``): its subject, then its body after the headers up to the sign-off (the
    signature is the sender's every time). The subject is what it is about too: a terse reply ("Yes, the original it
    is") says its topic only there ("RE: Christmas change"; test12)."""
    lines = mail_lines(text)
    at = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    # headers with no blank line after them ("From: … / Subject: … / Hi Inês, …", a mail pasted as text): the body
    # starts at the first line that is no header field, else a mail said nothing but its subject (test15)
    if at == len(lines) or any(_FIELD.match(line) is None for line in lines[:at]):
        at = next((i for i, line in enumerate(lines) if MAIL_HEADER.match(line) is None), len(lines))
    end = next((i for i in range(at, len(lines)) if _SIGN_OFF.match(lines[i])), len(lines))
    subject = [m.group(1) for m in map(_SUBJECT.match, lines[:at]) if m is not None]
    return "\n".join(subject + [line for line in lines[at:end] if not _QUOTED.match(line)])
