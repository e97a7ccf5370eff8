"""The people a question is about: "when does my wife's passport expire?" is not answered by "my passport expires
in march", nor "what did my uncle send me?" by "my aunt sent me a box of lemons".

A question that names a person by their role (kin, partner, a trade: "wife", "brother", "dentist") asks about that
person. A passage that names no one compatible with that role (in its words, its synopsis or the line before it) is
about someone else, however close in meaning: the result is flagged like a line of another speaker
(``Ranked.other_speaker``, a lower confidence; ``Ranked.other_role`` lowers it more when the question is about the
user's own people, "my wife's car"), its rank is unchanged. An update that does not repeat its subject ("actually
make that thursday") is judged with the passage it replaces. Compatible: the role itself, a word of the
same role ("mom" for "mother", "partner" for "fiance", "sibling" for "sister"), or a name the agent's memory gives
that role ("my sister maya" makes "maya" a sister: the word after the role, wherever the role is said).

A question that names someone the agent's memory knows ("what is remi allergic to?") is not answered by a
passage that does not say that name, nor does the line before it (``other_name``; flagged the same way).

Roles are a small hand-written lexicon of everyday English (not learned from any benchmark): MiniLM puts "brother"
and "sister", "dentist" and "vet" as close as synonyms (cosines 0.4–0.76 for both kinds of pairs), so no
threshold on embeddings tells a different person from the same person said differently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.languages import HERITAGE_KIN

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

# Words for the same people in the languages English speakers mix in (Spanish, Portuguese, Hindi/Urdu, Tagalog,
# Italian, Korean, Chinese, Yiddish, German...: "my abuela", "tía rosa", "primo luis", "my jefe", "nani", "kuya", "lola"
# is left out: also a first name, and a name is not a role, recall/values.py). Kept in step with synonyms.py.
_HERITAGE: dict[str, str] = {
    "mother": "maa mamá mãe nanay inay eomma umma amma ammi mutti maman madre mamma mamãe okaasan",
    "father": "papá pitaji tatay itay abbu appa abeoji vati padre babuji abbaji otousan",
    "grandmother": "abuela abuelita avó vovó nani dadi ammamma paati ajji halmeoni halmoni obaachan nainai waipo oma "
                   "bubbe babcia yiayia sitti mamaw meemaw porpor laolao babushka savta mamie",
    "grandfather": "abuelo abuelito avô vovô lolo nanaji dadaji thatha harabeoji ojiichan yeye waigong gunggung opa "
                   "zayde dziadek papou jiddo papaw dedushka papy",
    "brother": "bhai bhaiya hermano irmão irmao kuya gege hyung dailo gorgor bhaijaan thambi",
    "sister": "didi akka hermana irmã behen baji jiejie unnie noona muimui meimei",
    "son": "hijo filho", "daughter": "hija filha beti", "child": "hijos niños filhos bachche",
    "wife": "esposa patni biwi", "husband": "esposo marido shohar", "spouse": "asawa",
    "boyfriend": "novio namorado", "girlfriend": "novia namorada",
    "uncle": "tío tio chacha chachu mamu mamaji taya tauji khalu phupha zio samchon onkel tonton wujek chithappa "
             "amoo",
    "aunt": "tía tia tita tiya chachi mausi masi bua phuphi khala zia tante ciocia chithi khaleh khalto",
    "cousin": "primo pinsan cugino cugina", "niece": "sobrina sobrinha bhatiji bhanji",
    "nephew": "sobrino sobrinho bhatija bhanja", "grandchild": "nieto nieta neto neta",
    "boss": "jefe jefa chefe patrão", "neighbor": "vecino vecina vizinho vizinha", "doctor": "médico medico doctora",
}
# ... and those of recall/languages.py's table (French, Italian, German kin: "ma belle-mère", "mein Bruder")
_HERITAGE |= {role: " ".join(dict.fromkeys([*_HERITAGE.get(role, "").split(), *words]))
              for role, words in HERITAGE_KIN.items()}


# Kin said through another ("my dad's brother", "my wife's mum", "my sister's boy"): the one person they name.
_MUM, _DAD = ("mum", "mom", "mother", "mam"), ("dad", "father")
_IN_LAW = ("wife", "husband", "partner")
_COMPOSED_ROLES: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "uncle": [(_MUM + _DAD, ("brother",))], "aunt": [(_MUM + _DAD, ("sister",))],
    "grandmother": [(_MUM + _DAD, _MUM)], "grandfather": [(_MUM + _DAD, _DAD)],
    "nephew": [(("brother", "sister"), ("son", "boy"))], "niece": [(("brother", "sister"), ("daughter", "girl"))],
    "cousin": [(("uncle", "aunt", "auntie", "aunty"), ("son", "daughter", "kid", "boy", "girl"))],
    "grandson": [(("son", "daughter"), ("son", "boy"))],
    "granddaughter": [(("son", "daughter"), ("daughter", "girl"))],
    "mother-in-law": [(_IN_LAW, _MUM)], "father-in-law": [(_IN_LAW, _DAD)],
    "sister-in-law": [(_IN_LAW, ("sister",)), (("brother",), ("wife",))],
    "brother-in-law": [(_IN_LAW, ("brother",)), (("sister",), ("husband",))],
}
COMPOSED: dict[str, str] = {f"{a}{s} {b}": role for role, rules in _COMPOSED_ROLES.items() for firsts, seconds in rules
                            for a in firsts for b in seconds for s in ("'s", "s")}
# the role lexicon is one word a role: an in-law ("mother-in-law": "mother", "law") is left as said (its two roles)
_ONE_WORD = {phrase: role for phrase, role in COMPOSED.items() if "-" not in role}
_COMPOSED_PATTERN = re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(_ONE_WORD, key=len, reverse=True))
                               + r")\b")


def composed(query: str) -> str:
    """The (lower-case) query with kin said through another as the one role ("my dad's brother" -> "my uncle")."""
    return _COMPOSED_PATTERN.sub(lambda m: _ONE_WORD[m.group(1)], query.lower().replace("’", "'"))


def _with(group: str, *roles: str) -> str:
    """A role's compatible words and those of ``roles`` in the languages of ``_HERITAGE``."""
    return " ".join([group, *(_HERITAGE.get(r, "") for r in roles)]).strip()


