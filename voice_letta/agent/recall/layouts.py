"""Records read by their layout: Markdown tables, CSV blocks and lines, JSON objects, key: value records.

Client apps store what they keep in whatever shape they keep it in: a tracker sends a Markdown table ("## Bills /
| bill | provider | amount | due | / |---|…| / | internet | Bell Aliant | $95 | 3rd |") and later a bare row ("|
internet | Eastlink | $70 | 10th |"); an organiser sends JSON objects ("{"kind": "appointment", "with": "Ines
Ferreira", "date": "2026-12-09", "time": "14:30"}") and later the same object with one field changed; a notes app
sends "kind: appointment / with: Ines / date: …" lines. None of them says a change word: the layout says what is
what. Every such passage is read into items (``recall/records.py`` explains what items are for):

- a **row** (a table's, a CSV block's under its header line, or a bare one said alone: "| internet | Eastlink | $70 |",
  "internet,Eastlink,70,10th"): one item; its key and its **holder** are its first cell ("internet", "Thu": the row
  label), its values the other cells, its terms with the header's words ("provider", "amount"), its **shape** its number
  of columns;
- a **field record** (a JSON object, or two or more "key: value" lines with distinct lower-case keys and no speaker's
  role): one item per field, its key the field's name ("price_brl" says "price brl"); the record's holder is its kind
  (the value of a "kind", "type" or "category" field) and its name (an "id" field's value, else the first other
  field whose value has a word: "Ines Ferreira", "gym", "Honda Fit 2018"), shape ``FIELDS``.

Abbreviated days count as the day ("Thu" is "thursday" to "What run do I do on Thursdays?": the stemmer does not know
"thu"). Reading is cheap for most passages: a passage with no "|", no "{" and no two "key: value" lines has no layout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from voice_letta.agent.recall.quantity import number_kinds
from voice_letta.agent.recall.text import field_record_lines, is_json_object, term_ids

FIELDS = 0  # the shape of a field record's items (rows have 2 or more columns; list lines -1)
LINES = -2  # the shape of a chunk's lines (``chunk_lines``)
_CAPITAL = re.compile(r"(?<![\w'’])[A-Z][a-z]+")
_NOT_NAMES_TEXT = """monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat
sun january february march april may june july august september october november december jan feb mar apr jun jul aug
sep sept oct nov dec mr mrs ms dr st next last new old"""
NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_DAYS = {"mon": "monday", "tue": "tuesday", "tues": "tuesday", "wed": "wednesday", "weds": "wednesday",
         "thu": "thursday", "thur": "thursday", "thurs": "thursday", "fri": "friday", "sat": "saturday",
         "sun": "sunday"}
_ABBREVIATED_DAY = re.compile(r"\b(" + "|".join(_DAYS) + r")\b", re.IGNORECASE)
_PIPE_ROW = re.compile(r"^[ \t]*\|(.*)\|[ \t]*$")
_RULE_CELL = re.compile(r"^[ \t]*:?-{2,}:?[ \t]*$")
_BARE_CSV = re.compile(r"^[^\s,][^,\n]*(?:,[^\s,][^,\n]*){2,}$")  # "internet,Eastlink,70,10th": no space after a comma
_KIND_KEYS = frozenset({"kind", "type", "category", "record", "record_type", "entity", "object", "begin"})
_ID_KEYS = frozenset({"id", "uid", "name", "title", "summary", "subject", "fn"})
_A_WORD = re.compile(r"[^\W\d_]{2,}")
MAX_FIELDS = 40  # a bigger object is a document, not a record of one holder


@dataclass(frozen=True, slots=True)
class Item:
    key: frozenset[int]  # term ids of the key ("fence quote"), empty when the line has none
    terms: frozenset[int]  # term ids of the whole line
    values: frozenset[int]  # term ids of the value (after the key)
    kinds: int  # quantity bits of the value
    person: bool  # the value names someone
    holder: frozenset[int] = frozenset()  # whose item it is (a row's first cell, a record's kind and name)
    shape: int = -1  # columns of a row, FIELDS for a field record, -1 for a list line (no holder)


def names_someone(value: str) -> bool:
    """Whether a value names someone: a capitalised word that is no day, month or title."""
    return any(w.lower() not in NOT_NAMES for w in _CAPITAL.findall(value))


def day_terms(text: str) -> frozenset[int]:
    """The term ids of ``text``, an abbreviated day also as the day ("Thu" -> thursday)."""
    return frozenset(term_ids(_ABBREVIATED_DAY.sub(lambda m: f"{m.group(0)} {_DAYS[m.group(1).lower()]}", text)))


def _item(key: str, value: str, context: str, holder: frozenset[int], shape: int) -> Item:
    return Item(day_terms(key), day_terms(f"{key} {value} {context}"), day_terms(value),
                int(number_kinds([value])[0]), names_someone(value), holder, shape)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _row(cells: list[str], header: list[str]) -> Item | None:
    if len(cells) < 2 or not _A_WORD.search(cells[0]):
        return None
    key = cells[0]
    holder = frozenset(term_ids(key))  # as said: the rows of a holder are found by its terms' postings
    if not holder:
        return None
    return _item(key, ", ".join(cells[1:]), " ".join(header[1:]), holder, len(cells))


def _table_rows(lines: list[str]) -> list[Item]:
    """Rows of the Markdown tables among ``lines`` (a header line is the one above a |---| rule)."""
    out: list[Item] = []
    header: list[str] = []
    for i, line in enumerate(lines):
        if _PIPE_ROW.match(line) is None:
            continue
        cells = _cells(line)
        if all(_RULE_CELL.match(c) for c in cells):
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _PIPE_ROW.match(nxt) and all(_RULE_CELL.match(c) for c in _cells(nxt)):
            header = cells
            continue
        if len(header) not in (0, len(cells)):
            header = []
        item = _row(cells, header)
        if item is not None:
            out.append(item)
    return out


def _csv_rows(lines: list[str]) -> list[Item]:
    """A CSV block (a header line of word cells, then lines of as many cells) or one bare CSV line."""
    if len(lines) == 1:
        line = lines[0].strip()
        return [item] if _BARE_CSV.match(line) and (item := _row(line.split(","), [])) is not None else []
    cells = [[c.strip() for c in line.split(",")] for line in lines]
    width = len(cells[0])
    if width < 3 or any(len(c) != width for c in cells):
        return []
    header = cells[0]
    # a header names columns: a few words, no digit, no label or sentence ("user: oh, well, ok" is a line of speech)
    if any(not c or any(ch.isdigit() or ch in ":.?!" for ch in c) or len(c.split()) > 3 for c in header):
        return []
    return [item for row in cells[1:] if (item := _row(row, header)) is not None]


def _fields(pairs: list[tuple[str, str]]) -> list[Item]:
    """The items of a field record: one per field, all of one holder (its kind and its name)."""
    if len(pairs) < 2 or len(pairs) > MAX_FIELDS:
        return []
    kind = " ".join(v for k, v in pairs if k.lower() in _KIND_KEYS)
    named = [v for k, v in pairs if k.lower() in _ID_KEYS and v]
    if not named:
        named = [v for k, v in pairs if k.lower() not in _KIND_KEYS and _A_WORD.search(v)][:1]
    holder = frozenset(term_ids(f"{kind} {named[0]}")) if named else frozenset()
    return [_with_doer(_item(k.replace("_", " "), v, "", holder, FIELDS), k) for k, v in pairs]


def _with_doer(item: Item, key: str) -> Item:
    """A field named for who does something ("groomer", "insurer", "driver") is asked by the doing ("Who grooms
    Mochi?", "Who insures my car?"): its key holds the verb too."""
    verbs = [w[:cut] for w in re.findall(r"[a-z]{5,}", key.lower()) if w.endswith(("er", "or")) for cut in (-2, -1)]
    if not verbs:
        return item
    more = frozenset(term_ids(" ".join(verbs)))
    return Item(item.key | more, item.terms | more, item.values, item.kinds, item.person, item.holder, item.shape)


def _json_records(text: str) -> list[list[tuple[str, str]]]:
    """The fields of each object of a JSON object, an array of objects or JSON lines (one object a line)."""
    try:
        try:
            found = json.loads(text)
        except ValueError:
            found = [json.loads(line) for line in text.splitlines() if line.strip()]
        objects = found if isinstance(found, list) else [found]
        return [_json_pairs(o) for o in objects[:MAX_FIELDS] if isinstance(o, dict)]
    except (ValueError, RecursionError):  # not JSON, or thousands of nested brackets: no records (search kept working)
        return []


def _json_pairs(found: dict[str, object]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in found.items():
        if isinstance(value, dict):  # one level down: {"address": {"city": …}} holds "address city"
            pairs.extend((f"{key} {k}", _plain(v)) for k, v in value.items())
        else:
            pairs.append((str(key), _plain(value)))
    return pairs


def _plain(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def layout_items(text: str) -> tuple[Item, ...]:
    """The items of a passage laid out as a table, CSV, a JSON object, a key: value record or a chunk of speech's lines;
    () for any other."""
    if is_json_object(text):
        return tuple(item for pairs in _json_records(text.strip()) for item in _fields(pairs))
    pairs = field_record_lines(text)
    if pairs:
        return tuple(_fields(pairs))
    lines = [line for line in text.splitlines() if line.strip()]
    if "|" in text:
        rows = _table_rows(lines)
        if rows:
            return tuple(rows)
    if "\t" in text and all(line.count("\t") == lines[0].count("\t") for line in lines):
        lines = [line.replace(",", " ").replace("\t", ",") for line in lines]  # a TSV block: tabs are its commas
    if any("," in line for line in lines) and not any(line.lstrip().startswith("#") for line in lines):
        rows = _csv_rows(lines)
        if rows:
            return tuple(rows)
    return chunk_lines(text)


# A chunk of speech: every line opens with a timestamp ("[15/11/2026, 19:02]", "[09:01]") or a speaker's label.
_SPOKEN = re.compile(r"^[ \t]*(?:\[[^\]\n]{1,40}\]|[^\s:\[][^:\n]{0,40}?:[ \t])")
_HEAD = re.compile(r"^[ \t]*(?:\[[^\]\n]{1,40}\][ \t]*)?(?:[^\s:][^:\n]{0,40}?:[ \t]+)?")
_OPEN = ("?", "[cut off]", "\u2026", "...")


def chunk_lines(text: str) -> tuple[Item, ...]:
    """The lines of a chunk of speech (two or more lines, each opening with a timestamp or a speaker's label), one item
    each, a question and the line answering it as one ("What rate did you [cut off] / 4 yen a character"): each line
    holds its own fact, and a later passage changes the one it names ("search reindex slipped to next tuesday" changes
    Priya's line of a stand-up, not Ana's "I'll pick up the flaky checkout tests")."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not all(_SPOKEN.match(line) for line in lines):
        return ()
    units: list[str] = []
    joined = False
    for line in lines:
        body = _HEAD.sub("", line, count=1).strip()
        if units and joined:
            units[-1] = f"{units[-1]} {body}"
        else:
            units.append(body)
        joined = body.endswith(_OPEN)
    if len(units) < 2:
        return ()
    out = []
    for unit in units:
        ids = day_terms(unit)
        out.append(Item(frozenset(), ids, ids, int(number_kinds([unit])[0]), names_someone(unit.split(None, 1)[-1]),
                        frozenset(), LINES))
    return tuple(out)
