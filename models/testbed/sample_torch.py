#!/usr/bin/env python3
"""PyTorch reference sampler for the testbed video DiT (the oracle for edge-run).

    /usr/bin/python3 models/testbed/sample_torch.py --classes 0,5 --noise noise.npy --out /tmp/s
    (noise [N, 8, 3, 32, 32] float32, e.g. from `edge-run ... --dump-noise noise.npy`;
     without --noise: numpy default_rng(seed).standard_normal)

Flow-matching Euler, 20 steps, shift 2, guidance 3 with the null class 16 (the
pipeline stored in the .fb), batched CFG. Writes <out>.npy [N, 8, 3, 32, 32] in [-1, 1]
and <out>.png (one clip per row).
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "demo"))
from dit import sample_euler  # noqa: E402
from export_onnx import load_model  # noqa: E402
from make_clips import save_clip_grid  # noqa: E402

NAME = "testbed_video_dit"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", default="0-15", help="comma list or range a-b")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--shift", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default="samples")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    labels = []
    for part in args.classes.split(","):
        a, _, b = part.partition("-")
        labels += list(range(int(a), int(b or a) + 1))
    labels = np.array(labels, np.int64)
    model, cfg = load_model(HERE, NAME)
    shape = (len(labels), cfg["frames"], cfg["in_channels"], cfg["input_size"], cfg["input_size"])
    if args.noise:
        noise = np.load(args.noise).astype(np.float32)
        assert noise.shape == shape, f"noise shape {noise.shape}, expected {shape}"
    else:
        noise = np.random.default_rng(args.seed).standard_normal(shape, dtype=np.float32)
    x = sample_euler(model, torch.from_numpy(noise), torch.from_numpy(labels), args.steps, args.guidance,
                     args.shift).numpy()
    np.save(args.out + ".npy", x)
    save_clip_grid(x, args.out + ".png")
    print(f"wrote {args.out}.npy {x.shape} and {args.out}.png")


if __name__ == "__main__":
    main()
