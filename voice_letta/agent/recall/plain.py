"""A passage's words without its format: what the embedding and the keyword terms are taken from.

Apps store records, not sentences: a chat export's message objects (``{"id": 4407, "type": "message", "date": …,
"from": "Oksana", "from_id": "user112472425", "text": "Rent for December…"}``), an SMS backup's XML elements
(``<sms protocol="0" address=… date="1794636881000" … body="…" readable_date=… contact_name=… />``), an HTML mail
body, CSV rows, a calendar's ``SUMMARY:``/``DTSTART:`` lines. Their keys, ids, epoch stamps, flags, attribute names,
markup and escapes were most of the words: the MiniLM vector of such a passage was the vector of its schema (cosine
0.2-0.4 to the question it answers, every message of one export alike) and its keyword terms counted "protocol",
"toa", "date", "unixtime" and the ids.

``plain`` gives the words a reader sees: the string values and natural-language text, parsed with the standard
library (json, xml.etree, html.parser, csv), entities decoded, in the record's order, with who sent it first
("Oksana Kovalenko: Rent for December…") and a date field kept as the record's time words. What is dropped is what
no question asks for: keys of string values, ids (a key "id"/"…_id"/"uuid", a long run of digits, a hex digest),
flags (null, true/false, 0/1/-1), epoch stamps. A number keeps its key's words ("price brl 119.9": the key says what
the number is). Passages that are not such a format are returned as they are: one look at the first character (and
a line count for CSV) decides, so plain text pays nothing. The original text stays what search returns and what the
agent sees.
"""

from __future__ import annotations

import csv
import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

# Keys that hold who sent a record (a chat export's "from", a mail's "sender"; not a contact's name, who may be the one
# written to): the sender leads the record's words as a speaker does a chat line. A date field's value goes last.
_SENDER_KEYS = frozenset({"from", "sender", "author", "speaker", "user", "username", "from_name", "sender_name",
                          "author_name", "display_name", "displayname", "creator", "organizer", "editor"})
_ID_KEY = re.compile(r"(?:^|[_\-.])(?:id|ids|uuid|guid|uid|hash|sha|etag|token|unixtime|epoch|timestamp_ms)$|"
                     r"[a-z]Ids?$|^(?:id|uid|uuid|guid)", re.IGNORECASE)
_FLAG = frozenset({"", "null", "none", "nil", "undefined", "true", "false", "0", "1", "-1", "n/a"})
_LONG_DIGITS = re.compile(r"^-?\d{9,}(?:\.\d+)?$")  # epoch seconds/milliseconds, row ids (a phone has "+" or spaces)
_HEX = re.compile(r"^(?:[0-9a-f]{16,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.IGNORECASE)
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_ICAL_STAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})\d{2}Z?)?$")
_KEY_WORD = re.compile(r"[_\-.]+|(?<=[a-z])(?=[A-Z])")
_TEXT_KEYS = frozenset({"text", "body", "content", "message", "msg", "description", "summary", "note", "notes",
                        "comment", "caption", "subject", "title"})


def plain(text: str, *, stamps: bool = False, lean: bool = False) -> str:
    """The words of ``text`` without its format (see the module docstring), or ``text`` itself; ``stamps``: also
    without a text export's message stamps; ``lean``: a message record's envelope without numbers and dates."""
    t = text.strip()
    if not t:
        return text
    first = t[0]
    out: str | None = None
    try:
        if first in "{[":
            out = _json_words(t, lean)
        elif first == "<":
            out = _markup_words(t, lean)
        elif t.startswith("BEGIN:V"):
            out = _ical_words(t)
        elif "\n" in t and (t.count(",") >= 4 or t.count(";") >= 4 or t.count("\t") >= 4):
            out = _csv_words(t)
    except (RecursionError, csv.Error):  # thousands of nested brackets, a NUL in a row: read as text
        out = None
    if out:
        return out
    if stamps and (first == "[" or first.isdigit() or _STAMPED.match(t) is not None):
        text = _unstamped(text)
    if "&" in text and ";" in text:
        return html.unescape(text)
    return text


# A message's stamp in a text export: "[11/27/2026 7:12 PM] kaiwen.lim", "[2026-11-26 23:50] Me: …", "26/11/2026,
# 14:12 - Tía Luz: …", a line that is only a date ("Nov 27, 2026  10:15 PM"), a sender's name and clock ("Jo Kimura
# 9:40 PM"), "27 Nov 2026, 07:40 · Kavita Shah". The stamp goes, the sender stays: every message of an export has
# one, so their vectors were alike whatever they said.
_CLOCK = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[ \t]*[AaPp]\.?[Mm]\.?)?"
_DATE = (r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|\d{1,2}[ \t]+[A-Za-z]{3,9}\.?,?[ \t]+\d{4}|"
         r"(?:[A-Za-z]{3,9},?[ \t]+)?[A-Za-z]{3,9}\.?[ \t]+\d{1,2},?[ \t]+\d{4})")
