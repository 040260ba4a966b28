#!/usr/bin/env python3
"""PyTorch reference sampler for the glyph DiTs (the oracle for the C++ pipeline).

    /usr/bin/python3 models/demo/sample_torch.py --model glyph_dit --classes 0-15 \
        --steps 20 --guidance 3 --seed 0 --out /tmp/samples          # .npy + .png grid
    ... --noise noise.npy      # start from given noise [N, 1, 32, 32] (or [N, 8, 1, 32, 32])

Sampler: flow-matching Euler from t = 1 to t = 0 over `steps` uniform steps of t,
optionally shifted (t' = s t / (1 + (s - 1) t)); the model sees t' * 1000; guidance
v = v_u + g (v_c - v_u) with the unconditional pass using y = null class (= 16).
The default noise for --seed S is numpy's default_rng(S).standard_normal(shape, float32),
so other implementations can reproduce it without torch.
Writes <out>.npy (float32 samples, [N, 1, 32, 32] or [N, 8, 1, 32, 32]), <out>.png
(image: one sample per class in a row; video: one row of 8 frames per class) and, with
--score, the glyph classifier's accuracy on the samples.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dit import sample_euler  # noqa: E402
from export_onnx import load_model  # noqa: E402


def parse_classes(s):
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def save_png(x, path, ncol):
    from PIL import Image
    x = np.clip((x + 1) * 127.5, 0, 255).round().astype(np.uint8).reshape(-1, 32, 32)
    n = x.shape[0]
    rows = (n + ncol - 1) // ncol
    g = np.full((rows * 34, ncol * 34), 64, np.uint8)
    for i in range(n):
        r, c = divmod(i, ncol)
        g[r * 34 + 1:r * 34 + 33, c * 34 + 1:c * 34 + 33] = x[i]
    Image.fromarray(g).resize((g.shape[1] * 2, g.shape[0] * 2), Image.NEAREST).save(path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=here, help="folder holding <model>.pt and <model>.json")
    ap.add_argument("--model", default="glyph_dit", help="glyph_dit or glyph_video_dit")
    ap.add_argument("--classes", default="0-15")
    ap.add_argument("--repeat", type=int, default=1, help="samples per class")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--shift", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", help=".npy float32 noise, shape [N, ...latent]")
    ap.add_argument("--out", default="samples")
    ap.add_argument("--score", action="store_true", help="score with glyph_classifier.pt")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model, cfg = load_model(args.dir, args.model)
    labels = np.repeat(np.array(parse_classes(args.classes), np.int64), args.repeat)
    latent = (cfg["frames"], cfg["in_channels"], 32, 32) if cfg["frames"] else (cfg["in_channels"], 32, 32)
    if args.noise:
        noise = np.load(args.noise).astype(np.float32)
        assert noise.shape == (labels.shape[0],) + latent, f"noise shape {noise.shape}"
    else:
        noise = np.random.default_rng(args.seed).standard_normal((labels.shape[0],) + latent, dtype=np.float32)
    x = sample_euler(model, torch.from_numpy(noise), torch.from_numpy(labels), args.steps,
                     args.guidance, args.shift).numpy()
    np.save(args.out + ".npy", x)
    save_png(x, args.out + ".png", cfg["frames"] if cfg["frames"] else min(len(labels), 16))
    print(f"wrote {args.out}.npy {x.shape} and {args.out}.png")
    if args.score:
        from classifier import load_classifier, score_samples
        clf = load_classifier(os.path.join(args.dir, "glyph_classifier.pt"))
        acc = score_samples(clf, torch.from_numpy(x), torch.from_numpy(labels))
        print(f"classifier accuracy on samples: {acc:.4f}")


if __name__ == "__main__":
    main()
