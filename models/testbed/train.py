#!/usr/bin/env python3
"""Train the testbed video DiT on camera pans/zooms over photographs (flow matching).

The model is models/demo/dit.py's GlyphDiT with TESTBED_CONFIG below (RGB, hidden 256,
4 heads of 64, 4 blocks, 8 frames x 16 x 16 tokens = 2048, 3-D axial RoPE) and the
training loop is models/demo/train.py's train_dit (objective, AdamW, cosine LR, EMA,
bf16 autocast on GPU, a wall-clock budget that fixes the step count after the first
steps). Clips are rendered at start-up on the training device by make_clips.py from
data/sources.npz (see that file).

    /usr/bin/python3 models/testbed/make_clips.py            # data/sources.npz
    python3 models/testbed/train.py --out OUT                # one CUDA GPU, torch 2.x
    /usr/bin/python3 models/testbed/train.py --smoke         # CPU check, a few steps

Writes OUT/testbed_video_dit.{pt,json} (EMA weights as an fp16 state_dict, config and training facts),
OUT/testbed_video_dit_grid.png (one 20-step CFG sample per class, a row of 8 frames
each) and OUT/train_log.txt.
"""
import argparse
import importlib.util
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(os.path.dirname(HERE), "demo")
sys.path.insert(0, HERE)
sys.path.insert(0, DEMO)
from dit import sample_euler  # noqa: E402
import make_clips  # noqa: E402

_spec = importlib.util.spec_from_file_location("demo_train", os.path.join(DEMO, "train.py"))
demo_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo_train)

NAME = "testbed_video_dit"
TESTBED_CONFIG = dict(input_size=32, in_channels=3, patch=2, hidden=256, depth=4, heads=4,
                      mlp_ratio=4.0, num_classes=make_clips.NUM_CLASSES, frames=8)
SHIFT = 2.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "data", "sources.npz"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--clips", type=int, default=65536)
    ap.add_argument("--seed", type=int, default=0, help="data seed (clip parameters)")
    ap.add_argument("--seconds", type=float, default=420)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--smoke", action="store_true", help="tiny run on CPU")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log = demo_train.log
    log(f"torch {torch.__version__} device {device} {torch.cuda.get_device_name() if device == 'cuda' else ''}")
    t0 = time.time()
    n = 64 if args.smoke else args.clips
    x, y = make_clips.render_clips(make_clips.load_sources(args.data), n, args.seed, device)
    y = y.to(device)
    if device == "cuda":
        torch.cuda.synchronize()
    log(f"rendered {n} clips {tuple(x.shape)} seed {args.seed} in {time.time() - t0:.1f}s")
    model, meta = demo_train.train_dit(NAME, TESTBED_CONFIG, x, y, device, args.seconds,
                                       2 if args.smoke else args.batch, args.lr, args.out,
                                       3 if args.smoke else None, train_shift=SHIFT)
    # shipped as fp16 (10 MB instead of 20); loading into the fp32 model widens it exactly
    sd = {k: v.half() for k, v in torch.load(os.path.join(args.out, NAME + ".pt")).items()}
    torch.save(sd, os.path.join(args.out, NAME + ".pt"))
    # training-data facts in the .json
    meta.update(data=dict(script="models/testbed/make_clips.py", clips=n, seed=args.seed,
                          classes=[s[0] for s in make_clips.SOURCES]),
                sampling=dict(steps=20, guidance=3.0, shift=SHIFT))
    with open(os.path.join(args.out, NAME + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    # one sample per class, same noise convention as sample.py (seed 0)
    import numpy as np
    nc = 2 if args.smoke else TESTBED_CONFIG["num_classes"]
    noise = np.random.default_rng(0).standard_normal((nc, 8, 3, 32, 32), dtype=np.float32)
    with torch.no_grad():
        s = sample_euler(model.float(), torch.from_numpy(noise).to(device), torch.arange(nc, device=device),
                         2 if args.smoke else 20, 3.0, SHIFT)
    make_clips.save_clip_grid(s.cpu().numpy(), os.path.join(args.out, NAME + "_grid.png"))
    make_clips.save_clip_grid(x[:16].cpu().numpy(), os.path.join(args.out, "train_clips.png"))
    with open(os.path.join(args.out, "train_log.txt"), "w") as f:
        f.write("\n".join(demo_train.LOG) + "\n")
    log(f"all done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
