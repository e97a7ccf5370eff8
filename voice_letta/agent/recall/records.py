"""Notes written as records: a Markdown note's list items, each an attribute with its value.

A client app that keeps notes sends them as Markdown ("## Kitchen reno / - Contractor: Hollis & Sons / - Budget:
$38,000 / - Start: Jan 6"). Such a note holds several attributes of one thing, and a later short note usually changes
one of them ("- Kitchen budget raised to $41,500", "- Dave retired, new guy: Kenji", "- Lopez came back at $2,890 if
we go with pine"). The later note is a new version of the record only for a question about the attribute it changes:
"Who is doing the kitchen?" is still answered by the contractor item after the budget changed (test6, session 7: read
as one passage, the budget note was listed as replacing the whole record).

- An **item** is a list line ("- ", "* ", "+ ", "1. ", with or without a "[x]" box); its **key** is the label before a
  colon ("Contractor", "Fence quote"), its value what follows; ``Item.kinds`` the kinds of number it says
  (``quantity``), ``Item.person`` whether its value names someone (a capitalised word that is no month or day).
- The items a question **asks** (``asked``): those saying one of its words, those holding a value of the kind it
  asks for (a sum, a day, a phone number), and for a "who" question those naming someone.
- The items a later passage **changes** (``changed``): those whose key it says, those whose rare value word it says
  (a name, a firm: at most ``RARE_SHARE`` passages say it), and those of the asked kind when it says a value of that
  kind itself.
- A later note that names an item of an earlier one and gives a new value of the same kind as that item's
  (``new_values``: "Lopez came back at $2,890" after "Fence quote: Lopez Fencing $3,150, cedar") is a change even with
  no change word: a note records what holds now.

Other storage styles are records too, read by their structure (``layouts``), not by their words:

- a **Markdown table** (or a CSV block with a header line): one item per row, its key the first cell ("internet",
  "Thu"), its values the other cells, its terms with the header's words (a row holds "provider: Bell Aliant");
- a **JSON object** or a **key: value** record ("kind: appointment / with: Ines / date: 2026-12-09"): one item per
  field, its key the field's name;
- a **bare table row** or CSV line ("| internet | Eastlink | $70 | 10th |") said later: one item.

Each such item has a **holder**: for a row its first cell, for a field record its kind (a "kind"/"type" field's value)
and the first field whose value has a word (a name, a service, a model). A later record of the same holder and shape
(the number of columns; a field record) that says something else is a new version with no change word ("a later
object of the same kind for the same holder with one field changed", test7): ``same_holder``. A record of the same
shape with another holder is another thing, never a version (``other_holder``: Caio's record is no version of
Luiza's, however alike the two objects are).

Items are read from the passage's text when it is indexed (only passages with list lines, tables or records have any).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall.layouts import FIELDS, LINES, NOT_NAMES, layout_items
from voice_letta.agent.recall.layouts import Item as Item  # the index keeps them
from voice_letta.agent.recall.plain import message_parts
from voice_letta.agent.recall.quantity import ANY, number_kinds
from voice_letta.agent.recall.text import is_markdown_note, term_ids

if TYPE_CHECKING:
    from voice_letta.agent.recall.facts import Query
    from voice_letta.agent.recall.index import PassageIndex

_ITEM = re.compile(r"^[ \t]*(?:[-*+\u2022]|\d{1,2}[.)])[ \t]+(?:\[[ xX]\][ \t]*)?(\S.*)$", re.MULTILINE)
_KEY = re.compile(r"^([^\s:]+(?:[ \t]+[^\s:]+){0,2})[ \t]*:(?:[ \t]|$)")
_CAPITAL = re.compile(r"(?<![\w'’])[A-Z][a-z]+")
RECORD_ITEMS = 2  # a note with at least this many items is a record of several attributes
RARE_SHARE = 3  # a value word said by at most this many passages names its item (or RARE_FRACTION of them)
RARE_FRACTION = 0.02
# A chat export's message records (Telegram's {"from": …, "text": …}, Google Chat's {"creator": {"name": …}, "text":
# …}) are messages, not records of a thing: their fields are an envelope (the sender, dates, ids) around what the
# message says. Read as field records, each message's holder was its sender, and a later member's message was
# "another thing of the same kind" (``other_holder``), never a version of the plan it changes: 7 of the public
# halves' stale cases (test9's Telegram flat chat: the rent card, Marta's train, the bathroom day; test10's Google
# Chat garden group: the mutirão, the lunch, the shed key, the airport). Their items are read from what they say.
_SENDER_FIELD = re.compile(r'"(?:from|sender|author|creator|user|username|from_name|sender_name|author_name|'
                           r'display_name|displayname|speaker)"[ \t]*:')


def _said(text: str) -> str:
    """What a chat export's message records say (see above); ``text`` itself for any other passage."""
    if text.lstrip()[:1] not in "{[" or _SENDER_FIELD.search(text) is None:
        return text
    parts = message_parts(text)
    return text if parts is None else parts[0]


