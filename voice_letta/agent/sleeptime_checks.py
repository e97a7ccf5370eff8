"""What the sleeptime agent's calls must satisfy, as pure functions: the order of its tools (``ToolRules``), a stored
chunk's fields, a block rewrite that keeps too little of the block, and which of the handed-over lines the server
archives word for word when the model stores none of them (``verbatim_lines``). ``sleeptime.py`` runs them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.cues import cues
from voice_letta.agent.sleeptime_prompt import FINISH, RETHINK, STORE_MEMORIES, Line

# --- tool rules (pure) ------------------------------------------------------------------------------------


@dataclass
class ToolRules:
    """store_memories once → rethink_user_memory ≥ 1 → finish_rethinking_memory."""

    stored: bool = False
    rethinks: int = 0
    finished: bool = False

    def allowed(self) -> tuple[str, ...]:
        if self.finished:
            return ()
        if not self.stored:
            return (STORE_MEMORIES,)
        if self.rethinks == 0:
            return (RETHINK,)
        return (RETHINK, FINISH)

    def violation(self, name: str) -> str | None:
        """An error text with a hint when calling ``name`` now breaks the rules, else None."""
        allowed = self.allowed()
        if name in allowed:
            return None
        known = {STORE_MEMORIES, RETHINK, FINISH}
        next_step = " or ".join(allowed) or "nothing (the run is over)"
        if name not in known:
            return f"Error: there is no tool named {name!r}. Call {next_step} next."
        if name == STORE_MEMORIES:
            return f"Error: store_memories may be called only once, first. Call {next_step} next."
        if name == RETHINK:
            return "Error: call store_memories first to archive the (Older) lines, then rethink_user_memory."
        if not self.stored:
            return "Error: call store_memories first, then rethink_user_memory, then finish_rethinking_memory."
        return ("Error: call rethink_user_memory at least once before finishing (pass the current block "
                "unchanged if nothing is new).")

    def tool_choice(self) -> str:
        allowed = self.allowed()
        return allowed[0] if len(allowed) == 1 else "required"


# A rewrite that keeps under a quarter of the key words of a block that had at least 8 is refused: a weak model (the
# embedded 135M one, measured) replaced "Name: Priya. Lives in Leeds… Allergic to penicillin. Cat: Biscuit." with
# "Remember me". Legitimate rewrites keep most of them (the block holds what is still true); REST edits are not
# limited, so the user can still clear a block.
MIN_KEPT_SHARE = 0.25
MIN_GUARDED_TERMS = 8


def kept_share(old: str, new: str) -> float | None:
    """The share of ``old``'s distinct key words (stemmed, stopwords aside) that ``new`` keeps, or None when ``old``
    has too few to judge."""
    before = set(T.terms(old))
    if len(before) < MIN_GUARDED_TERMS:
        return None
    return len(before & set(T.terms(new))) / len(before)


# A short block (4 to 7 key words past the free ones: "Name: Ana. Lives in Lisbon. Cat: Miso.") is too small for a
# share, but a rewrite that keeps none of its key words wipes it: the embedded model wrote "]}</tool_call>Reckoning
# you: I'm sorry ..." over that block (QA, session 16). A placeholder ("Nothing is known about the user yet.") has
# fewer.
MIN_WIPE_TERMS = 4
# The model's own protocol in a block is never a fact about the user (that rewrite began with a tool call's tail).
_MARKUP = re.compile(r"</?tool_call>|<\|im_(?:start|end)\|>|<\|endoftext\|>")


def rewrite_problem(old: str, new: str) -> str | None:
    """Why a block rewrite of ``old`` as ``new`` is refused beyond ``kept_share`` (markup, a short block wiped)."""
    if markup := _MARKUP.search(new):
        return f"new_memory holds the tool protocol's markup ({markup.group(0)}), which is not a fact"
    if new.strip() and not content_words(new):
        # figures and small words alone say nothing about anyone: the embedded model wrote "2.0" over the human
        # block (QA, session 19), which no other check judged (a figure is not a content word) and every prompt
        # then carried
        return f"new_memory ({new[:40]!r}) says nothing about the user: it has no word but figures and small words"
    before = set(T.terms(old)) - _FREE
    if MIN_WIPE_TERMS <= len(before) < MIN_GUARDED_TERMS and not before & set(T.terms(new)):
        return "new_memory keeps none of what the block says"
    return None


def supersedes_problem(chunk: dict[str, Any], known: dict[str, str]) -> str | None:
    named = chunk.get("supersedes")
    if named is None:
        return None
    if not isinstance(named, list) or not all(isinstance(h, str) for h in named):
        return "supersedes must be a list of memory ids such as \"m1\"."
    unknown = [h for h in named if h.strip().strip("[]") not in known]
    if unknown:
        shown = ", ".join(k for k in known if not k.startswith("passage")) or "none"
        return f"supersedes names {', '.join(unknown)}, which is not a listed memory (listed: {shown})."
    return None


def chunk_problem(chunk: Any, n: int) -> str | None:
    if not isinstance(chunk, dict):
        return "each chunk must be an object."
    start, end, context = chunk.get("start_index"), chunk.get("end_index"), chunk.get("context")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
        return "start_index and end_index must be integers."
    if not isinstance(context, str) or not context.strip():
        return "context must be a non-empty string."
    if n == 0:
        return "there are no (Older) lines to archive; pass an empty chunks list."
    if not 0 <= start <= end < n:
        return f"lines {start}..{end} are not (Older) lines (0..{n - 1}), or start_index > end_index."
    return None




# A user line worth keeping word for word has at least two distinct content words ("Thanks!", "Hi" have fewer), or
# one when it answers the assistant's question ("What's your daughter called?" / "Ellie."); an answer under three
# keeps the question with it.
MIN_VERBATIM_TERMS = 2
SHORT_ANSWER_TERMS = 3


def verbatim_lines(older: Sequence[Line]) -> list[tuple[int, int]]:
    """The (start, end) ranges of (Older) lines the server archives word for word when the model stored none of
    them: each user line with words worth keeping, a short one with the assistant's line just before it when that
    was a question (what the answer answers). The assistant's own words and tool results are not the user's facts."""
    out: list[tuple[int, int]] = []
    for i, line in enumerate(older):
        if not line.text.startswith("user: "):
            continue
        asked = i > 0 and older[i - 1].text.startswith("assistant: ") and older[i - 1].text.rstrip().endswith("?")
        n = len(set(T.terms(line.text[len("user: "):])))
        if n >= (1 if asked else MIN_VERBATIM_TERMS):
            out.append((i - 1 if asked and n < SHORT_ANSWER_TERMS else i, i))
    return out


# A change told in the middle of a long exchange ("landlord is mrs okafor, rent 2150" ... forty minutes later ... "mrs o
# says it's 2,225 a month from now on"): a chunk the model makes of both is one passage, dated from its first line, and
# search can see no version in it (the index orders versions by when each passage was said, recall/updates.py). Such a
# line is archived once more on its own, word for word and dated when it was said, beside the model's chunk: a
# change cue other than a bare "now" (``cues.cues``: "switched", "moved", "instead", a correction's start...) or one
# of these phrases.
_CHANGE_PHRASE = re.compile(r"\b(?:from now on|going forward|from here on|as of (?:today|now|this week|monday|"
                            r"tuesday|wednesday|thursday|friday|saturday|sunday)|these days|nowadays|any ?more)\b",
                            re.IGNORECASE)


def change_lines(older: Sequence[Line], chunks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (start, end) ranges of user lines that state a change inside a stored chunk (the (Older) lines ``start``..
    ``end`` of each) after one of the user's lines with content in the same chunk (what the change may replace),
    each with the assistant's question before a short answer, as ``verbatim_lines`` keeps it."""
    out: list[tuple[int, int]] = []
    for start, end in chunks:
        said_before = False
        for i in range(start, end + 1):
            text = older[i].text
            if not text.startswith("user: "):
                continue
            words = text[len("user: "):]
            n = len(set(T.terms(words)))
            correction, _, strong = cues([text])
            if said_before and n >= MIN_VERBATIM_TERMS and (strong[0] or correction[0]
                                                             or _CHANGE_PHRASE.search(words)):
                asked = i > start and older[i - 1].text.startswith("assistant: ") and older[i - 1].text.rstrip(
                    ).endswith("?")
                out.append((i - 1 if asked and n < SHORT_ANSWER_TERMS else i, i))
            said_before = said_before or n >= MIN_VERBATIM_TERMS
    return sorted(set(out))


