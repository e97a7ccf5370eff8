"""What a question asks, checked against what a shown result says of it (``values.misplaced`` runs these on the few
results a search shows; a result that fails one is a misfit: at most confidence.MISFIT_MAX, its rank unchanged).
Each follows from the question's holder, attribute or kind of value, not from the words of a case:

- **Another day of the week.** "What time is kendo on Saturdays?" is not answered by "kendo's fridays only, the
  tuesday class clashed…" (MiniLM: cosine ~0.8, the same class): a question that names a day of the week asks about
  that day; a passage that names days of the week (a range counts as every day in it: "monday to friday") and not
  that one is about another day. Not judged when the passage says weekdays, weekends, daily or every day, nor for a
  question about the past (a day named there is a time window, recall/timewords.py) or a yes/no question ("Do I
  have kendo on Saturdays?" is answered by "fridays only").
- **The asked thing as another holder's, another of the user's people**: recall/holders.py.
- **A time of day asked, none said.** "What time does Ollie's party start?" is not answered by "ollie's party is at
  the bowling alley in glenelg on saturday the thirteenth": the day and the place, but no time (recall/quantity.py
  flags it like another speaker's line; with the same words about the same thing it stayed at 0.68).
- **A sum of another kind.** "What is the deposit on the flat?" is not answered by "rent on the flat is 98,000 a
  month" (cosine ~0.8: the same flat, a sum of money), nor "How much is my car insurance?" by "got a raise! net is
  now 3,750": a question that asks for a kind of sum (a deposit, rent, a salary, a bill, a tax, insurance, a
  budget…) is not answered by a passage that gives money as other kinds of sum and never says the asked one. Words
  for any price or payment ("price", "cost", "fee", "rate", "pay") name no kind: they are not judged.
- **A number in another sender's signature.** "What's Paddy's mobile number?" is not answered by a mail from
  Dublin Movers that names Paddy as the crew lead and signs off "Dublin Movers | 01 845 0076": in an e-mail the
  numbers of the signature (the lines after the last closing, "Kind regards,", or else after the last blank line)
  are the sender's. A phone number asked of someone who is not the sender, when every number the mail gives is in a
  signature that does not name them, is another person's.
- **An arrival asked, only the sending said.** "When does the balikbayan box arrive in Manila?" is not answered by
  "the balikbayan box ships december twelve" (0.73): a question about an arrival or a delivery is not answered by a
  passage that says only that it ships, is sent or leaves (recall/opposites.py pairs arrive and leave in the
  ranking; shipping and sending are this).
- **A place asked, none said.** "Where is Ilse's pottery course?" is not answered by "ilse is going down to three
  days, she's started a pottery course" (0.99), nor "Where does Sam park at the airport?" by "Sam has moved to day
  shifts from December, 7am to 3pm" (0.91): a where-question asks for a place, and a passage that says none (no
  preposition of place before a word that is no time or number, "at the marion", "in denver", "under the mat"; no
  address, no place word, "home", "upstairs", "next door"; no capitalised name inside a sentence other than the
  question's own) does not answer it.
- **No way back.** "When does Uncle Dev fly back to Mumbai?" is not answered by "…pub says max 30 in the back room…
  Uncle Dev can't make it" (recall/opposites.py reads stored terms, where "the back room" says "back"): a return is
  said as one ("flying back", "back home", "back on the 3rd", "the return flight").
"""

from __future__ import annotations

import re

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.holders import asked_holders
from voice_letta.agent.recall.opposites import asks_return_leg
from voice_letta.agent.recall.places import time_terms
from voice_letta.agent.recall.plain import message_parts
from voice_letta.agent.recall.quantity import ADDRESS, CLOCK, MONEY, PHONE, asked_kind, kinds_of_text

# -- another day of the week ------------------------------------------------------------------------------------
_WEEKDAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "weds": 2,
             "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
             "sunday": 6, "sun": 6}
