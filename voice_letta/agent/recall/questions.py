"""A stored question is not a fact: passages that ask something and say nothing that answers it.

A voice user asks their memory things ("what did I say the door code was?"), and the sleeptime agent archives
those exchanges like any other: "user: what did I say the door code was? / assistant: Let me check. [cut off]",
"user: remind me what the poet's name was / assistant: I'm not sure, could you tell me again? / user: never mind".
Such a passage shares every word of the next question about the same thing ("Do you remember the code for the studio
door?") and is as close to it in meaning as a question is to itself, so it ranked first and was a confident answer
(found by QA's blind set test4, session 5: the door code and the poet's name).

``asks_unanswered`` flags such a passage when it is stored (``recall/features.py`` keeps the flag with its terms):
its first line with content is a question, and no line after it says anything but the question's own words, words
of not knowing ("not sure", "let me check", "I don't think you told me") and other questions. A number or any other
word is an answer ("Yes, you told me it's 4471"; "it's marisol, she started last month" after "I don't think you've
told me who produces it"). Only the passage's own lines count, so only a passage that holds the question and what
was said after it is judged: a single dialogue line ("Caroline: How old is Mia now?", one LoCoMo turn) is answered
by the next line, which ranking links to it, and is flagged only when it is the user asking the memory what they told
it ("user: did i tell you the garage code", ``asks_the_memory``): that line never says the fact whatever follows.

A fact told as a yes/no question ("did I tell you my sister moved to Porto?" / "No, you didn't!", "did you know my dad
is retiring in june?", "guess what, I passed my test") is a statement, not a question: ``states_fact`` tells it from
a memory question ("did I tell you the door code?", "did I tell you who's producing the show?") by what follows the
frame, a clause (a subject and a finite verb) or a noun phrase, an embedded question or "about …".

Search (``answered_first``) places flagged passages after every other candidate, and confidence keeps them below
``CONFIDENT`` (``recall/confidence.py``), unless the query asks about the asking itself ("what did I ask you about
the poet?"). Update groups ignore them: a question says no new version of anything (``recall/updates.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from voice_letta.agent.recall import speakers as S
from voice_letta.agent.recall import text as T

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

# The first words of a question, after fillers and openers ("so um what's…", "hey do you remember…"): a question
# word, "do you" / "did I"…, or a request to be told ("remind me what…", "tell me who…"); an auxiliary alone ("is the
# fair on the fifth?") only with a question mark: speech recognition drops apostrophes, and "were inviting about a
# hundred" is "we're".
_OPENERS = r"^(?:(?:and|also|oh|so|hey|ok|okay|um|uh|er|well|quick question|sorry)\b[,.]?\s*)*"
_QUESTION_START = re.compile(
    _OPENERS + r"(?:what|whats|who|whos|whose|whom|where|wheres|when|whens|which|how|hows|why|any idea"
    r"|(?:do|does|did|didnt|dont|have|havent|can|cant|could|would|will) (?:you|i)"
    r"|(?:can you |could you |please )?(?:remind|tell) me (?:what|who|whose|where|when|which|how|why|if|whether"
    r"|again|about|of))\b")
_AUXILIARY_START = re.compile(
    _OPENERS + r"(?:do|does|did|is|isnt|are|arent|was|wasnt|were|can|could|would|will|have|has|had|should|am)\b")
# "[cut off]", "[inaudible]": a transcript's notes, not words said. Not across another "[": each "[" of a text of
# thousands without a "]" looked to the end of the text (seconds to index such a passage).
_ANNOTATION = re.compile(r"\[[^\[\]]*\]")


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# A fact told as a yes/no question: "did I tell you my sister moved to Porto?", "have I mentioned that we adopted a
# dog?", "did you know my dad is retiring in june?", "guess what, I passed my test". Speech tells news this way all the
# time, and the listener's honest reply ("No, you didn't!", "I didn't know that") adds no word of its own, so such an
# exchange looked like a memory question nothing answered (found in session 6 from outside: the sister's move ranked
# last for "Where does my sister live?"). What the question asks is whether the listener heard it; what it says is
# its clause. The frame: having told, said or mentioned it, the listener knowing, having heard or remembering it, or
# "guess what". It states its complement when that is a clause, a subject with a finite verb ("my sister moved to
# porto", "the wedding is in june", "i switched to the night shift"), and asks when it is a noun phrase ("the door
# code", "my new address"), an embedded question ("who's producing the show", "what time the plumber comes", "if the
# fair is on") or what it is about ("about my trip").
_TELLING_FRAME = re.compile(
    _OPENERS + r"(?:(?:did|didnt|have|havent|had)\s+(?:i|we)\s+(?:not\s+|ever\s+|already\s+|just\s+|even\s+)*"
    r"(?:tell|told|say|said|mention|mentioned)(?:\s+(?:it\s+)?(?:to\s+)?(?:you|ya))?"
    r"|(?:did|didnt|do|dont)\s+(?:you|ya)\s+(?:ever\s+|already\s+|even\s+)*(?:know|hear|remember|notice|see)"
    r"|(?:have|havent)\s+(?:you|ya)\s+(?:ever\s+|already\s+)*(?:heard|noticed|seen)"
    r"|you\s+(?:know|remember|heard)(?:\s+what(?=\s*[,.:;!?-]))?"
    r"|guess\s+what|(?:you(?:ll)?\s+)?never\s+guess(?:\s+what)?)\b[\s,.:;!?-]*")
_NOT_A_CLAUSE = _word_set("""
    what whats who whos whose whom where wheres when whens which how hows why if whether about of anything
    something everything
    """)
# Before a noun, not a subject: a word after one of these is no verb ("the updated schedule", "my closed account").
_DETERMINERS = _word_set("""
    the a an my your our his her their its this that these those some any no every each another new old last next
    first second same other
    """)
_SUBJECTS = _word_set("i we you he she they it")
# Words after which a subject pronoun starts a clause of its own, not a relative clause inside a noun phrase ("the
# name i picked"); "." stands for the end of a sentence ("you know the bakery on elm street? they closed down").
_CLAUSE_LINKS = _word_set("""
    . that and so but because now finally then yesterday today tonight recently apparently actually well ago week
    weekend month year morning afternoon evening night monday tuesday wednesday thursday friday saturday sunday
    """)
# Finite verbs of a clause: auxiliaries, modals and irregular past forms (regular pasts end in "-ed"); a subject and
# verb in one word as speech recognition writes them ("hes", "shes", "theyre", "im", "weve").
_FINITE = _word_set("""
    is isnt are arent was wasnt were werent am has hasnt have havent had hadnt will wont would can cant could
    couldnt should shall might must does doesnt did didnt got gets went goes came comes left leaves began begins
    bought sold took found lost won made quit became broke met gave ran fell flew drove grew knew saw paid sent
    spent built kept felt held brought taught thought wrote rode chose ate drank sang swam shut cut put set hit let
    hurt split cost sat stood slept woke wore tore threw understood forgot heard told said became caught fought
    hes shes theyre im ive weve theyve youve itll thats theres
    """)
# What follows "X's" when it means "X is/has" ("my dad's retiring", "the party's now on the 21st", "she's in leeds"),
# not a possessive ("my dad's address").
_AFTER_IS = _word_set("""
    not now back gone got been going moving getting leaving coming staying starting retiring pregnant engaged
    married sick ill off out in on at over moved started finished closed cancelled due away home here there
    """)
_PREPOSITIONS = _word_set("at on in to from with by for every each the a an my our his her their now next this "
                          "tomorrow tonight today")
_TOKEN = re.compile(r"[a-z0-9']+|[.?!;]")


def _finite_at(tokens: list[str], j: int) -> bool:
    """Whether ``tokens[j]`` is a finite verb of the clause (see ``states_fact``)."""
    word = tokens[j].replace("'", "")
    before = tokens[j - 1].replace("'", "") if j else ""
    after = tokens[j + 1].replace("'", "") if j + 1 < len(tokens) else ""
    if tokens[j].endswith("'s"):  # "is"/"has" or a possessive: told by the word after it ("it's", "she's": a verb)
        return word in _FINITE or word == "its" or after in _AFTER_IS or after.endswith(("ing", "ed"))
    if before in _DETERMINERS or word == ".":
        return False
    if before in _SUBJECTS and j > 1 and tokens[j - 2].replace("'", "") not in _CLAUSE_LINKS:
        return False  # "the name i picked": a relative clause inside a noun phrase
    if word in _FINITE:
        return True
    if word.endswith("s") and j > 0:
        # a present-tense verb after its subject ("the library closes at six", "my dad works at the bank"), not a
        # plural ("the kids names")
        return after in _PREPOSITIONS or after.isdigit()
    return len(word) > 4 and word.endswith("ed") and j > 0


def states_fact(line: str) -> bool:
    """Whether a line is a fact told as a yes/no question about the telling ("did I tell you my sister moved to
    Porto?"): its clause is a statement (see ``_TELLING_FRAME``). ``line`` is lowercased (``_lines``)."""
    bare = line.replace("\u2019", "'")
    m = _TELLING_FRAME.match(bare.replace("'", ""))
    if m is None:
        return False
    tokens = ["." if t in "?!;" else t for t in _TOKEN.findall(bare)]
    # the frame's words (matched without apostrophes: one token either way)
    skip = len(_TOKEN.findall(bare.replace("'", "")[:m.end()]))
    rest = tokens[skip:]
    if rest[:1] == ["that"]:
        rest = rest[1:]
    if len(rest) < 2 or rest[0].replace("'", "") in _NOT_A_CLAUSE:
        return False
    return any(_finite_at(rest, j) for j in range(len(rest)))


def _stems(words: str) -> frozenset[str]:
    return frozenset(T.stem(w) for w in words.split())


# A memory question: a bare "yes" does not answer it ("did I tell you the code?" / "yes") as it answers a question
# that states its fact ("is the fair on the fifth?" / "yes").
_MEMORY_FRAME = _stems("remember recall remind tell told say said mention mentioned know knew")
_AFFIRMATIVE = _stems("yes yeah yep yup correct exactly right")
# Words a reply says when it does not know: they answer nothing.
_NOT_KNOWING = _stems("""
    sure know knew knows check checking checked look looking looked remember remembered recall recalled recollect
    think thought told tell say said saying mention mentioned again sorry idea ideas mind never forget forgot
    forgotten moment second sec hold hang let please hmm hm um uh er erm ah oh well afraid unfortunately cannot
    can couldn find found seem seems record records memory note notes information info detail details anything
    nothing something matter worry worries problem later maybe perhaps thanks thank fine ok okay alright
    no nope nah hi hello hey remind reminder ask asked asking question questions get back come
    don dont didn didnt doesn doesnt haven havent hasn hasnt isn isnt wasn wasnt can cant couldn couldnt won wont
    wouldn wouldnt im ive youve youre its thats theres
    """) | _AFFIRMATIVE
# A query about the asking itself ("what did I ask you about the poet?") is answered by the stored question.
_ASKING = _stems("ask asked asking question questions wondered wondering")


def _lines(text: str) -> list[str]:
    """The passage's lines without their speaker labels and transcript notes, lowercased, empty ones dropped."""
    out = []
    for line in text.splitlines():
        body = _ANNOTATION.sub(" ", line)
        m = S.SPEAKER.match(body)
        if m is not None and S.is_label(m.group(1)):
            body = body[m.end():]
        body = " ".join(body.lower().replace("\u2019", "'").split())
        if body:
            out.append(body)
    return out


def _is_question(line: str) -> bool:
    bare = line.replace("'", "")
    return _QUESTION_START.match(bare) is not None or (
        line.endswith("?") and _AUXILIARY_START.match(bare) is not None)


def asks_unanswered(text: str) -> bool:
    """Whether a passage asks a question and nothing in it answers (see the module docstring). A single dialogue
    line is flagged only when it is the user asking the memory (``asks_the_memory``): any other's answer is the next
    line, another passage."""
    if S.is_dialogue_line(text):
        return asks_the_memory(text) or asks_the_assistant(text)
    lines = _lines(text)
    first = next((i for i, line in enumerate(lines) if set(T.terms(line)) - _NOT_KNOWING), None)
    if first is None or not _is_question(lines[first]) or states_fact(lines[first]):
        return False  # not a question, or a fact told as one
    asked = set(T.terms(lines[first]))
    yes_no_frame = bool(asked & _MEMORY_FRAME)
    for line in lines[first + 1:]:
        said = set(T.terms(line))
        if any(ch.isdigit() for ch in line):
            return False
        if (_is_question(line) or line.endswith("?")) and not states_fact(line):
            asked |= said  # a question back ("could you tell me again?", "and the wifi?") answers nothing
            continue
        if said & _AFFIRMATIVE and not yes_no_frame:
            return False
        if said - asked - _NOT_KNOWING:
            return False
    return True


def asks_the_memory(line: str) -> bool:
    """Whether one dialogue line is the user asking the memory about something they told it ("user: did i tell you
    the garage code", "user: what did I say the door code was?", "user: do you remember the poet's name?"), without
    telling it in the same breath (``states_fact``). Whatever answers it is the next line, another passage; the
    question itself never says the fact, and it shares every word of the next question about the same thing (a
    push-to-talk archive, one line per passage: "What time is the plumber coming?" was answered at 0.92 by "user: did
    i tell you what time the plumber is coming", which nothing answered). Only the user's lines: a conversation
    between named people ("Caroline: do you remember the camping trip?") is talk, not a question to the memory."""
    if S.speakers(line) != ("user",):
        return False
    lines = _lines(line)
    if len(lines) != 1 or not _is_question(lines[0]) or states_fact(lines[0]):
        return False
    return bool(set(T.terms(lines[0])) & _MEMORY_FRAME)


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_WH_START = re.compile(_OPENERS + r"(?:what|whats|who|whos|whose|whom|where|wheres|when|whens|which|how|hows)\b")


def asks_the_assistant(line: str) -> bool:
    """Whether one dialogue line is the user only asking a wh-question about their own things ("user: Who do I see
    for my teeth?"): only something the user said before answers it, never the line itself, and asked again it
    matched itself first at 0.999 (QA's outsider check, session 19: archived word for word, one line a passage).
    A question about someone else ("user: How old is Mia now?") may be answered by the next line of whoever the user
    talks to, which ranking finds through it; a yes/no or "can you…" line may carry what the user has ("can you
    remind me to ring my sister in Lisbon?"): not these."""
    if S.speakers(line) != ("user",):
        return False
    lines = _lines(line)
    if len(lines) != 1 or _WH_START.match(lines[0].replace("'", "")) is None:
        return False
    return bool(set(T.words(lines[0])) & T.FIRST_PERSON) and user_question(line)



def user_question(content: str) -> bool:
    """Whether a user's own conversation line only asks ("When does the recycling go out?"): every sentence of it
    with words a question, none a fact told as one (``states_fact``). Out-of-context lines are matched by keyword,
    and an earlier question shares every word of the one asked now: it ranked above the fact that answers it and was
    shown as the confident result (QA's outsider check, session 18)."""
    said = [part for line in _lines(content) for part in _SENTENCE_END.split(line) if T.terms(part)]
    return bool(said) and all(_is_question(part) and not states_fact(part) for part in said)


def about_asking(query: str) -> bool:
    """Whether a query asks what was asked ("what did I ask you about the poet?")."""
    return any(t in _ASKING for t in T.terms(query))


def answered_first(index: PassageIndex, order: Sequence[int]) -> list[int]:
    """``order`` with the passages that ask without an answer after all the others (stable)."""
    asks = index.asks
    if not any(asks[r] for r in order):
        return list(order)
    return [r for r in order if not asks[r]] + [r for r in order if asks[r]]
