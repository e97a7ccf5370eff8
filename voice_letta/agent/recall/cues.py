"""Change cues: the words that say a passage corrects or changes something said before.

- ``CORRECTION_START``: a line that *starts* with a correction ("actually…", "no wait scratch that…", "make
  that…", "i meant…"), after an optional speaker label and fillers;
- ``UPDATE_CUE``: a word or phrase saying something changed ("switched", "moved", "no longer", "from now on",
  "covering for", "got a raise"…) or that a new state began ("started", "joined", "became");
- ``WEAK_CUE``: the cues that say a change only together with shared words ("now", "corrected").

``cues`` computes all three per passage when the index is built (``features.py``) and for the sleeptime job's
change lines (``sleeptime_checks.py``); ``updates.py`` links versions with them at search time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from voice_letta.agent.recall.change_words import CHANGE_WORDS, WEAK_CHANGE_WORDS
from voice_letta.agent.recall.quantity import kinds_of_text
from voice_letta.agent.recall.text import term_ids, terms

# "corrected" (a note's "the user corrected herself: ...") is weak too: it says what it corrects only by its words
# ("her father's seventieth birthday is in july" is 0.43 alike "the user's nephew luca was born on november 2").
# "from now on" is no weak "now": it says the value changes from the day it is said ("mrs o says it's 2,225 a month
# from now on").
WEAK_CUE = re.compile(r"\b(?:(?<!from )now(?!\s+on\b)|corrected)\b", re.IGNORECASE)

_LABEL = r"(?:[^\s:][^:\n]{0,40}?:[ \t]*)?"
_LEAD = r"(?:(?:u+m+|u+h+|h+m+|oh|so|ok(?:ay)?|well|sorry|oops|no|nope|wait|hold on|er+)[\s,.!-]+)*"
_CORRECTION = (r"(?:actually|scratch|correction|quick correction|make (?:that|it)|change (?:that|it)|i meant|"
               r"i mean|my bad|i misspoke|let me correct|not \w+ but)\b")
# "wait no", "no wait", "sorry no", "oops no" open a correction by themselves ("wait no sorry the third is a
# sunday"); one word alone does not ("no mushrooms please", "sorry im late"), nor "no no" ("no no its fine").
_RETRACT = r"(?:(?:wait|sorry|oops)[\s,.!-]+(?:no|nope)|(?:no|nope)[\s,.!-]+(?:wait|sorry))\b"
_FILL = r"(?:(?:u+m+|u+h+|h+m+|oh|so|er+)[\s,.!-]+)*"
CORRECTION_START = re.compile(r"^[ \t]*" + _LABEL + _FILL + r"(?:" + _RETRACT + r"|" + _LEAD + _CORRECTION + r")",
                              re.IGNORECASE)
# the day words of a value that holds from a day on (UPDATE_CUE)
_WEEKDAY = r"(?:mon|tues?|wed(?:nes)?|thur?s?|fri|sat(?:ur)?|sun)(?:day)?"
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# A new state beginning says the old one ended: "i just started a new job at stripe" updates "i work at google as an
# engineer" (0.39 alike, no word in common), which it was not linked to before these were cues: "where do I work?"
# answered Google (found from outside). A strong cue (not only "now"), so it needs no shared word.
UPDATE_CUE = re.compile(
    r"\b(?:actually|correction|scratch|instead|now|anymore|no longer|switch(?:ed|ing)?|chang(?:ed|ing)|"
    r"moved|moving|push(?:ed)?|postponed|rescheduled|cancell?ed|cut|updated?|down to|up to|went up|went down|"
    r"raised|lowered|increased|decreased|dropped|quit|replaced|turned|swap(?:ped|ping)?|corrected|"
    r"start(?:ed|ing)?|began|begun|join(?:ed|ing)?|became|from now on|going forward|as of (?:today|now)|"
    r"(?:one more|another|schedule|plan|date|venue|time|last[- ]minute) change|change of (?:plans?|date|time|venue)|"
    # someone else holds the role now: "mr beale's off sick for the rest of term, ivy's got a supply teacher"
    r"off sick|on (?:sick |maternity |paternity |parental )?leave|supply (?:teacher|cover|nurse)|substitute|"
    r"covering for|cover(?:s|ing)? for|stand(?:s|ing)?[- ]in|fill(?:s|ing)? in for|t(?:ook|akes|aking) over|"
    r"shifted|"
    # pay changes: "got a raise! net is now 3,750" (test6)
    r"(?:pay )?(?:raise|rise)|pay cut|promoted|promotion|"
    # a value that holds from a point in time on ("it's five twenty a week from this month", test7), a task handed to
    # someone else ("priya hands the pricing page to you"). Not "slipped" alone: "search reindex slipped to next
    # tuesday" then replaced a whole stand-up for "What caused the flaky checkout tests?" (test5: a chunk of several
    # people's lines, of which it changes one)
    r"slip(?:s|ped|ping)? to|brought forward|moves|"
    # a figure that went to another figure ("Bernadette's hours went to 7:30 to 9", test14); not "went to the shop".
    # The space inside the lookahead: the group's closing \b fails between a space and "$" ("shirts going to $25")
    r"(?:went|gone|goes|going) to(?= [$€£]?\d)|"
    # the verb in the present, as a non-native writer tells a past change ("we change flour to Janie's Mill", test14)
    r"change (?:[\w']+ ){0,3}?to|"
    r"(?:from|as of|starting|effective) (?:this|next) (?:week|month|year|term|season|quarter)|"
    # ... or from a day on: "Tresiba 16u from tonight", "1/2 let to Priya Nair from 1 Nov", "From January please use
    # the new PO 45102", "£500 a day for you from January" (test15). Not a range ("from Monday to Friday", "from 2 Jan
    # till the 9th") nor what came from a day ("the photos from Saturday's party")
    r"(?:from|as of|starting|effective) (?:tonight|today|tomorrow|(?:this |next )?" + _WEEKDAY + r"|" + _MONTH
    + r"|(?:the )?\d{1,2}(?:st|nd|rd|th)?(?: of)? " + _MONTH + r"|" + _MONTH + r" \d{1,2}(?:st|nd|rd|th)?)"
    r"(?!'s|[\w'-]|\s*(?:to|till|until|through|thru|and)\b|\s*[-–])|"
    r"hand(?:s|ed|ing)? (?:[\w']+ ){0,3}?(?:over|to)|"
    # someone taken to a place is there now ("they took abuela to a rehab place, clinica san javier", test7)
    r"(?:took|taken|brought|transferred|admitted|sent) (?:[\w']+ ){0,3}?(?:to|into) (?:the|a|an) |"
    # a message that restates a plan and says which part holds says the rest changed ("same time", "still the 10th");
    # a figure arrived at or counted again is the new one ("settled at …", "counted again, it's …"); what was arranged
    # cannot be used for now ("space 7 is being resurfaced, so please use no. 12"; "the venue has a burst pipe")
    r"same (?:day|date|time|times|place|venue|price|room|deal)|still (?:the|on the|at the) |"
    r"settled (?:at|on|for)|agreed (?:on|at)|turns? out|(?:counted|checked|looked) again|recount(?:ed)?|"
    r"double[- ]checked|on second thought|"
    r"under (?:renovation|repair|construction)|being (?:resurfaced|renovated|repaired|refurbished|rebuilt)|"
    r"(?:has|had|got) a burst pipe|out of (?:action|order)|"
    # "instead" in the other language of a mixed-language speaker ("si tita baby na lang ang kukuha ng box"): Tagalog
    # "na lang", Spanish "en vez de" / "en lugar de" / "ya no", French "au lieu de", Urdu-Hindi "ki jagah", German
    # "statt"
    r"na lang|en vez de|en lugar de|ya no|au lieu de|ki jagah|(?:an)?statt)\b",
    re.IGNORECASE)


def cues(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per passage: (starts with a correction, says something changed, says it with more than a bare "now")."""
    corr = np.fromiter((CORRECTION_START.match(t) is not None for t in texts), dtype=bool, count=len(texts))
    cue = np.fromiter((UPDATE_CUE.search(t) is not None for t in texts), dtype=bool, count=len(texts))
    # a line without any cue has no cue besides "now" either: only cue lines are searched again without it
    strong = corr | np.fromiter((bool(c) and UPDATE_CUE.search(WEAK_CUE.sub(" ", t)) is not None
                                 for t, c in zip(texts, cue, strict=True)), dtype=bool, count=len(texts))
    return corr, cue | corr, strong