# A summary or a block rewrite must say what the lines, the block or the memories it was shown say. Two thirds of its
# content words new, or half and a name nobody said, is invention: the embedded 135M model, made to store a chunk,
# summarised "We finally moved to Bristol" as "Mike: … I'm thinking of going to New York City someday", and rewrote
# a block as "Your identity is still a cat, not a dog" (measured). A capable model's paraphrase ("anxious about the
# upcoming knee surgery at St Mary's" for "nervous about my knee operation at St Mary's") changes common words, not
# names. Free words, which a faithful summary adds: numbers, dates, "user", words about the conversation itself
# ("Small talk before ending the call") and the headings the prompt asks a block to be grouped under.
MAX_UNSAID_SHARE = 2 / 3
MAX_UNSAID_SHARE_WITH_A_NAME = 1 / 2
MIN_JUDGED_WORDS = 4
_NAME = re.compile(r"\b[A-Z][a-z]+")  # a capitalised word: a name, or a sentence's first word (stopwords aside)
_FREE_TEXT = """
    user users january february march april may june july august september october november december jan feb mar
    apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday today tomorrow
    yesterday day days week weekend month year morning afternoon evening night
    assistant agent talk talked chat small ask asked discuss discussed mention mentioned say said tell told greet
    greeting hello bye goodbye thank thanks end ended call conversation
    identity preference preferences plan plans context family work health note notes fact facts detail details
"""
_FREE: frozenset[str] = frozenset(T.stem(w) for w in _FREE_TEXT.split())


