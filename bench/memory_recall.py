"""Recall quality through a real server's REST search (``bench/memory_search.py --recall [SET]``).

``bench_recall``: the recall set (``bench/recall_set.json``); ``bench_holdout``: a set of conversations reported
per split (``bench/recall_holdout.json``). See ``bench/memory_search.py`` for the command lines.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DAY = 86400.0


def top_confidence(results: list[dict[str, Any]]) -> float:
    """The search's confidence that its first result answers: that result's, or 0 when nothing came back."""
    return float(results[0]["confidence"]) if results else 0.0


async def bench_recall(name: str, data: dict[str, Any], *, verbose: bool = False) -> None:
    """The recall set through a real server's REST search (``bench/locomo.py`` starts it): top-3 hit rate of
    direct questions and of paraphrases sharing no content word with the fact, the share of updated facts whose
    stale version ranks first, abstention on questions nothing answers (top confidence below 0.5), and the
    share of a time window's lines a window search returns."""
    import aiohttp
    from locomo import call, start_server  # type: ignore[import-not-found]

    print(f"== recall quality on {name} (REST search of a real server) ==")
    print(f"   load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = await start_server(Path(tmp) / "recall.db")
        try:
            async with aiohttp.ClientSession() as http:
                async def agent(name: str, passages: list[dict[str, Any]]) -> tuple[str, list[str]]:
                    a = await call(http, "POST", f"{url}/v1/agents", json={"name": name})
                    made = await call(http, "POST", f"{url}/v1/agents/{a['id']}/archival/batch",
                                      json={"passages": passages})
                    return a["id"], [p["id"] for p in made["data"]]

                async def search(agent_id: str, query: str, k: int = 3, **window: float) -> list[dict[str, Any]]:
                    params = {"query": query, "limit": str(k), **{key: str(v) for key, v in window.items()}}
                    found = await call(http, "GET", f"{url}/v1/agents/{agent_id}/archival/search", params=params)
                    return list(found["data"])

                facts = data["facts"]
                fid, fids = await agent("facts", [
                    {"text": "\n".join(f["lines"]), "synopsis": f["synopsis"],
                     "start_at": now - (60 - 2 * i) * DAY} for i, f in enumerate(facts)])
                rows: dict[str, list[bool]] = {"direct": [], "paraphrase": []}
                answered_conf: list[float] = []
                answered: list[bool] = []  # the fact in the top 3 and top confidence >= 0.5
                wrong: list[bool] = []  # another passage first at top confidence >= 0.5
                for i, f in enumerate(facts):
                    for kind, q in (("direct", f["question"]), ("paraphrase", f.get("paraphrase"))):
                        if not q:
                            continue
                        top = await search(fid, q)
                        hit = fids[i] in [p["id"] for p in top]
                        rows[kind].append(hit)
                        answered_conf.append(top_confidence(top))
                        answered.append(hit and top_confidence(top) >= 0.5)
                        wrong.append(top_confidence(top) >= 0.5 and top[0]["id"] != fids[i])
                        if verbose and not hit:
                            print(f"   miss ({kind}): {q} -> {[p['text'][:50] for p in top]}")
                abstained = []
                for q in data["unanswerable"]:
                    top = await search(fid, q)
                    conf = top_confidence(top)
                    abstained.append(conf < 0.5)
                    if verbose and conf >= 0.5:
                        print(f"   answered an unanswerable ({conf:.2f}): {q} -> {top[0]['text'][:60]}")

                ups = data["updates"]
                passages = []
                for i, u in enumerate(ups):
                    passages.append({"text": u["old"], "start_at": now - 60 * DAY + i * 3600})
                    passages.append({"text": u["new"], "start_at": now - 5 * DAY + i * 3600})
                for i, text in enumerate(data["update_distractors"]):
                    passages.append({"text": text, "start_at": now - (50 - 5 * i) * DAY})
                uid, uids = await agent("updates", passages)
                stale_on_top = []
                for i, u in enumerate(ups):
                    old, new = uids[2 * i], uids[2 * i + 1]
                    ranked = [p["id"] for p in await search(uid, u["question"], k=5)]
                    stale = old in ranked and (new not in ranked or ranked.index(old) < ranked.index(new))
                    stale_on_top.append(stale)
                    if verbose and stale:
                        print(f"   stale first: {u['question']} -> {u['old']}")

                w = data["windows"]
                day0 = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                passages = [{"text": f["line"], "start_at": (day0.timestamp() - f["days_ago"] * DAY
                                                             + f["hour"] * 3600)} for f in w["facts"]]
                wid, wids = await agent("windows", passages)
                window_recall = []
                for q in w["questions"]:
                    newest, oldest = q["days_ago"]
                    start = day0.timestamp() - oldest * DAY
                    end = day0.timestamp() - (newest - 1) * DAY - 1
                    got = {p["id"] for p in await search(wid, q["question"], k=10, start_at=start, end_at=end)}
                    want = {wids[i] for i in q["expect"]}
                    window_recall.append(len(got & want) / len(want))
                    if verbose and want - got:
                        print(f"   window missed {len(want - got)}: {q['question']}")
                dia = data["dialogue"]
                did, dids = await agent("dialogue", [{"text": t, "start_at": now - 3 * DAY + 60 * i}
                                                     for i, t in enumerate(dia["lines"])])
                dia_hits, dia_abstained = [], []
                for q, target in dia["answerable"]:
                    top = await search(did, q)
                    dia_hits.append(dids[target] in [p["id"] for p in top])
                    answered_conf.append(top_confidence(top))
                    answered.append(dia_hits[-1] and top_confidence(top) >= 0.5)
                    wrong.append(top_confidence(top) >= 0.5 and top[0]["id"] != dids[target])
                for q in dia["swapped"]:
                    top = await search(did, q)
                    conf = top_confidence(top)
                    dia_abstained.append(conf < 0.5)
                    if verbose and conf >= 0.5:
                        print(f"   answered a swapped-person question ({conf:.2f}): {q} -> {top[0]['text'][:60]}")
        finally:
            proc.terminate()
            await proc.wait()

    def rate(xs: list[bool]) -> str:
        return f"{sum(xs)}/{len(xs)} = {100 * sum(xs) / max(len(xs), 1):.1f} %"

    both = rows["direct"] + rows["paraphrase"]
    print(f"  top-3, direct questions:                 {rate(rows['direct'])}")
    print(f"  top-3, paraphrases (no shared word):      {rate(rows['paraphrase'])}")
    print(f"  top-3, all answerable:                    {rate(both)}")
    print(f"  stale fact ranked above its update:       {rate(stale_on_top)}")
    print(f"  abstention on unanswerable (conf < 0.5):  {rate(abstained)}")
    print(f"  answerable with top confidence < 0.5:     {rate([c < 0.5 for c in answered_conf])}")
    print(f"  answered (top-3 and confidence >= 0.5):   {rate(answered)}")
    print(f"  confident wrong (top-1 not it, >= 0.5):   {rate(wrong)}")
    print(f"  time-window recall (lines of the window): {100 * statistics.fmean(window_recall):.1f} %")
    print(f"  two-person chat, top-3 on answerable:     {rate(dia_hits)}")
    print(f"  two-person chat, abstention when the question names the other person: {rate(dia_abstained)}")


def _local_midnight(now: float, zone: ZoneInfo) -> datetime:
    """Today's 00:00 in the user's time zone (a conversation's "timezone"; UTC when it names none)."""
    return datetime.fromtimestamp(now, tz=zone).replace(hour=0, minute=0, second=0, microsecond=0)


def _holdout_time(at: dict[str, Any], now: float, day0: datetime) -> float:
    """When a held-out passage was said (see the set's description): days_ago/weekday + hour, or today; days and
    hours are the user's local ones (``day0``: today's local midnight)."""
    seq = 30.0 * at.get("seq", 0)
    if "today" in at:
        return day0.timestamp() + at["today"] * (now - day0.timestamp() - 600) + seq
    return _holdout_day(at, day0).replace(hour=at.get("hour", 12)).timestamp() + seq


def _holdout_day(spec: dict[str, Any], day0: datetime) -> datetime:
    """The start (local midnight) of the day a spec names: days_ago, or the most recent past weekday (1-7 days).
    Calendar arithmetic in the zone, so a DST change in between keeps midnight at midnight."""
    if "weekday" in spec:
        wanted = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"].index(spec["weekday"])
        back = (day0.weekday() - wanted) % 7 or 7
    else:
        back = spec["days_ago"]
    return _days_before(day0, back)


def _days_before(day0: datetime, days: int) -> datetime:
    day = (day0.replace(tzinfo=None) - timedelta(days=days)).replace(tzinfo=day0.tzinfo)
    return datetime.fromtimestamp(day.timestamp(), tz=day0.tzinfo)


def _holdout_window(spec: dict[str, Any], day0: datetime) -> tuple[float, float]:
    """A window question's local day (or the previous Monday-Sunday week) as [start, end] timestamps."""
    if spec.get("last_week"):
        monday = _days_before(day0, day0.weekday())
        return _days_before(monday, 7).timestamp(), monday.timestamp() - 1
    start = _holdout_day(spec, day0)
    return start.timestamp(), _days_before(start, -1).timestamp() - 1


async def bench_holdout(name: str, data: dict[str, Any], *, verbose: bool = False) -> None:
    """A set of conversations with tagged questions (``bench/recall_holdout.json``), each conversation in its own
    agent of a real server, every question through the REST search with no window parameter (a window question
    carries its time in words only) and once more with the window given, reported per split (dev / test)."""
    import aiohttp
    from locomo import call, start_server  # type: ignore[import-not-found]

    print(f"== recall quality on {name} (REST search of a real server), per split ==")
    print(f"   load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    now = time.time()
    res: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = await start_server(Path(tmp) / "holdout.db")
        try:
            async with aiohttp.ClientSession() as http:
                for conv in data["conversations"]:
                    r = res.setdefault(conv["split"], {})
                    # A conversation may name the user's time zone: the agent is made in it, and the set's days,
                    # hours and window days are the user's local ones.
                    zone = conv.get("timezone", "UTC")
                    day0 = _local_midnight(now, ZoneInfo(zone))
                    a = await call(http, "POST", f"{url}/v1/agents", json={
                        "name": conv["name"], **({"timezone": zone} if "timezone" in conv else {})})
                    said = [_holdout_time(p["at"], now, day0) for p in conv["passages"]]
                    made = await call(http, "POST", f"{url}/v1/agents/{a['id']}/archival/batch", json={
                        "passages": [{"text": p["text"], "synopsis": p.get("synopsis", ""), "start_at": t}
                                     for p, t in zip(conv["passages"], said, strict=True)]})
                    pids = [p["id"] for p in made["data"]]

                    async def search(query: str, k: int, agent_id: str = a["id"], **window: float
                                     ) -> list[dict[str, Any]]:
                        params = {"query": query, "limit": str(k), **{key: str(v) for key, v in window.items()}}
                        found = await call(http, "GET", f"{url}/v1/agents/{agent_id}/archival/search", params=params)
                        return list(found["data"])

                    for q in conv["questions"]:
                        kind, text = q["kind"], q["question"]
                        if kind == "window":
                            lo, hi = _holdout_window(q["window"], day0)
                            want = {pids[i] for i, t in enumerate(said) if lo <= t <= hi}
                            if not want:
                                continue
                            for label, window in (("window (words only)", {}),
                                                  ("window (given)", {"start_at": lo, "end_at": hi})):
                                got = await search(text, 10, **window)
                                ids_ = {p["id"] for p in got}
                                r.setdefault(label, []).append(len(ids_ & want) / len(want))
                                r.setdefault(label + ", outside", []).append(len(ids_ - want))
                                if verbose and want - ids_:
                                    print(f"   [{conv['split']}] {label} missed {len(want - ids_)}/{len(want)}: "
                                          f"{text}")
                            continue
                        top = await search(text, 5)
                        ranked = [p["id"] for p in top]
                        conf = top_confidence(top)
                        if kind == "unanswerable":
                            r.setdefault("abstained", []).append(float(conf < 0.5))
                            if verbose and conf >= 0.5:
                                print(f"   [{conv['split']}] answered ({conf:.2f}): {text} -> {top[0]['text'][:70]!r}")
                            continue
                        want_ids = [pids[i] for i in q["expect"]]
                        hit = any(w in ranked[:3] for w in want_ids)
                        r.setdefault("top3 " + kind, []).append(float(hit))
                        r.setdefault("top3 all", []).append(float(hit))
                        r.setdefault("answerable conf < 0.5", []).append(float(conf < 0.5))
                        # what a voice user gets: the answer said (found and confident), or another passage said
                        # as the answer with confidence (an update's stale version first counts as wrong)
                        r.setdefault("answered (top-3, >= 0.5)", []).append(float(hit and conf >= 0.5))
                        wrong = conf >= 0.5 and ranked[0] not in want_ids
                        r.setdefault("confident wrong (top-1)", []).append(float(wrong))
                        if verbose and wrong:
                            print(f"   [{conv['split']}] confident wrong ({conf:.2f}, {kind}): {text} -> "
                                  f"{top[0]['text'][:70]!r}")
                        if kind == "update":
                            new = min((ranked.index(w) for w in want_ids if w in ranked), default=99)
                            old = min((ranked.index(pids[i]) for i in q["stale"] if pids[i] in ranked), default=99)
                            r.setdefault("stale on top", []).append(float(old < new))
                            if verbose and old < new:
                                print(f"   [{conv['split']}] stale first: {text} -> {top[0]['text'][:70]!r}")
                        if verbose and not hit:
                            print(f"   [{conv['split']}] miss ({kind}): {text} -> "
                                  f"{[p['text'][:40] for p in top[:3]]}")
                        if verbose and conf < 0.5:
                            print(f"   [{conv['split']}] low confidence {conf:.2f} ({kind}): {text}")
        finally:
            proc.terminate()
            await proc.wait()
    splits = sorted(res)
    everything: dict[str, list[float]] = {}
    for s in splits:
        for key, xs in res[s].items():
            everything.setdefault(key, []).extend(xs)
    rows = ["top3 fact", "top3 paraphrase", "top3 update", "top3 all", "stale on top", "abstained",
            "answerable conf < 0.5", "answered (top-3, >= 0.5)", "confident wrong (top-1)", "window (words only)",
            "window (given)", "window (words only), outside",
            "window (given), outside"]
    print(f"  {'':<34}" + "".join(f"{s:>16}" for s in [*splits, "all"]))
    for key in rows:
        cells = []
        for xs in [*(res[s].get(key, []) for s in splits), everything.get(key, [])]:
            if not xs:
                cells.append(f"{'-':>16}")
            elif "window" in key and "outside" not in key:
                cells.append(f"{100 * statistics.fmean(xs):>14.1f} %")
            elif "outside" in key:
                cells.append(f"{sum(xs):>10.0f} lines")
            else:
                cells.append(f"{int(sum(xs)):>4}/{len(xs):<3} {100 * statistics.fmean(xs):5.1f} %")
        print(f"  {key:<34}" + "".join(cells))