_KIDS = _with("child children kid kids son sons daughter daughters boy boys girl girls baby toddler", "son", "daughter",
              "child")
_PARTNER = _with("partner spouse wife husband fiance fiancee boyfriend girlfriend", "wife", "husband", "spouse",
                 "boyfriend", "girlfriend")
_GRANDMOTHER = _with("grandmother grandma granny gran nan nana nanna nonna", "grandmother")
_GRANDFATHER = _with("grandfather grandpa granddad grandad gramps nonno", "grandfather")
_GRANDCHILD = _with("grandchild grandchildren grandkid grandkids granddaughter grandson", "grandchild")
_GROUPS: dict[str, str] = {
    "mother": _with("mother mom mum mommy mama parent parents", "mother"),
    "father": _with("father dad daddy papa parent parents", "father"),
    "parent": _with("parent parents mother mom mum father dad", "mother", "father"),
    "brother": _with("brother bro sibling siblings", "brother"),
    "sister": _with("sister sis sibling siblings", "sister"),
    "sibling": _with("sibling siblings brother sister bro sis", "brother", "sister"),
    "son": "son boy " + _KIDS, "daughter": "daughter girl " + _KIDS, "child": _KIDS, "kid": _KIDS,
    "wife": _with("wife spouse partner", "wife", "spouse"),
    "husband": _with("husband spouse partner", "husband", "spouse"),
    "partner": _PARTNER, "spouse": _PARTNER,
    "fiance": "fiance fiancee partner", "boyfriend": _with("boyfriend partner", "boyfriend"),
    "girlfriend": _with("girlfriend partner", "girlfriend"), "uncle": _with("uncle", "uncle"),
    "aunt": _with("aunt auntie aunty", "aunt"), "cousin": _with("cousin", "cousin"), "niece": _with("niece", "niece"),
    "nephew": _with("nephew", "nephew"),
    "grandmother": _GRANDMOTHER + " grandparent grandparents",
    "grandfather": _GRANDFATHER + " grandparent grandparents",
    "grandparent": "grandparent grandparents " + _GRANDMOTHER + " " + _GRANDFATHER,
    "grandchild": _GRANDCHILD, "granddaughter": _GRANDCHILD, "grandson": _GRANDCHILD,
    "boss": _with("boss manager supervisor", "boss"), "manager": _with("manager boss supervisor", "boss"),
    "coworker": "coworker colleague",
    "colleague": "colleague coworker", "neighbor": _with("neighbor neighbour neighbors", "neighbor"),
    "roommate": "roommate flatmate",
    "landlord": "landlord landlady", "doctor": _with("doctor doc dr physician gp", "doctor"),
    "dentist": "dentist orthodontist",
    "vet": "vet veterinarian", "therapist": "therapist physio physiotherapist counselor counsellor",
    "physio": "physio physiotherapist therapist", "nurse": "nurse", "plumber": "plumber",
    "electrician": "electrician", "contractor": "contractor builder builders", "mechanic": "mechanic",
    "teacher": "teacher tutor", "tutor": "tutor teacher", "coach": "coach trainer", "trainer": "trainer coach",
    "supervisor": "supervisor boss manager",
    "lawyer": "lawyer attorney solicitor", "accountant": "accountant",
}
_ALIASES = {"mom": "mother", "mum": "mother", "dad": "father", "grandma": "grandmother", "grandpa": "grandfather",
            "granny": "grandmother", "gran": "grandmother", "nan": "grandmother", "nana": "grandmother",
            "nanna": "grandmother", "grandad": "grandfather", "granddad": "grandfather", "gramps": "grandfather",
            "grandkid": "grandchild", "grandkids": "grandchild", "grandchildren": "grandchild",
            "grandparents": "grandparent",
            "kids": "kid", "children": "child", "parents": "parent", "siblings": "sibling", "fiancee": "fiance",
            "neighbour": "neighbor", "veterinarian": "vet", "attorney": "lawyer", "colleagues": "colleague",
            "brothers": "brother", "sisters": "sister", "sons": "son", "daughters": "daughter",
            "auntie": "aunt", "aunty": "aunt"}
