"""The confidence calibration (voice_letta/agent/recall/confidence.py), on our own recall set only.

    .venv/bin/python bench/memory_search.py --calibrate

Two parts, both through the product's own index and ranking (``MemorySearch`` on a real SQLite file, in-process):

1. **The fit**: every direct question, paraphrase and unanswerable question of ``bench/recall_set.json``'s facts
   (stored as the sleeptime agent stores them: lines + synopsis) and of its two-person chat; the top 5 passages'
   features, labelled relevant when the passage is the question's fact; logistic regression by Newton's method,
   a little L2. Prints the weights and a reliability table.
2. **Storage styles**: the same 30 facts stored ten ways in ten agents (the sleeptime format; the third-person
   synopsis alone, as an integrator's archival note; the plain first-person ``statement``; the user's line alone,
   with and without its "user: " label; the transcript without a synopsis; and the sleeptime format and the note
   with the synopsis naming the user, "Sam …", or without a subject, "Has …"). For each: how much lower than the
   first-person statement the answer's cosine and the best unanswerable cosine are (paired by question: what
   ``THIRD_PERSON_SHIFT`` and the style lift correct), and with the product's confidence, the share of
   answerable questions whose top-3 holds the fact with top confidence >= 0.5, and the abstention.

LoCoMo is never used here (it only evaluates), nor is any held-out half.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from voice_letta import ids
from voice_letta.agent.memory_search import MemorySearch, _query_speaker
from voice_letta.agent.models import AgentState, Passage
from voice_letta.agent.ports import NewBlock
from voice_letta.agent.recall.confidence import (
    BIAS,
    CONFIDENT,
    W_ATTRIBUTION,
    W_COSINE,
    W_COVERAGE,
    W_OTHER_SPEAKER,
    confidence,
)
from voice_letta.agent.recall.ranking import Ranked
from voice_letta.agent.recall.vector import SearchWindow
from voice_letta.providers.local_embed import LocalEmbedder
from voice_letta.store import open_store

ROOT = Path(__file__).resolve().parents[1]
DAY = 86400.0


def _styles(facts: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """(text, synopsis) of every fact, per storage style."""
    return {
        "sleeptime (lines + synopsis)": [("\n".join(f["lines"]), f["synopsis"]) for f in facts],
        "third-person note": [(f["synopsis"], "") for f in facts],
        "first-person statement": [(f["statement"], "") for f in facts],
        "user line": [(f["lines"][0], "") for f in facts],
        "line without label": [(f["lines"][0].split(": ", 1)[-1], "") for f in facts],
        "transcript, no synopsis": [("\n".join(f["lines"]), "") for f in facts],
        "sleeptime, named synopsis": [("\n".join(f["lines"]), _named(f["synopsis"])) for f in facts],
        "sleeptime, synopsis no subject": [("\n".join(f["lines"]), _subjectless(f["synopsis"])) for f in facts],
        "named note": [(_named(f["synopsis"]), "") for f in facts],
        "note without subject": [(_subjectless(f["synopsis"]), "") for f in facts],
    }


NAME = "Sam"  # the user's name as a sleeptime model reads it in the human block


def _named(synopsis: str) -> str:
    """"The user's dog is…" -> "Sam's dog is…": the note names the user."""
    return synopsis.replace("The user", NAME).replace("the user", NAME)


def _subjectless(synopsis: str) -> str:
    """"The user's dog is…" -> "Dog is…", "The user has two cats…" -> "Has two cats…": a note without a subject."""
    rest = synopsis.removeprefix("The user's ").removeprefix("The user ")
    return rest[:1].upper() + rest[1:]


class _Agents:
    """Agents of one SQLite file, searched through the product's index and ranking."""

    def __init__(self, store: Any, embedder: LocalEmbedder) -> None:
        self.store, self.embedder = store, embedder
        self.search = MemorySearch(store, embedder)

    async def load(self, rows: list[tuple[str, str]], start_at: list[float]) -> tuple[str, list[str]]:
        agent = await self.store.create_agent(AgentState(id=ids.agent_id(), name="calibration"),
                                              [NewBlock(label="human", value="")])
        vectors = await self.embedder.embed([f"{s}\n{t}".strip() for t, s in rows])
        passages = [Passage(id=ids.passage_id(), agent_id=agent.id, text=t, synopsis=s, embedding=v,
                            embedding_model=self.embedder.model, start_at=at)
                    for (t, s), v, at in zip(rows, vectors, start_at, strict=True)]
        await self.store.insert_passages(passages)
        return agent.id, [p.id for p in passages]

    async def rank(self, agent_id: str, question: str, limit: int = 5) -> list[Ranked]:
        index = await self.search._index(agent_id, self.embedder)
        qv = np.asarray(await self.embedder.embed([question]), dtype=np.float32)
        return index.rank(qv, [question], SearchWindow(None, None), limit=limit, speaker=_query_speaker(question))


def _conf(r: Ranked) -> float:
    return confidence(r.cosine if r.has_vector else None, r.coverage, other_speaker=r.other_speaker,
                      other_role=r.other_role, attribution=r.attribution, baseline=r.baseline,
                      third_person=r.third_person, asks=r.asks, misfit=r.misfit, lead=r.lead)


