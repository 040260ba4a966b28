"""edge-convert reads the forms each exporter writes, and the result still matches.

1. One transformer block (affine LayerNorm, GELU erf, SiLU, separate q/k/v
   attention, RMSNorm) exported by PyTorch at opsets 13..17: below 17 the
   exporter decomposes LayerNorm; every opset must fuse to the same coarse ops
   and match PyTorch (max rel err <= 1e-4).
2. A graph in the newer forms (IR 10, opset 20): LayerNormalization, a single
   Gelu op (tanh), ReduceMean with axes as an input, Split with num_outputs,
   built with onnx.helper and checked against NumPy.
"""
import math
import os
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from convert_util import convert_json, rel_err, run_once

sys.path.insert(0, os.path.join(os.environ.get("EDGE_SOURCE_DIR", "."), "tests", "models"))
import fixtures as fx  # noqa: E402
from checks import Checks, run_alone  # noqa: E402


class Block(nn.Module):
    def __init__(self, d=64, heads=4):
        super().__init__()
        self.heads = heads
        self.ln = nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1 = nn.Linear(d, 2 * d)
        self.fc2 = nn.Linear(2 * d, d)
        self.rms = fx.RMSNorm(d)
        self.cond = nn.Linear(d, d)

    def forward(self, x, c):
        B, N, D = x.shape
        h = self.ln(x)
        q = self.q(h).view(B, N, self.heads, -1).transpose(1, 2)
        k = self.k(h).view(B, N, self.heads, -1).transpose(1, 2)
        v = self.v(h).view(B, N, self.heads, -1).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D // self.heads), dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(B, N, D))
        x = x + self.fc2(nn.functional.gelu(self.fc1(self.rms(x))))
        return x * torch.sigmoid(self.cond(nn.functional.silu(c))).unsqueeze(1)


def opset_models(c, tmp):
    torch.manual_seed(3)
    m = fx.randomize(Block(), 3)
    x = torch.randn(2, 16, 64)
    cvec = torch.randn(2, 64)
    with torch.no_grad():
        ref = m(x, cvec).numpy()
    np.save(os.path.join(tmp, "x.npy"), x.numpy())
    np.save(os.path.join(tmp, "c.npy"), cvec.numpy())
    for opset in (13, 14, 15, 16, 17):
        p = os.path.join(tmp, "block%d.onnx" % opset)
        fx.export(m, (x, cvec), p, ["x", "c"], ["out"], opset=opset)
        fb = os.path.join(tmp, "block%d.fb" % opset)
        rep = convert_json(p, fb)
        ops = rep["ops_after"]
        want = {"LayerNorm": 1, "RMSNorm": 1, "Attention": 1, "Linear": 7}
        got = {k: ops.get(k, 0) for k in want}
        c.check(got == want and "Softmax" not in ops and "ReduceMean" not in ops,
                "opset %d: fused ops %s (want %s), all: %s" % (opset, got, want, ops))
        od = os.path.join(tmp, "out%d" % opset)
        run_once(fb, {"x": os.path.join(tmp, "x.npy"), "c": os.path.join(tmp, "c.npy")}, od)
        e = rel_err(ref, np.load(os.path.join(od, "out.npy")))
        c.check(e <= 1e-4, "opset %d: edge-run vs PyTorch max rel err %.3e" % (opset, e))