_ALIASES |= {w: role for role, words in _HERITAGE.items() for w in words.split()}
ALIAS_ROWS = 64  # passages read for the names a role is given
# Animals: "who is looking after our dog?" is not answered by a line about the cat. Unlike a role, a pet is often
# named by its name or breed alone ("Biscuit, my corgi"), so a passage is flagged only when it names *another*
# animal and none of the one asked about (nor a name given to it: "our dog ziggy").
_ANIMALS: dict[str, str] = {
    "dog": "dog dogs puppy puppies pup doggy", "cat": "cat cats kitten kittens kitty",
    "bird": "bird birds parrot budgie parakeet canary", "parrot": "parrot parrots bird birds",
    "fish": "fish goldfish", "rabbit": "rabbit rabbits bunny", "hamster": "hamster hamsters",
    "horse": "horse horses pony", "snake": "snake snakes", "turtle": "turtle turtles tortoise",
    "lizard": "lizard lizards gecko",
}
_ANIMAL_ALIASES = {"dogs": "dog", "puppy": "dog", "puppies": "dog", "pup": "dog", "doggy": "dog", "cats": "cat",
                   "kitten": "cat", "kittens": "cat", "kitty": "cat", "birds": "bird", "budgie": "bird",
                   "parrots": "parrot", "goldfish": "fish", "bunny": "rabbit", "rabbits": "rabbit",
                   "hamsters": "hamster", "horses": "horse", "pony": "horse", "snakes": "snake", "turtles": "turtle",
                   "tortoise": "turtle", "lizards": "lizard", "gecko": "lizard"}


def _tid(word: str) -> int | None:
    terms = T.terms(word)
    return T.term_id(terms[0]) if terms else None


@lru_cache(maxsize=1)
def _lexicon() -> dict[int, frozenset[int]]:
    """term id of a role word -> the term ids compatible with it."""
    out: dict[int, frozenset[int]] = {}
    for word in [*_GROUPS, *_ALIASES]:
        group = _GROUPS[_ALIASES.get(word, word)]
        tid = _tid(word)
        if tid is not None:
            out[tid] = frozenset(t for t in (_tid(w) for w in group.split()) if t is not None)
    return out


