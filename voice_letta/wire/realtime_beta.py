"""The OpenAI Realtime *beta* dialect (``OpenAI-Beta: realtime=v1``), translated to and from the GA shapes the rest of
the server speaks (docs/protocol.md §Realtime, "Beta clients").

Clients written for the beta interface are still common: the ``openai`` SDK keeps ``client.beta.realtime.connect``
(it sends the header), older Pipecat (``OpenAIRealtimeBetaLLMService``, gone in 1.x) and LiveKit releases used it,
browsers offer the subprotocol ``openai-beta.realtime-v1``, and tutorials show them. They wait for
``response.audio.delta`` and ``conversation.item.created``; served GA names they would wait forever. The two
dialects carry the same events with other names and a flat session, so the translation is a pure function on each
decoded JSON object, done at the socket: the session, the wire models and their validation stay GA-only, and a beta
client's errors name the GA path of a field it sent (``audio.input.format.type`` for ``input_audio_format``), which
the docs list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BETA_HEADER = "OpenAI-Beta"
BETA_HEADER_VALUE = "realtime=v1"
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"

# beta audio format names <-> GA format objects
_FORMAT_TO_GA: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24_000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_TO_BETA = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}

# server events whose beta name differs; GA's conversation.item.done has no beta counterpart (beta sends only
# conversation.item.created, which GA calls conversation.item.added)
_RENAMED = {
    "conversation.item.added": "conversation.item.created",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
}
_DROPPED = frozenset({"conversation.item.done"})
_CONTENT_TO_BETA = {"output_text": "text", "output_audio": "audio"}
# the deltas are most of a response's events and need only their name changed
_NAME_ONLY = frozenset(_RENAMED) - {"conversation.item.added"}


def wants_beta(headers: Mapping[str, str], offered_protocols: str) -> bool:
    """Whether a connecting client speaks the beta dialect: the SDK's header, or a browser's subprotocol."""
    if BETA_HEADER_VALUE in headers.get(BETA_HEADER, "").replace(" ", "").split(","):
        return True
    return BETA_SUBPROTOCOL in (p.strip() for p in offered_protocols.split(","))


# --- client -> server --------------------------------------------------------------------------------------


def _format_to_ga(value: Any) -> Any:
    # an unknown name is passed on as a format type so the GA validation names it (audio.input.format.type)
    return dict(_FORMAT_TO_GA[value]) if isinstance(value, str) and value in _FORMAT_TO_GA else (
        {"type": value} if isinstance(value, str) else value)


def _modalities_to_ga(value: Any) -> Any:
    # beta ["text", "audio"] = speak, with a transcript; GA says that as ["audio"]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ["audio"] if "audio" in value else list(value)
    return value


def _session_to_ga(session: dict[str, Any]) -> dict[str, Any]:
    out = dict(session)
    audio_in: dict[str, Any] = {}
    audio_out: dict[str, Any] = {}
    moves = (("input_audio_format", audio_in, "format"), ("input_audio_transcription", audio_in, "transcription"),
             ("turn_detection", audio_in, "turn_detection"), ("input_audio_noise_reduction", audio_in,
                                                              "noise_reduction"),
             ("output_audio_format", audio_out, "format"), ("voice", audio_out, "voice"),
             ("speed", audio_out, "speed"))
    for beta_key, target, ga_key in moves:
        if beta_key in out:  # an explicit null stays null (turn_detection: null turns server VAD off)
            value = out.pop(beta_key)
            target[ga_key] = _format_to_ga(value) if ga_key == "format" else value
    if audio_in or audio_out:
        audio = dict(out["audio"]) if isinstance(out.get("audio"), dict) else {}
        for side, moved in (("input", audio_in), ("output", audio_out)):
            if moved:  # a client sending both spellings: the beta field wins, GA's others are kept
                audio[side] = {**(audio[side] if isinstance(audio.get(side), dict) else {}), **moved}
        out["audio"] = audio
    if "modalities" in out:
        out["output_modalities"] = _modalities_to_ga(out.pop("modalities"))
    if "max_response_output_tokens" in out:
        out["max_output_tokens"] = out.pop("max_response_output_tokens")
    return out


def _response_params_to_ga(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if "modalities" in out:
        out["output_modalities"] = _modalities_to_ga(out.pop("modalities"))
    if "max_response_output_tokens" in out:
        out["max_output_tokens"] = out.pop("max_response_output_tokens")
    output: dict[str, Any] = {}
    if "voice" in out:
        output["voice"] = out.pop("voice")
    if "output_audio_format" in out:
        output["format"] = _format_to_ga(out.pop("output_audio_format"))
    if output:
        out["audio"] = {"output": output}
    return out


def client_to_ga(event: dict[str, Any]) -> dict[str, Any]:
    """A beta client event (decoded JSON) as the GA event it means. Item content types ``text``/``audio`` are GA's
    too (accepted as they are); events that are the same in both dialects come back unchanged."""
    kind = event.get("type")
    if kind == "session.update" and isinstance(event.get("session"), dict):
        return {**event, "session": _session_to_ga(event["session"])}
    if kind == "response.create" and isinstance(event.get("response"), dict):
        return {**event, "response": _response_params_to_ga(event["response"])}
    return event


# --- server -> client --------------------------------------------------------------------------------------


def _modalities_to_beta(value: Any) -> list[str]:
    return ["text", "audio"] if value == ["audio"] else list(value or ["text"])


def _format_to_beta(fmt: Any) -> Any:
    if not isinstance(fmt, dict):
        return fmt
    kind = str(fmt.get("type"))
    return _FORMAT_TO_BETA.get(kind, kind)


def _session_to_beta(session: dict[str, Any]) -> dict[str, Any]:
    audio = session.get("audio") or {}
    audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
    return {
        "id": session.get("id"), "object": "realtime.session", "model": session.get("model"),
        "modalities": _modalities_to_beta(session.get("output_modalities")),
        "instructions": session.get("instructions"), "voice": audio_out.get("voice"),
        "input_audio_format": _format_to_beta(audio_in.get("format")),
        "output_audio_format": _format_to_beta(audio_out.get("format")),
        "input_audio_transcription": audio_in.get("transcription"),
        "turn_detection": audio_in.get("turn_detection"),
        "input_audio_noise_reduction": audio_in.get("noise_reduction"),
        "tools": session.get("tools", []), "tool_choice": session.get("tool_choice", "auto"),
        "temperature": 0.8,  # beta's default; the agent's own model settings decide, as the docs say
        "max_response_output_tokens": session.get("max_output_tokens", "inf"),
        "speed": audio_out.get("speed", 1.0), "tracing": None, "expires_at": session.get("expires_at", 0),
    }


def _item_to_beta(item: Any) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("content"), list):
        return item
    content = [{**part, "type": _CONTENT_TO_BETA.get(str(part.get("type")), part.get("type"))}
               if isinstance(part, dict) else part for part in item["content"]]
    return {**item, "content": content}


def _response_to_beta(response: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in response.items() if k not in ("output_modalities", "audio")}
    output_audio = (response.get("audio") or {}).get("output") or {}
    out["modalities"] = _modalities_to_beta(response.get("output_modalities"))
    out["voice"] = output_audio.get("voice")
    out["output_audio_format"] = _format_to_beta(output_audio.get("format"))
    out["output"] = [_item_to_beta(item) for item in response.get("output") or []]
    return out


def server_to_beta(event: dict[str, Any]) -> dict[str, Any] | None:
    """A GA server event (decoded JSON) as the beta event a beta client waits for; ``None``: beta has none."""
    kind = event.get("type")
    if kind in _DROPPED:
        return None
    if kind in _NAME_ONLY:
        return {**event, "type": _RENAMED[kind]}
    out = dict(event)
    if kind in _RENAMED:
        out["type"] = _RENAMED[kind]
    if isinstance(out.get("session"), dict) and kind in ("session.created", "session.updated"):
        out["session"] = _session_to_beta(out["session"])
    if isinstance(out.get("response"), dict):
        out["response"] = _response_to_beta(out["response"])
    if "item" in out:
        out["item"] = _item_to_beta(out["item"])
    return out
