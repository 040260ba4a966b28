"""The converter's rewrites of ops without an edge op (converter/rewrite_ops.cc)
and of integer timestep inputs, on small graphs with random data: each form
it takes matches a numpy (or Debian PyTorch) reference through edge-run, and
each form it does not take is refused with exit 4 and a message naming it.

  ScatterND: a token range (step 1), even/odd slots (step 2, chained), and
             indices that are no strided range (refused)
  Resize:    nearest by integer factors (two coordinate modes): Upsample; with
             frames too: Concat copies; linear (refused)
  InstanceNormalization with a per-channel scale and bias; GroupNorm's export
             (view, InstanceNormalization, view back, affine, SiLU): one GroupNorm
  Conv:      3-D with a temporal kernel of 1, padded and strided; temporal
             kernel 2 and a causal video-VAE Conv3d (refused)
  Pad:       zero padding of H and W read by 2-D Convs only (a VAE encoder's
             asymmetric downsampling pad): folded into the Convs' pads; reflect
             padding, or a Pad also read by another op (refused)
  int64 input only cast to float: declared f32; used otherwise: kept int64
"""
import json
import os
import tempfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from checks import Checks, run_alone
from convert_util import convert, rel_err, run_once

F = TensorProto.FLOAT


def save(path, nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "rewrite", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, path)


def vi(name, shape, t=F):
    return helper.make_tensor_value_info(name, t, list(shape))


def matches(c, tmp, label, nodes, feeds, ref, inits=(), opset=17, declare=None):
    """Converts the graph (inputs `feeds`, declared as their dtype or as
    `declare` says, one output 'y'), runs it, compares."""
    declare = declare or {}
    p = os.path.join(tmp, label + ".onnx")
    save(p, nodes, [vi(k, v.shape, declare.get(k, TensorProto.INT64 if v.dtype == np.int64 else F))
                    for k, v in feeds.items()], [vi("y", ref.shape)], inits, opset)
    fb = os.path.join(tmp, label + ".fb")
    r = convert(p, fb, "--json", expect_rc=None)
    c.check(r.returncode == 0, "%s: converts (exit %d) %s" % (label, r.returncode, r.stderr.strip()[:300]))
    if r.returncode != 0:
        return None
    paths = {}
    for k, v in feeds.items():
        paths[k] = os.path.join(tmp, "%s_%s.npy" % (label, k))
        np.save(paths[k], v)
    out = os.path.join(tmp, label + "_out")
    run_once(fb, paths, out)
    got = np.load(os.path.join(out, "y.npy"))
    e = rel_err(ref, got) if got.shape == ref.shape else float("inf")
    c.check(e <= 1e-5, "%s: matches the reference (max rel err %.2e)" % (label, e))
    return json.loads(r.stdout)


def refused(c, tmp, label, nodes, inputs, outputs, inits, want):
    p = os.path.join(tmp, label + ".onnx")
    save(p, nodes, inputs, outputs, inits)
    r = convert(p, os.path.join(tmp, label + ".fb"), expect_rc=None)
    c.check(r.returncode == 4, "%s: refused with exit 4 (got %d)" % (label, r.returncode))
    c.check(want in r.stderr, "%s: the message says %r: %s" % (label, want, r.stderr.strip()[:300]))


