#!/usr/bin/env python3
"""PyTorch reference generation for the latent demo (the oracle for edge-run): flow-matching
Euler over the DiT's latents with classifier-free guidance, then the VAE decoder.

    /usr/bin/python3 models/latent/sample_torch.py --classes 0-15 --noise noise.npy --out /tmp/ref
    (noise [N, 4, 16, 16] float32, e.g. from `edge-run MODEL --dump-noise noise.npy`;
     without --noise: numpy default_rng(seed).standard_normal)

Defaults are the pipeline stored in the .fb (latent_dit.json "sampling"): 20 steps, shift 1,
guidance with the null class 16, timestep = t * 1000. Writes <out>_latent.npy (the final
latents [N, 4, 16, 16], what edge-run gives with --output-kind latent), <out>.npy (decoded
images [N, 3, 64, 64], nominally in [-1, 1]) and <out>.png (8 images a row).
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "demo"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "testbed"))
sys.path.insert(0, HERE)
from export_onnx import DIT, _load_json, load_decoder, load_dit  # noqa: E402  (this folder's)
from dit import sample_euler  # noqa: E402
from make_clips import save_clip_grid  # noqa: E402


def parse_classes(s):
    out = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def main():
    sampling = _load_json(HERE, DIT)["sampling"]
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", default="0-15", help="comma list or range a-b")
    ap.add_argument("--steps", type=int, default=sampling["steps"])
    ap.add_argument("--guidance", type=float, default=sampling["guidance"])
    ap.add_argument("--shift", type=float, default=sampling["shift"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", help=".npy float32 noise [N, 4, 16, 16]")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default="samples")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    labels = np.array(parse_classes(args.classes), np.int64)
    dit, cfg = load_dit(HERE)
    dec, _ = load_decoder(HERE)
    shape = (len(labels), cfg["in_channels"], cfg["input_size"], cfg["input_size"])
    if args.noise:
        noise = np.load(args.noise).astype(np.float32)
        assert noise.shape == shape, f"noise shape {noise.shape}, expected {shape}"
    else:
        noise = np.random.default_rng(args.seed).standard_normal(shape, dtype=np.float32)
    with torch.no_grad():
        z = sample_euler(dit, torch.from_numpy(noise), torch.from_numpy(labels), args.steps, args.guidance,
                         args.shift)
        x = torch.cat([dec(z[i:i + 1]) for i in range(z.shape[0])]).numpy()  # the decoder graph's batch 1
    np.save(args.out + "_latent.npy", z.numpy())
    np.save(args.out + ".npy", x)
    ncol = min(8, len(labels))
    pad = (-len(labels)) % ncol
    grid = np.concatenate([x, np.full((pad,) + x.shape[1:], -1.0, np.float32)]) if pad else x
    save_clip_grid(grid.reshape((-1, ncol) + x.shape[1:]), args.out + ".png")
    print(f"wrote {args.out}_latent.npy {tuple(z.shape)}, {args.out}.npy {x.shape} and {args.out}.png")


if __name__ == "__main__":
    main()