def content_words(text: str) -> dict[str, str]:
    """{stem: the word as written} of ``text``'s content words: past stopwords, figures and the free words."""
    content: dict[str, str] = {}
    for word in T.words(text):
        if word in T.STOPWORDS or word.isdigit():
            continue
        stemmed = T.stem(word)
        if stemmed not in _FREE:
            content.setdefault(stemmed, word)
    return content


def ungrounded(text: str, sources: Sequence[str], *, judge_few: bool = False) -> list[str]:
    """The content words of ``text`` that none of ``sources`` says, when they are more than two thirds of its content
    words, or more than half with a name among them (at least ``MIN_JUDGED_WORDS`` content words); else []. Words
    as written, in order, for the model's hint. With ``judge_few`` (a memory block's rewrite) fewer content words are
    judged too, and refused when none of them was said: the embedded model rewrote "I'm Jonas, I live in Leipzig"'s
    placeholder block as "today's day, your birthday yesterday today tomorrow this week 2018" (QA, session 17): two
    content words, both unsaid. A chunk's summary keeps the threshold: "Pleasantries exchanged" is a fair one."""
    said: set[str] = set()
    for source in sources:
        said.update(T.terms(source))
    content = content_words(text)
    missing = [word for stemmed, word in content.items() if stemmed not in said]
    if len(content) < MIN_JUDGED_WORDS:
        return missing if judge_few and content and len(missing) == len(content) else []
    names = {T.stem(w) for m in _NAME.finditer(text) if (w := m.group(0).lower()) not in T.STOPWORDS}
    names -= said | _FREE
    limit = MAX_UNSAID_SHARE_WITH_A_NAME if names else MAX_UNSAID_SHARE
    return missing if len(missing) > limit * len(content) else []
