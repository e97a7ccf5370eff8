"""Builds the process's speech engines for the app: local faster-whisper + Piper by default, espeak-ng as
the TTS fallback, OpenAI when configured. Test overrides (``Overrides.stt/tts``) win.

Environment (read once at start):

    VOICE_LETTA_STT        local (default) | openai | none
    VOICE_LETTA_TTS        piper (default; falls back to espeak) | espeak | openai | none
    VOICE_LETTA_TTS_VOICE  OpenAI voice name (default alloy)
    OPENAI_API_KEY         needed for the openai choices

A missing local package does not stop the server: the engine is left out and sessions that need it get a
typed ``stt_unavailable`` / ``tts_unavailable`` error (text turns keep working).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from voice_letta.agent.ports import SpeechToText, TextToSpeech
from voice_letta.errors import ConfigError
from voice_letta.session.speech import SpeechEngines

log = logging.getLogger(__name__)


def build_speech(stt: SpeechToText | None = None, tts: TextToSpeech | None = None,
                 env: dict[str, str] | None = None) -> SpeechEngines:
    from voice_letta.providers.speech_registry import make_stt, make_tts

    env = dict(os.environ) if env is None else env
    stt_name, tts_name = "override", "override"
    if stt is None:
        stt_name = env.get("VOICE_LETTA_STT", "local").strip().lower()
        stt = _build(make_stt, stt_name, _openai_opts(env, stt_name))
    if tts is None:
        tts_name = env.get("VOICE_LETTA_TTS", "piper").strip().lower()
        opts = _openai_opts(env, tts_name)
        if tts_name == "openai":
            opts["voice"] = env.get("VOICE_LETTA_TTS_VOICE", "alloy")
        tts = _build(make_tts, tts_name, opts)
    return SpeechEngines(stt=stt, tts=tts, stt_name=stt_name if stt else "none",
                         tts_name=type(tts).__name__ if tts and tts_name != "override" else tts_name)


def _openai_opts(env: dict[str, str], name: str) -> dict[str, Any]:
    if name != "openai":
        return {}
    key = env.get("OPENAI_API_KEY", "").strip()  # a Windows-written .env file leaves "\r" at the end
    if not key:
        log.warning("OpenAI speech chosen but OPENAI_API_KEY is not set")
    return {"api_key": key} if key else {}


def _build(factory: Any, name: str, opts: dict[str, Any]) -> Any:
    if name in ("none", ""):
        return None
    try:
        return factory(name, **opts)
    except (ConfigError, ImportError, TypeError) as exc:
        log.warning("speech engine %r unavailable: %s", name, exc)
        return None