_FULL_NAMES = {word: day for word, day in _WEEKDAYS.items() if word.endswith("day")}
_DAY_TOKEN = re.compile(r"[A-Za-z]+|\d+|[-–]")
_RANGE = frozenset(["to", "till", "til", "until", "through", "thru", "-", "–"])
_EVERY_DAY = re.compile(r"\b(?:weekdays?|weekends?|daily|every\s*day|everyday|week\s*nights?|weeknights?)\b",
                        re.IGNORECASE)
# a question that asks for something (not a yes/no one: "Do I have kendo on Saturdays?" / "fridays only" answers it)
_WH = re.compile(r"^\W*(?:what|what's|whats|when|when's|where|where's|who|who's|whom|whose|which|how)\b",
                 re.IGNORECASE)


def _weekday(token: str, after: str, full_only: bool) -> int | None:
    """The day of the week a token names (0 = Monday): a full name or its plural ("saturdays"); with ``full_only``
    False also a short form ("Tue", "thurs"), "sat" and "sun" only capitalised or before a date ("sat 12 dec")."""
    low = token.lower()
    day = (_FULL_NAMES if full_only else _WEEKDAYS).get(low)
    if day is None and low.endswith("s") and len(low) > 6:
        day = _FULL_NAMES.get(low[:-1])
    if day is not None and low in ("sat", "sun") and not (token[:1].isupper() or after[:1].isdigit()):
        return None  # "we sat down", "in the sun"
    return day


def weekdays(text: str, *, full_only: bool = False) -> set[int]:
    """The days of the week ``text`` names; a range ("monday to friday", "Mon-Fri") names every day in it."""
    tokens = _DAY_TOKEN.findall(text)
    out: set[int] = set()
    last: int | None = None
    joined = False
    for i, tok in enumerate(tokens):
        day = _weekday(tok, tokens[i + 1] if i + 1 < len(tokens) else "", full_only)
        if day is not None:
            if last is not None and joined:
                between = last
                while between != day:
                    out.add(between)
                    between = (between + 1) % 7
            out.add(day)
            last, joined = day, False
        elif last is not None and not joined and tok.lower() in _RANGE:
            joined = True
        else:
            last, joined = None, False
    return out


def other_weekday(query: str, text: str) -> bool:
    """Whether ``text`` names days of the week, none of them the one the question asks about (see above)."""
    if _WH.match(query) is None or T.asks_about_the_past(query):
        return False
    asked = weekdays(query, full_only=True)
    if not asked or _EVERY_DAY.search(text):
        return False
    said = weekdays(text)
    return bool(said) and not said & asked


# -- a time of day asked, none said -----------------------------------------------------------------------------
def no_time_of_day(query: str, text: str, before: int = 0) -> bool:
    """Whether the question asks what time something is and ``text`` says no time of day (``before``: the number
    kinds of the line said before it, recall/quantity.py: a reply's question may say the time)."""
    return asked_kind(query) == CLOCK and not (kinds_of_text(text) | before) & CLOCK