def new_forms(c, tmp):
    rng = np.random.RandomState(7)
    D, H = 32, 64
    x = rng.randn(1, 16, D).astype(np.float32)
    scale = (1 + 0.1 * rng.randn(D)).astype(np.float32)
    bias = (0.1 * rng.randn(D)).astype(np.float32)
    w1 = (0.2 * rng.randn(D, H)).astype(np.float32)
    b1 = (0.1 * rng.randn(H)).astype(np.float32)
    w2 = (0.2 * rng.randn(H, D)).astype(np.float32)
    g = (1 + 0.1 * rng.randn(D)).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((scale, "scale"), (bias, "bias"), (w1, "w1"), (b1, "b1"), (w2, "w2"), (g, "g"),
              (np.array([-1], np.int64), "axes"), (np.array(2.0, np.float32), "two"),
              (np.array(1e-6, np.float32), "eps"))]
    nodes = [
        helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["ln"], name="/blk/ln", axis=-1, epsilon=1e-5),
        helper.make_node("MatMul", ["ln", "w1"], ["h1"], name="/blk/fc1/MatMul"),
        helper.make_node("Add", ["h1", "b1"], ["h2"], name="/blk/fc1/Add"),
        helper.make_node("Gelu", ["h2"], ["h3"], name="/blk/act", approximate="tanh"),
        helper.make_node("MatMul", ["h3", "w2"], ["h4"], name="/blk/fc2/MatMul"),
        helper.make_node("Identity", ["h4"], ["h5"], name="/blk/id"),
        helper.make_node("Split", ["h5"], ["sa", "sb"], name="/blk/split", axis=-1, num_outputs=2),
        helper.make_node("Sigmoid", ["sb"], ["sg"], name="/blk/sig"),
        helper.make_node("Mul", ["sa", "sg"], ["glu"], name="/blk/glu"),
        helper.make_node("Pow", ["x", "two"], ["sq"], name="/blk/rms/Pow"),
        helper.make_node("ReduceMean", ["sq", "axes"], ["ms"], name="/blk/rms/ReduceMean", keepdims=1),
        helper.make_node("Add", ["ms", "eps"], ["mse"], name="/blk/rms/Add"),
        helper.make_node("Sqrt", ["mse"], ["rt"], name="/blk/rms/Sqrt"),
        helper.make_node("Div", ["x", "rt"], ["xn"], name="/blk/rms/Div"),
        helper.make_node("Mul", ["xn", "g"], ["rms"], name="/blk/rms/Mul"),
        helper.make_node("Concat", ["glu", "rms"], ["out"], name="/blk/cat", axis=-1),
    ]
    graph = helper.make_graph(nodes, "new_forms", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, D])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 16, D // 2 + D])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    p = os.path.join(tmp, "new_forms.onnx")
    onnx.save(model, p)

    def ln(v):
        mu = v.mean(-1, keepdims=True)
        var = ((v - mu) ** 2).mean(-1, keepdims=True)
        return (v - mu) / np.sqrt(var + 1e-5) * scale + bias

    xd = x.astype(np.float64)
    h = ln(xd) @ w1 + b1
    h = 0.5 * h * (1 + np.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))
    h = h @ w2
    sa, sb = h[..., :D // 2], h[..., D // 2:]
    glu = sa / (1 + np.exp(-sb))
    rms = xd / np.sqrt((xd ** 2).mean(-1, keepdims=True) + 1e-6) * g
    ref = np.concatenate([glu, rms], -1)

    fb = os.path.join(tmp, "new_forms.fb")
    rep = convert_json(p, fb)
    ops = rep["ops_after"]
    c.check(ops.get("LayerNorm") == 1 and ops.get("RMSNorm") == 1 and ops.get("Linear") == 2 and "Gelu" not in ops,
            "IR 10 / opset 20 forms fused: %s" % ops)
    c.check(any(op == "Split" for op in ops), "Split(num_outputs) lowered: %s" % ops)
    np.save(os.path.join(tmp, "xn.npy"), x)
    od = os.path.join(tmp, "out_new")
    run_once(fb, {"x": os.path.join(tmp, "xn.npy")}, od)
    e = rel_err(ref, np.load(os.path.join(od, "out.npy")))
    c.check(e <= 1e-4, "IR 10 / opset 20 forms: edge-run vs NumPy max rel err %.3e" % e)


def test_convert_opsets():
    c = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        opset_models(c, tmp)
        new_forms(c, tmp)
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
