"""The server process of ``bench/voice_sessions.py`` (``--serve``): the real app with scripted STT/TTS and a
``/bench/stats`` route (frame delay and loop lag histograms, CPU, RSS, fds, tracemalloc snapshots).

See ``bench/voice_sessions.py`` for what is measured and the command lines.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path


async def serve(port: int, db: str, profile: str, turn_every: int = 0, trace: bool = False) -> None:
    import gc
    import tracemalloc

    from aiohttp import web

    from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
    from voice_letta.config import ServerConfig
    from voice_letta.server.app import Overrides, create_app
    from voice_letta.session.metrics import FRAME_DELAYS, DelayHistogram

    if trace:
        tracemalloc.start(1)
    stt_calls = [0]

    def transcript(pcm: bytes, rate: int) -> str:
        # Every turn_every-th utterance is a real turn (the agent answers); the others transcribe to "".
        stt_calls[0] += 1
        return "Please tell me one short fact." if turn_every and stt_calls[0] % turn_every == 0 else ""

    app = create_app(ServerConfig(db_path=Path(db), api_key=None),
                     Overrides(stt=ScriptedSTT(transcript, record=False), tts=ScriptedTTS()))
    snaps: dict[str, tracemalloc.Snapshot] = {}
    lags = DelayHistogram()
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()

    async def stats(request: web.Request) -> web.Response:
        ms = 1000.0
        body = {"frame_p50_ms": FRAME_DELAYS.percentile(50) * ms, "frame_p99_ms": FRAME_DELAYS.percentile(99) * ms,
                "frame_max_ms": _max(FRAME_DELAYS) * ms, "frames": FRAME_DELAYS.n,
                "lag_p50_ms": lags.percentile(50) * ms, "lag_p99_ms": lags.percentile(99) * ms,
                "lag_max_ms": _max(lags) * ms, "cpu_s": time.process_time()}
        if request.query.get("reset"):
            lags.reset()
            FRAME_DELAYS.reset()
            if prof is not None:
                prof.enable()
        if request.query.get("dump") and prof is not None:
            prof.disable()
            prof.dump_stats(profile)
        with open("/proc/self/status") as f:
            body["rss_mb"] = next(int(x.split()[1]) for x in f if x.startswith("VmRSS")) / 1024
        body["fds"] = len(os.listdir("/proc/self/fd"))
        body["stt_calls"] = stt_calls[0]
        if request.query.get("kept"):  # per-session bounded state: ended responses kept for a late truncate
            from voice_letta.session.session import VoiceSession

            live = [o for o in gc.get_objects() if isinstance(o, VoiceSession)]
            body["sessions_live"] = len(live)
            body["responses_kept"] = sum(len(getattr(o, "_recent", ())) for o in live)
        name = request.query.get("snap")
        if name and trace:
            gc.collect()
            snaps[name] = tracemalloc.take_snapshot()
            base = request.query.get("base")
            if base in snaps:
                top = snaps[name].compare_to(snaps[base], "lineno")[:15]
                body["top"] = [f"{st.size_diff / 1024:+.0f} KiB {st.count_diff:+d} {st.traceback[0]}" for st in top]
        return web.json_response(body)

    app.router.add_get("/bench/stats", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)  # the driver's terminate(): shut the app down properly
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.005)
        lags.observe(max(0.0, loop.time() - t - 0.005))
    await runner.cleanup()


def _max(h: object) -> float:
    counts = h.counts  # type: ignore[attr-defined]
    for i in range(len(counts) - 1, -1, -1):
        if counts[i]:
            return (i + 1) * h.step_s  # type: ignore[attr-defined]
    return 0.0
