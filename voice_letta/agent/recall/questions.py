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
by the next line, which ranking links to it, and is never flagged.

Search (``answered_first``) places flagged passages after every other candidate, and confidence keeps them below
``CONFIDENT`` (``recall/confidence.py``), unless the query asks about the asking itself ("what did I ask you about
the poet?"). Update groups ignore them: a question says no new version of anything (``recall/updates.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

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
_ANNOTATION = re.compile(r"\[[^\]]*\]")  # "[cut off]", "[inaudible]": a transcript's notes, not words said


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
        m = T._SPEAKER.match(body)
        if m is not None and T._is_label(m.group(1)):
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
    line is never flagged: its answer is the next line, another passage."""
    if T.is_dialogue_line(text):
        return False
    lines = _lines(text)
    first = next((i for i, line in enumerate(lines) if set(T.terms(line)) - _NOT_KNOWING), None)
    if first is None or not _is_question(lines[first]):
        return False
    asked = set(T.terms(lines[first]))
    yes_no_frame = bool(asked & _MEMORY_FRAME)
    for line in lines[first + 1:]:
        said = set(T.terms(line))
        if any(ch.isdigit() for ch in line):
            return False
        if _is_question(line) or line.endswith("?"):
            asked |= said  # a question back ("could you tell me again?", "and the wifi?") answers nothing
            continue
        if said & _AFFIRMATIVE and not yes_no_frame:
            return False
        if said - asked - _NOT_KNOWING:
            return False
    return True


def about_asking(query: str) -> bool:
    """Whether a query asks what was asked ("what did I ask you about the poet?")."""
    return any(t in _ASKING for t in T.terms(query))


def answered_first(index: PassageIndex, order: Sequence[int]) -> list[int]:
    """``order`` with the passages that ask without an answer after all the others (stable)."""
    asks = index.asks
    if not any(asks[r] for r in order):
        return list(order)
    return [r for r in order if not asks[r]] + [r for r in order if asks[r]]