_STAMP = rf"(?:{_DATE}(?:[ \t,]*(?:at[ \t]+)?(?:{_CLOCK}))?|{_CLOCK})"
_STAMP_LINE = re.compile(rf"^[ \t]*(?:\[[^\]\n]{{0,40}}\d[^\]\n]{{0,40}}\][ \t]*|"
                         rf"{_STAMP}[ \t]*(?:[-\u2013\u2014\u00b7|,][ \t]*|$))", re.MULTILINE)
_NAME_CLOCK = re.compile(rf"^([ \t]*[A-Z][\w.'-]*(?:[ \t]+[A-Z][\w.'-]*){{0,3}})[ \t]+{_CLOCK}[ \t]*$", re.MULTILINE)
_STAMPED = re.compile(rf"[ \t]*(?:{_DATE}|[A-Z][\w.'-]*(?:[ \t]+[A-Z][\w.'-]*){{0,3}}[ \t]+{_CLOCK}[ \t]*(?:\n|$))")


def _unstamped(text: str) -> str:
    """``text`` without its messages' stamps (above); lines that were only a stamp are dropped."""
    out = _NAME_CLOCK.sub(r"\1", _STAMP_LINE.sub("", text))
    if out == text:
        return text
    return "\n".join(line for line in out.splitlines() if line.strip())


def embedding_text(text: str, synopsis: str) -> str:
    """What a passage's vector is computed from: its synopsis and its words (``plain``), a message record's envelope
    without its numbers and dates (a correspondent's number and a timestamp say nothing of the message: as vector
    words they made the SMS backup's messages alike; holdout abstention 342 -> 344/382, test9 44 -> 46/50)."""
    return f"{synopsis}\n{plain(text, lean=True)}".strip()


# --- values -----------------------------------------------------------------------------------------------------

def _key_words(key: str) -> str:
    return _KEY_WORD.sub(" ", key).strip().lower()


def _value_words(key: str, value: Any) -> str | None:
    """The words one field contributes, or None when it is an id, a flag or an epoch stamp."""
    if value is None or isinstance(value, bool) or _ID_KEY.search(key):
        return None
    if isinstance(value, (int, float)):
        s = repr(value) if isinstance(value, float) else str(value)
        return None if s in _FLAG or _LONG_DIGITS.match(s) else f"{_key_words(key)} {s}".strip()
    s = str(value)
    if s[:1] == "<" and _TAG_START.match(s) is not None:  # a message body kept as HTML (a Teams or mail export)
        s = _html_words(s) or ""
    s = " ".join(html.unescape(s).split())
    if s.lower() in _FLAG or _LONG_DIGITS.match(s) or _HEX.match(s):
        return None
    iso = _ISO.match(s)
    return _said_date(iso.group(1), iso.group(2)) if iso is not None else s


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


def _said_date(ymd: str, clock: str | None = None) -> str:
    """A date as it is said ("16 November 2026, 10:02"): "2026-11-16T10:02" read as digits was a phone number."""
    y, m, d = ymd.split("-")
    if not 1 <= int(m) <= 12:
        return ymd if clock is None else f"{ymd} {clock}"
    said = f"{int(d)} {_MONTHS[int(m) - 1]} {y}"
    return said if clock is None else f"{said}, {clock}"


_PROSE = 5  # words: a value this long is what the record says (a message's text), its other fields its envelope


def _message(fields: list[tuple[str, Any]]) -> tuple[str | None, list[str], list[str]] | None:
    """(sender, text, envelope) of a message record: its values of five words or more are its text, its other values
    its envelope (names, numbers, dates last; a lower-case one-word value is a schema's enumeration: "message");
    None for a form (short values only)."""
    kept = [(k, v, w) for k, v in fields if (w := _value_words(k, v)) is not None]
    if not any(isinstance(v, str) and len(w.split()) >= _PROSE and "date" not in k.lower() and "time" not in k.lower()
               for k, v, w in kept):
        return None
    sender = None
    text: list[str] = []
    envelope: list[str] = []
    dates: list[str] = []
    for key, value, w in kept:
        low = key.lower()
        if "date" in low or "time" in low:  # "created_date": "Tuesday, 2 March 2027 at 09:14:05 UTC" is no text
            dates.append(w)
        elif len(w.split()) >= _PROSE and isinstance(value, str):
            text.append(w)
        elif sender is None and low in _SENDER_KEYS and isinstance(value, str) and len(w.split()) <= 6:
            sender = w
        elif not (w.isalpha() and w.islower()):
            envelope.append(w)
    return sender, text, envelope + dates