# -- a sum of another kind --------------------------------------------------------------------------------------
# word -> the kind of sum it names (a small hand-written lexicon of everyday money words; synonyms share a kind)
_SUM_KINDS: dict[str, str] = {
    "rent": "rent", "deposit": "deposit", "bond": "deposit", "salary": "income", "wage": "income",
    "wages": "income", "income": "income", "base": "income", "earnings": "income", "raise": "income",
    "payrise": "income",
    "bonus": "bonus", "budget": "budget", "fare": "fare", "fares": "fare", "bill": "bill", "bills": "bill",
    "invoice": "bill", "tip": "tip", "fine": "fine", "penalty": "fine", "tax": "tax", "taxes": "tax", "vat": "tax",
    "insurance": "insurance", "premium": "insurance", "refund": "refund", "mortgage": "mortgage", "loan": "loan",
    "savings": "savings", "fund": "savings", "debt": "debt", "pension": "pension", "allowance": "allowance",
    "tuition": "tuition", "subscription": "subscription", "donation": "donation", "commission": "commission",
}
# said beside the main sum ("45k plus a 5k bonus", "a raise to 3,750"): no other kind of sum for the one asked
_ADD_ONS = frozenset(["bonus", "tip", "raise", "payrise"])
# a currency: a sign, a word or a code ("₱4,200", "780 UAH", "kr 24.500", "forty thousand pesos"); a code only in
# capitals ("1860.50,TRY"), since "try", "won", "real", "rand" and "Ron" are everyday words and names
_CURRENCY_SAID = re.compile(
    r"[£$€¥₹₱₩₺₴₦₫₪฿]|\b(?i:dollars?|bucks?|quid|pounds?|euros?|cents?|pence|grand|rupees?|yen|reais|pesos?|kr|"
    r"kroner|krone|kronor|zloty|złoty|zł|lira|lire|liras|ringgit|baht|dirhams?|dinars?|shekels?|yuan|rmb|francs?|"
    r"rubles?|roubles?|hryvnias?|naira|cedis?|shillings?|usd|gbp|eur|inr|brl|jpy)\b|"
    r"\b(?:PHP|TRY|UAH|SEK|NOK|DKK|PLN|CHF|AUD|CAD|NZD|SGD|HKD|MXN|ZAR|KES|NGN|GHS|EGP|AED|SAR|ILS|THB|VND|IDR|MYR|"
    r"KRW|CNY|HUF|CZK|RON|BRL|RUB|ARS|CLP|COP|PEN|PKR|BDT|LKR|TZS|UGX)\b")
_HOW_MUCH = re.compile(r"^\W*(?:what|what's|whats|how\s+much)\b", re.IGNORECASE)


def other_sum(query: str, text: str) -> bool:
    """Whether the question asks for a kind of sum and ``text`` gives money only as other kinds (see above)."""
    if _HOW_MUCH.match(query) is None:
        return False
    asked = {_SUM_KINDS[w] for w in T.words(query) if w in _SUM_KINDS}
    if not asked:
        return False
    said = {_SUM_KINDS[w] for w in T.words(text) if w in _SUM_KINDS and w not in _ADD_ONS}
    if not said or said & asked:
        return False
    return bool(kinds_of_text(text) & MONEY) or _CURRENCY_SAID.search(text) is not None


# -- no way back ----------------------------------------------------------------------------------------------
_RETURN_SAID = re.compile(
    r"\b(?:fly|flies|flew|flying|flight|come|comes|came|coming|get|gets|got|getting|go|goes|went|going|head|heads|"
    r"heading|drive|drives|drove|driving|travel\w*|be|been|being|is|are|was|were|he's|she's|they're|we're|i'm|"
    r"sail\w*|train|ferry|bus|way)\s+(?:back|home)\b|\bback\s+(?:home|from|to|on|in|by|at|for|after|before)\b|"
    r"\breturn\w*|\binbound\b|\bhomeward\b|\bhomebound\b", re.IGNORECASE)


def no_way_back(query: str, text: str) -> bool:
    """Whether the question asks about a planned way back and ``text`` says no return (see above)."""
    return asks_return_leg(query) and _RETURN_SAID.search(text) is None


# -- a number in another sender's signature ---------------------------------------------------------------------
_FROM = re.compile(r"^From:[ \t]*(.+)$", re.MULTILINE)
_HEADERS = ("from:", "to:", "cc:", "bcc:", "date:", "sent:", "subject:", "reply-to:")
_CLOSING = re.compile(r"^\s*(?:kind |best |warm |warmest |many |with )?(?:regards|thanks|thank you|best|cheers|"
                      r"sincerely|wishes|all the best|talk soon|yours)\b.{0,20}$", re.IGNORECASE)
_PHONE_DIGITS = 7
_DIGIT_RUN = re.compile(r"\+?\d[\d \t().-]*\d")  # "01 631 8402", "+353 (0)87 224-6190"


def _phone_line(line: str) -> bool:
    """A line that gives a phone number: a run of digits and separators with PHONE_DIGITS digits or more (not the
    mail's headers: a date and a subject's flat number are no phone)."""
    return not line.lower().startswith(_HEADERS) and any(
        sum(ch.isdigit() for ch in m.group()) >= _PHONE_DIGITS for m in _DIGIT_RUN.finditer(line))


