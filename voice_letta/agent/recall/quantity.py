"""Questions that ask for a quantity ("how much did the lodge cost?", "what is my policy number?", "how old will
ada be?") are not answered by a passage that holds no number of the kind asked for: "we switched to a lodge near
the national park" is about the lodge, but says nothing of its price. Such a result is flagged like one about
someone else (a lower confidence, ``Ranked.other_speaker``); its rank is unchanged.

A number is a digit or a number word as people say them ("one eighty two", "a couple", "twice", "half"); the
passage's line before it counts too (a reply: "how far is it?" / "about forty minutes"). What kind of number a
question asks for matters as much as whether there is one: the near misses of a quantity question are the same
entity's *other* numbers (``number_kinds``):

- an amount ("how many bathrooms", "how old", "how long", a member number) is not a date or a time: "the lease
  starts the twenty fifth", "tom's first day is april 6", "between eight and 7:05" answer *when*, not how many;
- a sum of money ("how much did the dentist charge", "how much will tom earn", rent, budget, price) needs one said
  as money: a currency ("ninety quid", "$40", "three hundred dollars"), hundreds or thousands ("eighteen
  thousand"), a price said in pairs ("eighteen fifty a month") or a figure of two digits or more; "one small
  filling" and "back in three weeks" are not prices;
- a phone number needs seven digits or more (digits or spoken: "oh seven seven…");
- an address (not an email's) needs a street, a postcode or a flat or unit number: "biscuit is staying with my mum
  in harrogate" says where she lives, not her address;
- an email address needs one ("otis@halberd.co.uk", "otis at halberd dot co dot uk", a mail provider's name):
  "my new contact is a guy called otis brandt" names him, not his email.
A question for a phone number or an email asks for it however it is put ("do you remember the poet's phone
number?"); "how much is a hot chocolate?" and "what does gideon earn?" ask for a sum of money.
"What time" asks for any number (times are said every way). Some things fall on a day, never at a time of day: "when
is zoe's birthday?" (a deadline, an anniversary, an expiry) is not answered by "dad's picking me up at half twelve".
A time that is a result or a goal ("what's my target time?", "my finishing time") is said as a clock time or an
amount ("1:25", "under ninety minutes").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_ASKS = re.compile(
    r"\b(?:how\s+(?:much|many|old|long|far|tall|big|heavy|often|fast|early|late)|"
    r"what(?:'s|\s+is|\s+was|\s+are|\s+were)?\s+(?:the\s+|my\s+|our\s+|his\s+|her\s+|their\s+|your\s+)?(?:[\w'.]+\s+){0,3}?"
    r"(?:number|price|cost|amount|total|score|age|weight|height|dose|dosage|salary|rent|budget|temperature|"
    r"percentage|rate|size)\b|what\s+time|"
    r"what\s+(?:do|does|did|will|would)\s+(?:[\w']+\s+){0,4}?(?:earn|earns|charge|charges|cost|costs|pay|pays|paid)\b)"
    r"\b",
    re.IGNORECASE)
_NUMBER = re.compile(
    r"\b(?:\d[\d,.:/]*(?:st|nd|rd|th|s|k|am|pm|m|km|kg|lbs?|%)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|thousand|million|billion|half|dozen|couple|once|twice|thrice|single|double|"
    r"noon|midnight|first|second|third|fourth|fifth|tenth)\b", re.IGNORECASE)
_ANY_TIME = re.compile(r"\bwhat\s+time\b", re.IGNORECASE)
# "what time Saturday is…", "what time on Friday does…": the day said first, still a time of day asked
_WHAT_TIME = re.compile(r"\bwhat\s+time(?:\s+(?:on\s+|this\s+|next\s+)?(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|"
                        r"today|tomorrow|tonight))?(?:'s|\s+(?:is|are|was|were|do|does|did|will|would|should|can|am|"
                        r"the|my|our|his|her|their|your|we|i|you|he|she|they)\b|\s*\?|$)",
                        re.IGNORECASE)  # not "time management"
_MONEY_ASK = re.compile(
    r"\b(?:cost|costs|costing|charge|charged|charges|pay|pays|paid|paying|earn|earns|earned|earning|earnings|salary|"
    r"wage|wages|price|priced|rent|budget|afford|money|cash|spend|spends|spending|spent|fee|fees|deposit|owe|owed|"
    r"sell|selling|sold|buy|buying|bought|worth|income|refund|mortgage|loan|savings)\b|"
    r"\bhow\s+much\s+(?:is|are|was|were|will)\b", re.IGNORECASE)  # "how much is a hot chocolate?": a price
_PHONE_ASK = re.compile(r"\b(?:phone|mobile|cell|telephone)\b.*\bnumber\b|\bnumber\b.*\b(?:phone|mobile|cell)\b",
                        re.IGNORECASE)

ANY = 1  # some number
AMOUNT = 2  # a number that is not a date, a time or an ordinal
MONEY = 4  # a sum of money
PHONE = 8  # seven digits or more
ADDRESS = 16  # a street, a postcode, a flat or unit number
EMAIL = 32  # an email address ("otis@halberd.co.uk", "otis at halberd dot co dot uk")
DAY = 64  # a day or a date: a weekday, a month, "tomorrow", "next week", "the eleventh", "14/12"
CLOCK = 128  # a time of day: "7:05", "at ten", "from eight till ten", "half past", "noon", "in the evening"
# Kinds a passage either says or does not (no number of them is ambiguous): a passage without one is as far from the
# answer as a line about someone else's people (confidence.W_OTHER_ROLE on top of W_OTHER_SPEAKER).
STRICT_KINDS = PHONE | ADDRESS | EMAIL


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_UNITS = _words("zero one two three four five six seven eight nine")
_TENS_UP = _words("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
                  "twenty thirty forty fifty sixty seventy eighty ninety")
_BIG = _words("hundred thousand million billion grand")
_CARDINAL = _UNITS | _TENS_UP | _BIG | _words("half dozen couple once twice thrice single double")
_ORDINAL = _words("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
                  "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth")
MONTHS = _words("january february march april may june july august september october november december "
                 "jan feb mar apr jun jul aug sep sept oct nov dec")
_CLOCK = _words("am pm a.m. p.m. o'clock oclock noon midnight")
CURRENCY = _words("dollar dollars bucks buck quid pound pounds euro euros cent cents pence grand usd gbp eur "
                   "yen rupees rupee francs franc")
_SIGNS = frozenset(["£", "$", "€", "¥"])
_MEASURES = _words("second seconds sec secs minute minutes min mins hour hours hr hrs day days night nights week "
                   "weeks month months year years yrs inch inches cm mm km miles mile metres meters feet foot kg "
                   "kilos lbs stone mg milligrams ml people guests times percent degrees")
_SPOKEN_DIGITS = _UNITS | {"oh", "double", "triple"}
_FUNCTION = _words("of and or at on in for to from between till until by the a an this that next last is was it")
_TOKEN = re.compile(r"a\.m\.|p\.m\.|[£$€¥]|\d[\d,.:/]*[a-z%]*|[a-z]+(?:'[a-z]+)?|[.,;:!?\n]")
_ADDRESS_ASK = re.compile(r"\baddress\b", re.IGNORECASE)
_EMAIL_ASK = re.compile(r"\b(?:e-?mail|ip|web)\b", re.IGNORECASE)
_ADDRESS = re.compile(
    r"\b(?:street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|terrace|crescent|drive|highway|hwy|apartment|apt|"
    r"unit|suite|postcode|zip)\b|\b[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}\b|\bflat\s+\d", re.IGNORECASE)
_DIGITS = re.compile(r"(?:\+?\d[\d\s\-().]{5,}\d)")
# "do you remember …", "did I tell you …", "remind me …": a question for what was said
_RECALL_ASK = re.compile(r"\b(?:remember|recall|remind|tell|told|give|gave|know)\b", re.IGNORECASE)
# "what's otis's email?", "his email address": the noun (not "who should I email about it?")
_EMAIL_NOUN_ASK = re.compile(r"\b(?:'s|my|his|her|their|your|our|the|an|a)\s+e-?mail\b|\be-?mail\s+address",
                             re.IGNORECASE)
# A mail's local part is at most 64 characters: unbounded, each position of a long run (20,000 digits) looked to its
# end for an "@" (seconds a passage).
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]+\.[\w.]+|\bdot\s+(?:com|co|org|net|uk|io|edu|gov)\b|"
                    r"\b(?:gmail|hotmail|outlook|yahoo|icloud|protonmail)\b", re.IGNORECASE)


_WHEN_ASK = re.compile(r"\bwhen(?:'s|\s+(?:is|are|does|do|will|am|should|must|can))\b|\bwhat\s+(?:day|date)s?\b|"
                       r"\bwhich\s+(?:day|days|date|night|nights|morning|mornings|afternoon|afternoons|evening|"
                       r"evenings|weekend|month)\b", re.IGNORECASE)
# things that fall on a day, not at a time of day
_DATED = re.compile(r"\b(?:birthdays?|b-?days?|anniversar(?:y|ies)|due\s+date|deadlines?|expiry|expiry\s+date|"
                    r"name\s*days?)\b", re.IGNORECASE)
# a time that is a result or a goal, said as a clock time or a duration
_RESULT_TIME = re.compile(r"\b(?:target|finish|finishing|goal|best|race|lap|record|qualifying|winning)\s+times?\b",
                          re.IGNORECASE)
_DAY = re.compile(
    r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|(?:mon|tue|tues|weds|thu|thur|thurs|fri)\.?|"
    r"(?:sat|sun|wed)(?=\s*(?:-|\d))|(?<=-)(?:sat|sun|wed)|weekdays?|weekends?|today|tonight|tomorrow|yesterday|"
    r"week|weeks|weekly|fortnight|month|months|monthly|year|years|yearly|annual|annually|daily|spring|summer|"
    r"autumn|fall|winter|christmas|easter|new\s+year|january|february|march|april|may|june|july|august|september|"
    r"october|november|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|\d{1,2}(?:st|nd|rd|th)|"
    r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|(?:19|20)\d\d|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|"
    r"twentieth|thirtieth)\b", re.IGNORECASE)
_HOUR = r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half|quarter)"
_CLOCK_SAID = re.compile(
    r"\b\d{1,2}[:.]\d\d\b|\b\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)|\b(?:am|pm|noon|midday|midnight|o'?clock|morning|"
    r"mornings|afternoon|afternoons|evening|evenings|night|nights|tonight|lunchtime|teatime|dawn|dusk)\b|"
    # not a place's or a date's number: "at one-north", "from 5 January"
    r"\b(?:at|by|from|till|til|until|before|after|around|to)\s+" + _HOUR
    + r"\b(?!-(?!ish)\w|\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b)|"
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+(?:o'?clock|oh\s+[a-z]+|fifteen|thirty|"
    r"forty(?:[\s-]five)?|fifty(?:[\s-]five)?|twenty(?:[\s-]five)?)\b|\bhalf\s+(?:past\s+)?(?:one|two|three|four|five|"
    r"six|seven|eight|nine|ten|eleven|twelve)\b", re.IGNORECASE)  # "eleven fifteen", "half seven"


def asks_for_a_quantity(query: str) -> bool:
    return _ASKS.search(query) is not None


def asked_kind(query: str) -> int:
    """The kind of number a question asks for (``ANY``, ``AMOUNT``, ``MONEY``, ``PHONE``, ``ADDRESS``, ``EMAIL``),
    0 when none."""
    if _EMAIL_NOUN_ASK.search(query):
        return EMAIL  # "what's otis brandt's email address?" is not answered by "my new contact is otis brandt"
    if _ADDRESS_ASK.search(query) and not _EMAIL_ASK.search(query):
        return ADDRESS  # "what's my mum's address?" is not answered by "she lives in harrogate"
    if _PHONE_ASK.search(query) and _RECALL_ASK.search(query):
        return PHONE  # "do you remember the poet's phone number?" asks for one too
    if _RESULT_TIME.search(query):
        return CLOCK | AMOUNT  # "what's my target time?": "1:25", "under ninety minutes"
    if not asks_for_a_quantity(query):
        # "when is my insurance renewal?" (not "when did…": when it was said answers that) needs a day or a time;
        # a birthday or a deadline is a day ("when is zoe's birthday?" / "dad's picking me up at half twelve")
        if not _WHEN_ASK.search(query):
            return 0
        return DAY if _DATED.search(query) else DAY | CLOCK
    if _WHAT_TIME.search(query):
        return CLOCK
    if _ANY_TIME.search(query):
        return ANY  # "what time management techniques…": some number, as before
    if _PHONE_ASK.search(query):
        return PHONE
    if _MONEY_ASK.search(query):
        return MONEY
    return AMOUNT


def number_kinds(texts: Sequence[str]) -> np.ndarray:
    """Per passage: the kinds of number it says (bits ``ANY | AMOUNT | MONEY | PHONE | ADDRESS | EMAIL``)."""
    return np.fromiter((_kinds(t) for t in texts), dtype=np.uint8, count=len(texts))


def kinds_of_text(text: str) -> int:
    """The kinds of number one text says (the bits of ``number_kinds``)."""
    return _kinds(text)


# A date written with digits and a year ("2026-11-30 09:00:41", "04/12/2026, 16:45", "Dec 06, 2026", "3 ottobre 2023",
# "12.06.2027"): an export's stamp, a calendar's date. Read as figures, its year was a sum of money ("2026" has two
# digits or more) and its digits with the time a phone number (seven digits or more), so every stamped message said a
# price and a phone ("What's Nora's phone number?" answered by a chat line about her day off, test10).
_YEAR = r"(?:19|20)\d\d"
_DD = r"(?:0?[1-9]|[12]\d|3[01])"
_MM = r"(?:0?[1-9]|1[0-2])"
_TIME_AFTER = r"(?:[ \tT,]+\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s*[ap]\.?m\.?)?)?"
_DIGIT_DATE = re.compile(
    rf"(?<![\d.])(?:{_YEAR}-{_MM}-{_DD}|{_DD}[-/.]{_MM}[-/.]{_YEAR}|{_MM}[-/.]{_DD}[-/.]{_YEAR}){_TIME_AFTER}(?![\d])"
    # a day and a month word with a year, in any language's order ("Dec 06, 2026", "3 de octubre de 2023")
    rf"|\b[^\W\d_]{{3,}}\.?\s+{_DD}(?:st|nd|rd|th)?,?\s+{_YEAR}\b{_TIME_AFTER}"
    rf"|\b{_DD}\.?\s+(?:de\s+)?[^\W\d_]{{3,}}\.?,?\s+(?:de\s+)?{_YEAR}\b{_TIME_AFTER}", re.IGNORECASE)


# A code of letters and digits joined ("BP-2026-118734", "PT-5530", "KL1008"): an identifier, an amount like a member
# number; its digits are no sum of money, no day ("2026") and no phone number ("How much is the permit fee?" / "Permit
# approved, number BP-2026-118734", 0.67; "When is the final inspection?", 0.68). Not a currency code ("USD 40",
# "Tsh450,000.00": letters then a figure without a hyphen, in lower case or a currency's own letters).
_CODE = re.compile(r"(?<![\w£$€¥₹])(?:[A-Za-z]{1,5}-\d[\w-]*\d|[A-Z]{2,5}\d{3,}[\w-]*)(?![\w.,]*\d)")
_CURRENCY_CODES_TEXT = """usd gbp eur inr kes tsh ugx ngn zar aud cad nzd jpy cny hkd sgd php pln uah chf sek nok dkk
mxn brl aed sar rs kr"""
_CURRENCY_CODES = frozenset(_CURRENCY_CODES_TEXT.split())


def _kinds(text: str) -> int:
    dated = 0
    if any(ch.isdigit() for ch in text):
        found = [m.group() for m in _DIGIT_DATE.finditer(text)]
        if found:  # the date is a day (and its time a time of day), never a figure
            text = _DIGIT_DATE.sub(" ", text)
            dated = DAY | (CLOCK if any(":" in d for d in found) else 0)
        codes = [m for m in _CODE.finditer(text)
                 if m.group().split("-")[0].rstrip("0123456789").lower() not in _CURRENCY_CODES]
        if codes:
            for m in reversed(codes):
                text = f"{text[:m.start()]} {text[m.end():]}"
            dated |= ANY | AMOUNT
    return dated | _figures(text)


def _figures(text: str) -> int:
    address = ADDRESS if _ADDRESS.search(text) is not None else 0
    if _EMAIL.search(text) is not None:
        address |= EMAIL
    if _DAY.search(text) is not None:
        address |= DAY
    if _CLOCK_SAID.search(text) is not None:
        address |= CLOCK
    if _NUMBER.search(text) is None:
        return address
    low = text.lower()
    out = ANY | address
    if any(sum(ch.isdigit() for ch in m.group()) >= 7 for m in _DIGITS.finditer(low)):
        out |= PHONE
    tokens = _TOKEN.findall(low)
    spoken = 0
    for tok in tokens:  # "oh seven seven one…"
        spoken = spoken + 1 if tok in _SPOKEN_DIGITS else 0
        if spoken >= 7:
            out |= PHONE
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        before = tokens[i - 1] if i else ""
        if tok[0].isdigit():
            after = tokens[i + 1] if i + 1 < n else ""
            out |= _digit_kind(tok, before, after)
            i += 1
            continue
        if tok not in _CARDINAL and tok not in _ORDINAL:
            i += 1
            continue
        j = i
        while j < n and (tokens[j] in _CARDINAL or tokens[j] in _ORDINAL or (tokens[j] == "and" and j > i)):
            j += 1
        run = [t for t in tokens[i:j] if t != "and"]
        after = tokens[j] if j < n else ""
        i = j
        if before in MONTHS or after in MONTHS or after in _CLOCK:
            continue  # "may twelve", "at seven pm": a date or a time
        if run[-1] in _ORDINAL:
            out |= _ordinal_kind(after)
            continue
        out |= AMOUNT
        if before in _SIGNS or after in CURRENCY or (after not in _MEASURES and (
                _BIG.intersection(run) or sum(t in _TENS_UP for t in run) >= 2)):
            out |= MONEY  # "ninety quid", "eighteen thousand", "eighteen fifty a month"
    return out


def _ordinal_kind(after: str) -> int:
    """An ordinal counts as an amount when a thing follows it ("my fourth tournament", "the 3rd attempt"), not when
    it is a day ("the twenty fifth", "on the 9th, between…", "the fourteenth of january")."""
    return AMOUNT if after[:1].isalpha() and after not in _FUNCTION else 0


def _digit_kind(tok: str, before: str, after: str) -> int:
    """The kinds of one digit token ("7:05", "25th", "4471", "40k", "£38,000" seen as "£" then "38,000")."""
    if before in _SIGNS:
        return AMOUNT | MONEY  # "$38/mo", "£9.50": a currency sign makes any figure a sum, whatever its unit
    if ":" in tok or "/" in tok or tok.endswith(("am", "pm")) or after in _CLOCK:
        return 0
    if before in MONTHS or after in MONTHS:
        return 0
    if tok.endswith(("st", "nd", "rd", "th")):
        return _ordinal_kind(after)
    out = AMOUNT
    digits = sum(ch.isdigit() for ch in tok.split(".")[0])
    if before in _SIGNS or after in CURRENCY or (after not in _MEASURES and (tok.endswith("k") or digits >= 2)):
        out |= MONEY
    return out
