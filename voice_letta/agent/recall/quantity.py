"""Questions that ask for a quantity ("how much did the lodge cost?", "what is my policy number?", "how old will
ada be?") are not answered by a passage that holds no number: "we switched to a lodge near the national park" is
about the lodge, but says nothing of its price. Such a result is flagged like one about someone else (a lower
confidence, ``Ranked.other_speaker``); its rank is unchanged.

A number is a digit or a number word as people say them ("one eighty two", "a couple", "twice", "half");
the passage's line before it counts too (a reply: "how far is it?" / "about forty minutes").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_ASKS = re.compile(
    r"\b(?:how\s+(?:much|many|old|long|far|tall|big|heavy|often|fast|early|late)|"
    r"what(?:'s|\s+is|\s+was|\s+are|\s+were)?\s+(?:the\s+|my\s+|our\s+|his\s+|her\s+|their\s+|your\s+)?(?:[\w']+\s+){0,3}?"
    r"(?:number|price|cost|amount|total|score|age|weight|height|dose|dosage|salary|rent|budget|temperature|"
    r"percentage|rate|size)\b|what\s+time)\b", re.IGNORECASE)
_NUMBER = re.compile(
    r"\b(?:\d[\d,.:/]*(?:st|nd|rd|th|s|k|am|pm|m|km|kg|lbs?|%)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|thousand|million|billion|half|dozen|couple|once|twice|thrice|single|double|"
    r"noon|midnight|first|second|third|fourth|fifth|tenth)\b", re.IGNORECASE)


def asks_for_a_quantity(query: str) -> bool:
    return _ASKS.search(query) is not None


def has_numbers(texts: Sequence[str]) -> np.ndarray:
    """Per passage: says a number."""
    return np.fromiter((_NUMBER.search(t) is not None for t in texts), dtype=bool, count=len(texts))
