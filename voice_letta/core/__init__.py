"""L1 sans-I/O audio and turn-taking core.

Everything here is synchronous and deterministic: bytes, VAD decisions and ``now: float`` go in, typed
events come out. Nothing reads a clock, sleeps, or touches a socket. Modules:

- ``audio``     AudioFormat and ms/bytes helpers
- ``codecs``    PCM16 <-> numpy, G.711 mu-law (lookup tables, bit-exact with the ITU/Sun reference)
- ``resample``  StreamResampler over soxr.ResampleStream
- ``framer``    Framer: arbitrary chunks -> exact 10/20/30 ms frames
- ``vad``       VoiceDetector Protocol, WebRtcVad, SileroVad (optional), VadGate (energy gate + threshold)
- ``turns``     VadParams, TurnDetector (server_vad / push_to_talk / text) and its events
- ``playout``   PlayoutLedger: what the listener actually heard
- ``pacing``    Pacer: real-time pacing of outbound audio
"""