def other_sender_phone(query: str, text: str) -> bool:
    """Whether a phone number is asked of someone who is not the mail's sender and every number the mail gives is
    in a signature that does not name them (see above)."""
    if not asked_kind(query) & PHONE:
        return False
    holders = asked_holders(query)
    m = _FROM.search(text)
    if not holders or m is None or holders & set(T.words(m.group(1))):
        return False
    lines = text[m.end():].splitlines()
    phones = [i for i, line in enumerate(lines) if _phone_line(line)]
    if not phones:
        return False
    closings = [i for i, line in enumerate(lines) if _CLOSING.match(line)]
    blanks = [i for i, line in enumerate(lines) if not line.strip()]
    start = closings[-1] if closings else (blanks[-1] if blanks else 0)
    if phones[0] < start:
        return False  # a number in the mail's body: whose it is, the other checks judge
    return not holders & set(T.words("\n".join(lines[start:])))


def envelope_phone(query: str, text: str) -> bool:
    """Whether a phone number is asked of someone the question names and the passage's messages (a chat export's
    JSON objects, an SMS backup's elements: recall/plain.py) give a number only in their envelope, which names
    nobody asked: an export's "address" or "from" number is the correspondent's ("What's Sipho's phone number?" /
    the landlord's SMS "Plumber is Sipho from QuickFix" from +27825550148)."""
    if not asked_kind(query) & PHONE:
        return False
    holders = asked_holders(query)
    parts = message_parts(text) if holders else None
    if parts is None:
        return False
    said, envelope = parts
    if kinds_of_text(said) & PHONE or not kinds_of_text(envelope) & PHONE:
        return False
    return not holders & set(T.words(envelope))


# -- an arrival asked, only the sending said --------------------------------------------------------------------
_ARRIVAL_ASKED_TEXT = "arrive arrives arriving arrival land lands landing delivered delivery deliveries"
_ARRIVAL_ASKED = frozenset(_ARRIVAL_ASKED_TEXT.split())
_ARRIVAL_SAID_TEXT = "arrived landed deliver delivers delivering reach reaches reached due expect expected eta"
_ARRIVAL_SAID = _ARRIVAL_ASKED | frozenset(_ARRIVAL_SAID_TEXT.split())
_SENDING_TEXT = """ship ships shipped shipping dispatch dispatched dispatches posted sent send sends leave leaves
leaving depart departs departing"""
_SENDING = frozenset(_SENDING_TEXT.split())


def only_sending(query: str, text: str) -> bool:
    """Whether the question asks when or where something arrives and ``text`` says only its sending (see above)."""
    if not _ARRIVAL_ASKED.intersection(T.words(query)) or _WH.match(query) is None:
        return False
    said = set(T.words(text))
    return bool(said & _SENDING) and not said & _ARRIVAL_SAID


# ... and the other way: a departure asked ("When does Marta leave Kyiv?"), only the arrival said ("Marta comes from
# Lviv on the 18th, I'll meet her at the station"): when someone arrives is not when they leave
_DEPARTURE_TEXT = "leave leaves leaving left depart departs departing departed departure departures"
_DEPARTURE = frozenset(_DEPARTURE_TEXT.split())
_ARRIVING_TEXT = "arrive arrives arriving arrived arrival land lands landing landed"
_ARRIVING = frozenset(_ARRIVING_TEXT.split())
_COMING_FROM = re.compile(r"\b(?:comes?|coming|gets?\s+in)\s+(?:back\s+)?from\b", re.IGNORECASE)


def only_arrival(query: str, text: str) -> bool:
    """Whether the question asks when or where someone or something leaves and ``text`` says only an arrival."""
    if not _DEPARTURE.intersection(T.words(query)) or _WH.match(query) is None:
        return False
    said = set(T.words(text))
    return (bool(said & _ARRIVING) or _COMING_FROM.search(text) is not None) and not said & _DEPARTURE


