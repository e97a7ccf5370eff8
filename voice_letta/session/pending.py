"""Input that waits for the next response (``AddInput``), and how a response's ``TurnInput`` is put together."""

from __future__ import annotations

from dataclasses import dataclass, field

from voice_letta.agent.loop import TurnInput
from voice_letta.agent.ports import ToolChoice, ToolSpec
from voice_letta.session import events as E
from voice_letta.session.settings import Settings

# Text one turn's input may hold. Input of responses cut before their turn began waits for the next one (nothing
# accepted is lost); 300 typed messages sent at once merged into one 1.2M-character turn (~100 sleeptime jobs).
# Past this, what waits is stored at once as its own turn (session.py). Realtime refuses items past it at its door.
MAX_TURN_TEXT_CHARS = 100_000


@dataclass
class PendingInput:
    items: list[E.AddInput] = field(default_factory=list)
    last_taken: tuple[E.AddInput, ...] = ()  # what the last ``take`` consumed, the starting utterance included

    def add(self, item: E.AddInput) -> None:
        self.items.append(item)

    def give_back(self, items: tuple[E.AddInput, ...]) -> None:
        """Input a response took but never stored (cancelled before its turn began): first in line again."""
        self.items[:0] = items

    def __bool__(self) -> bool:
        return bool(self.items)

    def text_chars(self) -> int:
        return sum(len(i.user_text or "") + len(i.assistant_text or "") + len(i.system_text or "") for i in self.items)

    def take(self, settings: Settings, *, user_text: str | None = None, instructions: str | None = None,
             tools: tuple[ToolSpec, ...] | None = None, said_at: float | None = None,
             tool_choice: ToolChoice | None = None) -> TurnInput:
        """Everything pending (plus ``user_text``, the utterance that starts the response) as one turn's input.

        The response's ``instructions`` replace the session's for this response; client system notes are
        added to whichever applies. The agent uses them only if it appends client system prompts.
        """
        items, self.items = self.items, []
        self.last_taken = (*items, *([E.AddInput(user_text=user_text)] if user_text else []))
        users = [i.user_text for i in items if i.user_text]
        if user_text:
            users.append(user_text)
        notes = [i.system_text for i in items if i.system_text]
        base = instructions if instructions is not None else settings.instructions
        extra = "\n\n".join(t for t in (base, *notes) if t) or None
        assistant = "\n".join(i.assistant_text for i in items if i.assistant_text) or None
        return TurnInput(
            user_text="\n".join(users) or None,
            images=tuple(image for i in items for image in i.images),
            client_tools=tools if tools is not None else settings.client_tools,
            tool_choice=tool_choice if tool_choice is not None else settings.tool_choice,
            tool_results=tuple(i.tool_result for i in items if i.tool_result is not None),
            extra_instructions=extra,
            unknown_assistant_text=assistant,
            driver_tools=settings.driver_tools,
            said_at=said_at,
        )