def items(text: str) -> tuple[Item, ...]:
    """The items of a passage's text (empty for most passages: no list line, table or record); of a chat export's
    message records, the items of what they say (``_said``)."""
    text = _said(text)
    laid = layout_items(text)
    if laid:
        return laid
    note = is_markdown_note(text)
    if _ITEM.search(text) is None and not note:
        return ()
    found = []
    lines = [m.group(1) for m in _ITEM.finditer(text)] if not note else [
        m.group(1) if (m := _ITEM.match(line)) else line.strip() for line in text.splitlines()[1:]
        if line.strip() and (_ITEM.match(line) or _KEY.match(line.strip()))]
    for line in lines:
        key_m = _KEY.match(line)
        value = line[key_m.end():] if key_m else line
        key = frozenset(term_ids(key_m.group(1))) if key_m else frozenset()
        names = [w for w in _CAPITAL.findall(value if key_m else value.split(None, 1)[-1] if " " in value else "")
                 if w.lower() not in NOT_NAMES]
        found.append(Item(key, frozenset(term_ids(line)), frozenset(term_ids(value)),
                          int(number_kinds([value])[0]), bool(names)))
    return tuple(found)


_WHO = re.compile(r"\bwho(?:m|se|'s)?\b|\b(?:which|what)\s+(?:firm|company|business|person|guy|man|woman|people|"
                  r"contractor|builder|plumber|electrician|doctor|dentist|vet)\b", re.IGNORECASE)


def asks_who(question: str) -> bool:
    return _WHO.search(question) is not None


def asked(record: tuple[Item, ...], query: Query, who: bool) -> set[int]:
    """Which items of a record a question asks about (see the module docstring)."""
    kind = query.kind & 0xFF & ~ANY
    if record and record[0].shape == FIELDS:
        # a field record's items all hold its holder's words: a field is asked by its key or its kind of value
        # ("How much does my gym cost?" names the record by "gym", and asks no field by its key: any may answer)
        return {i for i, it in enumerate(record) if it.key & query.terms or (kind and it.kinds & kind)}
    if record and record[0].shape > FIELDS:
        # a table's rows: one that says a word of the question in its own cells is asked ("When does my music
        # subscription renew?" asks the music row, not every row under "renews")
        own = {i for i, it in enumerate(record) if (it.key | it.values) & query.terms}
        if own:
            return own
    return {i for i, it in enumerate(record)
            if it.terms & query.terms or (kind and it.kinds & kind) or (who and it.person)}


def _rare(index: PassageIndex, term: int) -> bool:
    return len(index.keywords.postings_of(term)[0]) <= max(RARE_SHARE, RARE_FRACTION * index.keywords.n)


def changed(index: PassageIndex, record: tuple[Item, ...], new: int, ignored: set[int],
            query: Query) -> set[int] | None:
    """Which items of a record a later passage changes, None when it names none. When it says the key of an item of
    any of the agent's records ("Kitchen budget raised to $41,500 (quartz + electrician)" says "budget"), it changes
    the items of that key (or the keyless items saying it: "[ ] pick countertop"), not those whose value words it
    repeats ("quartz" is the countertop's); else the items whose rare value word it says (their holder: "Dave
    retired", "Lopez came back at…") and, when it gives a value of the asked kind, the items holding that kind."""
    laid = index.items.get(new, ())
    if laid:  # a later record: the items whose key it gives another value (a JSON object with its date changed)
        given = {(it.key, it.values) for it in laid if it.key}
        keyed = {k for k, _ in given}
        hit = {i for i, it in enumerate(record) if it.key in keyed and (it.key, it.values) not in given}
        if hit:
            return hit
    said = set(index.terms_of(new).tolist()) - ignored
    keys = [k for k in index.record_keys if k <= said]
    if keys:
        return {i for i, it in enumerate(record)
                if any(k == it.key or (not it.key and k <= it.terms) for k in keys)}
    kind = query.kind & 0xFF & ~ANY & int(index.numbers[new])
    out = {i for i, it in enumerate(record)
           if (kind and it.kinds & kind) or any(_rare(index, t) for t in (it.values - it.key) & said)}
    return out or None