# -- a place asked, none said -----------------------------------------------------------------------------------
_WHERE = re.compile(r"^\W*where(?:'s|\s)", re.IGNORECASE)
_PLACING_TEXT = """at in to from near on by inside outside under underneath behind beside above below into onto across
past via through within around opposite off"""
_PLACING = frozenset(_PLACING_TEXT.split())
_PLACE_WORDS_TEXT = """home work school upstairs downstairs here there abroad online downtown uptown nearby next door
address location venue room ward office"""
_PLACE_WORDS = frozenset(_PLACE_WORDS_TEXT.split())
_DETERMINING_TEXT = "the my our his her their your a an this that"
_NUMBER_WORDS_TEXT = "one two three four five six seven eight nine ten eleven twelve twenty thirty half couple few"
_DETERMINING = frozenset(_DETERMINING_TEXT.split())
_NUMBER_WORDS = frozenset(_NUMBER_WORDS_TEXT.split())
# a name inside a sentence ("…moved to Denver", "…climb at The Arch"), not a sentence's first word
_INSIDE_NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+")
_MONTHS_DAYS_TEXT = """january february march april may june july august september october november december monday
tuesday wednesday thursday friday saturday sunday"""
_MONTHS_DAYS = frozenset(_MONTHS_DAYS_TEXT.split())


def no_place(query: str, text: str) -> bool:
    """Whether the question asks where something is and ``text`` says no place at all (see above)."""
    if _WHERE.match(query) is None:
        return False
    words = T.words(text)
    if _PLACE_WORDS.intersection(words) or kinds_of_text(text) & ADDRESS:
        return False
    asked = set(T.words(query))
    if any(m.group().lower() not in _MONTHS_DAYS and m.group().lower() not in asked
           for m in _INSIDE_NAME.finditer(text)):
        return False  # a name that may be the place ("Scoops changed my shifts"); not the asked holder's
    times = time_terms()
    for i, word in enumerate(words[:-1]):
        if word not in _PLACING:
            continue
        after = [w for w in words[i + 1:i + 3] if w not in _DETERMINING][:1]
        if (after and not after[0][:1].isdigit() and after[0] not in _NUMBER_WORDS and after[0] not in T.STOPWORDS
                and not set(T.term_ids(after[0])) & times):
            return False  # "at the marion", "to denver"; not "to three days", "from december", "at 7"
    return True


# -- a price or a measure asked, none said ------------------------------------------------------------------------
# "How much did the new membrane cost?" is not answered by "new membrane in, watermaker back to 60 L/h", nor "How much
# was the new dinghy lock?" by "new dinghy lock, 2908": a price needs a currency or a word of paying said with a
# number (recall/quantity.py reads any figure of two digits as a possible sum, which a code or a rate also is).
_PRICE_ASK = re.compile(r"^\W*(?:how\s+much|what)\b.*\b(?:cost|costs|costing|price|priced|pay|paid|charge|charged|"
                        r"spend|spent|fee|fees|fare)\b|"
                        r"^\W*how\s+much\s+(?:was|were)\s+(?:the|my|our|his|her|their|that|this|those)\b",
                        re.IGNORECASE)
_PAYING = (r"(?:cost|costs|costing|price|priced|prices|pay|paid|paying|charge|charged|charges|spend|spent|bought|"
           r"fee|fees|quote|quoted|bill|billed|invoice|invoiced|rate|discount)")
# a figure, or a number word as a whole word ("tenant" holds no "ten")
_FIGURE = (r"(?:\d|(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
           r"fifty|sixty|seventy|eighty|ninety|a\s+hundred)\b)")
# a word of paying with a number near it ("cost us 340", "paid 40", "200 fee"), or
# "free"; a number said as what something went for ("got the bike for 450", "the lock was forty"; not "at 6 pm"). Not
# a word of paying about something else in the same note ("Kellogg's charged no fine").
_PAYING_SAID = re.compile(rf"\b{_PAYING}\b(?:\W+\w+){{0,4}}?\W+{_FIGURE}|"
                          rf"\b{_FIGURE}[\w.,]*(?:\W+\w+)?\W+{_PAYING}\b|"
                          r"\bfree\b|\b\d+(?:[.,]\d+)?\s*(?:k|each|ea|apiece|a\s+piece)\b|"
                          rf"\b(?:for|was|were|only|just)\s+(?:about\s+|around\s+|like\s+)?{_FIGURE}",
                          re.IGNORECASE)
