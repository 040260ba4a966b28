"""edge-convert on the fixture models, run by edge-run, matches PyTorch.

For (a) dit_s2, (b) text_block, (c) video_block and (e) stock_mha: convert,
run one forward with `edge-run --once`, compare with the PyTorch output saved
beside the fixture (max |err| / max |ref| <= 1e-4, FP32). Also: the file size
is the FP32 weight bytes plus a small header (within 1%), two conversions are
byte-identical, the expected fusions and cache regions are present.
"""
import json
import os
import tempfile

from checks import Checks, run_alone
from convert_util import check_fixture_output, convert_json, fixture

# name -> (extra flags, op counts that must appear, cache regions)
CASES = {
    "dit_s2": (["--sampler", "ddim", "--roles", "x=latent,t=timestep,y=condition", "--latent", "4x32x32",
                "--num-classes", "10", "--null-class", "10", "--prediction", "epsilon", "--timestep-scale", "1"],
               {"Attention": 4, "Modulate": 9, "GatedResidual": 8, "LayerNorm": 9, "TimestepEmbedding": 1,
                "Embedding": 1, "Conv2d": 1}, 4),
    "text_block": ([],
                   {"Attention": 4, "RMSNorm": 9, "LayerNorm": 6, "Modulate": 4, "GatedResidual": 4,
                    "TimestepEmbedding": 1}, 2),
    "video_block": ([],
                    {"Attention": 2, "RoPE": 4, "LayerNorm": 4, "Modulate": 4, "GatedResidual": 4,
                     "TimestepEmbedding": 1}, 2),
    "stock_mha": ([], {"Attention": 3, "LayerNorm": 4}, 2),
}

FORBIDDEN = ["Softmax", "MatMul", "Unary", "Gelu"]  # all should be fused in these models


def test_convert_models():
    c = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (flags, want_ops, want_regions) in CASES.items():
            d = fixture(name, tmp)
            meta = json.load(open(os.path.join(d, "meta.json")))
            fb1 = os.path.join(tmp, name + ".fb")
            fb2 = os.path.join(tmp, name + "_2.fb")
            rep = convert_json(os.path.join(d, "model.onnx"), fb1, *flags)
            convert_json(os.path.join(d, "model.onnx"), fb2, *flags)
            ops = rep["ops_after"]
            print("%s: %d ONNX ops -> %d edge ops %s" % (name, rep["num_ops_before"], rep["num_ops_after"],
                                                          json.dumps(ops, sort_keys=True)))
            for op, n in want_ops.items():
                c.check(ops.get(op, 0) == n, "%s: %d %s ops (got %d)" % (name, n, op, ops.get(op, 0)))
            if name != "stock_mha":
                for op in FORBIDDEN:
                    c.check(op not in ops, "%s: no leftover %s ops" % (name, op))
            c.check(len(rep["cache_regions"]) == want_regions,
                    "%s: %d cache regions (got %d)" % (name, want_regions, len(rep["cache_regions"])))
            c.check(open(fb1, "rb").read() == open(fb2, "rb").read(), "%s: two conversions byte-identical" % name)
            weights = meta["param_bytes"] + meta["buffer_bytes"]
            size = os.path.getsize(fb1)
            c.check(weights <= size <= weights * 1.01 + 16384,
                    "%s: file %d bytes vs FP32 weights %d bytes (+%.2f%%)" % (name, size, weights,
                                                                             100.0 * (size - weights) / weights))
            check_fixture_output(c, fb1, d, meta, os.path.join(tmp, name + "_out"), name)
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
