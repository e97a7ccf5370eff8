"""Who said a line: the speaker labels of a passage's lines ("user: …", "Caroline: …", "Dr Patel: …").

A *dialogue line* is one line that starts with a speaker label ("user: …", "Caroline: …"): what a transcript
import or a turn-per-passage archive looks like. Multi-line passages (the sleeptime agent's chunks) list the
speakers of every line. A heading, a list item's key, a record's field, a mail's header or a note's kind ("Update:
…") before a colon is no speaker.
"""

from __future__ import annotations

import re

from voice_letta.agent.recall.mails import is_email
from voice_letta.agent.recall.text import (
    FIRST_PERSON,
    STOPWORDS,
    dated,
    field_record_lines,
    is_json_object,
    is_markdown_note,
    words,
)

# A label is one to three words before a colon ("user: …", "Caroline: …", "Dr Patel: …"); ``is_label`` then tells a
# name from a heading ("Kitchen renovation: …", "Notes for the Lisbon trip: …", found from outside: a note's heading
# made it another speaker's line, so a first-person question's answer was taken for someone else's).
SPEAKER = re.compile(r"^[ \t]*([^\s:]+(?:[ \t]+[^\s:]+){0,2})[ \t]*:[ \t]", re.MULTILINE)

_LABELS: dict[tuple[str, ...], tuple[str, ...]] = {}  # raw labels -> normalized (an index load: 100k lines)


# A list item's key ("- Plumber: Dave Ruiz", "* Start: Jan 6", "1. Budget: $38,000", "- [x] countertop: quartz") names
# an attribute of a note, not a speaker: read as a speaker, a Markdown note was nobody's (not the user's), and no update
# rule linked "- Dave retired, new guy: Kenji" to the plumber's note (test6).
_LIST_ITEM = re.compile(r"^(?:[-*+\u2022\u2013]|\d{1,2}[.)])(?:\s|$)")


# A message's header fields are no speakers wherever they sit ("MyChart · Message / From: Anita Kapoor, MD / Nov 22,
# 2026": a patient portal's items all said by 'from', whose changes then were nobody's to link; test9).
_HEADER_FIELDS = frozenset({"from", "to", "cc", "bcc", "sent", "subject", "reply-to"})
# Words that name the kind of a note, not who says it, when they open the passage: "Update: Dr. Hsu's office moved
# June's checkup…", "ok context: i live in a 3br…", "UPS update: your package…". Read as speakers, the user's own notes
# were nobody's ('update', said twice), so no change of them was a version (test13, test10). Not inside a message
# under its sender's line ("[11/30/2026 6:18 PM] priya_dm / one-shot update: …"): that is still someone else's.
_NOTE_WORDS = frozenset({"update", "updates", "updated", "correction", "note", "notes", "reminder", "context", "fyi",
                         "ps", "edit", "edited", "todo"})


# A number or a short code in a label names a thing or a slot, never a person: a ward's bed ("Bed 9 Sharma: … up to 24
# units"), a hive ("H3: nuc from Ben Walsh"), a flat ("1/1 viewing Saturday: …"), "HOTEL 2: …". It is the subject of the
# line, not its sender: read as a speaker, a nurse's note on bed 9 was bed 9's own line, nobody's to update (test15). A
# chat handle's digits sit in a longer word ("mike92"); a transcript numbers its speakers by a word for a person
# ("Speaker 1:", "Guest 2:", "Caller 1:").
_SLOT = re.compile(r"^(?:\d+(?:[/.-]\d+)*[a-z]?|[a-z]{1,2}\d{1,2})$", re.IGNORECASE)
_NUMBERED_PEOPLE = frozenset({"speaker", "person", "participant", "guest", "caller", "host", "voice", "interviewer",
                              "interviewee", "respondent", "customer", "agent", "student", "member", "user", "unknown"})


def is_label(label: str) -> bool:
    """A speaker's name or role, not a heading: at most 40 characters, no number or short code ("Bed 9 Sharma", "H3")
    and, when it has several words, no stopword ("Change of plan") and not in sentence case ("Kitchen renovation"; names
    are "Dr Patel", "Mary Ann" or "marco"). A one-word heading ("Kitchen: …") cannot be told from a name and stays a
    label."""
    if len(label) > 40 or _LIST_ITEM.match(label) or label.strip().lower() in _HEADER_FIELDS:
        return False
    parts = label.split()
    if any(_SLOT.match(p) for p in parts) and not _NUMBERED_PEOPLE.intersection(p.lower() for p in parts):
        return False
    if len(parts) == 1:
        return True
    # a two-letter stopword in capitals beside a name is an abbreviation, not a word of a heading: "AM (Linh): …", a
    # shift's handover line ("am" read as the verb made the morning shift's lines nobody's, the evening's "PM (Thảo)"
    # a speaker's; test17); a heading in capitals ("CHANGE OF PLAN") is all capitals, and a longer word in capitals is
    # a word said loud ("practice moved AGAIN: Mon/Wed 5-6:30", test14)
    if any(p.lower() in STOPWORDS and not (len(p) == 2 and p.isupper() and not label.isupper()) for p in parts):
        return False
    return not (parts[0][:1].isupper() and any(p[:1].islower() for p in parts[1:]))


