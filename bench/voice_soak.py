"""``bench/voice_sessions.py --soak MINUTES``: one level of live sessions for that long, the server's RSS and fds
sampled every 10 s, growth after the warm-up (see ``bench/voice_sessions.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from bench_common import ROOT, free_port
from voice_load import SCRIPT, open_generators, start_generators


def soak(args: argparse.Namespace) -> None:
    """One level for ``--soak`` minutes; the server's RSS and fds every 10 s; growth after the warm-up."""
    n = args.sessions[0]
    seconds = args.soak * 60
    port = free_port()
    tmp = tempfile.mkdtemp()
    llm: tuple[subprocess.Popen[str], str] | None = None
    if args.turn_every:  # the fake LLM of bench/fake_llm.py, in its own process
        fake = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_llm.py")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert fake.stdout is not None
        llm = (fake, f"http://127.0.0.1:{int(fake.stdout.readline().split()[1])}/v1")
    cmd = [sys.executable, SCRIPT, "--serve", "--port", str(port), "--db", f"{tmp}/b.db",
           "--turn-every", str(args.turn_every)] + (["--tracemalloc"] if args.tracemalloc else [])
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "BENCH_LLM_KEY": "sk-fake"})
    url = f"http://127.0.0.1:{port}"

    def get(path: str) -> dict[str, Any]:
        return json.loads(urllib.request.urlopen(url + path, timeout=600).read())  # type: ignore[no-any-return]

    samples: list[tuple[float, float, int]] = []  # (minutes, rss MB, fds)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        agent_ids = []
        for k in range(args.agents):
            body: dict[str, Any] = {"name": f"soak-{k}"}
            if llm is not None:
                body["llm"] = {"provider": "openai", "model": "fake-model", "base_url": llm[1],
                               "api_key_env": "BENCH_LLM_KEY"}
                body["sleeptime_llm"] = {**body["llm"], "model": "fake-sleeptime"}
            req = urllib.request.Request(url + "/v1/agents", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            agent_ids.append(json.loads(urllib.request.urlopen(req).read())["id"])
        agent = ",".join(agent_ids)
        load0 = os.getloadavg()
        gens = open_generators(port, agent, n, args.generators, seconds)
        start_generators(gens)
        t0 = time.monotonic()
        snapped = False
        top: list[str] = []
        while time.monotonic() - t0 < seconds:
            minutes = (time.monotonic() - t0) / 60
            st = get("/bench/stats?kept=1")
            samples.append((minutes, st["rss_mb"], st["fds"]))
            print(f"# {minutes:5.1f} min: rss {st['rss_mb']:.1f} MB, fds {st['fds']}, stt calls {st['stt_calls']}, "
                  f"responses kept {st['responses_kept']}, load {os.getloadavg()[0]:.2f}", flush=True)
            if args.tracemalloc and not snapped and minutes >= args.warmup_minutes:
                get("/bench/stats?snap=warm")
                snapped = True
            time.sleep(10)
        if args.tracemalloc:
            top = get("/bench/stats?snap=end&base=warm").get("top", [])
        results = []
        for g in gens:
            out, _ = g.communicate(timeout=300)
            results.append(json.loads(out.strip().splitlines()[-1]))
        st = get("/bench/stats")
        samples.append(((time.monotonic() - t0) / 60, st["rss_mb"], st["fds"]))
        turns = sum(1 for a in agent_ids for m in get(f"/v1/agents/{a}/messages?limit=10000")["data"]
                    if m["role"] == "user")
        jobs = [j for a in agent_ids for j in get(f"/v1/agents/{a}/memory/jobs?limit=1000")["data"]]
    finally:
        server.terminate()
        server.wait(timeout=30)
        if llm is not None:
            assert llm[0].stdin is not None
            llm[0].stdin.close()  # the fake stops when its stdin closes
            llm[0].wait(timeout=30)
    after = [x for x in samples if x[0] >= args.warmup_minutes] or samples
    # A leak grows linearly; warm-up (caches, each session's bounded history filling) levels off. The slope of
    # the last third of the run (least squares, sessions still live) tells them apart.
    live = samples[:-1] if len(samples) > 2 else samples
    tail = live[len(live) * 2 // 3:] if len(live) >= 6 else live
    tm = sum(x[0] for x in tail) / len(tail)
    tr = sum(x[1] for x in tail) / len(tail)
    var = sum((x[0] - tm) ** 2 for x in tail)
    slope = sum((x[0] - tm) * (x[1] - tr) for x in tail) / var if var else 0.0
    rss0, rss_end, rss_max = after[0][1], after[-1][1], max(x[1] for x in after)
    report = {
        "sessions": n, "agents": args.agents, "minutes": args.soak, "warmup_minutes": args.warmup_minutes,
        "turn_every": args.turn_every,
        "rss_first_mb": round(samples[0][1], 1), "rss_after_warmup_mb": round(rss0, 1),
        "rss_end_mb": round(rss_end, 1), "rss_max_mb": round(rss_max, 1),
        "growth_after_warmup_pct": round((rss_end - rss0) / rss0 * 100, 2),
        "max_growth_after_warmup_pct": round((rss_max - rss0) / rss0 * 100, 2),
        "rss_slope_last_third_mb_per_min": round(slope, 3),
        "rss_slope_last_third_pct_per_hour": round(slope * 60 / rss0 * 100, 2),
        "fds_after_warmup": [min(x[2] for x in after), max(x[2] for x in after)],
        "stt_calls": st["stt_calls"], "turns": turns, "memory_jobs_done": sum(j["status"] == "done" for j in jobs),
        "memory_jobs": len(jobs), "dropped": sum(r["dropped"] for r in results),
        "errors": sum(r["errors"] for r in results), "frames_ok": round(st["frames"] / max(1, sum(
            r["frames"] for r in results)), 4), "load_before": [round(x, 2) for x in load0],
        "load_after": [round(x, 2) for x in os.getloadavg()], "tracemalloc_top": top,
    }
    print(json.dumps(report, indent=1))
    verdict = "PASS" if report["growth_after_warmup_pct"] < 5 and not report["dropped"] else "FAIL"
    print(f"{verdict}: RSS {rss0:.1f} -> {rss_end:.1f} MB after warm-up ({report['growth_after_warmup_pct']:+.2f} %, "
          f"target < 5 %), fds {report['fds_after_warmup']}, {report['dropped']} sessions dropped")