def new_value(index: PassageIndex, record: tuple[Item, ...], new: int, ignored: set[int], query: Query,
              who: bool) -> bool:
    """Whether a later note gives a new value of an asked item of an earlier one with no change word: it says a rare
    word of that item's value (its holder: "Lopez") and a value of the same kind (a sum, a day, a phone number)."""
    said = set(index.terms_of(new).tolist()) - ignored
    kinds = int(index.numbers[new]) & ~ANY
    for i in asked(record, query, who):
        it = record[i]
        if it.kinds & kinds and any(_rare(index, t) for t in (it.values - it.key) & said):
            return True
    return False


def rare_value_rows(index: PassageIndex, record: tuple[Item, ...]) -> np.ndarray:
    """The rows that say a rare word of one of a record's values (candidates for ``new_value``)."""
    rows = [index.keywords.postings_of(t)[0] for it in record for t in it.values - it.key if _rare(index, t)]
    if not rows:
        return np.zeros(0, dtype=np.int64)
    found: np.ndarray = np.unique(np.concatenate(rows).astype(np.int64))
    return found[found < index.size]


def _holders(record: tuple[Item, ...]) -> set[tuple[frozenset[int], int]]:
    return {(it.holder, it.shape) for it in record if it.holder}


def same_holder(old: tuple[Item, ...], new: tuple[Item, ...]) -> bool:
    """Whether a later record gives an item of an earlier one's holder anew: the same holder and shape (a row with the
    same first cell and as many columns, an object of the same kind and name) saying something the older one does
    not ("| internet | Eastlink | $70 | 10th |" after "| internet | Bell Aliant | $95 | 3rd |")."""
    for holder in _holders(old) & _holders(new):
        was = frozenset().union(*(it.terms for it in old if (it.holder, it.shape) == holder))
        now = frozenset().union(*(it.terms for it in new if (it.holder, it.shape) == holder))
        if now - was:
            return True
    return False


def other_holder(old: tuple[Item, ...], new: tuple[Item, ...]) -> bool:
    """Whether a later record is of the same shape as an earlier one but of none of its holders: another thing of the
    same kind (Caio's school record after Luiza's, the contact after the appointment with her), never a version."""
    was, now = _holders(old), _holders(new)
    return bool({s for _, s in was} & {s for _, s in now}) and not was & now


def same_holder_rows(index: PassageIndex, record: tuple[Item, ...], row: int) -> list[int]:
    """The later rows whose record gives an item of ``record``'s holder anew (``same_holder``), newest first; found
    through the postings of each holder's rarest term."""
    found: set[int] = set()
    for holder, _ in _holders(record):
        posts = [index.keywords.postings_of(t)[0] for t in holder]
        rows = min(posts, key=len)
        for r in rows.tolist():
            r = int(r)
            if (r < index.size and r != row and index.start_at[r] > index.start_at[row] and r in index.items
                    and same_holder(record, index.items[r])):
                found.add(r)
    return sorted(found, key=lambda r: -float(index.start_at[r]))


def another_line(index: PassageIndex, old: int, new: int, shared: set[int], query: Query) -> bool:
    """Whether a later chunk of lines (a chat export's two messages, ``layouts.chunk_lines``) is about ``old`` only in a
    line the question does not ask: it says the ``shared`` words only in other lines than the asked ones. "[22:30]
    Nadia: Ama's school concert is 10 dec … / [22:58] Me: i'll swap a shift" is no version of the rota ("i'm on C
    shift") for "Where is Ama's concert?" (test8)."""
    record = index.items.get(new, ())
    if len(record) < RECORD_ITEMS or record[0].shape != LINES or not shared:
        return False
    want = asked(record, query, query.who)
    return bool(want) and not any(record[i].terms & shared for i in want)
