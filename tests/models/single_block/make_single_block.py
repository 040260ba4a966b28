#!/usr/bin/python3
"""Exports one timm-style DiT block on its own, as issue #14 reported it: graph
inputs x [B, N, D] and c [B, D] feed the block directly and its output is the
graph output, so no pattern has a producer or consumer outside the block.
qkv Linear -> reshape(B, N, 3, H, Dh) -> permute(2, 0, 3, 1, 4) -> qkv[0..2],
adaLN-Zero modulation from c, LayerNorm without affine (exported with explicit
ones/zeros), opset 17, PyTorch 1.13.

  /usr/bin/python3 tests/models/single_block/make_single_block.py [--out DIR]
      [--hidden D] [--heads H] [--tokens N]

The committed files (model.onnx, x.npy, c.npy, expected_out.npy, meta.json)
are the small default; --hidden 768 --heads 12 --tokens 1024 is the reported
size (about 28 MB, not committed; the test builds it when EDGE_SINGLE_BLOCK_768=1).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import fixtures as fx  # noqa: E402


def make(out_dir, hidden=64, heads=4, tokens=256, seed=41):
    torch.manual_seed(seed)
    m = fx.randomize(fx.DiTBlock(hidden, heads), seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(1, tokens, hidden, generator=g)
    c = torch.randn(1, hidden, generator=g)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    fx.export(m, (x, c), path, ["x", "c"], ["out"])
    with torch.no_grad():
        y = m(x, c)
    np.save(os.path.join(out_dir, "x.npy"), x.numpy())
    np.save(os.path.join(out_dir, "c.npy"), c.numpy())
    np.save(os.path.join(out_dir, "expected_out.npy"), y.numpy())
    meta = dict(inputs=["x", "c"], output="out", hidden=hidden, heads=heads, tokens=tokens, blocks=1,
                param_bytes=int(sum(p.numel() for p in m.parameters()) * 4), buffer_bytes=0)
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=256)
    a = ap.parse_args()
    p = make(a.out, a.hidden, a.heads, a.tokens)
    print("wrote", p, os.path.getsize(p), "bytes")


if __name__ == "__main__":
    main()