def _heading(label: str) -> bool:
    """Whether a label opening a passage is its heading: a note's kind ("Update: …", ``_NOTE_WORDS``) or several words
    all in lower case, a list's heading typed on a phone ("carpool escuela: Rafa lleva lunes…", "league playoffs: first
    round Dec 12", "snack rotation: …"; test15, test14): read as speakers, the user's own notes were nobody's, no
    change of them a version. Names are "Dr Patel", "Mary Ann" or one handle ("marco"). Not inside a message under its
    sender's line ("[11/23/2026 9:51 PM] priya_dm / loot recap: …"): that is still someone else's."""
    parts = label.split()
    return any(w.lower() in _NOTE_WORDS for w in parts) or _lower_heading(parts)


# An upper-case label opening a note signed at its end ("VENUE: Lourensford can't do March … — R", "COLOURS: terracotta
# out … — T"): its writer is the one who signs, so the label is its heading, the thing the note is about, not a sender.
# Read as speakers ('colours', 'venue', 'honeymoon': each heading is said twice), a couple's shared wedding note was
# nobody's, and no change of it a version (test16: six of its nine updates with the old value first).
_SIGNED = re.compile(r"\s[\u2014\u2013-]{1,2}[ \t]?[A-Z][\w.]{0,15}(?:[ \t][A-Z][\w.]*)?\s*$")


def _signed_heading(label: str, text: str) -> bool:
    """An upper-case label opening a note signed at its end (``_SIGNED``): "Coach Dave: see you there - T" keeps its
    sender."""
    return label.isupper() and _SIGNED.search(text) is not None


def _lower_heading(parts: list[str]) -> bool:
    return len(parts) > 1 and all(p[:1].islower() for p in parts)


def _strip_label(m: re.Match[str]) -> str:
    return "" if is_label(m.group(1)) else m.group(0)


def speakers(text: str) -> tuple[str, ...]:
    """Lowercased speaker labels of the lines of ``text`` ("user", "caroline"), in order of appearance; none in a
    Markdown note (``is_markdown_note``: "## Bathroom / Plumber: Dave Ruiz / Next: regrout"), a JSON object or a
    key: value record (``field_record_lines``): their keys are fields, not speakers (a JSON object was the line of a
    speaker '{"kind"', nobody's, so no update rule saw a changed object: test7)."""
    if is_markdown_note(text) or is_json_object(text) or field_record_lines(text) or is_email(text):
        return ()
    # a message that opens with its date or its sender's clock line ("Nov 29, 2026  11:02 PM" / "Me", "Jo Kimura  9:03
    # PM"): its sender is on a line of its own, and "secret santa: i got ethan" in its body is no speaker's line (test8)
    if dated(text.lstrip().split("\n", 1)[0]):
        return ()
    raw = tuple(label for label in SPEAKER.findall(text) if is_label(label))
    opening = SPEAKER.match(text.lstrip())
    if raw and opening is not None and (_heading(opening.group(1)) or _signed_heading(opening.group(1), text)):
        raw = tuple(label for label in raw if label != opening.group(1))
    found = _LABELS.get(raw)
    if found is None:
        found = tuple(dict.fromkeys(s.strip().lower() for s in raw))
        if len(_LABELS) < 65536:
            _LABELS[raw] = found
    return found


def opens_with_label(text: str) -> bool:
    """Whether a passage's first line opens with a speaker's label ("Lena: can't do merch …")."""
    m = SPEAKER.match(text.lstrip())
    return m is not None and is_label(m.group(1))


def user_lines(text: str, labels: tuple[str, ...] | None = None) -> str | None:
    """The user's lines of an exchange between the user and the assistant ("user: … / assistant: …"), each without
    its label, a line with no label going with the one above; None for any other passage. The assistant's reply
    restates or asks about what the user said: the user's lines are what the passage tells (``facts.part_of``).
    ``labels``: ``speakers(text)`` when known."""
    if set(speakers(text) if labels is None else labels) != {"user", "assistant"}:
        return None
    said: list[str] = []
    mine = False
    for line in text.splitlines():
        m = SPEAKER.match(line)
        if m is not None and m.group(1).strip().lower() in ("user", "assistant"):
            mine = m.group(1).strip().lower() == "user"
            line = line[m.end():]
        if mine:
            said.append(line)
    return "\n".join(said)


_SECOND_PERSON = frozenset({"you", "your", "yours", "yourself", "youre", "ya"})


def addresses_listener(text: str) -> bool:
    """A line about the one spoken to: more second-person words than first-person ones ("careful with your knee,
    remember what happened last year?"). Its topic is the listener's, not the speaker's."""
    body = SPEAKER.sub(_strip_label, text)
    second = first = 0
    for w in words(body):
        if w in _SECOND_PERSON:
            second += 1
        elif w in FIRST_PERSON:
            first += 1
    return second > first


def is_dialogue_line(text: str) -> bool:
    """One line, starting with a speaker label."""
    stripped = text.strip()
    if "\n" in stripped:
        return False
    m = SPEAKER.match(stripped)
    return m is not None and is_label(m.group(1)) and not _lower_heading(m.group(1).split())
