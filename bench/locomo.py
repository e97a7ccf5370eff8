"""LoCoMo retrieval through the product's own search path: a real server, REST, a real SQLite file.

    .venv/bin/python bench/locomo.py [--data ../shared/data/locomo/locomo10.zip] [--conversations 26,30]
                                     [--no-isolation] [--k 10] [--verbose]

LoCoMo (Maharana et al., ACL 2024; snap-research/locomo, CC BY-NC 4.0) is read straight from the release zip in
the shared data folder; nothing of it is copied into this repository. 10 conversations, 5,882 turns, 1,986
questions with the ids of the turns that hold the answer.

What it does:
- starts ``voice-letta serve`` in a subprocess (temporary SQLite file, no API key, its own port);
- one agent per conversation; every turn becomes one archival passage, loaded through
  ``POST /v1/agents/{id}/archival/batch``: text ``"<speaker>: <words>"`` plus ``" [shares <caption>]"`` when the
  turn shared a photo (the release's BLIP caption: what was shown is part of what was said), said at the
  session's date and time plus 30 s per turn (sessions carry no per-turn time);
- asks every question through ``GET /v1/agents/{id}/archival/search?query=…&limit=k`` and scores the ranked
  passages against the evidence turn ids.

Scored unit: one turn (the hardest unit; published numbers often score sessions or multi-turn chunks).
Metrics: any evidence turn in the top 1 / 5 / 10 (categories 1 multi-hop, 2 temporal, 3 open-domain,
4 single-hop); all evidence turns in the top 5 for multi-hop; abstention AUC on category 5 (adversarial:
unanswerable) against categories 1–4, from the top result's ``confidence`` (``score`` when a server has none);
search latency seen by the client (HTTP included); isolation: the first conversation's top-5 lists asked before
and after the other nine conversations are loaded into other agents must be identical.

Evidence ids are normalized ("D8:6; D9:17", "D:11:26", "D30:05", space-separated lists); ids that name no turn are
dropped and questions left with no evidence are not scored (the counts are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
# The shared data folder sits beside the checkout (../shared); a git worktree is one level deeper.
DATA_ENV = "LOCOMO_ZIP"
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
DEFAULT_DATA = next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0]) / "data" / "locomo" / "locomo10.zip"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
TURN_STEP_S = 30.0
SERVER_START_TIMEOUT_S = 120.0


@dataclass
class Turn:
    dia_id: str
    speaker: str
    text: str
    said_at: float


@dataclass
class Question:
    text: str
    category: int
    evidence: list[str]


@dataclass
class Conversation:
    name: str
    turns: list[Turn]
    questions: list[Question]
    dropped_evidence: int = 0
    agent_id: str = ""
    passage_turn: dict[str, str] = field(default_factory=dict)  # passage id -> dia_id


def _session_time(text: str) -> float:
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").timestamp()


def _evidence(raw: list[Any]) -> list[str]:
    out: list[str] = []
    for item in raw:
        for part in re.split(r"[;,\s]+", str(item)):
            m = re.fullmatch(r"D:?(\d+):0*(\d+)", part.strip())
            if m:
                out.append(f"D{int(m.group(1))}:{int(m.group(2))}")
    return out


def passage_text(turn: dict[str, Any]) -> str:
    text = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        text += f" [shares {turn['blip_caption']}]"
    return text


def load(path: Path, only: set[str] | None) -> list[Conversation]:
    out = []
    with zipfile.ZipFile(path) as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".json")):
            key = Path(name).stem
            if only and key not in only:
                continue
            d = json.loads(z.read(name))
            turns: list[Turn] = []
            s = 1
            while f"session_{s}" in d:
                start = _session_time(d[f"session_{s}_date_time"])
                for i, t in enumerate(d[f"session_{s}"]):
                    turns.append(Turn(t["dia_id"], t["speaker"], passage_text(t), start + i * TURN_STEP_S))
                s += 1
            known = {t.dia_id for t in turns}
            conv = Conversation(key, turns, [])
            for q in d["qa"]:
                ev = _evidence(q.get("evidence", []))
                kept = [e for e in ev if e in known]
                conv.dropped_evidence += len(ev) - len(kept)
                conv.questions.append(Question(q["question"], int(q["category"]), kept))
            out.append(conv)
    return out


# --- the server -----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def start_server(db: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "VOICE_LETTA_API_KEY"}
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_letta.cli", "serve", "--port", str(port), "--db", str(db), "--no-preload",
        "--no-default-agent", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}")
            try:
                async with http.get(url + "/health") as r:
                    if r.status == 200:
                        return proc, url
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


async def call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, **kw) as r:
        data = await r.json(content_type=None)
        if r.status >= 300:
            raise RuntimeError(f"{method} {url}: {r.status} {data}")
        return data


async def load_conversation(http: aiohttp.ClientSession, url: str, conv: Conversation) -> float:
    agent = await call(http, "POST", f"{url}/v1/agents", json={"name": f"locomo-{conv.name}"})
    conv.agent_id = agent["id"]
    started = time.perf_counter()
    for i in range(0, len(conv.turns), 1000):
        batch = conv.turns[i:i + 1000]
        body = {"passages": [{"text": t.text, "start_at": t.said_at} for t in batch]}
        created = await call(http, "POST", f"{url}/v1/agents/{conv.agent_id}/archival/batch", json=body)
        for t, p in zip(batch, created["data"], strict=True):
            conv.passage_turn[p["id"]] = t.dia_id
    return time.perf_counter() - started


@dataclass
class Answer:
    question: Question
    ranked: list[str]  # dia ids, best first
    confidence: float | None
    latency_ms: float


async def ask_all(http: aiohttp.ClientSession, url: str, conv: Conversation, k: int) -> list[Answer]:
    out = []
    for q in conv.questions:
        t = time.perf_counter()
        found = await call(http, "GET", f"{url}/v1/agents/{conv.agent_id}/archival/search",
                           params={"query": q.text, "limit": str(k)})
        ms = (time.perf_counter() - t) * 1000
        data = found["data"]
        top = data[0] if data else None
        conf = None if top is None else top.get("confidence", top.get("score"))
        out.append(Answer(q, [conv.passage_turn[p["id"]] for p in data], conf, ms))
    return out


# --- scoring --------------------------------------------------------------------------------------------


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a random positive scores above a random negative), ties counting half."""
    if not positives or not negatives:
        return float("nan")
    wins = 0.0
    ordered = sorted(negatives)
    import bisect

    for p in positives:
        lo = bisect.bisect_left(ordered, p)
        hi = bisect.bisect_right(ordered, p)
        wins += lo + 0.5 * (hi - lo)
    return wins / (len(positives) * len(negatives))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(answers: list[Answer], *, verbose: bool) -> dict[str, Any]:
    rows: dict[int, list[tuple[bool, bool, bool, bool]]] = {c: [] for c in (1, 2, 3, 4)}
    unscored = 0
    for a in answers:
        if a.question.category == 5:
            continue
        ev = set(a.question.evidence)
        if not ev:
            unscored += 1
            continue
        r = a.ranked
        rows[a.question.category].append(
            (bool(ev & set(r[:1])), bool(ev & set(r[:5])), bool(ev & set(r[:10])), ev <= set(r[:5])))
    print(f"{'category':<22}{'n':>6}{'any@1':>8}{'any@5':>8}{'any@10':>8}{'all@5':>8}")
    every = [x for c in rows for x in rows[c]]
    for c, xs in [*rows.items(), (0, every)]:
        if not xs:
            continue
        label = f"{c} {CATEGORIES[c]}" if c else "1-4 all"
        m = [statistics.fmean(x[i] for x in xs) for i in range(4)]
        print(f"{label:<22}{len(xs):>6}{m[0]:>8.3f}{m[1]:>8.3f}{m[2]:>8.3f}{m[3]:>8.3f}")
    pos = [a.confidence for a in answers if a.question.category != 5 and a.confidence is not None]
    neg = [a.confidence for a in answers if a.question.category == 5 and a.confidence is not None]
    missing = sum(a.confidence is None for a in answers)
    print(f"abstention AUC (category 5 vs 1-4, top result's confidence): {auc(pos, neg):.3f} "
          f"({len(neg)} vs {len(pos)} questions; {missing} with no result)")
    lat = [a.latency_ms for a in answers]
    print(f"search latency over HTTP: p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms  (n={len(lat)})")
    print(f"questions of categories 1-4 without usable evidence (not scored): {unscored}")
    if verbose:
        for a in answers:
            if a.question.category != 5 and a.question.evidence and not set(a.question.evidence) & set(a.ranked[:5]):
                print(f"  miss [{a.question.category}] {a.question.text} -> want {a.question.evidence}, "
                      f"got {a.ranked[:5]}")
    return {"any5": statistics.fmean(x[1] for x in every) if every else float("nan")}


