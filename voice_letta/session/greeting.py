"""The agent speaks first: its greeting (``VoiceSettings.greeting``) as a response with no user input.

A fixed ``text`` is said as is (``TurnInput.say``: no model call; it is stored as the agent's reply, so the
history shows what the user heard). ``generate`` (or no greeting configured, when a client asks for one) gives
the model a one-off cue instead of the generic "it is your turn" one (``TurnInput.cue``), with the agent's
greeting instructions if it has some. Neither is stored as a user message.
"""

from __future__ import annotations

import dataclasses

from voice_letta.agent.loop import TurnInput
from voice_letta.agent.models import AgentState

GREETING_CUE = ("[The conversation starts now{where}: the user has not said anything yet. Greet them in one short, "
                "natural sentence and offer your help.{instructions}]")


def greeting_input(agent: AgentState, inp: TurnInput, *, where: str = "") -> TurnInput:
    """``inp`` (whatever input is pending) made into the agent's greeting; ``where``: " (a phone call)"."""
    greeting = agent.voice.greeting
    if greeting is not None and greeting.text:
        return dataclasses.replace(inp, say=greeting.text)
    instructions = f" {greeting.instructions.strip()}" if greeting is not None and greeting.instructions else ""
    return dataclasses.replace(inp, cue=GREETING_CUE.format(where=where, instructions=instructions))