@lru_cache(maxsize=1)
def _animals() -> tuple[dict[int, frozenset[int]], frozenset[int]]:
    """term id of an animal word -> the term ids compatible with it; and every animal word's term id."""
    out: dict[int, frozenset[int]] = {}
    for word in [*_ANIMALS, *_ANIMAL_ALIASES]:
        tid = _tid(word)
        if tid is not None:
            group = _ANIMALS[_ANIMAL_ALIASES.get(word, word)]
            out[tid] = frozenset(t for t in (_tid(w) for w in group.split()) if t is not None)
    return out, frozenset(t for ids in out.values() for t in ids)


def other_animal(index: PassageIndex, rows: Sequence[int], query_terms: Sequence[str]) -> set[int]:
    """The rows that name another animal than the one the query asks about, and not that one (nor the line before
    them): "our dog" against "biscuit is staying with my mum … cats are stressed by moves"."""
    lex, every = _animals()
    asked = [lex[tid] for tid in (T.term_id(t) for t in query_terms) if tid in lex]
    if not asked or not rows:
        return set()
    wanted = [accepted | _names_for(index, accepted) for accepted in asked]
    said = {r: _said_with_the_line_before(index, r) for r in rows}
    return {r for r, have in said.items() if any(have & every and not have & ok for ok in wanted)}


# Names: "what is remi allergic to?" is not answered by "gideon is allergic to shellfish", nor "when is gideon's mum's
# birthday?" by "my mum's birthday is…". A name is a word the question writes capitalised after its first word
# (questions reach search typed, or from speech-to-text or the chat model, which capitalise names; stored lines
# often are lower case, so the passages' case is not used) that the agent's memory holds somewhere (an unknown name
# may be misheard or misspelt). Words capitalised in a row are one name ("Lord of the Rings", "Nintendo Switch"): any
# of them will do. Not when the question names one of the agent's known speakers (or a short form of one: "Mel"):
# their lines are judged by speaker, and what they are asked about is often someone or something their answer
# does not repeat ("What did James and Samantha discover at McGee's bar?"; LoCoMo lost 12 answers to this).
_NAME = re.compile(r"(?<![\w'’])[A-Z][a-z]+(?:\s+(?:of\s+)?(?:the\s+)?[A-Z][a-z]+)*(?=['’]s\b|\b)")
_NOT_NAMES_TEXT = """monday tuesday wednesday thursday friday saturday sunday january february march april may june july
august september october november december mr mrs ms miss mx dr prof sir dame st saint of the"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
# A month said as a possessive holds something ("What's June's shoe size?", "Who is April's teacher?"): it is a name, or
# a month whose own thing a passage about it says the month of ("June's rent") — either way the word must be said.
# Not the days of the week: "Saturday's game" is the game a line says is "on saturday" or only "at 9".
_MONTHS_TEXT = "january february march april may june july august september october november december"
_MONTHS = frozenset(_MONTHS_TEXT.split())


def query_names(query: str) -> list[list[str]]:
    """The names a question says, each as its lower-case words (see above)."""
    out = []
    for m in _NAME.finditer(query):
        before = query[:m.start()].rstrip()
        found = m.group(0).split()
        if not before or before[-1] in ".?!:;\"":
            found = found[1:]  # a sentence's first word
        held = query[m.end():m.end() + 2] in ("'s", "’s")
        name = [w for i, w in enumerate(f.lower() for f in found) if w not in T.STOPWORDS and (
            w not in _NOT_NAMES or (held and i == len(found) - 1 and w in _MONTHS))]
        if name:
            out.append(name)
    return out


def names_a_speaker(index: PassageIndex, query: str) -> bool:
    """Whether the question names one of the agent's known speakers, or a short form of one ("Mel")."""
    speakers = index.known_speakers
    return any(w in speakers or any(s.startswith(w) for s in speakers) for w in T.words(query) if len(w) >= 3)


def other_name(index: PassageIndex, rows: Sequence[int], query: str) -> set[int]:
    """The rows that do not say a name the question asks about (nor does the line before them)."""
    if not rows or names_a_speaker(index, query):
        return set()
    roles = _lexicon()
    wanted = []
    for name in query_names(query):
        tids = {t for t in (_tid(w) for w in name) if t is not None and t not in roles
                and len(index.keywords.postings_of(t)[0])}
        if tids:
            wanted.append(tids)
    if not wanted:
        return set()
    said = {r: _said_with_the_line_before(index, r) for r in rows}
    return {r for r, have in said.items() if any(not (have & tids) for tids in wanted)}