# Another language's change words (``change_words``: "cambiaron el router", "la degustazione è spostata", "gym ka slot
# badal gaya") say a change as plainly as English ones, but read as English cues they linked lines as versions of facts
# they do not change: "la degustazione … è spostata a venerdì" replaced the florist's phone (test10), "gym ka ladies
# slot badal gaya" the aunt's hospital (test12). A line saying a change only in such words is flagged apart
# (``foreign_cues``) and ``cued.cued_updates`` links it only to the passage it is most alike of all (what it changes).
_FOREIGN = re.compile(CHANGE_WORDS + "|" + WEAK_CHANGE_WORDS, re.IGNORECASE)


# A line of cells ("DJ Marco Bassi;musica;Marco;+39 333 908 1177;…;annullato") says a status in a column, not a change:
# the next chunk of one table is alike every other chunk of it and was linked as the florist's new version (test10).
_CELLS = re.compile(r"(?:[;|\t][^;|\t\n]*){3,}")


def foreign_cues(texts: Sequence[str], cue: np.ndarray) -> np.ndarray:
    """Per passage: it says a change in another language's words only (``cue``: its English cues, ``cues``), in a
    line that is no row of cells."""
    return np.fromiter((not c and any(_FOREIGN.search(line) is not None and _CELLS.search(line) is None
                                      for line in t.splitlines())
                        for t, c in zip(texts, cue, strict=True)), dtype=bool, count=len(texts))


