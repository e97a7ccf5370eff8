"""Other languages' words of time read as English before a question's window or date is read: "¿qué te dije ayer?"
-> "¿qué te said yesterday?", "la semana pasada" -> "last week", "el 3 de octubre de 2023" -> "3 october 2023"
(``timewords.py``). Days and months come from ``languages.py``'s table; the phrases of time, the verbs of saying and
the function words of a question are here.
"""

from __future__ import annotations

import re

from voice_letta.agent.recall.inflections import trie
from voice_letta.agent.recall.languages import GROUPS, _plain, _spellings

__all__ = ["english_times"]

# Words read as English words of time before a question's window is read ("¿qué te dije ayer?", "what did I say
# hier?", "la semana pasada", "letzte Woche"): other language (left) -> English (right), longest first. Only the
# unambiguous ones: "mañana" alone is tomorrow (no window), "esta mañana" this morning; "kal" is both yesterday and
# tomorrow in Hindi-Urdu and stays out.
_TIMES_TEXT = """
ayer = yesterday; anteayer = the day before yesterday; antier = the day before yesterday; anoche = last night;
esta mañana = this morning; esta tarde = this afternoon; esta noche = tonight; hoy = today;
la semana pasada = last week; el fin de semana pasado = last weekend; el mes pasado = last month;
hier soir = last night; avant-hier = the day before yesterday; hier = yesterday; ce matin = this morning;
cet après-midi = this afternoon; ce soir = tonight; aujourd'hui = today; la semaine dernière = last week;
le week-end dernier = last weekend; le mois dernier = last month;
ontem à noite = last night; anteontem = the day before yesterday; ontem = yesterday; hoje = today;
esta manhã = this morning; a semana passada = last week; semana passada = last week; o mês passado = last month;
ieri sera = last night; l'altro ieri = the day before yesterday; ieri = yesterday; oggi = today;
stamattina = this morning; la settimana scorsa = last week; settimana scorsa = last week; il mese scorso = last month;
gestern abend = last night; vorgestern = the day before yesterday; gestern = yesterday; heute morgen = this morning;
heute = today; letzte woche = last week; vorige woche = last week; letzten monat = last month;
kagabi = last night; kahapon = yesterday; kanina = earlier today; ngayong araw = today; noong isang linggo = last week;
nakaraang linggo = last week; pichle hafte = last week; pichhle hafte = last week;
gisteren = yesterday; vorige week = last week; wczoraj = yesterday; w zeszłym tygodniu = last week; dün = yesterday;
geçen hafta = last week; вчера = yesterday; на прошлой неделе = last week; вчора = yesterday;
минулого тижня = last week
"""
# what a question asks of the past in these languages ("¿qué te dije…?", "qu'est-ce que j'ai dit…"): read as "said"
_SAID_TEXT = """
    dije dijo dijeron dijiste dijimos hablamos conté mencioné dit racconté disse falei falamos dissi detto gesagt
    erzählt sinabi kwento bola boli kaha bataya zei gezegd verteld powiedziałem powiedziałam mówiłem söyledim сказал
    сказала говорил говорила сказав казав
"""

_TIMES = {" ".join(k.split()): v.strip() for k, _, v in
          (p.partition("=") for p in " ".join(_TIMES_TEXT.split()).split(";") if "=" in p)}
_TIMES |= {_plain(k): v for k, v in list(_TIMES.items())}
_TIMES |= {w: "said" for s in _SAID_TEXT.split() for w in _spellings(s)}
_DAYS_MONTHS = {w: plain for plain, triggers, _, one_way in GROUPS
                if plain in {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
                             "february", "march", "april", "may", "june", "july", "august", "september", "october",
                             "november", "december"}
                for w in triggers if " " not in w}
_TIMES |= {w: e for w, e in _DAYS_MONTHS.items() if w != e}
# a question's function words in these languages ("¿qué te dije el martes?"): not its topic once its time is read
_FUNCTION_TEXT = """
    el la los las lo que qué te se le del al en y les du des qu'est-ce je j'ai tu ce ai os da você voce il gli di che ti
    mi ho habe hast ich dir du der die das ano ang ng sa ko mo ka maine kya tha thi tumhe mujhe ne wat ik je heb co что
    я тебе ти тобі
"""
_TIMES |= {w: "" for w in _FUNCTION_TEXT.split() if w not in _TIMES}
_TIME_PATTERN = re.compile(r"(?<![\w-])(" + trie(list(_TIMES)) + r")(?![\w-])")
# "el 11 de diciembre", "le 3 mars", "le 1er mars", "am 5. Mai": a day then its month, the joining word dropped
_DAY_OF = re.compile(r"\b(\d{1,2})(?:er|º|°)?\.?\s+(?:de\s+|di\s+|del\s+|ng\s+)?(?=[a-z])")
# "octubre de 2023", "ottobre del 2023", "outubro de 2023": a month then its year, the joining word dropped
_OF_YEAR = re.compile(r"\b(january|february|march|april|may|june|july|august|september|october|november|december)"
                      r",?\s+(?:de|del|di|d')\s*(?=\d{4}\b)")


def english_times(text: str) -> str:
    """``text`` (lower case) with the time words of the other languages in English ("¿qué te dije el martes?" ->
    "¿qué te said el tuesday?"), so ``timewords`` reads their window; ``text`` itself when it has none."""
    if not any(_TIMES.get(m.group(1)) for m in _TIME_PATTERN.finditer(text)):
        return text
    out = _TIME_PATTERN.sub(lambda m: _TIMES[m.group(1)], text)
    return " ".join(_OF_YEAR.sub(r"\1 ", _DAY_OF.sub(r"\1 ", out)).split())
