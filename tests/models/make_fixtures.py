#!/usr/bin/python3
"""Exports the converter fixtures: model.onnx plus inputs and the PyTorch output
as .npy files, in <out>/<name>/. Fixed seeds: rerunning gives the same weights.

  /usr/bin/python3 tests/models/make_fixtures.py [--out DIR] [NAME ...]

Names: dit_s2 (a), text_block (b), video_block (c), dit_b2 (d, benchmark size,
never committed), stock_mha (e).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures as fx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _save(out_dir, model, inputs, input_names, output_name, meta):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    fx.export(model, tuple(inputs), path, input_names, [output_name])
    with torch.no_grad():
        y = model(*inputs)
    for n, v in zip(input_names, inputs):
        np.save(os.path.join(out_dir, n + ".npy"), v.numpy())
    np.save(os.path.join(out_dir, "expected_" + output_name + ".npy"), y.numpy())
    meta = dict(meta)
    meta.update(inputs=input_names, output=output_name,
                param_bytes=int(sum(p.numel() for p in model.parameters()) * 4),
                buffer_bytes=int(sum(b.numel() for b in model.buffers()) * 4))
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    return path


def make_dit(out_dir, hidden, depth, heads, input_size, seed):
    torch.manual_seed(seed)
    m = fx.randomize(fx.DiT(input_size=input_size, hidden=hidden, depth=depth, heads=heads,
                            num_classes=10), seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(2, 4, input_size, input_size, generator=g)
    t = torch.tensor([17.0, 803.0])
    y = torch.tensor([3, 10], dtype=torch.int64)
    return _save(out_dir, m, [x, t, y], ["x", "t", "y"], "out",
                 dict(roles="x=latent,t=timestep,y=condition", latent="4x%dx%d" % (input_size, input_size),
                      num_classes=10, null_class=10, blocks=depth))


def make_text(out_dir, seed=11):
    torch.manual_seed(seed)
    m = fx.randomize(fx.TextDiT(), seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(2, 64, 96, generator=g)
    t = torch.tensor([250.0, 999.0])
    ctx = torch.randn(2, 12, 64, generator=g)
    return _save(out_dir, m, [x, t, ctx], ["x", "t", "context"], "out",
                 dict(roles="x=latent,t=timestep,context=condition", blocks=2))


def make_video(out_dir, seed=21):
    torch.manual_seed(seed)
    m = fx.randomize(fx.VideoDiT(), seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(1, 4 * 8 * 8, 96, generator=g)
    t = torch.tensor([500.0])
    return _save(out_dir, m, [x, t], ["x", "t"], "out", dict(roles="x=latent,t=timestep", blocks=2))


def make_stock(out_dir, seed=31):
    torch.manual_seed(seed)
    m = fx.randomize(fx.StockEncoder(), seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(2, 16, 64, generator=g)
    return _save(out_dir, m, [x], ["x"], "out", dict(blocks=2))


MAKERS = {
    "dit_s2": lambda d: make_dit(d, hidden=128, depth=4, heads=4, input_size=32, seed=1),
    "text_block": make_text,
    "video_block": make_video,
    "stock_mha": make_stock,
    "dit_b2": lambda d: make_dit(d, hidden=768, depth=12, heads=12, input_size=64, seed=5),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    ap.add_argument("names", nargs="*", default=["dit_s2", "text_block", "video_block", "stock_mha"])
    a = ap.parse_args()
    for n in a.names:
        p = MAKERS[n](os.path.join(a.out, n))
        print("wrote", p, os.path.getsize(p), "bytes")


if __name__ == "__main__":
    main()
