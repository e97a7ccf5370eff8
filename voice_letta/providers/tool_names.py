"""Our tool names <-> names a provider's API accepts.

Ours (a chat-completions client tool, an MCP tool) may hold dots and be long ("weather.get"); Anthropic's Messages API
accepts ``^[a-zA-Z0-9_-]{1,128}$`` and OpenAI's Chat Completions ``^[a-zA-Z0-9_-]{1,64}$`` for many models (its error:
"Invalid 'tools[0].function.name': string does not match pattern"). ``ToolNames`` gives each name the API would refuse
a valid stand-in for one request (the name with ``_`` for every other character, cut to the limit, plus a short digest
of the name when that is taken), used for the tools, a named tool choice and the history's tool calls; a call the
model streams back carries our name again. The stand-in depends only on the request's names, so the prompt stays
byte-stable for the provider's prompt cache.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from voice_letta.agent.ports import ChatRequest

_NOT_API_CHAR = re.compile(r"[^a-zA-Z0-9_-]")
_API_CHARS = re.compile(r"[a-zA-Z0-9_-]+")
ANTHROPIC_MAX = 128
OPENAI_MAX = 64


class ToolNames:
    """Our tool names <-> names of at most ``limit`` characters of ``[a-zA-Z0-9_-]``; valid names map to themselves."""

    __slots__ = ("_ours", "_theirs")

    def __init__(self, names: Iterable[str] = (), *, limit: int = ANTHROPIC_MAX) -> None:
        self._theirs: dict[str, str] = {}  # our name -> stand-in
        self._ours: dict[str, str] = {}  # stand-in -> our name
        unique = set(names)
        taken = {n for n in unique if len(n) <= limit and _API_CHARS.fullmatch(n)}
        for name in sorted(unique - taken):
            base = _NOT_API_CHAR.sub("_", name)[:limit] or "tool"
            alias, n = base, 0
            while alias in taken:
                digest = hashlib.blake2b(f"{name}#{n}".encode(), digest_size=4).hexdigest()
                alias, n = f"{base[:limit - 9]}_{digest}", n + 1
            taken.add(alias)
            self._theirs[name] = alias
            self._ours[alias] = name

    @classmethod
    def of(cls, request: ChatRequest, *, limit: int = ANTHROPIC_MAX) -> ToolNames:
        """The mapping for every name one request carries: its tools, a named tool choice, the history's calls."""
        names = [t.name for t in request.tools]
        names += [tc.name for m in request.messages for tc in m.tool_calls]
        if request.tool_choice not in ("auto", "none", "required"):
            names.append(request.tool_choice)
        return cls(names, limit=limit)

    def api(self, name: str) -> str:
        return self._theirs.get(name, name)

    def ours(self, name: str) -> str:
        return self._ours.get(name, name)


SAME_NAMES = ToolNames()  # maps every name to itself: what a caller without a request's names gets
