"""End of turn on words: how long a pause has to last before the user's turn ends, given what they said so far.

A fixed silence (``VadParams.silence_ms``, 600 ms) cuts people off when they pause mid-sentence ("my sister
is … a doctor") and makes everybody wait the same 600 ms after a finished question. ``classify(text)`` reads
the last words and the punctuation of the (partial) transcript of the open turn:

- ``"unfinished"``: an ellipsis, a dash, a comma or colon at the end, or a last word that needs a
  continuation (a conjunction, preposition, article, possessive, auxiliary, subject pronoun or filler:
  "and", "to", "the", "my", "is", "we", "um"). With a punctuating speech recognizer (Whisper punctuates
  the sentences it hears as complete) a transcript with no terminal punctuation at all is unfinished too
  ("my phone number is 555");
- ``"question"``: a complete question: it ends in "?", has at least ``MIN_QUESTION_WORDS`` words (a lone
  "Hello?" is often the start of more: Whisper writes a greeting's comma as a question mark), and its last word
  is not one of the above;
- ``"complete"``: any other sentence that ends in ".", "!" or "?", or unpunctuated text from a recognizer
  that does not punctuate;
- ``"empty"``: no words (noise).

``EndOfTurnPolicy.silence_ms(text, base_ms)`` maps the class to the pause that ends the turn:
``max_silence_ms`` (default 1500) when unfinished, ``min_silence_ms`` (default 400) after a complete question,
``base_ms`` (the session's ``silence_ms``) otherwise. The turn detector applies it only while the transcript
still covers every voiced frame: a word spoken after the transcript was taken makes it stale.

Pure and deterministic: word lists and punctuation, no model, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Completeness = Literal["empty", "unfinished", "question", "complete"]

# Words after which an English sentence (almost) never ends. Object pronouns ("it", "you", "me", "them")
# are missing on purpose: "I love it." is complete.
_CONTINUATIONS = """
    a an the my your his her its our their this these those some any every each no
    and or but nor so because since although though while whereas unless until if whether than
    to of in on at by for with from into onto about over under between through during without within
    upon toward towards against among around before after above below near like as per via
    is are was were am be been being do does did have has had will would shall should can could may
    might must
    i he she we they
    um uh er erm hmm uhm mm
    very really quite just also even more most less least
    not don't doesn't didn't can't won't isn't aren't wasn't weren't
    i'm you're we're they're he's she's i've you've we've they've i'd you'd we'd i'll you'll we'll
    let's
"""
CONTINUATION_WORDS: frozenset[str] = frozenset(_CONTINUATIONS.split())
MIN_QUESTION_WORDS = 3
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_TERMINAL = (".", "?", "!")
_OPEN_ENDINGS = ("...", "…", "-", "—", "–", ",", ";", ":")
_QUOTES = "\"'”“’‘ )]"


def classify(text: str, *, punctuated: bool = True) -> Completeness:
    """How complete ``text`` sounds; ``punctuated``: the recognizer punctuates complete sentences."""
    stripped = text.strip().rstrip(_QUOTES)
    words = _WORD.findall(stripped.lower().replace("’", "'"))
    if not words:
        return "empty"
    if stripped.endswith(_OPEN_ENDINGS) or words[-1] in CONTINUATION_WORDS:
        return "unfinished"
    if not stripped.endswith(_TERMINAL):
        return "unfinished" if punctuated else "complete"
    return "question" if stripped.endswith("?") and len(words) >= MIN_QUESTION_WORDS else "complete"


@dataclass(frozen=True, slots=True)
class EndOfTurnPolicy:
    """The pause that ends a turn, by what was said: shorter after a question, longer mid-phrase."""

    min_silence_ms: int = 400
    max_silence_ms: int = 1500
    punctuated: bool = True  # the speech recognizer punctuates (Whisper does); see ``classify``

    def silence_ms(self, text: str, base_ms: int) -> int:
        kind = classify(text, punctuated=self.punctuated)
        if kind == "unfinished":
            return max(base_ms, self.max_silence_ms)
        if kind == "question":
            return min(base_ms, self.min_silence_ms)
        return base_ms