def _record_line(fields: list[tuple[str, Any]], lean: bool = False) -> str:
    """One record's words. A message gives its sender first ("Name: …"), its text, then its envelope without keys;
    a form (short values only: an app's contact or subscription record) gives "key value" pairs, its keys being all
    that says what a value is."""
    message = _message(fields)
    if message is None:
        kept = [(k, v, w) for k, v in fields if (w := _value_words(k, v)) is not None]
        return ", ".join(w if not isinstance(v, str) or k.lower() in _TEXT_KEYS else f"{_key_words(k)} {w}".strip()
                         for k, v, w in kept)
    sender, text, envelope = message
    if lean:  # the vector's words: the envelope's names, not its numbers and dates
        envelope = [w for w in envelope if not any(c.isdigit() for c in w)]
    body = " ".join(text + envelope)
    return f"{sender}: {body}" if sender and body else (sender or body)


def message_parts(text: str) -> tuple[str, str] | None:
    """(text, envelope) of a passage that is one or more message records (a chat export's JSON objects, an SMS
    backup's elements): what the messages say, and their senders', correspondents' and numbers' words; None for
    anything else. An envelope's number is its correspondent's, not someone the text names (recall/asked.py)."""
    t = text.strip()
    records: list[list[tuple[str, Any]]] = []
    if t[:1] in "{[":
        try:
            doc = json.loads(t)
            records = [list(_fields(r)) for r in _records(doc) if isinstance(r, dict)]
        except (ValueError, RecursionError):
            return None
    elif t[:1] == "<" and _TAG_START.match(t) is not None:
        try:
            root = ET.fromstring(f"<r>{t}</r>")
        except ET.ParseError:
            return None
        records = [[*e.attrib.items(), *([(e.tag, e.text)] if e.text and e.text.strip() else [])]
                   for e in root.iter() if e is not root]
    said: list[str] = []
    envelope: list[str] = []
    for fields in records:
        message = _message(fields)
        if message is None:
            if len(records) == 1:
                return None
            continue  # an export's head ({"name": "Flat chat", "messages": […]})
        sender, words, rest = message
        said.extend(words)
        envelope.extend([sender, *rest] if sender else rest)
    return ("\n".join(said), "\n".join(envelope)) if said else None


# --- JSON -------------------------------------------------------------------------------------------------------

def _flat_text(value: Any) -> str | None:
    """A text kept as pieces (a chat export's ``"text": ["see ", {"type": "mention", "text": "@taras"}, "!"]``):
    the pieces' words joined, or None when ``value`` is not such a list."""
    if not isinstance(value, list) or not value:
        return None
    parts = []
    for piece in value:
        if isinstance(piece, str):
            parts.append(piece)
        elif isinstance(piece, dict) and isinstance(piece.get("text"), str):
            parts.append(piece["text"])
        else:
            return None
    return "".join(parts)


