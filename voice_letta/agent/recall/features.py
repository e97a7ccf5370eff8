"""What ranking needs to know of each passage's words, computed once when it is stored and kept with its terms.

Per passage: whether it is one dialogue line, is said *to* the listener (``speakers.addresses_listener``), which kinds
of number it says (``quantity.number_kinds``), starts with a correction, says something changed, and says it with
more than a bare "now" (``cues.cues``), whether it is a third-person note about the user
(``confidence.third_person``), and whether it asks something nothing in it answers (``questions.asks_unanswered``).
Computed at index load these regular expressions took ~4 s of a 100k-passage load (7.7 s on a quiet machine);
stored, the load reads one word per passage.

The stored form is the passage's terms blob (``text.encode_terms``) with a different 16-byte head:
``PASSAGE_MAGIC`` (b"vlp" and five bytes of a fingerprint of the code that computes the flags and the terms) and
the flags as one little-endian uint64, then the term ids. The fingerprint covers the source of the feature
functions and of the tokenizer, and every regular expression, word set, constant (TERMS_MAGIC) and project
function they read: when any of them changes, stored flags no longer match the code, the blob counts as missing,
and the passage is computed again at its next load and written back (``recall/build.py``), as rows from before
stored terms were.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.confidence import third_person
from voice_letta.agent.recall.cues import change_kinds, cues, foreign_cues
from voice_letta.agent.recall.facts import endings, says_new_place, says_place
from voice_letta.agent.recall.plain import plain
from voice_letta.agent.recall.quantity import ADDRESS, AMOUNT, ANY, CLOCK, DAY, EMAIL, MONEY, PHONE, number_kinds
from voice_letta.agent.recall.questions import asks_unanswered
from voice_letta.agent.recall.speakers import addresses_listener, is_dialogue_line

DIALOGUE = 1
TO_LISTENER = 2
HAS_NUMBER = 4
CORRECTION = 8
UPDATE_CUE = 16
STRONG_CUE = 32
THIRD_PERSON = 64
HAS_AMOUNT = 128  # the kinds of number it says (quantity.number_kinds): an amount, money, a phone number
HAS_MONEY = 256
HAS_PHONE = 512
HAS_ADDRESS = 1024
ASKS = 2048  # a stored question nothing in the passage answers (recall/questions.py)
HAS_EMAIL = 4096
HAS_DAY = 8192  # a day or a date, a time of day (quantity.DAY, quantity.CLOCK)
HAS_CLOCK = 16384
NEW_PLACE = 32768  # says something moved to a new place (recall/facts.py says_new_place)
ENDING = 65536  # says something ended or gave way ("left", "died", "gave up", "the new guy": updates.endings)
PLACES = 131072  # places something somewhere ("at st anne's", "in lisbon": facts.says_place)
CHANGE_SHIFT = 18  # bits 18-25: the kinds of number said next to a change cue (cues.change_kinds)
FOREIGN_CUE = 1 << 26  # says a change only in another language's words (cues.foreign_cues)


def passage_features(texts: Sequence[str], synopses: Sequence[str]) -> np.ndarray:
    """The flags of each passage (uint64 bits: DIALOGUE, TO_LISTENER, ...)."""
    n = len(texts)
    dialogue = np.fromiter((is_dialogue_line(t) for t in texts), dtype=bool, count=n)
    to_listener = np.fromiter((addresses_listener(t) for t in texts), dtype=bool, count=n)
    # the kinds of number a passage says are read in its words (recall/plain.py): a chat export's ids and epoch stamps
    # were "phone numbers", so a message with none answered "what's her phone number?"
    kinds = number_kinds([f"{s}\n{plain(t)}" for t, s in zip(texts, synopses, strict=True)])
    number = (kinds & ANY) != 0
    correction, update_cue, strong_cue = cues(texts)
    third = np.fromiter((third_person(t, s) for t, s in zip(texts, synopses, strict=True)), dtype=bool, count=n)
    asks = np.fromiter((asks_unanswered(t) for t in texts), dtype=bool, count=n)
    new_place = says_new_place(texts)
    places = says_place(texts)
    ending = endings(texts) | strong_cue
    out = np.zeros(n, dtype=np.uint64)
    for bit, flags in ((DIALOGUE, dialogue), (TO_LISTENER, to_listener), (HAS_NUMBER, number),
                       (CORRECTION, correction), (UPDATE_CUE, update_cue), (STRONG_CUE, strong_cue),
                       (THIRD_PERSON, third), (HAS_AMOUNT, (kinds & AMOUNT) != 0), (HAS_MONEY, (kinds & MONEY) != 0),
                       (HAS_PHONE, (kinds & PHONE) != 0), (HAS_ADDRESS, (kinds & ADDRESS) != 0),
                       (ASKS, asks), (HAS_EMAIL, (kinds & EMAIL) != 0), (HAS_DAY, (kinds & DAY) != 0),
                       (HAS_CLOCK, (kinds & CLOCK) != 0), (NEW_PLACE, new_place), (ENDING, ending),
                       (PLACES, places), (FOREIGN_CUE, foreign_cues(texts, update_cue))):
        out |= np.where(flags, np.uint64(bit), np.uint64(0))
    out |= change_kinds(texts).astype(np.uint64) << np.uint64(CHANGE_SHIFT)
    return out


def change_bits(flags: np.ndarray) -> np.ndarray:
    """The kinds of number each passage says next to a change cue (``quantity`` bits), from its flags."""
    out: np.ndarray = ((flags >> np.uint64(CHANGE_SHIFT)) & np.uint64(0xFF)).astype(np.uint8)
    return out


def number_bits(flags: np.ndarray) -> np.ndarray:
    """The kinds of number each passage says, as ``quantity`` bits (ANY, AMOUNT, MONEY, PHONE, ADDRESS, EMAIL), from
    its flags."""
    out = np.zeros(len(flags), dtype=np.uint8)
    for bit, kind in ((HAS_NUMBER, ANY), (HAS_AMOUNT, AMOUNT), (HAS_MONEY, MONEY), (HAS_PHONE, PHONE),
                      (HAS_ADDRESS, ADDRESS), (HAS_EMAIL, EMAIL), (HAS_DAY, DAY), (HAS_CLOCK, CLOCK)):
        out |= np.where((flags & np.uint64(bit)) != 0, np.uint8(kind), np.uint8(0))
    return out


def _fingerprint(roots: Iterable[Callable[..., Any]]) -> bytes:
    """A digest of these functions' source and of what they read: module-level regular expressions, word sets,
    constants and the functions they call, followed through nested code (generator expressions)."""
    h = hashlib.blake2b(digest_size=5)
    seen: set[int] = set()
    todo: list[Any] = list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if not isinstance(obj, types.FunctionType) and isinstance(getattr(obj, "__wrapped__", None),
                                                                  types.FunctionType):
            obj = obj.__wrapped__  # functools.lru_cache
        if isinstance(obj, types.FunctionType):
            try:
                h.update(inspect.getsource(obj).encode())
            except (OSError, TypeError):
                h.update(obj.__code__.co_code)
            names: set[str] = set()
            codes = [obj.__code__]
            while codes:
                code = codes.pop()
                names.update(code.co_names)
                codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
            found = [obj.__globals__[name] for name in sorted(names) if name in obj.__globals__]
            # ``T.words``: attributes of the project's modules it names count too
            modules = [m for m in found if isinstance(m, types.ModuleType) and m.__name__.startswith("voice_letta")]
            todo.extend(found)
            todo.extend(getattr(m, name) for m in modules for name in sorted(names) if hasattr(m, name))
        elif isinstance(obj, re.Pattern):
            h.update(f"{obj.pattern!r}/{obj.flags}".encode())
        elif isinstance(obj, (frozenset, set)):
            h.update(repr(sorted(map(repr, obj))).encode())
        elif isinstance(obj, (str, bytes, int, float, tuple)):
            h.update(repr(obj).encode())
    return h.digest()


PASSAGE_MAGIC = b"vlp" + _fingerprint([passage_features, T.encode_terms, T.passage_document])
_HEAD = 16


def encode_passage(text: str, synopsis: str, flags: int | None = None) -> bytes:
    """The stored form of a passage's flags and keyword terms (see the module docstring)."""
    if flags is None:
        flags = int(passage_features([text], [synopsis])[0])
    ids = T.term_ids(T.passage_document(text, synopsis))
    return (PASSAGE_MAGIC + int(flags).to_bytes(8, "little")
            + (np.asarray(ids, dtype="<u8").tobytes() if ids else b""))


def is_current(blob: bytes | None) -> bool:
    """Whether a stored blob was written by this code (else its passage is computed again)."""
    return blob is not None and len(blob) >= _HEAD and not len(blob) % 8 and blob[:8] == PASSAGE_MAGIC


def decode_passage(blob: bytes | None) -> tuple[int, np.ndarray] | None:
    """(flags, term ids) of a stored blob, or None when it is missing or written by other code."""
    if not is_current(blob):
        return None
    assert blob is not None
    return int.from_bytes(blob[8:16], "little"), np.frombuffer(blob, dtype="<u8", offset=_HEAD).astype(np.uint64)
