#!/usr/bin/env python3
"""Dump real attention inputs of the trained testbed video DiT, for kernel accuracy tests.

    /usr/bin/python3 models/testbed/dump_qkv.py [--out tests/data/testbed_qkv]

Runs PyTorch's sampler (20 flow steps, CFG 3, shift 2, batched cond/uncond) for class 0
(astronaut) from numpy default_rng(0) noise and records the attention inputs of the
conditional pass at 4 (layer, step, head) cases: layers 0 and 3 (first and last block) at
step 2 (t = 0.95 after the shift, mostly noise) and step 17 (t = 0.26, nearly clean), one
head per case (heads 0..3, so each head appears once).

Each case is one file L<layer>_s<step>_h<head>.npy: float16 [3, 2048, 64] = q, k, v of
one head, token order frame-major (8 frames x 16 x 16), q and k after the 3-D RoPE, the
softmax scale 1/sqrt(64) NOT applied (attention = softmax(q k^T / 8) v). meta.json lists
the cases with t and a reference: the FP64 attention output computed from the stored
(fp16-rounded) q, k, v, summarized as its RMS and checksum, plus the mean row-max of the
softmax (how peaked the rows are).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "demo"))
from dit import rotate_half, sample_euler, shift_time  # noqa: E402
from export_onnx import load_model  # noqa: E402

CASES = [(0, 2, 0), (0, 17, 1), (3, 2, 2), (3, 17, 3)]  # (layer, step, head)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "testbed_qkv"))
    args = ap.parse_args()
    model, cfg = load_model(HERE, "testbed_video_dit")
    heads, dh = cfg["heads"], cfg["hidden"] // cfg["heads"]
    want = {}
    for layer, step, head in CASES:
        want.setdefault(layer, {})[step] = head
    calls = {l: 0 for l in want}
    got = {}

    def hook(layer):
        def f(_mod, _inp, out):
            step = calls[layer]
            calls[layer] += 1
            if step not in want[layer]:
                return
            b, n, _ = out.shape
            qkv = out.reshape(b, n, 3, heads, dh).permute(2, 0, 3, 1, 4)  # [3, B, H, N, dh]
            cos, sin = model.rope_cos, model.rope_sin
            q = qkv[0] * cos + rotate_half(qkv[0]) * sin
            k = qkv[1] * cos + rotate_half(qkv[1]) * sin
            h = want[layer][step]
            got[(layer, step, h)] = torch.stack([q[0, h], k[0, h], qkv[2][0, h]]).numpy()  # batch row 0 = cond
        return f

    for layer in want:
        model.blocks[layer].attn.qkv.register_forward_hook(hook(layer))
    noise = np.random.default_rng(0).standard_normal((1, cfg["frames"], cfg["in_channels"], 32, 32),
                                                     dtype=np.float32)
    sample_euler(model, torch.from_numpy(noise), torch.tensor([0]), 20, 3.0, 2.0)
    ts = shift_time(torch.linspace(1.0, 0.0, 21, dtype=torch.float64), 2.0)
    os.makedirs(args.out, exist_ok=True)
    meta = dict(model="models/testbed/testbed_video_dit.pt", class_id=0, seed=0, steps=20, guidance=3.0, shift=2.0,
                layout="float16 [3, N=2048, head_dim=64]: q, k (after RoPE), v of one head; "
                       "attention = softmax(q k^T / sqrt(64)) v", cases=[])
    for (layer, step, head), a in sorted(got.items()):
        name = f"L{layer}_s{step}_h{head}.npy"
        a16 = a.astype(np.float16)
        np.save(os.path.join(args.out, name), a16)
        q, k, v = (a16[i].astype(np.float64) for i in range(3))
        s = q @ k.T / np.sqrt(dh)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        o = p @ v
        meta["cases"].append(dict(file=name, layer=layer, step=step, head=head, t=float(ts[step]),
                                  q_absmax=float(np.abs(q).max()), k_absmax=float(np.abs(k).max()),
                                  v_absmax=float(np.abs(v).max()), out_rms=float(np.sqrt((o ** 2).mean())),
                                  out_sum=float(o.sum()), softmax_row_max_mean=float(p.max(axis=1).mean())))
        print(meta["cases"][-1])
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
