"""Sign-bit vector search against the exact scan, on 100k real MiniLM embeddings.

    .venv/bin/python bench/vector_recall.py [--rows 100000] [--cache /tmp/vl-corpus]

Past ``COARSE_MIN_ROWS`` rows, ``VectorIndex`` ranks rows by the Hamming distance of their sign bits, keeps
``COARSE_CANDIDATES`` and re-scores those exactly. This bench measures what that costs in quality and saves in
time. The corpus is real English text available offline on any machine: the docstring paragraphs of the
running Python's standard library and installed packages (30-300 characters each, shuffled with a fixed
seed), embedded with the local MiniLM (~4 ms a sentence; the vectors are cached under ``--cache``).

Three kinds of queries, 200 each: held-out paragraphs (not in the index), paraphrase-like queries (half the
words of an indexed paragraph, in order), and indexed vectors with Gaussian noise (sigma 0.05 per dimension).
Agreement is |coarse top-k ∩ exact top-k| / k, averaged over queries.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice_letta.agent.memory_search import (  # noqa: E402
    COARSE_CANDIDATES,
    MIN_COSINE,
    SearchWindow,
    VectorIndex,
)
from voice_letta.providers.local_embed import load_model  # noqa: E402


def corpus() -> list[str]:
    """Docstring paragraphs of the running Python's library (stdlib and site-packages), deterministic order."""
    seen: set[str] = set()
    out: list[str] = []
    root = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    for path in sorted(root.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(errors="ignore"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef | ast.Module):
                doc = ast.get_docstring(node)
                for para in re.split(r"\n\s*\n", doc or ""):
                    text = " ".join(para.split())
                    if 30 <= len(text) <= 300 and text not in seen and not text.startswith((">>>", "..")):
                        seen.add(text)
                        out.append(text)
    random.Random(0).shuffle(out)
    return out


def embed_cached(texts: list[str], cache: Path) -> np.ndarray:
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"minilm-{len(texts)}-{key}.npy"
    if path.exists():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    vectors = load_model().encode(texts)
    print(f"embedded {len(texts)} paragraphs in {time.perf_counter() - started:.0f} s")
    np.save(path, vectors)
    return vectors


def ms(fn: object, repeat: int = 30) -> float:
    assert callable(fn)
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vl-corpus"))
    args = parser.parse_args()
    texts = corpus()
    if len(texts) < args.rows + 200:
        raise SystemExit(f"only {len(texts)} paragraphs here; use --rows {len(texts) - 200}")
    indexed, held_out = texts[: args.rows], texts[args.rows : args.rows + 200]
    vectors = embed_cached(indexed, args.cache)
    rng = np.random.default_rng(1)

    def half(text: str) -> str:
        words = text.split()
        keep = sorted(rng.choice(len(words), size=max(3, len(words) // 2), replace=False)) if len(words) > 3 else []
        return " ".join(words[i] for i in keep) or text

    model = load_model()
    picks = rng.choice(args.rows, 200, replace=False)
    noisy = vectors[picks] + 0.05 * rng.standard_normal((200, vectors.shape[1])).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    queries = {
        "held-out paragraphs": model.encode(held_out),
        "half-word paraphrases": model.encode([half(indexed[i]) for i in rng.choice(args.rows, 200, replace=False)]),
        "noisy indexed vectors": noisy,
    }
    ids = [str(i) for i in range(args.rows)]
    times = np.arange(args.rows, dtype=float)
    coarse = VectorIndex("m", vectors.shape[1], coarse_min_rows=0)
    exact = VectorIndex("m", vectors.shape[1], coarse_min_rows=10**12)
    for index in (coarse, exact):
        index.add(ids, vectors, times, times + 1)
    everything = SearchWindow(None, None)
    print(f"== sign-bit search vs exact scan: {args.rows} rows, {COARSE_CANDIDATES} candidates re-scored, "
          f"cosine >= {MIN_COSINE} ==")
    for name, qs in queries.items():
        top5, top20 = [], []
        for q in qs:
            fast = [i for i, _ in coarse.search(q[None, :], everything, 20)[0]]
            truth = [i for i, _ in exact.search(q[None, :], everything, 20)[0]]
            if truth:
                top5.append(len(set(fast[:5]) & set(truth[:5])) / len(truth[:5]))
                top20.append(len(set(fast) & set(truth)) / len(truth))
        print(f"  {name:<24} top-5 agreement {np.mean(top5):.4f}  top-20 {np.mean(top20):.4f}  (n={len(top5)})")
    q = queries["held-out paragraphs"][:1]
    print(f"  latency p50, one query: sign-bit {ms(lambda: coarse.search(q, everything, 20)):.2f} ms | "
          f"exact {ms(lambda: exact.search(q, everything, 20)):.2f} ms")


if __name__ == "__main__":
    main()