async def run(args: argparse.Namespace) -> None:
    only = set(args.conversations.split(",")) if args.conversations else None
    convs = load(Path(args.data), only)
    print(f"LoCoMo from {args.data}: {len(convs)} conversations, {sum(len(c.turns) for c in convs)} turns, "
          f"{sum(len(c.questions) for c in convs)} questions; "
          f"{sum(c.dropped_evidence for c in convs)} evidence ids name no turn and were dropped")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = await start_server(Path(tmp) / "locomo.db")
        try:
            timeout = aiohttp.ClientTimeout(total=600)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                first, rest = convs[0], convs[1:]
                secs = await load_conversation(http, url, first)
                print(f"loaded {first.name}: {len(first.turns)} turns in {secs:.1f} s")
                alone = await ask_all(http, url, first, args.k) if args.isolation and rest else []
                for conv in rest:
                    secs = await load_conversation(http, url, conv)
                    print(f"loaded {conv.name}: {len(conv.turns)} turns in {secs:.1f} s")
                answers: list[Answer] = []
                for conv in convs:
                    answers += await ask_all(http, url, conv, args.k)
                report(answers, verbose=args.verbose)
                if alone:
                    together = answers[:len(first.questions)]
                    changed = sum(a.ranked[:5] != b.ranked[:5] for a, b in zip(alone, together, strict=True))
                    print(f"isolation: {changed} of {len(alone)} top-5 lists of conversation {first.name} changed "
                          f"when the other {len(rest)} conversations were loaded into other agents")
        finally:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get(DATA_ENV, str(DEFAULT_DATA)))
    ap.add_argument("--conversations", help="comma-separated conversation ids (file names without .json)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--no-isolation", dest="isolation", action="store_false")
    ap.add_argument("--verbose", action="store_true")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
