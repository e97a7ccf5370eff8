"""Message-buffer eviction for the voice agent: a sans-I/O computation of where to cut the context window.

Input: the agent's in-context messages (``seq`` order, no system row: our system prompt is compiled, not
stored), its ``BufferConfig`` and a token budget. Output: ``None`` (keep everything) or an ``Eviction``
naming the messages to drop and ``through_seq`` for ``Store.evict_messages``. No I/O, no clock.

Rules (Letta's static buffer, §1.11, with its weak spots fixed):

1. Evict when there are more than ``max_messages`` messages, or their estimated tokens (characters / 4)
   exceed the budget. Counting tokens as well as messages keeps one pasted essay from blowing the window.
2. Keep the newest ``min_messages`` (fewer if that many are still over half the token budget: the same
   max/min hysteresis, so one long message does not cause an eviction after every turn).
3. Move the cut forward to the next **user** message, so the kept window starts with what the user said.
   Because a tool result is always followed by an assistant row or by the next user message, a cut at a
   user message never separates a tool call from its result.
4. No user message at or after the cut (Letta's "all-assistant window", where it evicted everything but
   the system message): we keep the newest messages instead of wiping the window, cutting at the first
   row at or after the target that is not a tool result (a result must stay with its call). The kept
   window then starts with an assistant message; ``agent.context.to_chat_messages`` keeps that valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voice_letta.agent.models import BufferConfig, Message

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4  # role and framing overhead per message
TOKEN_BUDGET_FRACTION = 0.75  # of the LLM context window, when ``max_context_tokens`` is not set


@dataclass(frozen=True, slots=True)
class Eviction:
    evicted: tuple[Message, ...]
    kept: tuple[Message, ...]
    reason: str  # "messages" or "tokens"

    @property
    def through_seq(self) -> int:
        return self.evicted[-1].seq


def estimate_tokens(message: Message) -> int:
    chars = len(message.content or "")
    for call in message.tool_calls or ():
        chars += len(call.name) + len(call.arguments)
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE


# plan_eviction runs after every turn over the agent's whole window, which is the same Message objects turn after turn
# (a stored Message is never changed in place: a change makes a new one, store/windows.py): each line is estimated
# once (a pydantic field read costs several dict probes). Lines up to ~2,000 characters, as context._CONVERTED.
_ESTIMATED: dict[int, tuple[Message, int]] = {}  # id(message) -> (message, its estimate)
_ESTIMATED_KEPT = 4096
_KEPT_TOKENS = 500 + TOKENS_PER_MESSAGE


def _estimates(messages: Sequence[Message]) -> list[int]:
    out: list[int] = []
    kept = _ESTIMATED
    for m in messages:
        found = kept.get(id(m))
        if found is None or found[0] is not m:
            found = (m, estimate_tokens(m))
            if found[1] <= _KEPT_TOKENS:
                if len(kept) >= _ESTIMATED_KEPT:
                    kept.clear()
                kept[id(m)] = found  # m kept with it: its id is not reused while the entry lives
        out.append(found[1])
    return out


def token_budget(buffer: BufferConfig, context_window: int) -> int:
    if buffer.max_context_tokens is not None:
        return buffer.max_context_tokens
    return int(context_window * TOKEN_BUDGET_FRACTION)


def plan_eviction(
    messages: Sequence[Message], buffer: BufferConfig, *, budget_tokens: int | None = None
) -> Eviction | None:
    """Where to cut ``messages`` (in-context, oldest first), or None when the window fits."""
    n = len(messages)
    if n == 0:
        return None
    tokens = _estimates(messages)
    over_count = n > buffer.max_messages
    over_tokens = budget_tokens is not None and sum(tokens) > budget_tokens
    if not over_count and not over_tokens:
        return None
    target = max(1, n - buffer.min_messages)
    if over_tokens and budget_tokens is not None:
        # Keep the newest suffix that fits in half the budget (but always at least the newest message).
        kept_tokens = 0
        fit = n
        for i in range(n - 1, -1, -1):
            if kept_tokens + tokens[i] > budget_tokens // 2 and fit < n:
                break
            kept_tokens += tokens[i]
            fit = i
        target = max(target, fit)
    cut = _user_boundary(messages, target)
    if cut is None:
        cut = _safe_boundary(messages, target)
    if cut <= 0:
        return None
    return Eviction(tuple(messages[:cut]), tuple(messages[cut:]), "messages" if over_count else "tokens")


def _user_boundary(messages: Sequence[Message], start: int) -> int | None:
    for i in range(start, len(messages)):
        if messages[i].role == "user":
            return i
    return None


def _safe_boundary(messages: Sequence[Message], start: int) -> int:
    """The first index at or after ``start`` that is not a tool result; else the call row before it."""
    i = start
    while i < len(messages) and messages[i].role == "tool":
        i += 1
    if i < len(messages):
        return i
    i = start
    while i > 0 and messages[i].role == "tool":
        i -= 1
    return i


__all__ = ["Eviction", "estimate_tokens", "plan_eviction", "token_budget"]
