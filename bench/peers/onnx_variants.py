"""Quantized variants of an FP32 ONNX model for the ONNX Runtime peer.

The two rewrites are done directly with `onnx` (Debian's python3-onnx, no
onnxruntime needed to make the files; this predates the peers' move to the
onnxruntime Python package, whose quantize_dynamic emits the same int8 graph):

  int8: every MatMul/Gemm with a constant weight becomes the graph that
        quantize_dynamic emits and ORT fuses into DynamicQuantizeMatMul:
          DynamicQuantizeLinear(x) -> MatMulInteger(xq, Wq, x_zp, 0) -> Cast
          -> Mul(x_scale * w_scale)    [+ Add(bias) for Gemm]
        W int8, symmetric, one scale per output column; x uint8 per tensor.
  int4: the same layers become com.microsoft MatMulNBits (bits=4, block_size
        32 along K, symmetric: zero point 8, one FP32 scale per block) with
        accuracy_level 4 (int8 activations inside ORT's kernel).

    /usr/bin/python3 onnx_variants.py IN.onnx --int8 OUT8.onnx --int4 OUT4.onnx
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _constant_weights(graph):
    return {i.name: i for i in graph.initializer}


def _linear_layers(graph):
    """(node, weight [K, N] as float32, bias or None) for MatMul/Gemm with constant weights."""
    inits = _constant_weights(graph)
    out = []
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            w = numpy_helper.to_array(inits[node.input[1]])
            if w.ndim == 2:
                out.append((node, w.astype(np.float32), None))
        elif node.op_type == "Gemm" and node.input[1] in inits:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
                continue
            w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
            if attrs.get("transB", 0):
                w = w.T
            bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
            out.append((node, np.ascontiguousarray(w), bias))
    return out


def _replace(model, make_nodes, min_k=1):
    """Replaces each linear layer by make_nodes(prefix, x, y, w, bias) -> (nodes, initializers)."""
    g = model.graph
    layers = _linear_layers(g)
    used = set()
    new_nodes, new_inits = [], []
    replaced = {}
    for idx, (node, w, bias) in enumerate(layers):
        r = make_nodes(f"q{idx}", node.input[0], node.output[0], w, bias)
        if r is None:
            continue
        replaced[id(node)] = r[0]
        new_inits += r[1]
        used.add(node.input[1])
    nodes = []
    for node in g.node:
        nodes += replaced.get(id(node), [node])
    del g.node[:]
    g.node.extend(nodes)
    # Drop FP32 weights no longer referenced.
    still = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name not in used or i.name in still]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    return len(replaced)


def int8_layer(prefix, x, y, w, bias):
    amax = np.abs(w).max(axis=0)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    inits = [numpy_helper.from_array(q, prefix + ".w_q"), numpy_helper.from_array(scale, prefix + ".w_scale"),
             numpy_helper.from_array(np.array(0, dtype=np.int8), prefix + ".w_zp")]
    mm_out = y if bias is None else prefix + ".mm"
    nodes = [
        helper.make_node("DynamicQuantizeLinear", [x], [prefix + ".xq", prefix + ".xs", prefix + ".xzp"]),
        helper.make_node("MatMulInteger", [prefix + ".xq", prefix + ".w_q", prefix + ".xzp", prefix + ".w_zp"],
                         [prefix + ".acc"]),
        helper.make_node("Cast", [prefix + ".acc"], [prefix + ".accf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", [prefix + ".xs", prefix + ".w_scale"], [prefix + ".s"]),
        helper.make_node("Mul", [prefix + ".accf", prefix + ".s"], [mm_out]),
    ]
    if bias is not None:
        nodes.append(helper.make_node("Add", [mm_out, bias], [y]))
    return nodes, inits


def int4_layer(prefix, x, y, w, bias, block=32):
    K, N = w.shape
    if K % block:
        return None  # left in FP32
    nb = K // block
    wb = w.T.reshape(N, nb, block)  # per output column, blocks along K
    amax = np.abs(wb).max(axis=2)
    scale = np.where(amax > 0, amax / 7.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(wb / scale[:, :, None]) + 8, 0, 15).astype(np.uint8)
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)  # element 2j low nibble, 2j+1 high
    inits = [numpy_helper.from_array(packed, prefix + ".w_q4"),
             numpy_helper.from_array(scale.reshape(N * nb), prefix + ".w_scale")]
    mm_out = y if bias is None else prefix + ".mm"
    nodes = [helper.make_node("MatMulNBits", [x, prefix + ".w_q4", prefix + ".w_scale"], [mm_out],
                              domain="com.microsoft", K=K, N=N, bits=4, block_size=block, accuracy_level=4)]
    if bias is not None:
        nodes.append(helper.make_node("Add", [mm_out, bias], [y]))
    return nodes, inits


def build(src, dst, kind):
    model = onnx.load(src)
    n = _replace(model, int8_layer if kind == "int8" else int4_layer)
    if kind == "int4" and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, dst)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("--int8")
    ap.add_argument("--int4")
    a = ap.parse_args()
    if a.int8:
        print(f"int8: {build(a.src, a.int8, 'int8')} linear layers quantized -> {a.int8}")
    if a.int4:
        print(f"int4: {build(a.src, a.int4, 'int4')} linear layers quantized -> {a.int4}")


if __name__ == "__main__":
    main()