def test_convert_rewrites():
    c = Checks()
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory() as tmp:
        # ScatterND, token range: y = x; y[:, 2:5] = u (indices over the first 2 axes).
        x = rng.standard_normal((2, 7, 6)).astype(np.float32)
        u = rng.standard_normal((2, 3, 6)).astype(np.float32)
        idx = np.stack(np.meshgrid(np.arange(2), np.arange(2, 5), indexing="ij"), -1).astype(np.int64)
        ref = x.copy()
        ref[:, 2:5] = u
        matches(c, tmp, "scatter_range", [helper.make_node("ScatterND", ["x", "i", "u"], ["y"])],
                {"x": x, "u": u}, ref, [numpy_helper.from_array(idx, "i")])

        # ScatterND, even then odd slots of the last axis (Wan's RoPE write), on zeros.
        a = rng.standard_normal((2, 3, 4)).astype(np.float32)
        b = rng.standard_normal((2, 3, 4)).astype(np.float32)
        grid = np.stack(np.meshgrid(np.arange(2), np.arange(3), np.arange(4), indexing="ij"), -1)
        even = grid.copy()
        even[..., 2] *= 2
        odd = even.copy()
        odd[..., 2] += 1
        ref = np.zeros((2, 3, 8), np.float32)
        ref[..., 0::2] = a
        ref[..., 1::2] = b
        rep = matches(c, tmp, "scatter_slots",
                      [helper.make_node("ScatterND", ["z", "ie", "a"], ["h"]),
                       helper.make_node("ScatterND", ["h", "io", "b"], ["y"])],
                      {"a": a, "b": b}, ref,
                      [numpy_helper.from_array(np.zeros((2, 3, 8), np.float32), "z"),
                       numpy_helper.from_array(even.astype(np.int64), "ie"),
                       numpy_helper.from_array(odd.astype(np.int64), "io")])
        if rep:
            c.check(rep["ops_after"].get("Concat", 0) == 1, "scatter_slots: one Concat for both writes (%s)" %
                    json.dumps(rep["ops_after"], sort_keys=True))

        # ScatterND whose rows go to permuted places: no strided range, refused.
        perm = np.array([[[0, 2]], [[0, 0]], [[0, 1]]], np.int64).reshape(3, 2)
        refused(c, tmp, "scatter_permuted", [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], name="perm")],
                [vi("x", (1, 3, 4)), vi("u", (3, 4))], [vi("y", (1, 3, 4))],
                [numpy_helper.from_array(perm, "i")], "ScatterND 'perm'")

        # Resize nearest x3 (H) and x2 (W), both coordinate modes the exporters write.
        x = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
        ref = x.repeat(3, axis=2).repeat(2, axis=3)
        scales = numpy_helper.from_array(np.array([1, 1, 3, 2], np.float32), "s")
        for ct, nm in (("asymmetric", "floor"), ("half_pixel", "round_prefer_floor")):
            rep = matches(c, tmp, "resize_" + ct, [helper.make_node(
                "Resize", ["x", "", "s"], ["y"], mode="nearest", coordinate_transformation_mode=ct, nearest_mode=nm)],
                {"x": x}, ref, [scales])
            if rep:
                c.check(rep["ops_after"] == {"Upsample": 1}, "resize_%s: one Upsample op (%s)" % (ct, rep["ops_after"]))
        # Frames too (a video VAE's 3-D upsampling): copies along unit axes.
        x = rng.standard_normal((1, 2, 2, 3, 2)).astype(np.float32)
        ref = x.repeat(2, axis=2).repeat(2, axis=3).repeat(3, axis=4)
        rep = matches(c, tmp, "resize_frames", [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")],
                      {"x": x}, ref, [numpy_helper.from_array(np.array([1, 1, 2, 2, 3], np.float32), "s")])
        if rep:
            c.check("Upsample" not in rep["ops_after"] and rep["ops_after"].get("Concat", 0) == 3,
                    "resize_frames: Concat copies, no Upsample (%s)" % rep["ops_after"])
        refused(c, tmp, "resize_linear", [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear")],
                [vi("x", (1, 2, 3, 4))], [vi("y", (1, 2, 9, 8))], [scales], "Resize mode 'linear'")

        # InstanceNormalization over [N, C, H, W] with a scale and bias per channel.
        x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
        sc = rng.standard_normal(3).astype(np.float32)
        bi = rng.standard_normal(3).astype(np.float32)
        mu = x.mean(axis=(2, 3), keepdims=True)
        var = x.var(axis=(2, 3), keepdims=True)
        ref = ((x - mu) / np.sqrt(var + 1e-5) * sc[None, :, None, None] + bi[None, :, None, None]).astype(np.float32)
        matches(c, tmp, "instance_norm", [helper.make_node("InstanceNormalization", ["x", "sc", "bi"], ["y"],
                                                           epsilon=1e-5)],
                {"x": x}, ref, [numpy_helper.from_array(sc, "sc"), numpy_helper.from_array(bi, "bi")])

        # GroupNorm as torch exports it: a [N, G, L] view, InstanceNormalization
        # with unit scale and zero bias, the view back, the per-channel affine,
        # SiLU (x * sigmoid(x)): one GroupNorm op with everything fused.
        x = rng.standard_normal((2, 12, 5, 3)).astype(np.float32) * 2 + 1
        gam = rng.standard_normal((12, 1, 1)).astype(np.float32)
        bet = rng.standard_normal((12, 1, 1)).astype(np.float32)
        gn = torch.nn.functional.group_norm(torch.from_numpy(x), 4, torch.from_numpy(gam.ravel()),
                                            torch.from_numpy(bet.ravel()), eps=1e-6)
        gn_nodes = [helper.make_node("Reshape", ["x", "gshape"], ["xg"]),
                    helper.make_node("InstanceNormalization", ["xg", "ones", "zeros"], ["n"], epsilon=1e-6),
                    helper.make_node("Reshape", ["n", "xshape"], ["nx"]),
                    helper.make_node("Mul", ["nx", "gam"], ["s"]), helper.make_node("Add", ["s", "bet"], ["a"])]
        gn_inits = [numpy_helper.from_array(np.array([2, 4, -1], np.int64), "gshape"),
                    numpy_helper.from_array(np.array(x.shape, np.int64), "xshape"),
                    numpy_helper.from_array(np.ones(4, np.float32), "ones"),
                    numpy_helper.from_array(np.zeros(4, np.float32), "zeros"),
                    numpy_helper.from_array(gam, "gam"), numpy_helper.from_array(bet, "bet")]
        for silu in (False, True):
            tail = [helper.make_node("Sigmoid", ["a"], ["sg"]), helper.make_node("Mul", ["a", "sg"], ["y"])] if silu \
                else [helper.make_node("Identity", ["a"], ["y"])]
            ref = (torch.nn.functional.silu(gn) if silu else gn).numpy()
            label = "group_norm_silu" if silu else "group_norm"
            rep = matches(c, tmp, label, gn_nodes + tail, {"x": x}, ref, gn_inits)
            if rep:
                c.check(rep["ops_after"] == {"GroupNorm": 1}, "%s: one GroupNorm op (%s)" % (label, rep["ops_after"]))

        # 3-D Conv, temporal kernel 1, spatial kernel 3x2, pads and strides.
        x = rng.standard_normal((1, 4, 3, 7, 6)).astype(np.float32)
        w = rng.standard_normal((5, 4, 1, 3, 2)).astype(np.float32)
        bias = rng.standard_normal(5).astype(np.float32)
        ref = torch.nn.functional.conv3d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(bias),
                                         stride=(1, 2, 1), padding=(0, 1, 1)).numpy()
        matches(c, tmp, "conv3d", [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[0, 1, 1, 0, 1, 1],
                                                    strides=[1, 2, 1], kernel_shape=[1, 3, 2])],
                {"x": x}, ref, [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")])
        w2 = numpy_helper.from_array(np.ones((5, 4, 2, 1, 1), np.float32), "w")
        refused(c, tmp, "conv3d_temporal", [helper.make_node("Conv", ["x", "w"], ["y"], name="c3")],
                [vi("x", (1, 4, 3, 7, 6))], [vi("y", (1, 5, 2, 7, 6))], [w2], "temporal kernel 1")
        # A video VAE's causal Conv3d: frames padded in front by kt - 1 (Pad),
        # then a 3x3x3 Conv. Refused (exit 4) with one message naming the Conv,
        # the reason and the Pad.
        w3 = numpy_helper.from_array(np.ones((5, 4, 3, 3, 3), np.float32), "w")
        pads = numpy_helper.from_array(np.array([0, 0, 2, 0, 0, 0, 0, 0, 0, 0], np.int64), "p")
        for want in ("Conv 'causal_conv'", "temporal kernel 3", "no 3-D convolution", "Pad 'causal_pad'"):
            refused(c, tmp, "conv3d_causal", [helper.make_node("Pad", ["x", "p"], ["xp"], name="causal_pad"),
                                              helper.make_node("Conv", ["xp", "w"], ["y"], name="causal_conv",
                                                               pads=[0, 1, 1, 0, 1, 1])],
                    [vi("x", (1, 4, 3, 7, 6))], [vi("y", (1, 5, 3, 7, 6))], [w3, pads], want)

        # Zero Pad of H and W (asymmetric, as a VAE encoder's downsampler)
        # read by two strided Convs, one with pads of its own: the Convs' pads.
        x = rng.standard_normal((1, 3, 9, 8)).astype(np.float32)
        wa = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
        wb = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
        xt = torch.nn.functional.pad(torch.from_numpy(x), (2, 1, 0, 1))  # (left, right, top, bottom)
        ya = torch.nn.functional.conv2d(xt, torch.from_numpy(wa), stride=2)
        yb = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (1, 0, 0, 0)), torch.from_numpy(wb), stride=2)
        pad_inits = [numpy_helper.from_array(wa, "wa"), numpy_helper.from_array(wb, "wb"),
                     numpy_helper.from_array(np.array([0, 0, 0, 2, 0, 0, 1, 1], np.int64), "p"),
                     numpy_helper.from_array(np.float32(0).reshape(()), "zero")]
        pad_nodes = [helper.make_node("Pad", ["x", "p", "zero"], ["xp"], name="down_pad", mode="constant"),
                     helper.make_node("Conv", ["xp", "wa"], ["ya"], strides=[2, 2], kernel_shape=[3, 3]),
                     helper.make_node("Conv", ["xp", "wb"], ["yb"], strides=[2, 2], kernel_shape=[3, 3],
                                      pads=[0, 1, 0, 0]),
                     helper.make_node("Add", ["ya", "yb"], ["y"])]
        rep = matches(c, tmp, "pad_conv", pad_nodes, {"x": x}, (ya + yb).numpy(), pad_inits)
        if rep:
            c.check(rep["ops_after"] == {"Conv2d": 2, "Add": 1}, "pad_conv: two Conv2d and the Add, no Pad (%s)" %
                    rep["ops_after"])
        out_shape = (1, 4) + tuple(ya.shape[2:])
        refused(c, tmp, "pad_reflect",
                [helper.make_node("Pad", ["x", "p"], ["xp"], name="reflect_pad", mode="reflect"),
                 helper.make_node("Conv", ["xp", "wa"], ["y"], strides=[2, 2], kernel_shape=[3, 3])],
                [vi("x", x.shape)], [vi("y", out_shape)], pad_inits, "Pad 'reflect_pad'")
        refused(c, tmp, "pad_shared",
                [helper.make_node("Pad", ["x", "p"], ["xp"], name="shared_pad"),
                 helper.make_node("Conv", ["xp", "wa"], ["ya"], strides=[2, 2], kernel_shape=[3, 3]),
                 helper.make_node("Neg", ["xp"], ["y"])],
                [vi("x", x.shape)], [vi("y", (1, 3, 10, 11)), vi("ya", out_shape)], pad_inits, "Pad 'shared_pad'")

        # An int64 timestep only cast to float becomes an f32 input (given as f32).
        t = np.array([17, 803], np.int64)
        sh = numpy_helper.from_array(np.array([2, 1], np.int64), "sh")
        k = numpy_helper.from_array(np.float32(0.5).reshape(()), "k")
        rep = matches(c, tmp, "int_timestep",
                      [helper.make_node("Reshape", ["t", "sh"], ["t2"]),
                       helper.make_node("Cast", ["t2"], ["tf"], to=F),
                       helper.make_node("Mul", ["tf", "k"], ["y"])],
                      {"t": t.astype(np.float32)}, (t.reshape(2, 1) * 0.5).astype(np.float32), [sh, k],
                      declare={"t": TensorProto.INT64})
        if rep:
            dt = {x["name"]: x["dtype"] for x in rep["tensors"]}
            c.check(dt.get("t") == "F32", "int64 timestep: the edge model takes t as F32 (got %s)" % dt.get("t"))
        # ... but one that also indexes a table stays int64 (an Embedding needs the ids).
        table = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "table")
        p = os.path.join(tmp, "int_ids.onnx")
        save(p, [helper.make_node("Gather", ["table", "t"], ["e"]), helper.make_node("Cast", ["t"], ["tf"], to=F),
                 helper.make_node("Unsqueeze", ["tf", "ax"], ["t2"]), helper.make_node("Mul", ["e", "t2"], ["y"])],
             [vi("t", (2,), TensorProto.INT64)], [vi("y", (2, 3))],
             [table, numpy_helper.from_array(np.array([1], np.int64), "ax")])
        r = convert(p, os.path.join(tmp, "ids.fb"), "--json", expect_rc=None)
        if r.returncode == 0:
            dt = {x["name"]: x["dtype"] for x in json.loads(r.stdout)["tensors"]}
            c.check(dt.get("t") == "I64", "int64 ids also used by a Gather stay I64 (got %s)" % dt.get("t"))
        else:
            c.check("Cast" in r.stderr, "int64 ids also used by a Gather: the Cast is reported (exit %d)" %
                    r.returncode)
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
