"""all-MiniLM-L6-v2 as an ONNX graph built in memory from the shipped safetensors, run by onnxruntime.

No package ships an ONNX export of this model and exporting needs torch, so the graph is written here node by
node with ``onnx.helper``: the BERT encoder (embeddings + LayerNorm, 6 layers of self-attention and an
exact-erf GELU feed-forward, post-LayerNorm) followed by sentence-transformers' mean pooling and L2
normalization. It is the same computation as the numpy reference in ``local_embed`` (tests hold both to the
committed reference vectors). onnxruntime's graph optimizer fuses the GELU with its bias (BiasGelu) and the
attention's scaled Q.K^T (FusedMatMul); attention and skip-LayerNorm stay separate ops (its session-level fusions
do not match this pattern). A short query embeds in ~3-4 ms on an idle core instead of ~16 ms in numpy (6.4 ms of
process CPU at load 10, 18 tokens, session 17), which is what keeps ``search_memory`` inside its latency budget;
the MatMuls are ~84 % of it (onnxruntime's op profile), the model's own arithmetic.

Building the graph takes ~0.6 s and happens once per process; nothing is written to disk (the test suite runs
``onnx.checker`` over it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

OPSET = 18  # LayerNormalization is standard from 17; ReduceL2 takes axes as an input from 18
MASK_BIAS = -10000.0  # what BERT adds to padded positions before the softmax


class _Graph:
    """Collects nodes and initializers, naming intermediate tensors uniquely."""

    def __init__(self, helper: Any, numpy_helper: Any) -> None:
        self.h = helper
        self.np = numpy_helper
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self.np.from_array(value, name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(self.h.make_node(op_type, list(inputs), [out], **attrs))
        return out


def build_model(weights: Mapping[str, np.ndarray], config: Mapping[str, Any]) -> bytes:
    """Serialized ONNX model: inputs ``input_ids``/``attention_mask`` (int64, [batch, seq]), output
    ``embedding`` (float32, [batch, hidden], unit length)."""
    from onnx import TensorProto, helper, numpy_helper

    hidden: int = config["hidden_size"]
    heads: int = config["num_attention_heads"]
    eps: float = config["layer_norm_eps"]
    dim = hidden // heads
    g = _Graph(helper, numpy_helper)

    def w(name: str) -> np.ndarray:
        return np.asarray(weights[name], dtype=np.float32)

    def linear(x: str, prefix: str) -> str:
        # torch stores (out, in); MatMul wants (in, out)
        weight = g.const(prefix + ".weight", np.ascontiguousarray(w(prefix + ".weight").T))
        return g.op("Add", g.op("MatMul", x, weight), g.const(prefix + ".bias", w(prefix + ".bias")))

    def layer_norm(x: str, prefix: str) -> str:
        return g.op("LayerNormalization", x, g.const(prefix + ".weight", w(prefix + ".weight")),
                    g.const(prefix + ".bias", w(prefix + ".bias")), axis=-1, epsilon=eps)

    # embeddings: word + position + token type 0 (single-segment input), then LayerNorm
    seq_len = g.op("Gather", g.op("Shape", "input_ids"), g.const("one_index", np.array(1, dtype=np.int64)), axis=0)
    positions = g.op("Range", g.const("zero", np.array(0, dtype=np.int64)), seq_len,
                     g.const("one", np.array(1, dtype=np.int64)))
    x = g.op("Add", g.op("Gather", g.const("word_embeddings", w("embeddings.word_embeddings.weight")), "input_ids"),
             g.op("Gather", g.const("position_embeddings", w("embeddings.position_embeddings.weight")), positions))
    x = g.op("Add", x, g.const("token_type_0", w("embeddings.token_type_embeddings.weight")[0]))
    x = layer_norm(x, "embeddings.LayerNorm")

    # additive attention mask, (batch, 1, 1, seq)
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    bias = g.op("Mul", g.op("Sub", g.const("f_one", np.array(1.0, dtype=np.float32)), mask),
                g.const("mask_bias", np.array(MASK_BIAS, dtype=np.float32)))
    bias = g.op("Unsqueeze", bias, g.const("axes_1_2", np.array([1, 2], dtype=np.int64)))
    split_heads = g.const("split_heads", np.array([0, 0, heads, dim], dtype=np.int64))
    merge_heads = g.const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    sqrt_dim = g.const("sqrt_dim", np.array(np.sqrt(dim), dtype=np.float32))
    sqrt2 = g.const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    half = g.const("half", np.array(0.5, dtype=np.float32))
    f_one = "f_one"

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def heads_of(t: str, perm: list[int]) -> str:
            return g.op("Transpose", g.op("Reshape", t, split_heads), perm=perm)

        q = heads_of(linear(x, p + "attention.self.query"), [0, 2, 1, 3])  # (B, h, L, d)
        k = heads_of(linear(x, p + "attention.self.key"), [0, 2, 3, 1])  # (B, h, d, L)
        v = heads_of(linear(x, p + "attention.self.value"), [0, 2, 1, 3])
        scores = g.op("Add", g.op("Div", g.op("MatMul", q, k), sqrt_dim), bias)
        probs = g.op("Softmax", scores, axis=-1)
        ctx = g.op("Reshape", g.op("Transpose", g.op("MatMul", probs, v), perm=[0, 2, 1, 3]), merge_heads)
        x = layer_norm(g.op("Add", linear(ctx, p + "attention.output.dense"), x), p + "attention.output.LayerNorm")
        inner = linear(x, p + "intermediate.dense")
        gelu = g.op("Mul", g.op("Mul", inner, g.op("Add", g.op("Erf", g.op("Div", inner, sqrt2)), f_one)), half)
        x = layer_norm(g.op("Add", linear(gelu, p + "output.dense"), x), p + "output.LayerNorm")

    # mean pooling over real tokens, then L2 normalization (sentence-transformers' Pooling + Normalize)
    weights3 = g.op("Unsqueeze", mask, g.const("axis_2", np.array([2], dtype=np.int64)))
    axis_1 = g.const("axis_1", np.array([1], dtype=np.int64))
    summed = g.op("ReduceSum", g.op("Mul", x, weights3), axis_1, keepdims=0)
    count = g.op("Max", g.op("ReduceSum", weights3, axis_1, keepdims=0),
                 g.const("min_count", np.array(1e-9, dtype=np.float32)))
    pooled = g.op("Div", summed, count)
    norm = g.op("Max", g.op("ReduceL2", pooled, g.const("axis_last", np.array([-1], dtype=np.int64)), keepdims=1),
                g.const("min_norm", np.array(1e-12, dtype=np.float32)))
    g.nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"]))

    graph = helper.make_graph(
        g.nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="voice-letta")
    model.ir_version = 8  # opset 18 needs IR 8; any onnxruntime >= 1.14 reads it
    data: bytes = model.SerializeToString()
    return data


class OnnxMiniLM:
    """An onnxruntime session over the built graph. ``run`` is thread-safe and releases the GIL."""

    def __init__(self, weights: Mapping[str, np.ndarray], config: Mapping[str, Any], *, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # every query has its own length: a memory plan per shape costs more than it saves (measured 3.8 vs 5.9 ms)
        options.enable_mem_pattern = False
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-wait on idle cores
        options.log_severity_level = 3
        self._session = ort.InferenceSession(build_model(weights, config), options, providers=["CPUExecutionProvider"])

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (out,) = self._session.run(["embedding"], {"input_ids": ids.astype(np.int64), "attention_mask": mask})
        result: np.ndarray = np.asarray(out, dtype=np.float32)
        return result
