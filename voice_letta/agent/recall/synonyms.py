"""Query expansion for paraphrases that share no word with what was said: "amma" for "mum", "other half" for
"partner", "occupation" for "job", "plane" for "flight", "flat" for "apartment".

MiniLM places many everyday synonyms close, but not the words of one family, one region or one register: "What
should I buy for my mum on the trip?" missed "amma wants me to bring back bandhani sarees", and "What is my other
half's occupation?" missed "The user's partner Sam works nights as an air traffic controller" (QA's held-out test6);
"what does our kitty need every morning and evening" missed "our cat pepper has to get her thyroid pills" (dev). The
keyword half cannot help when no word is shared. A voice user says these things in their own words, so this is a
small hand-written lexicon of everyday English (British, American and Indian English words for the same person or
thing; not learned from any benchmark): groups of words and phrases that name the SAME referent in a personal memory.

A question that says a word of a group gets one more query (``Expansion``; the search keeps each passage's best
query, so nothing the question's own words find is lost):
- for the vector half, the question with each such word or phrase replaced by its group's plain word ("What is my
  partner's job?"), which MiniLM knows well;
- for the keyword half, the question's own words plus every other one-word member of the group ("… amma mother mom
  mummy …"), so a passage that says any of them is found by BM25 (a phrase's words alone, "line", "half", would
  match anything).

Groups hold only words for the same thing, never a wider or narrower one: "kitten" is not "cat", "parent" is not
"mother", "son" is not "child", "house" is not "flat" (``roles.py`` judges which roles are *compatible* with a
question; this module only says the same thing in other words). A word that also means something else ("lead" the
metal, "pay" the verb, "gas" the bill) is a keyword extra of its group (marked ``+``): it is added when another word
of the group is asked, and never starts an expansion.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.inflections import ENGLISH_ENDINGS, FORMS_ASCII_STEM, forms, inflects, stem, suffixes
from voice_letta.agent.recall.keyword import KeywordIndex
from voice_letta.agent.recall.kind_words import KINDS_TEXT
from voice_letta.agent.recall.languages import GROUPS as LANGUAGE_GROUPS
from voice_letta.agent.recall.languages import INFLECTING, trie
from voice_letta.agent.recall.roles import COMPOSED

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

__all__ = ["Expansion", "expand", "names_a_speaker", "said_in", "with_words"]

# plain word (what the vector query says): the other words and phrases for it, "|" between them; "+word": a keyword
# extra only
_GROUPS_TEXT = """
mother: mum | mom | mam | mummy | mommy | amma | ammi | maa | mamá | mãe | nanay | inay | eomma | umma | mutti |
    maman | madre | mamma | mamãe | okaasan | +mama | +mami | +ima
father: dad | daddy | papa | appa | abbu | papá | pitaji | tatay | itay | abeoji | vati | padre | babuji |
    abbaji | otousan | +abba | +papi | +pai | +baba
grandmother: grandma | granny | gran | nan | nana | nanna | nonna | nani | dadi | abuela | abuelita | avó | vovó |
    ammamma | paati | ajji | halmeoni | halmoni | obaachan | nainai | waipo | mamaw | meemaw | oma | bubbe |
    bubby | babcia | yiayia | sitti | por por | porpor | laolao | babushka | savta | mamie | +popo | +lola |
    +avo | +vovo | +teta | +omi | +por
grandfather: grandpa | grandad | granddad | gramps | nonno | abuelo | abuelito | avô | vovô | nanaji | dadaji |
    thatha | harabeoji | ojiichan | yeye | waigong | gunggung | opa | zayde | dziadek | papou | jiddo | papaw |
    gung gung | yeh yeh | dedushka | papy | +lolo | +vovo | +saba
partner: spouse | other half | better half | significant other | hubby | wifey | missus | husband | wife | boyfriend |
    girlfriend | fiance | fiancee | fiancé | fiancée | esposa | esposo | marido | novio | novia | namorado |
    namorada | patni | biwi | shohar | asawa | bf | gf | bae | +pati | +mujer
