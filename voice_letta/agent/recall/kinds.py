"""Another thing of the same kind: "Which bus do I take from Inverness to Skye?" is not answered by "08:33 train
Edinburgh to Inverness on Thursdays, then the car" (MiniLM: cosine 0.68, the same trip), nor "When is Sana's
nikah?" by "sana's walima is on the 28th" (0.61, the same wedding), nor "What was my cholesterol at the checkup?" by
"my blood pressure was one twenty over eighty at the checkup" (0.51, the same checkup).

Some things come in kinds that exclude each other: a trip is made by bus or by train, a wedding has a nikah and a
walima, a checkup measures cholesterol and blood pressure, a home has a kitchen and a bathroom, a household has
recycling and garden waste. A question that names one member of such a family asks about that one; a passage that
names other members of the family and never the asked one is about another thing of the same kind, however close
its words (``values.misplaced`` caps it at confidence.MISFIT_MAX, its rank unchanged). A passage that names no
member is not judged ("the cheapest way to Skye is…"), nor a question that names two ("bus or train?"), nor one
that asks yes or no. The families are a small hand-written lexicon of everyday things with kinds (not learned
from any benchmark's words); recall/asked.py's ``other_sum`` is the same rule for sums of money.

Another of the same series: "What colour are the U12 jerseys?" is not answered by "New jerseys arrived! Falcons are
navy…" when the memory's Falcons are "the U10 Falcons" (0.60). A question that names a code of letters and a number
("U12", "Q4", "CX838") asks about that one of its series; when the memory says a neighbour of it (the same letters,
a number up to SERIES_SPAN away: "U10", "Q3", "CX839"), a passage that does not say the asked code is about another
of the series or about none (``other_in_series``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from voice_letta.agent.recall import text as T

# family -> its members, each the words that name it (a member is one thing said several ways)
_FAMILIES: dict[str, tuple[str, ...]] = {
    "transport": ("bus buses", "train trains rail", "ferry ferries boat sailing",
                  "flight flights fly flying flies plane airline", "taxi cab uber lyft", "tram trams",
                  "metro subway tube underground"),
    "identifier": ("registration reg rego numberplate", "reference ref confirmation", "policy", "account",
                   "membership member", "tracking", "invoice", "passport", "licence license", "seat"),
    "wedding": ("nikah", "walima valima", "mehndi mehendi henna", "baraat", "sangeet", "haldi", "reception",
                "ceremony", "rehearsal", "engagement", "hen bachelorette", "stag bachelor"),
    "measure": ("cholesterol ldl hdl", "bloodpressure bp", "sugar glucose a1c hba1c", "inr", "heartrate pulse",
                "ferritin iron", "oxygen", "thyroid tsh"),
    "waste": ("recycling recyclables", "garden green", "general rubbish trash landfill", "food compost", "glass"),
    "room": ("kitchen", "bathroom ensuite", "bedroom", "living lounge", "dining", "garage", "attic loft",
             "basement cellar", "laundry utility", "nursery"),
    "meal": ("breakfast", "brunch", "lunch", "dinner supper"),
    "subject": ("maths math", "english", "science", "biology bio", "chemistry chem", "physics", "history",
                "geography", "french", "spanish", "german", "art", "music"),
    "sport": ("football soccer", "basketball", "netball", "swimming swim", "tennis", "cricket", "rugby", "hockey",
              "baseball", "volleyball", "gymnastics", "ballet", "karate", "judo", "kendo", "taekwondo", "badminton",
              "golf"),
    "instrument": ("piano", "guitar", "violin", "drums drum", "cello", "flute", "clarinet", "trumpet",
                   "saxophone sax", "ukulele"),
    "utility": ("electricity electric", "gas", "water", "broadband internet", "council"),
    "body": ("knee knees", "back", "shoulder shoulders", "hip hips", "ankle ankles", "wrist wrists", "neck", "elbow",
             "foot feet"),
    "hotel stay": ("checkin", "checkout"),
    "laundry": ("washer washers", "dryer dryers"),
    "occasion": ("birthday bday", "anniversary", "graduation", "funeral", "christening baptism", "retirement",
                 "housewarming"),
}
# two-word members said as one word above
_PHRASES = {"blood pressure": "bloodpressure", "heart rate": "heartrate", "check-in": "checkin", "check in": "checkin",
            "check-out": "checkout", "check out": "checkout"}
_PHRASE = re.compile(r"\b(" + "|".join(_PHRASES) + r")\b", re.IGNORECASE)
# a question that asks for something (a yes/no question may be answered by the other member: "Do I take the bus?")
_WH = re.compile(r"^\W*(?:what|what's|whats|when|when's|where|where's|who|who's|whom|whose|which|how)\b",
                 re.IGNORECASE)


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, list[tuple[str, int]]]:
    """word -> the (family, member) pairs it names."""
    out: dict[str, list[tuple[str, int]]] = {}
    for family, members in _FAMILIES.items():
        for i, member in enumerate(members):
            for word in member.split():
                out.setdefault(word, []).append((family, i))
    return out


def _members(text: str) -> dict[str, set[int]]:
    """The members of each family ``text`` names."""
    lex = _lexicon()
    out: dict[str, set[int]] = {}
    for word in T.words(_PHRASE.sub(lambda m: _PHRASES[m.group(1).lower()], text)):
        for family, member in lex.get(word, ()):
            out.setdefault(family, set()).add(member)
    return out


def other_kind(query: str, text: str) -> bool:
    """Whether the question names one member of a family and ``text`` names only others of it (see above)."""
    if _WH.match(query) is None:
        return False
    asked = _members(query)
    if not asked:
        return False
    said = _members(text)
    return any(len(members) == 1 and said.get(family) and not said[family] & members
               for family, members in asked.items())


_CODE = re.compile(r"\b([A-Za-z]{1,3})(\d{1,4})\b")
SERIES_SPAN = 3  # numbers either side of an asked code that make a series ("U10" / "U12", "Q3" / "Q4")


def other_in_series(query: str, text: str, said: Callable[[str], bool]) -> bool:
    """Whether the question names a code ``text`` does not say while the memory says a neighbour of it (``said``:
    whether a term is in the agent's memory; see above)."""
    here = {m.group().lower() for m in _CODE.finditer(text)}
    for m in _CODE.finditer(query):
        letters, number = m.group(1).lower(), int(m.group(2))
        if f"{letters}{number}" in here or m.group().lower() in here:
            continue
        if any(said(f"{letters}{n}") for n in _neighbours(m.group(2))):
            return True
    return False


def _neighbours(digits: str) -> set[int]:
    """The numbers of a series next to ``digits``: up to SERIES_SPAN either side ("U10" / "U12"), or the same length
    with one digit changed (course codes step by tens and hundreds: "CS2030" / "CS2040", "MA1101" / "MA2101")."""
    number = int(digits)
    out = set(range(max(0, number - SERIES_SPAN), number + SERIES_SPAN + 1))
    if len(digits) >= 3:
        out |= {int(digits[:i] + d + digits[i + 1:]) for i in range(len(digits)) for d in "0123456789"
                if (i or d != "0")}
    return out - {number}
