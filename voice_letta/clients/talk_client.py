"""The native-protocol side of ``voice-letta talk`` (``clients.ptt``): connect to ``/v1/voice``, configure a
push-to-talk session, and follow one turn's messages (captions, transcript, reply text and audio, barge-in
reports).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from voice_letta import config as C
from voice_letta.clients.talk_audio import OUTPUT_RATE_HZ, Speaker, TalkError
from voice_letta.wire.native import PROTOCOL

CLEAR_LINE = "\r\x1b[K"


# --- one turn's state -------------------------------------------------------------------------------------
@dataclass
class Reply:
    response_id: str | None = None
    transcript: str = ""
    text: list[str] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    rate: int = OUTPUT_RATE_HZ
    status: str | None = None
    heard_text: str | None = None


class TalkClient:
    def __init__(self, ws: Any, *, json_out: bool = False, speaker: Speaker | None = None) -> None:
        self.ws = ws
        self.json_out = json_out
        self.speaker = speaker
        self.reply = Reply()
        self.done = asyncio.Event()
        self.failed: str | None = None
        self.empty: str | None = None  # input_audio.empty's reason: the last commit held no words
        self._printed_agent = False
        # captions (transcript.partial) are drawn on one rewritten line, only on a terminal
        self.live = not json_out and sys.stdout.isatty()
        self.interactive = False  # microphone mode: an empty commit is reported and the session goes on

    # -- incoming messages -------------------------------------------------------------------------------
    async def run_receiver(self) -> None:
        async for raw in self.ws:
            if isinstance(raw, bytes):
                self.reply.audio += raw
                if self.speaker is not None:
                    self.speaker.play(raw)
                continue
            await self._on_message(json.loads(raw))

    async def _on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        r = self.reply
        if kind == "transcript.partial":
            if self.live:  # a caption that the next one (or the final transcript) overwrites
                print(f"\r\x1b[K(you) {msg['text']}", end="", flush=True)
        elif kind == "transcript.final":
            r.transcript = msg["text"]
            if not self.json_out:
                print(f"{CLEAR_LINE if self.live else ''}you> {msg['text']}", flush=True)
        elif kind == "input_audio.empty":
            if self.live:
                print(CLEAR_LINE, end="", flush=True)
            if self.interactive:
                print(f"[nothing heard ({msg.get('reason')}): Enter to talk again]", file=sys.stderr, flush=True)
            self.empty = msg.get("reason") or "no_speech"
            self.done.set()
        elif kind == "response.created":
            r.response_id = msg["response_id"]
        elif kind == "response.audio.start":
            r.rate = msg["sample_rate_hz"]
            if self.speaker is not None:
                self.speaker.start_response()
        elif kind == "response.chunk":
            for choice in msg["chunk"].get("choices", []):
                text = (choice.get("delta") or {}).get("content") or ""
                if text:
                    r.text.append(text)
                    if not self.json_out:
                        print(("" if self._printed_agent else "agent> ") + text, end="", flush=True)
                        self._printed_agent = True
        elif kind == "playback.clear":
            if self.speaker is not None:
                played = self.speaker.stop()
                await self.send(type="playback.stopped", response_id=msg["response_id"], played_ms=round(played, 1),
                                reason="cleared")
        elif kind == "response.done":
            r.status, r.heard_text = msg["status"], msg.get("heard_text")
            if not self.json_out and self._printed_agent:
                print(" [interrupted]" if r.status == "cancelled" else "", flush=True)
            self._printed_agent = False
            self.done.set()
        elif kind == "error":
            print(f"error: {msg.get('code')}: {msg.get('message')}", file=sys.stderr, flush=True)
            if msg.get("code") in ("agent_not_found", "stt_unavailable", "no_agent", "session_not_configured"):
                self.failed = msg.get("code")
                self.done.set()

    async def send(self, **msg: Any) -> None:
        await self.ws.send(json.dumps(msg))

    async def configure(self, agent: str | None, input_rate_hz: int) -> None:
        session: dict[str, Any] = {"turn_mode": "push_to_talk", "input_sample_rate_hz": input_rate_hz,
                                   "output_sample_rate_hz": OUTPUT_RATE_HZ}
        if agent is not None:  # with --identity the URL already chose the person's agent
            session["agent"] = agent
        await self.send(type="session.update", session=session)

    def new_turn(self) -> None:
        self.reply = Reply()
        self.empty = None
        self.done.clear()

    def result(self) -> dict[str, Any]:
        r = self.reply
        return {"transcript": r.transcript, "reply": "".join(r.text), "response_id": r.response_id,
                "status": r.status, "heard_text": r.heard_text,
                "audio_ms": round(len(r.audio) / 2 * 1000 / r.rate, 1), "sample_rate_hz": r.rate}


# --- connection -------------------------------------------------------------------------------------------
def voice_url(base: str, agent: str, identity: str | None = None) -> str:
    from urllib.parse import quote

    base = base.rstrip("/")
    ws_base = "wss://" + base[8:] if base.startswith("https://") else "ws://" + base.removeprefix("http://")
    url = f"{ws_base}/v1/voice?agent={quote(agent)}"
    return url + f"&identity={quote(identity)}" if identity else url


async def connect_voice(args: argparse.Namespace) -> Any:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    base = C.client_url(args.url)
    headers = C.client_headers()
    try:
        url = voice_url(base, args.agent, getattr(args, "identity", None))
        return await connect(url, subprotocols=[PROTOCOL],  # type: ignore[list-item]
                             additional_headers=headers, max_size=None)
    except InvalidStatus as exc:
        raise TalkError(f"server refused the connection: HTTP {exc.response.status_code}"
                        + (f" (set {C.API_KEY_ENV})" if exc.response.status_code == 401 else "")) from exc
    except (OSError, InvalidHandshake) as exc:
        raise TalkError(f"cannot connect to {base}: {exc}") from exc


async def wait_ready(client: TalkClient) -> None:
    """Wait for ``session.updated`` (or an error) after ``configure``."""
    async with asyncio.timeout(15):
        async for raw in client.ws:
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("type") == "session.updated":
                return
            if msg.get("type") == "error":
                raise TalkError(f"{msg.get('code')}: {msg.get('message')}")