children: kids | little ones | hijos | niños | filhos | bachche | +child | +kid
brother: bro | bhaiya | bhai | hermano | irmão | irmao | kuya | gege | hyung | dai lo | dailo | gor gor | gorgor |
    ge ge | bhaijaan | thambi | +manong | +oppa
sister: sis | didi | akka | hermana | irmã | behen | baji | jiejie | unnie | noona | mui mui | muimui | mei mei |
    meimei | jie jie | gaa je | +manang | +apa | +mui
aunt: auntie | aunty | tía | tia | tita | tiya | chachi | mausi | masi | bua | phuphi | khala | zia | tante | ciocia |
    chithi | khaleh | khalto | yi ma | gu ma | +mami
uncle: tío | tio | chacha | chachu | mamu | mamaji | taya | tauji | khalu | phupha | zio | samchon | onkel | tonton |
    wujek | chithappa | amoo | suk suk | kau fu | +tito | +mama
cousin: primo | prima | pinsan | cugino | cugina | cousin brother | cousin sister
son: hijo | filho | +beta
daughter: hija | filha | beti
grandson: nieto | neto | +apo
granddaughter: nieta | neta | +apo
nephew: sobrino | sobrinho | bhatija | bhanja
niece: sobrina | sobrinha | bhatiji | bhanji
mother-in-law: suegra | sogra | saas | +biyenan
father-in-law: suegro | sogro | sasur
sister-in-law: cuñada | cunhada | bhabhi | nanad | saali
brother-in-law: cuñado | cunhado | jija | jiju | devar | saala
godmother: madrina | ninang
godfather: padrino | ninong
friend: amigo | amiga | dost | yaar | kaibigan | bestie | bff | best friend | +buddy | +pal | +mate
neighbour: neighbor | neighbours | neighbors | vecino | vecina | vizinho | vizinha
job: occupation | profession | career | line of work | do for a living | employment | trabajo | trabaho | naukri |
    +kaam
boss: manager | supervisor | line manager | team lead | team leader | report to | reports to | jefe | jefa | chefe |
    patrão | +lead | +amo
colleague: coworker | co-worker | workmate
employer: company | firm
salary: wage | wages | income | paycheck | paycheque | earnings | take-home | sweldo | sueldo | salário | tankhwah |
    +pay | +net
apartment: flat | condo
roommate: flatmate | housemate
landlord: landlady
garden: yard | backyard
sofa: couch | settee
rubbish: trash | garbage | +bin | +bins
tv: telly | television
phone: mobile | cellphone | cell phone | +cell
postcode: zip code | postal code | +zip
petrol: gasoline | +fuel | +gas
holiday: holidays | vacation | vacations | hols | vacaciones | bakasyon | chutti | chhutti
home: ghar | bahay | +casa
flight: plane | flights | +fly | +flying | +airline
return: coming home | come home | get home | getting home | fly home | flying home | head home | heading home |
    coming back | get back | getting back | fly back | flying back
doctor: doc | gp | physician | médico | doktor | +dr
medication: medicine | meds | tablets | pills | dawai | dawa | gamot | medicina | +prescription
money: pera | dinero | pesa | paisa | +cash
food: khana | pagkain | comida
pharmacy: chemist | drugstore
cat: kitty | pussycat
dog: doggy | doggo | pooch
vet: veterinarian
university: uni
thesis: dissertation
nursery: daycare | preschool | kindergarten | creche
film: movie | movies | films
soccer: football
trainers: sneakers
allergy: allergic | allergies
presentation: speech | +talk
invitation: invite | invites | invitations | +card | +cards
phoned: rang | rung | +called | +call | +calls
dim sum: yum cha | +dimsum
wedding: shaadi | shadi | boda | casamento | kasal | kasalan | hochzeit | matrimonio
birthday: bday | b-day | cumpleaños | cumple | kaarawan | aniversário | saalgirah | janamdin
christening: baptism | binyag | bautizo | batizado | bautismo
lunar new year: chinese new year | spring festival | cny | tet | seollal
christmas eve dinner: noche buena | nochebuena
appointment: appt | appts | +apt
biology: bio
chemistry: chem
mathematics: maths | math
psychology: psych
photos: pics | pictures | photographs
physio: physiotherapist | physical therapist | physiotherapy | physical therapy
lawyer: solicitor | attorney
insurance: insurer | insurers | insured | coverage | motor cover | car cover | home cover | travel cover |
    health cover | +cover | +policy | +premium