# "What did calf 702 weigh?" is not answered by "702 is small, bottle-fed"; "What depth did we anchor in?" not by
# "anchored Sandy Island, 6 h 10 min": a measure asked needs a number with a unit of its dimension, or the asked
# word said with a number ("weighed 38", "depth 6"). "How long" is a time as often as a length: not judged.
_DIMENSIONS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    # a dose or a concentration: "What concentration of dexamethasone did I use?" / "24 h time course, samples at 0, 3"
    (re.compile(r"\b(?:concentration|dose|dosage|strength)\b|\bhow\s+many\s+(?:milligrams|mg|micrograms|units|ml)\b",
                re.IGNORECASE),
     re.compile(r"\d\s*(?:mg|mcg|µg|ug|g|ml|mls|l|mm|µm|um|nm|pm|m|%|iu|units?|mmol|nmol|µmol|x)\b|\d\s*%|"
                r"\b(?:concentration|dose|dosage|strength|milligrams?|micrograms?|millilitres?|milliliters?|percent|"
                r"units?|molar|millimolar|micromolar|nanomolar|tablets?|pills?|drops?|puffs?|capsules?|"
                r"teaspoons?|spoonfuls?)\b", re.IGNORECASE)),
    (re.compile(r"\b(?:weigh|weighs|weighed|weight|heavy|heavier)\b", re.IGNORECASE),
     re.compile(r"\d\s*(?:kg|kgs|kilo|kilos|kilograms?|lb|lbs|pounds?|g|grams?|oz|ounces?|st|stone|tonnes?|tons?)\b|"
                r"\b(?:weigh|weighs|weighed|weighing|weight|kilos?|kilograms?|lbs?|stone|grams?|ounces?|tonnes?)\b",
                re.IGNORECASE)),
    (re.compile(r"\b(?:depth|deep|deeper|height|tall|taller|wide|width)\b", re.IGNORECASE),
     re.compile(r"\d\s*(?:m|cm|mm|ft|foot|feet|in|inches?|metres?|meters?|fathoms?|yards?|yds?)\b|"
                r"\b(?:depth|deep|high|height|tall|wide|width|metres?|meters?|feet|foot|fathoms?|inches?|yards?|"
                r"centimetres?|centimeters?)\b", re.IGNORECASE)),
    # a reading in miles is no time ("How many miles are on Dee's truck?" / "34 hr reset")
    (re.compile(r"\b(?:mileage|odometer)\b|\bhow\s+many\s+(?:miles|kilometres|kilometers|km)\b", re.IGNORECASE),
     re.compile(r"\d\s*(?:km|mi|k|miles?|kilometres?|kilometers?)\b|\b(?:mileage|odometer|miles?|kilometres?|"
                r"kilometers?|km|clocked)\b", re.IGNORECASE)),
    # a distance is said as a time as often ("twenty minutes' drive")
    (re.compile(r"\b(?:far|distance)\b", re.IGNORECASE),
     re.compile(r"\d\s*(?:m|km|mi|nm|miles?|metres?|meters?)\b|\b(?:far|away|distance|miles?|kilometres?|kilometers?|"
                r"km|metres?|meters?|minutes?|mins?|hours?|hrs?|drive|walk|ride|block|blocks|down|next|close|near|"
                r"nearby|around)\b", re.IGNORECASE)),
)


def no_price(query: str, text: str) -> bool:
    """Whether the question asks what something cost and ``text`` says no currency and no word of paying with a
    number (see above)."""
    if _PRICE_ASK.search(query) is None:
        return False
    if _CURRENCY_SAID.search(text) is not None:
        return False
    return _PAYING_SAID.search(text) is None


def no_measure(query: str, text: str) -> bool:
    """Whether the question asks a dose, a weight, a depth, a height, a reading in miles or a distance and ``text``
    gives none (see above)."""
    return any(asked.search(query) and said.search(text) is None for asked, said in _DIMENSIONS)