async def _fit(agents: _Agents, data: dict[str, Any], now: float) -> None:
    facts = data["facts"]
    feats: list[tuple[float, float, float, float]] = []
    labels: list[int] = []
    fid, fids = await agents.load([("\n".join(f["lines"]), f["synopsis"]) for f in facts],
                                  [now - (60 - 2 * i) * DAY for i in range(len(facts))])
    questions = [(f["question"], i) for i, f in enumerate(facts)]
    questions += [(f["paraphrase"], i) for i, f in enumerate(facts) if f.get("paraphrase")]
    questions += [(q, -1) for q in data["unanswerable"]]
    dia = data["dialogue"]
    did, dids = await agents.load([(t, "") for t in dia["lines"]],
                                  [now - 3 * DAY + 60 * i for i in range(len(dia["lines"]))])
    asked = [(fid, q, fids[t] if t >= 0 else None) for q, t in questions]
    asked += [(did, q, dids[t]) for q, t in dia["answerable"]] + [(did, q, None) for q in dia["swapped"]]
    for agent_id, q, want in asked:
        for r in await agents.rank(agent_id, q):
            feats.append((r.cosine, r.coverage, float(r.other_speaker), min(r.attribution, 0.0)))
            labels.append(int(r.passage_id == want))
    x = np.column_stack([np.asarray(feats), np.ones(len(feats))])
    y = np.asarray(labels, dtype=float)
    w = np.array([W_COSINE, W_COVERAGE, W_OTHER_SPEAKER, W_ATTRIBUTION, BIAS], dtype=float)
    ridge = 0.01 * np.diag([1, 1, 1, 1, 0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + ridge @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + ridge
        w -= np.linalg.solve(hess, grad)
    p = 1 / (1 + np.exp(-(x @ w)))
    print(f"== confidence calibration on {len(y)} (question, passage) pairs, {int(y.sum())} relevant ==")
    print(f"   W_COSINE = {w[0]:.2f}   W_COVERAGE = {w[1]:.2f}   W_OTHER_SPEAKER = {w[2]:.2f}   "
          f"W_ATTRIBUTION = {w[3]:.2f}   BIAS = {w[4]:.2f}")
    for lo in (0.0, 0.2, 0.4, 0.6, 0.8):
        sel = (p >= lo) & (p < lo + 0.2)
        if sel.any():
            print(f"   predicted {lo:.1f}-{lo + 0.2:.1f}: n={int(sel.sum()):4d}  relevant {y[sel].mean():.2f}")


async def _styles_report(agents: _Agents, data: dict[str, Any], now: float) -> None:
    facts = data["facts"]
    questions = [(f["question"], i) for i, f in enumerate(facts)]
    questions += [(f["paraphrase"], i) for i, f in enumerate(facts) if f.get("paraphrase")]
    results: dict[str, dict[str, Any]] = {}
    for style, rows in _styles(facts).items():
        agent_id, pids = await agents.load(rows, [now - (60 - 2 * i) * DAY for i in range(len(rows))])
        index = await agents.search._index(agent_id, agents.embedder)
        answer_cos, answered = [], []
        for q, i in questions:
            qv = np.asarray(await agents.embedder.embed([q]), dtype=np.float32)[0]
            answer_cos.append(float(index.vectors.matrix[index.row_of[pids[i]]] @ qv))
            top = await agents.rank(agent_id, q, limit=3)
            answered.append(bool(top) and pids[i] in [r.passage_id for r in top] and _conf(top[0]) >= CONFIDENT)
        best_unanswerable, abstained = [], []
        for q in data["unanswerable"]:
            qv = np.asarray(await agents.embedder.embed([q]), dtype=np.float32)[0]
            best_unanswerable.append(float((index.vectors.matrix[:index.size] @ qv).max()))
            top = await agents.rank(agent_id, q, limit=1)
            abstained.append(not top or _conf(top[0]) < CONFIDENT)
        results[style] = {"answer": np.asarray(answer_cos), "unanswerable": np.asarray(best_unanswerable),
                          "answered": answered, "abstained": abstained}
    ref = results["first-person statement"]
    print(f"== storage styles: the recall set's {len(facts)} facts stored {len(results)} ways (one agent each) ==")
    print(f"   {'style':<30}{'answer cos':>11}{'vs stmt':>9}{'best unans':>11}{'vs stmt':>9}"
          f"{'answered >= 0.5':>18}{'abstained':>12}")
    for style, r in results.items():
        print(f"   {style:<30}{r['answer'].mean():>11.3f}{(r['answer'] - ref['answer']).mean():>+9.3f}"
              f"{r['unanswerable'].mean():>11.3f}{(r['unanswerable'] - ref['unanswerable']).mean():>+9.3f}"
              f"{sum(r['answered']):>11}/{len(r['answered']):<6}{sum(r['abstained']):>7}/{len(r['abstained'])}")
    print(f"   (answered: top-3 holds the fact and the top result's confidence >= {CONFIDENT}; best unans: the "
          "highest cosine of each unanswerable question to any passage)")


async def calibrate() -> None:
    data = json.loads((ROOT / "bench" / "recall_set.json").read_text())
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(Path(tmp) / "cal.db")
        try:
            agents = _Agents(store, LocalEmbedder())
            await _fit(agents, data, now)
            await _styles_report(agents, data, now)
        finally:
            await store.aclose()