def _fields(obj: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """The (key, scalar) leaves of a JSON object in order; nested objects' keys are their own (the last part)."""
    for key, value in obj.items():
        if isinstance(value, dict):
            yield from _fields(value, key)
            continue
        flat = _flat_text(value)
        if flat is not None:
            yield key, flat
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from _fields(item, key)
                else:
                    yield key, item
        else:
            # a nested object's "name" is who it names ("author": {"name": "Ana"}): the parent's key says its role
            yield (prefix if key == "name" and prefix else key), value


def _records(doc: Any) -> list[Any]:
    """The records of a JSON document: a list's items, or an export's messages (``{"name": "Flat", "messages":
    [{…}, {…}]}``: each item of a list of objects is a record, the object's other fields one more before them)."""
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        return [doc]
    lists = [v for v in doc.values() if isinstance(v, list) and v and all(isinstance(i, dict) for i in v)]
    if not lists:
        return [doc]
    head = {k: v for k, v in doc.items() if not isinstance(v, (list, dict))}
    return ([head] if head else []) + [item for items in lists for item in items]


def _json_words(t: str, lean: bool = False) -> str | None:
    try:
        docs: list[Any] = [json.loads(t)]
    except ValueError:
        try:  # JSON lines: one object a line
            docs = [json.loads(line) for line in t.splitlines() if line.strip()]
        except ValueError:
            return None
    lines: list[str] = []
    for doc in docs:
        for record in _records(doc):
            line = _record_line(list(_fields(record)), lean) if isinstance(record, dict) else _value_words("", record)
            if line:
                lines.append(line)
    return "\n".join(lines)


# --- XML and HTML -----------------------------------------------------------------------------------------------

_TAG_START = re.compile(r"^<([A-Za-z!?][\w:-]*)")
_HTML_TAGS = frozenset({"!doctype", "html", "head", "body", "div", "p", "span", "table", "br", "b", "i", "a", "ul",
                        "ol", "li", "h1", "h2", "h3", "h4", "meta", "style", "font", "center", "blockquote", "strong",
                        "em", "img", "tr", "td", "section", "article", "header", "pre", "hr"})


def _markup_words(t: str, lean: bool = False) -> str | None:
    tag = _TAG_START.match(t)
    if tag is None:
        return None
    if tag.group(1).lower() in _HTML_TAGS:  # a mail's or a page's HTML: its text, not its elements
        return _html_words(t)
    try:
        root = ET.fromstring(f"<r>{t}</r>")
    except ET.ParseError:
        return _html_words(t)
    lines: list[str] = []
    for element in root.iter():
        if element is root:
            continue
        fields: list[tuple[str, Any]] = list(element.attrib.items())
        if element.text and element.text.strip():
            fields.append((element.tag, element.text))
        line = _record_line(fields, lean)
        if line:
            lines.append(line)
        if element.tail and element.tail.strip():
            lines.append(" ".join(element.tail.split()))
    return "\n".join(lines)


class _Text(HTMLParser):
    """The text of an HTML document, one line a block, without scripts and styles."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
                         "blockquote", "section", "article", "header", "footer", "td", "th", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        for key, value in attrs:  # what an image or a link says of itself
            if key in ("alt", "title") and value:
                self.parts.append(f" {value} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


# html.parser looks for the end of each "<" as far as the end of the text: a passage of thousands of unclosed "<a" took
# tens of seconds to index (found from outside). A "<" with no ">" before the next "<" cannot open a tag: it is given to
# the parser as text ("&lt;"), so each stretch of the text is looked through once.
_UNCLOSED = re.compile(r"<(?=[^<>]*(?:<|$))")


def _html_words(t: str) -> str | None:
    parser = _Text()
    try:
        parser.feed(_UNCLOSED.sub("&lt;", t))
        parser.close()
    except (AssertionError, ValueError):
        return None
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


# --- CSV and calendar lines -------------------------------------------------------------------------------------

_LABEL = re.compile(r"^[ \t]*[^\s:,;]+(?:[ \t]+[^\s:,;]+){0,2}[ \t]*:[ \t]")


def _csv_words(t: str) -> str | None:
    """Rows of a CSV (or ; / tab separated) table: every line the same number of fields, three or more; a first row
    without digits is its header, whose words stay only with numbers."""
    lines = [line for line in t.splitlines() if line.strip()]
    # every line the same number of separators (a transcript's lines do not), and none a speaker's line
    if len(lines) < 2 or any(_LABEL.match(line) for line in lines) or not any(
            len({line.count(sep) for line in lines}) == 1 and lines[0].count(sep) >= 2 for sep in ",;\t"):
        return None
    try:
        dialect = csv.Sniffer().sniff(lines[0] + "\n" + lines[1], delimiters=",;\t|")
    except csv.Error:
        return None
    rows = list(csv.reader(lines, dialect))
    width = len(rows[0])
    if width < 3 or any(len(r) != width for r in rows):
        return None
    header = rows[0] if not any(c.isdigit() for c in "".join(rows[0])) else None
    out = []
    for row in rows[1:] if header else rows:
        keys = header or [""] * width
        out.append(_record_line([(k.strip(), v.strip()) for k, v in zip(keys, row, strict=True)]))
    return "\n".join(line for line in out if line)


_ICAL_LINE = re.compile(r"^([A-Z][A-Z\-]*)((?:;[^:\n]*)?):(.*)$")
_ICAL_SKIP = frozenset({"BEGIN", "END", "VERSION", "PRODID", "CALSCALE", "METHOD", "UID", "DTSTAMP", "SEQUENCE",
                        "CREATED", "LAST-MODIFIED", "STATUS", "TRANSP", "CLASS", "PRIORITY", "X-WR-TIMEZONE"})


def _ical_words(t: str) -> str | None:
    """An iCalendar or vCard entry's values: the event's summary, place, people (a ``CN=`` name) and dates, on one
    line."""
    out = []
    for line in re.sub(r"\r?\n[ \t]", "", t).splitlines():  # unfold continued lines
        m = _ICAL_LINE.match(line.strip())
        if m is None:
            continue
        name, params, value = m.group(1), m.group(2), m.group(3)
        if name in _ICAL_SKIP or name.startswith("X-"):
            continue
        cn = re.search(r"CN=\"?([^\";:]+)", params)
        if cn is not None:
            value = cn.group(1)
        value = value.replace("\\n", " ").replace("\\,", ",").replace("\\;", ";").strip()
        stamp = _ICAL_STAMP.match(value)
        if stamp is not None:
            y, mo, d, h, mi = stamp.groups()
            value = _said_date(f"{y}-{mo}-{d}", f"{h}:{mi}" if h else None)
        if value and value.lower() not in _FLAG and not value.lower().startswith("mailto:"):
            out.append(value)
    return ", ".join(out) or None  # one line: an entry's fields are one thing's (recall/values.py reads lines)
