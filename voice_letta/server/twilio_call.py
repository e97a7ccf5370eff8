"""What a phone call adds to a voice session: keypad input, the greeting, and the call tools.

- **Keypad (DTMF)**: Twilio sends each key press as a ``dtmf`` event. Digits are collected until
  ``DTMF_GAP_S`` passes without another key, or ``#`` is pressed, and then reach the agent as one typed user
  turn, ``[keypad] 1 2 3 #`` (so "press 1 for sales" menus and PINs work, and the turn is stored like any
  other). A key press interrupts the agent, as speech would.
- **Greeting**: when the agent has a ``voice.greeting``, the call starts with it (``response.create`` with
  ``greeting: true``), so the caller does not hear silence until they speak.
- **Call tools** (``agent.tools.DriverTool``, offered on phone calls only): ``end_call`` (its spoken filler is
  the goodbye; once the caller has heard it, the call is hung up) and ``transfer_call`` (only when the agent's
  ``voice.transfer_to`` names a number: says its line, then connects the caller to that number). Both act
  through Twilio's REST API (``server.twilio_rest``) after the response's last audio was confirmed played by its
  final mark echo (or a few seconds after it was sent, if marks stop coming). Without REST credentials a
  hang-up still happens: the bridge closes the media stream, which ends a ``<Connect><Stream>`` call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from voice_letta.agent.models import AgentState
from voice_letta.agent.tools import DriverTool
from voice_letta.errors import VoiceLettaError
from voice_letta.server.twilio_rest import TwilioRest, dial_twiml

log = logging.getLogger(__name__)

DTMF_GAP_S = 1.5  # a key press after a longer pause starts a new entry
PLAYOUT_GRACE_S = 3.0  # after a response's audio was sent, act even if its last mark never came back
KEYPAD_PREFIX = "[keypad]"
# An entry goes to the agent once this long even without a pause or "#": a typed turn holds 4,000 characters,
# and 2,000 keys pressed without a pause were one turn over it, refused, and every key of it lost.
MAX_KEYPAD_DIGITS = 256

END_CALL = DriverTool(
    name="end_call",
    description=("End the phone call. Use it when the caller says goodbye or asks to hang up, or the conversation "
                 "is clearly over. Your pre_exec_msg is the last thing the caller hears: say goodbye in it."),
    parameters={"type": "object", "properties": {
        "reason": {"type": "string", "description": "Why the call ends, in a few words (for the record)."}},
        "required": []},
    run=lambda _args: _never(),
    ends_turn=True,
)


async def _never() -> str:  # replaced per call (see CallControl.tools)
    raise RuntimeError("unbound call tool")


@dataclass
class _Action:
    kind: Literal["hang_up", "transfer"]
    number: str | None = None
    response_id: str | None = None
    sent_ms: float | None = None  # audio of that response, once its audio is done


class CallControl:
    """One per call, owned by the bridge; ``inject`` puts a native-protocol JSON message into the session."""

    def __init__(self, inject: Callable[[str], None], *, rest: TwilioRest | None = None) -> None:
        self._inject = inject
        self.rest = rest
        self.call_sid: str | None = None
        self.agent: AgentState | None = None
        self._digits: list[str] = []
        self._flush: asyncio.TimerHandle | None = None
        self._action: _Action | None = None
        self._response_id: str | None = None  # the response in progress
        self._deadline: asyncio.TimerHandle | None = None
        self.ended = asyncio.Event()  # set when the call was hung up or transferred
        self._tasks: set[asyncio.Task[None]] = set()
        self.hang_up_locally: Callable[[], None] = lambda: None  # the bridge closes the stream

    # -- start --------------------------------------------------------------------------------------------
    def start(self, call_sid: str, agent: AgentState | None) -> None:
        self.call_sid, self.agent = call_sid, agent
        if agent is not None and agent.voice.greeting is not None:
            self._inject(json.dumps({"type": "response.create", "greeting": True}))

    def tools(self) -> tuple[DriverTool, ...]:
        tools = [DriverTool(END_CALL.name, END_CALL.description, END_CALL.parameters, self._end_call, ends_turn=True)]
        number = self.agent.voice.transfer_to if self.agent is not None else None
        if number:
            tools.append(DriverTool(
                "transfer_call",
                "Transfer the caller to a person. Use it only when the caller asks for a human or you cannot "
                "help. Your pre_exec_msg tells them they are being transferred.",
                {"type": "object", "properties": {
                    "reason": {"type": "string", "description": "Why, in a few words (for the record)."}},
                 "required": []},
                self._transfer_call, ends_turn=True))
        return tuple(tools)

    async def _end_call(self, args: dict[str, Any]) -> str:
        self._action = _Action("hang_up", response_id=self._response_id)
        log.info("twilio %s: end_call (%s)", self.call_sid, str(args.get("reason") or "")[:80])
        return "The call ends once the caller has heard your goodbye."

    async def _transfer_call(self, args: dict[str, Any]) -> str:
        number = self.agent.voice.transfer_to if self.agent is not None else None
        if not number:
            return "Error: no transfer number is configured."
        self._action = _Action("transfer", number=number, response_id=self._response_id)
        log.info("twilio %s: transfer_call (%s)", self.call_sid, str(args.get("reason") or "")[:80])
        return "The caller is transferred once they have heard your line."

    # -- keypad ---------------------------------------------------------------------------------------------
    def on_dtmf(self, digit: str) -> None:
        self._digits.append(digit)
        if self._flush is not None:
            self._flush.cancel()
        if digit == "#" or len(self._digits) >= MAX_KEYPAD_DIGITS:
            self._send_digits()
        else:
            self._flush = asyncio.get_running_loop().call_later(DTMF_GAP_S, self._send_digits)

    def flush_keys(self) -> None:
        """The keys of an entry still open go to the session now (the call is ending: no pause will come)."""
        if self._flush is not None:
            self._flush.cancel()
        self._send_digits()

    def _send_digits(self) -> None:
        self._flush = None
        if self._digits:
            text = f"{KEYPAD_PREFIX} {' '.join(self._digits)}"
            self._digits.clear()
            self._inject(json.dumps({"type": "input_text", "text": text}))

    # -- what the session says (native JSON, seen by the bridge) --------------------------------------------
    def on_response_created(self, response_id: str) -> None:
        self._response_id = response_id

    def on_audio_done(self, response_id: str, sent_ms: float) -> None:
        if self._action is not None and self._action.response_id == response_id:
            self._action.sent_ms = sent_ms

    def on_response_done(self, response_id: str, status: str) -> None:
        action = self._action
        if action is None or action.response_id != response_id:
            return
        if status == "cancelled":  # the caller spoke over the goodbye: the call goes on
            self._action = None
            return
        if action.sent_ms is None:  # no audio (text only, or no TTS): act now
            self._run(action)
        else:
            self._deadline = asyncio.get_running_loop().call_later(
                action.sent_ms / 1000 + PLAYOUT_GRACE_S, self._run, action)

    def on_heard(self, response_id: str, heard_ms: float) -> None:
        action = self._action
        if (action is not None and action.response_id == response_id and action.sent_ms is not None
                and heard_ms >= action.sent_ms - 1):
            self._run(action)

    def _run(self, action: _Action) -> None:
        if self._action is not action:
            return
        self._action = None
        if self._deadline is not None:
            self._deadline.cancel()
        task = asyncio.get_running_loop().create_task(self._act(action), name=f"twilio-{self.call_sid}-{action.kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _act(self, action: _Action) -> None:
        try:
            if self.rest is None or not self.call_sid:
                raise VoiceLettaError("no Twilio REST credentials (TWILIO_AUTH_TOKEN and the call's account)")
            if action.kind == "hang_up":
                await self.rest.hang_up(self.call_sid)
            else:
                assert action.number is not None
                await self.rest.redirect(self.call_sid, dial_twiml(action.number))
        except VoiceLettaError as exc:
            log.warning("twilio %s: %s through the REST API failed: %s", self.call_sid, action.kind, exc.message)
            if action.kind == "hang_up":
                self.hang_up_locally()  # closing the stream ends a <Connect><Stream> call
        self.ended.set()

    def close(self) -> None:
        for handle in (self._flush, self._deadline):
            if handle is not None:
                handle.cancel()