@lru_cache(maxsize=1)
def _role_words() -> frozenset[str]:
    return frozenset(w for words in (_GROUPS, _ALIASES, *_GROUPS.values()) for w in (
        words.split() if isinstance(words, str) else words))


def role_words() -> frozenset[str]:
    """Every role word of the lexicon (its roles, their other words and the words compatible with them)."""
    return _role_words()


def same_role(word: str) -> list[str]:
    """The words compatible with a role word ("dad" -> father, dad, daddy, papa, parent…); the word alone when it is
    no role of the lexicon."""
    group = _GROUPS.get(_ALIASES.get(word, word))
    return group.split() if group else [word]


def role_ids() -> frozenset[int]:
    """The term ids of every role word of the lexicon."""
    return frozenset(_lexicon())


def is_role(word: str) -> bool:
    """Whether a word is a role of the lexicon (or its plural)."""
    words = _role_words()
    return word in words or (word.endswith("s") and word[:-1] in words) or (word.endswith("es") and word[:-2] in words)


def query_roles(query_terms: Sequence[str], query: str | None = None) -> list[tuple[int, frozenset[int]]]:
    """The roles a query names: (the role's term id, the term ids compatible with it). With the ``query`` itself, only
    roles said as a role word (or its plural): "doctorate" and "nursing" share the stems of "doctor" and "nurse"."""
    lex = _lexicon()
    said = None
    if query is not None:
        if (plain := composed(query)) != query.lower().replace("’", "'"):  # "my dad's brother": an uncle
            query_terms, query = T.query_terms(plain), plain
        said = {T.term_id(t) for w in T.words(query) if is_role(w) for t in T.terms(w)}
    out = []
    for term in query_terms:
        tid = T.term_id(term)
        if tid in lex and (said is None or tid in said):
            out.append((tid, lex[tid]))
    return out


def mismatched(index: PassageIndex, rows: Sequence[int], roles: list[tuple[int, frozenset[int]]]) -> set[int]:
    """The rows that name no one compatible with one of ``roles`` (nor does the line before them)."""
    if not roles or not rows:
        return set()
    wanted = [accepted | _names_for(index, accepted) for _, accepted in roles]
    said = {r: _said_with_the_line_before(index, r) for r in rows}
    return {r for r, have in said.items() if any(not (have & ok) for ok in wanted)}


def _said_with_the_line_before(index: PassageIndex, row: int) -> set[int]:
    """The term ids of a row and of the line said just before it (a reply names its subject in the question)."""
    have = set(index.terms_of(row).tolist())
    before = int(index.prev[row]) if row < len(index.prev) else -1
    if before >= 0:
        have.update(index.terms_of(before).tolist())
    return have


def _names_for(index: PassageIndex, accepted: frozenset[int]) -> set[int]:
    """The names the agent's passages give a role: the word said right after a role word ("my sister maya …",
    "tía rosa" -> maya, rosa; "my mum's name is june", "my boss is called dana": the word after "name"/"called"),
    and in a note about the user the word before "the user's <role>" ("June (the user's mother) has physio…",
    "Walter, the user's father": a caregiving app's or the sleeptime agent's third-person notes)."""
    naming, user = _naming_ids()
    names: set[int] = set()
    for tid in accepted:
        rows, _ = index.keywords.postings_of(tid)
        for r in rows[:ALIAS_ROWS].tolist():
            terms = index.terms_of(int(r))
            at = np.flatnonzero(terms == np.uint64(tid)).tolist()
            for i in at:
                j = i + 2 if i + 2 < len(terms) and int(terms[i + 1]) in naming else i + 1
                if j < len(terms):
                    names.add(int(terms[j]))
                if i >= 2 and int(terms[i - 1]) == user:
                    names.add(int(terms[i - 2]))
    return names


@lru_cache(maxsize=1)
def _naming_ids() -> tuple[frozenset[int], int]:
    """The term ids of the words that introduce a name ("name", "called", "named") and of "user"."""
    return frozenset(T.term_ids("name named called nicknamed")), T.term_id(T.terms("user")[0])