# What a change gives is said right after its cue ("cut to €5,000", "slips to 28 january", "now 3,750"): the kinds of
# number within this many characters of a cue are the kinds of value it changes. A meeting summary says its own date
# in its heading ("Finance check-in, 4 Dec. The January ad spend is cut to €5,000"): read anywhere, every later summary
# with a cue gave a new day for "When is the launch?" (test7).
NEAR_CUE = 48


def change_kinds(texts: Sequence[str]) -> np.ndarray:
    """Per passage: the kinds of number said next to its change cues (``quantity`` bits; 0 when none is)."""
    out = np.zeros(len(texts), dtype=np.uint8)
    for i, t in enumerate(texts):
        kinds = 0
        for m in UPDATE_CUE.finditer(t):
            kinds |= kinds_of_text(t[m.start():m.end() + NEAR_CUE])
        out[i] = kinds & 0xFF
    return out


# Revision notations that say "this replaced that" whatever the language and the app: an arrow from the old value to
# the new one ("Stay: Voyager Beach Resort → Sarova Whitesands", "Train: 08:00 -> 15:00"), a diff's removed line
# followed by its added one ("− first class × 5" / "+ first class × 6"), a struck-out value ("~~Tuesday~~ Thursday").
# What the notation names as old is what it replaces: ``revised_values`` gives those old sides.
# Not from inside a run of spaces: each of thousands of spaces looked to the run's end (quadratic).
_ARROW = re.compile(r"(?<![ \t])[ \t]*(?:→|⟶|⇒|->|=>)[ \t]*")
_REMOVED = re.compile(r"^[ \t]*[-−–][ \t]*(\S[^\n]*)\n[ \t]*\+[ \t]*\S", re.MULTILINE)
_STRUCK = re.compile(r"~~([^~\n]+)~~")
_FIELD = re.compile(r"^(?:[^:\n]{1,40}:[ \t]+)+")  # "Suggestion accepted: Stay: " before the old value


def revised_values(text: str) -> list[tuple[str, str]]:
    """(old side, the whole revision) of each of a passage's revision notations: ("Voyager Beach Resort, Nyali",
    "Stay: Voyager Beach Resort, Nyali → Sarova Whitesands"), ("first class × 5", "− first class × 5 / + first class
    × 6")."""
    if not ("→" in text or "->" in text or "=>" in text or "⟶" in text or "⇒" in text or "~~" in text
            or "\n+" in text):
        return []
    out = [(m.group(1), m.group(0)) for m in _REMOVED.finditer(text)]
    out += [(m.group(1), line) for line in text.splitlines() for m in _STRUCK.finditer(line)]
    for line in text.splitlines():
        parts = _ARROW.split(line)
        if len(parts) < 2:
            continue
        old = _FIELD.sub("", parts[-2].strip())
        if old:
            out.append((old, line))
    return out


def revised_terms(text: str) -> tuple[frozenset[int], frozenset[int]] | None:
    """The term ids of the old sides a passage's revisions name and of the revision lines themselves; None when it
    has none, or they name a lone number ("5 -> 6")."""
    found = revised_values(text)
    said = [t for old, _ in found for t in terms(old)]
    if len(said) < 2 and all(t.isdigit() for t in said):
        return None
    return frozenset(term_ids(" ".join(said))), frozenset(term_ids(" ".join(line for _, line in found)))


# A code replaced by another of its series, whatever words say it ("แอร์เอเชียยกเลิกไฟลท์ FD3437 ย้ายเราไป FD3441",
# "vlucht AY531 is omgeboekt naar AY535", "they gave us B214 not B108"): a passage naming two codes of the same letters
# and as many digits names the old one and its successor, in any language and with no change word. Which one is old is
# told by the earlier passage that says one of them and not the other (``revisions.swapped_after``). A code: one to four
# letters then two to six digits and at most one letter (flights, rooms, gates, seats, tickets); not word boundaries
# (\b): a script without spaces writes the code against its letters.
_CODE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,4})(\d{2,6})([A-Za-z]?)(?![A-Za-z0-9])")


_LETTER_DIGIT = re.compile(r"[A-Za-z]\d")


def code_swaps(text: str) -> tuple[tuple[int, int], ...]:
    """(term id of a code, term id of another code of its series said in the same passage) for every such ordered
    pair; () when a passage names no two codes of one series (almost every passage: one regex search)."""
    found: dict[tuple[str, int, bool], set[str]] = {}
    if _LETTER_DIGIT.search(text) is None:  # most passages: one quick scan
        return ()
    for m in _CODE.finditer(text):
        letters, digits, tail = m.groups()
        found.setdefault((letters.lower(), len(digits), bool(tail)), set()).add(m.group(0).lower())
    pairs: list[tuple[int, int]] = []
    for codes in found.values():
        if len(codes) < 2:
            continue
        ids = [found_ids[0] for found_ids in map(term_ids, sorted(codes)) if len(found_ids) == 1]
        pairs.extend((a, b) for a in ids for b in ids if a != b)
    return tuple(pairs)
