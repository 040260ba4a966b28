"""Every ONNX unary op that edge-convert maps to edge's Unary op (the rows of
ops/f32_activation.h's EDGE_F32_UNARY with an ONNX name): on an activation it
becomes one Unary node, on a constant it is folded away, and both results match
numpy in float64 through edge-run.

  graph: y = Op(x) + Op(c), x [2, 8] an input, c [8] a constant initializer
"""
import math
import os
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from checks import Checks, run_alone
from convert_util import convert_json, rel_err, run_once

# ONNX op -> (float64 reference, whether the op needs positive inputs)
OPS = {
    "Sigmoid": (lambda v: 1.0 / (1.0 + np.exp(-v)), False),
    "Tanh": (np.tanh, False),
    "Exp": (np.exp, False),
    "Neg": (np.negative, False),
    "Sqrt": (np.sqrt, True),
    "Abs": (np.abs, False),
    "Erf": (np.vectorize(math.erf), False),
    "Reciprocal": (lambda v: 1.0 / v, False),
}


def sample(rng, shape, positive):
    """Magnitudes in [0.25, 2] (no reciprocal of ~0), random signs unless positive."""
    v = rng.uniform(0.25, 2.0, shape)
    if not positive:
        v *= rng.choice([-1.0, 1.0], shape)
    return v.astype(np.float32)


def test_convert_unary():
    c = Checks()
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory() as d:
        for op, (ref_fn, positive) in OPS.items():
            x = sample(rng, (2, 8), positive)
            const = sample(rng, (8,), positive)
            nodes = [helper.make_node(op, ["x"], ["a"]), helper.make_node(op, ["c"], ["b"]),
                     helper.make_node("Add", ["a", "b"], ["y"])]
            g = helper.make_graph(nodes, op.lower(), [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
                                  [numpy_helper.from_array(const, "c")])
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
            m.ir_version = 8
            path = os.path.join(d, op + ".onnx")
            onnx.save(m, path)
            fb = os.path.join(d, op + ".fb")
            ops = convert_json(path, fb)["ops_after"]
            c.check(ops == {"Unary": 1, "Add": 1}, "%s: ops after conversion %s (want one Unary and one Add: "
                    "the constant's %s folded)" % (op, ops, op))
            np.save(os.path.join(d, "x.npy"), x)
            out = os.path.join(d, "out_" + op)
            run_once(fb, {"x": os.path.join(d, "x.npy")}, out)
            got = np.load(os.path.join(out, "y.npy"))
            want = ref_fn(x.astype(np.float64)) + ref_fn(const.astype(np.float64))
            e = rel_err(want, got)
            c.check(e <= 1e-6, "%s: edge-run vs numpy max rel err %.2e (<= 1e-6)" % (op, e))
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