car: vehicle
bike: bicycle
motorbike: motorcycle
fridge: refrigerator
elevator: +lift
autumn: +fall
sweater: jumper | pullover
cookies: biscuits
candy: sweets
takeout: takeaway
diapers: nappies
stroller: pram | buggy | pushchair
parking lot: car park
highway: motorway | freeway
cv: resume | résumé
coriander: cilantro
aubergine: eggplant
courgette: zucchini
prawns: shrimp | prawn | shrimps
emergency room: a&e | casualty | +er
favourite: favorite
colour: color
centre: center
theatre: theater
jewellery: jewelry
licence: license
cheque: +check
grey: gray
pyjamas: pajamas
mould: mold
"""


def _kin() -> str:
    """The one-word names of kin in the groups (not their keyword extras): the members of "relative" ("which relative
    rang?" / "khala called")."""
    kin = [g for g in _GROUPS[:[plain for plain, _, _ in _GROUPS].index("friend")]]
    words = [w for _, triggers, _ in kin for w in triggers if " " not in w and "-" not in w]
    return " ".join(dict.fromkeys([*words, "mama", "baba", "abba", "lola", "lolo", "tito", "popo"]))


def _kinds() -> list[tuple[list[str], list[str]]]:
    """(words that name the kind, its members) per kind."""
    out = []
    text = KINDS_TEXT.replace("{kin}", _kin())
    for entry in re.split(r"\n(?=\S)", text.strip()):
        names, _, members = entry.partition(">")
        out.append(([" ".join(n.split()) for n in names.split("|")], members.split()))
    return out


@dataclass(frozen=True, slots=True)
class Expansion:
    """One more query for a question that says a word of a group: ``dense`` for the vector half, ``keywords`` for
    BM25."""

    dense: str
    keywords: str
    groups: tuple[int, ...] = ()  # the groups the question said a word of (their inflected forms: ``said_in``)


def _groups() -> list[tuple[str, list[str], list[str]]]:
    """(plain word, words and phrases that start an expansion, keyword extras) per group; kin said through another
    ("my dad's brother", ``roles.COMPOSED``) starts its role's group."""
    out = []
    for entry in re.split(r"\n(?=\S)", _GROUPS_TEXT.strip()):
        plain, _, rest = entry.partition(":")
        parts = [" ".join(p.split()) for p in re.split(r"[|\n]", rest) if p.strip()]
        parts += [phrase for phrase, role in COMPOSED.items() if role == plain]
        triggers = [plain] + [p for p in parts if not p.startswith("+")]
        extras = [p[1:] for p in parts if p.startswith("+")]
        out.append((plain, triggers, extras))
    return _with_languages(out)


def _with_languages(groups: list[tuple[str, list[str], list[str]]]) -> list[tuple[str, list[str], list[str]]]:
    """``groups`` with the words of the other languages (``languages.py``) merged into the group of the same English
    word, or as groups of their own. A one-way line's English word is a keyword extra, not a trigger ("two" in an
    English question adds no "dos")."""
    at = {plain: i for i, (plain, _, _) in enumerate(groups)}
    for plain, words, extras, one_way in LANGUAGE_GROUPS:
        if plain in at:
            old_plain, triggers, old_extras = groups[at[plain]]
            groups[at[plain]] = (old_plain, list(dict.fromkeys([*triggers, *words])),
                                 list(dict.fromkeys([*old_extras, *extras])))
        else:
            at[plain] = len(groups)
            groups.append((plain, words if one_way else [plain, *words], [plain, *extras] if one_way else extras))
    return groups


_GROUPS = _groups()
_TRIGGER = {t: i for i, (_, triggers, _) in enumerate(_GROUPS) for t in triggers}
_PATTERN = re.compile(r"\b(" + trie(list(_TRIGGER)) + r")\b")
_KINDS = _kinds()
_KIND_OF: dict[str, list[int]] = {}
for _i, (_names, _) in enumerate(_KINDS):
    for _name in _names:
        _KIND_OF.setdefault(_name, []).append(_i)  # "thyroid": its doctor and its medicines
_KIND = re.compile(r"\b(" + trie(list(_KIND_OF)) + r")\b")


def _inflected() -> tuple[dict[str, list[str]], dict[str, frozenset[str]], dict[tuple[str, str], int]]:
    """The other languages' table words as their stems (stem as spelled -> languages), each language's endings that
    English words do not have, and (language, stem) -> group: "врача", "lekarza", "citas" are a stem and an ending."""
    by_stem: dict[tuple[str, str], int] = {}
    stems: dict[str, list[str]] = {}
    for code, pairs in INFLECTING.items():
        for word, _ in pairs:
            if word in _TRIGGER and inflects(word, code, FORMS_ASCII_STEM):
                by_stem.setdefault((code, stem(word, code)), _TRIGGER[word])
                stems.setdefault(word[:len(stem(word, code))], []).append(code)
    endings = {code: frozenset(e for e in suffixes(code) if len(e) <= 3 and e not in ENGLISH_ENDINGS)
               for code in INFLECTING}
    return stems, endings, by_stem


_STEMS, _ENDINGS, _BY_STEM = _inflected()
_INFLECTING_OF: dict[int, list[tuple[str, str]]] = {}  # group -> its (language, word) of a language with a stemmer
for _lang, _lang_pairs in INFLECTING.items():
    for _lang_word, _english in _lang_pairs:
        if _lang_word in _TRIGGER:
            _INFLECTING_OF.setdefault(_TRIGGER[_lang_word], []).append((_lang, _lang_word))
_WORD = re.compile(r"[^\W\d_]{5,}")


def _said(lower: str) -> list[tuple[int, int, str, int]]:
    """(start, end, word, group) of each word of a group the question says, as written or inflected."""
    found = [(m.start(1), m.end(1), m.group(1), _TRIGGER[m.group(1)]) for m in _PATTERN.finditer(lower)]
    for m in _WORD.finditer(lower):
        word = m.group(0)
        if word in _TRIGGER or (found and any(a < m.end() and m.start() < b for a, b, _, _ in found)):
            continue
        for k in range(max(3, len(word) - 3), len(word)):  # a stem of the table, then an ending (<= 3 letters)
            for code in _STEMS.get(word[:k], ()):
                g = _BY_STEM.get((code, stem(word, code))) if word[k:] in _ENDINGS[code] else None
                if g is not None:  # the stemmer agrees it is that word's form
                    found.append((m.start(), m.end(), word, g))
                    break
            else:
                continue
            break
    return sorted(found)


@lru_cache(maxsize=1024)
def expand(question: str) -> Expansion | None:
    """The extra query for ``question``, or None when it says no word of a group nor of a kind."""
    lower = question.lower().replace("’", "'")
    found = _said(lower)
    kinds = list(dict.fromkeys(k for m in _KIND.finditer(lower.replace("-", " ")) for k in _KIND_OF[m.group(1)]))
    if not found and not kinds:
        return None
    members = [w for k in kinds for w in _KINDS[k][1] if w not in lower.split()]
    dense = lower
    for start, end, _, g in reversed(found):
        dense = dense[:start] + _GROUPS[g][0] + dense[end:]
    said = {word for _, _, word, _ in found}
    groups = tuple(dict.fromkeys(g for _, _, _, g in found))
    added: list[str] = []
    for g in groups:
        _, triggers, extras = _GROUPS[g]
        added += [w for w in [*triggers, *extras] if w not in said and " " not in w]
    return Expansion(dense=question if dense == lower else dense, keywords=" ".join([lower, *added, *members]),
                     groups=groups)


@lru_cache(maxsize=256)
def _group_forms(g: int) -> tuple[np.ndarray, np.ndarray]:
    """The inflected forms of a group's other-language words whose keyword term is none of the group's own words'
    ("врача", "lekarza"; "medicos" is Porter "medico": left out), and their term ids. Once per group a process."""
    own = {t for w in _GROUPS[g][1] + _GROUPS[g][2] for t in T.terms(w)}
    out: dict[str, str] = {}
    for code, word in _INFLECTING_OF.get(g, ()):
        for form in forms(word, code):  # one lower-case word: its term is its Porter stem
            term = T.stem(form)
            if term not in own and form not in T.STOPWORDS:
                out.setdefault(term, form)
    return (np.array(list(out.values()), dtype=object),
            np.fromiter((T.term_id(t) for t in out), dtype=np.uint64, count=len(out)))


# keyword index -> (its row count, group -> the group's inflected forms it says): a memory's forms are looked up again
# only after it has changed, not for every question that names the group
_SAID_FORMS: weakref.WeakKeyDictionary[KeywordIndex, tuple[int, dict[int, list[str]]]] = weakref.WeakKeyDictionary()


def _forms_said(keywords: KeywordIndex, g: int) -> list[str]:
    n, by_group = _SAID_FORMS.get(keywords, (-1, {}))
    if n != keywords.n:
        by_group = {}
        _SAID_FORMS[keywords] = (keywords.n, by_group)
    if g not in by_group:
        forms_of, ids = _group_forms(g)
        by_group[g] = list(forms_of[keywords.known(ids)]) if len(ids) else []
    return by_group[g]


def said_in(index: PassageIndex, extra: Expansion | None, question: str) -> Expansion | None:
    """``extra``, or None when it only adds keywords the agent's memory never says (its vector half is the question
    itself): an English question's "dinner" adds "cena", "dîner", "abendessen" …, and a memory in English alone
    searches one query less (the extra query's work at 100k passages) for the same ranking."""
    if extra is None:
        return None
    inflected = [form for g in extra.groups for form in _forms_said(index.keywords, g)]
    if inflected:  # the forms this memory says: "записалась к врачу" for "doctor"
        extra = Expansion(extra.dense, " ".join([extra.keywords, *inflected]), extra.groups)
    if extra.dense != question:
        return extra
    asked = set(T.query_terms(question))
    added = [t for t in T.query_terms(extra.keywords) if t not in asked]
    return extra if any(len(index.keywords.postings_of(T.term_id(t))[0]) for t in added) else None


def with_words(extra: Expansion | None, question: str, words: Sequence[str]) -> Expansion | None:
    """``extra`` (or a query of the question itself) with ``words`` added to its keyword half: the names the agent's
    memory gives a relation the question names, or the relation of a name it says (``relations.py``)."""
    if not words:
        return extra
    if extra is None:
        return Expansion(dense=question, keywords=" ".join([question.lower(), *words]))
    return Expansion(dense=extra.dense, keywords=" ".join([extra.keywords, *words]), groups=extra.groups)


def names_a_speaker(index: PassageIndex, query: str) -> bool:
    """Whether the question names a speaker of the agent's transcripts other than the user and the assistant ("What
    games do Jolene and her partner play?"): their people and things are said in their own words, and in a chat of
    several people another speaker's "husband" is not this one's "partner" (no expansion for such a question:
    LoCoMo any@1 0.406 -> 0.403 with it, its named speakers' partners, dogs and doctors mixed up). Not a stopword: a
    pasted email's "From:" is read as a label."""
    return any(w in index.known_speakers and w not in _ROLES and w not in T.STOPWORDS for w in T.words(query))


_ROLES = frozenset({"user", "assistant", "system"})
