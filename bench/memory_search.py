"""Memory benchmarks: search_memory latency, voice turns next to sleeptime jobs, recall quality.

    .venv/bin/python bench/memory_search.py --search [--sizes 1000,10000,100000] [--queries 50] [--lane 0.05]
    .venv/bin/python bench/memory_search.py --turns [--turns-n 40]
    .venv/bin/python bench/memory_search.py --recall [bench/recall_holdout.json]
    .venv/bin/python bench/memory_search.py --calibrate
    .venv/bin/python bench/memory_search.py --all

--search  fills a fresh SQLite file with N passages (random unit vectors standing in for MiniLM vectors, and
          random words for BM25), then times ``MemorySearch.search`` end to end with the real local embedder:
          query embedding + vector top-k + FTS over passages and messages + fusion + formatting. Every query is
          distinct, so the query-embedding cache never hits. Also prints the parts (embedding, dot product)
          and the process CPU of a cold search, an embedding and a ranking (less inflated by load than wall time).
          ``--lane SHARE``: an agent with that share of its passages in Korean/Thai carrying a second (e5) vector, so
          each question is embedded by MiniLM and e5 side by side (``providers/e5_embed.py``).
--turns   runs the real app in-process against fake OpenAI servers and times voice turns (POST
          /v1/chat/completions, non-streaming, to the end of the reply) alone and while another agent's
          sleeptime jobs run back to back (each job: 3 LLM calls of 100 ms, 4 passages embedded with MiniLM,
          a block CAS). Turns are paced 30 ms apart so the busy window spans many jobs.
--recall [SET]  loads a recall set (default bench/recall_set.json) into a real server (one agent per part) and
          asks every question through the REST search: top-3 hit rate (direct and no-shared-word paraphrases), stale
          facts ranked above their update, abstention on unanswerable questions, time-window recall. A set of
          "conversations" (bench/recall_holdout.json: voice-transcript style, dev and test halves) is reported per
          split; its window questions carry their time in words only (and are asked once more with the window).
--calibrate  fits the confidence weights on the recall set and reports its facts stored ten ways
          (bench/calibration.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

# The server's setting (cli.py, server/workers.py): one OpenBLAS thread per process. Without it every small product of
# a search (the cue passages' cosines, the sign-bit candidates' rescoring) woke a second BLAS thread that fought the
# embedding and the other engineers' processes for the two cores: ranking at 100k took 46-48 ms instead of 20 at load
# 5 (same code, session 15). Must precede numpy's import; an explicit OPENBLAS_NUM_THREADS still wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from memory_latency import bench_search, bench_turns  # noqa: E402
from memory_recall import bench_holdout, bench_recall  # noqa: E402


async def bench_calibrate() -> None:
    """The confidence weights' fit and the storage-styles report (bench/calibration.py)."""
    from calibration import calibrate  # type: ignore[import-not-found]

    await calibrate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--search", action="store_true")
    parser.add_argument("--turns", action="store_true")
    parser.add_argument("--recall", nargs="?", const=str(ROOT / "bench" / "recall_set.json"), default=None,
                        metavar="SET", help="a recall set file (default bench/recall_set.json; a set with "
                                            "'conversations' is reported per split, e.g. bench/recall_holdout.json)")
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--calibrate", action="store_true",
                        help="fit the confidence weights on the recall set; its facts in six storage styles")
    parser.add_argument("--verbose", action="store_true", help="--recall: print every miss")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--lane", type=float, default=0.0, metavar="SHARE",
                        help="--search: that share of the passages in Korean/Thai with cross-lingual (e5) vectors; "
                             "the search embeds the question with both models")
    parser.add_argument("--turns-n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--zero-embedder", action="store_true", help="jobs embed nothing (isolates their CPU)")
    parser.add_argument("--inprocess-embedder", action="store_true",
                        help="jobs embed in the server process's threads (the design we rejected)")
    args = parser.parse_args()

    recall_path = Path(args.recall or ROOT / "bench" / "recall_set.json")
    recall_data = json.loads(recall_path.read_text())

    async def run() -> None:
        if args.calibrate:
            await bench_calibrate()
        if args.recall or args.all:
            if "conversations" in recall_data:
                await bench_holdout(recall_path.name, recall_data, verbose=args.verbose)
            else:
                await bench_recall(recall_path.name, recall_data, verbose=args.verbose)
        if args.search or args.all:
            await bench_search([int(s) for s in args.sizes.split(",")], args.queries, args.lane)
        if args.turns or args.all:
            await bench_turns(args.turns_n, rounds=args.rounds, zero_embedder=args.zero_embedder,
                              inprocess_embedder=args.inprocess_embedder)

    import logging

    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    asyncio.run(run())


if __name__ == "__main__":
    main()
