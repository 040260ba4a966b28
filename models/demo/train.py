#!/usr/bin/env python3
"""Train the glyph demo models: classifier, image DiT, video DiT (flow matching).

One file, no dependencies beyond torch, numpy and Pillow. On a CUDA GPU with torch 2.x
the defaults take about ten minutes in all; on CPU use --smoke for a quick check.

    python3 models/demo/make_glyphs.py                 # data -> models/demo/data
    python3 models/demo/train.py --out models/demo/out # checkpoints, grids, log

Objective: x_t = (1 - t) x0 + t noise, target v = noise - x0, t ~ logit-normal(0, 1),
the model sees t * 1000; labels are replaced by the null class (id = num_classes) with
probability 0.1 for classifier-free guidance. AdamW, bf16 autocast on GPU, cosine LR,
EMA of the weights (the EMA weights are what is saved, as an fp32 state_dict).
Each model trains for a wall-clock budget; the step count is fixed after measuring the
first steps, so the LR schedule ends where the budget does.

Writes to --out: {glyph_dit,glyph_video_dit}.pt + .json (config, steps, loss),
glyph_classifier.pt, *_grid.png (samples from the Euler sampler with guidance),
train_log.txt and results.json (classifier accuracy on real data and on samples).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dit import (GlyphDiT, IMAGE_CONFIG, VIDEO_CONFIG, TIMESTEP_SCALE, flops_per_forward, sample_euler,
                 shift_time)  # noqa: E402
from classifier import train_classifier, score_samples, to_float  # noqa: E402

LOG = []


def log(msg):
    print(msg, flush=True)
    LOG.append(msg)


def save_grid(x, path, nrow):
    """x: [N, 1, 32, 32] in [-1, 1] -> PNG grid with nrow images per row, 2x upscaled."""
    from PIL import Image
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()[:, 0]
    n, h, w = x.shape
    rows = (n + nrow - 1) // nrow
    g = np.zeros((rows * (h + 2), nrow * (w + 2)), np.uint8) + 64
    for i in range(n):
        r, c = divmod(i, nrow)
        g[r * (h + 2) + 1:r * (h + 2) + 1 + h, c * (w + 2) + 1:c * (w + 2) + 1 + w] = x[i]
    Image.fromarray(g).resize((g.shape[1] * 2, g.shape[0] * 2), Image.NEAREST).save(path)


def train_dit(name, cfg, x_train, y_train, device, seconds, batch, lr, out_dir, max_steps=None,
              train_shift=1.0):
    fast = hasattr(F, "scaled_dot_product_attention") and device == "cuda"
    torch.manual_seed(1)
    model = GlyphDiT(**cfg, fast_attention=fast).to(device)
    ema = GlyphDiT(**cfg, fast_attention=fast).to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"[{name}] params {n_params} tokens {model.num_tokens()} "
        f"GFLOP/forward/sample {flops_per_forward(cfg) / 1e9:.3f} batch {batch} budget {seconds}s")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0, betas=(0.9, 0.99))
    amp = device == "cuda"
    n = x_train.shape[0]
    warmup = 200
    total = max_steps or 10 ** 9
    t0 = time.time()
    step, loss_avg = 0, None
    ema_params = [pe for pe, pm in zip(ema.parameters(), model.parameters()) if pm.requires_grad]
    ema_src = params
    while step < total:
        if step in (50, 250) and max_steps is None:
            # time steps 50..250 (past the first, slower ones), then fix the step count
            if device == "cuda":
                torch.cuda.synchronize()
            if step == 50:
                t50 = time.time()
            else:
                per = (time.time() - t50) / 200
                total = max(warmup + 100, step + int((seconds - (time.time() - t0)) / per))
                log(f"[{name}] {per * 1000:.1f} ms/step -> {total} steps")
        idx = torch.randint(0, n, (batch,), device=device)
        x0 = to_float(x_train[idx])
        y = y_train[idx]
        y = torch.where(torch.rand(batch, device=device) < 0.1, torch.full_like(y, cfg["num_classes"]), y)
        t = torch.sigmoid(torch.randn(batch, device=device))  # logit-normal(0, 1)
        t = shift_time(t, train_shift)  # more weight on high noise for larger latents
        noise = torch.randn_like(x0)
        tb = t.view(-1, *([1] * (x0.dim() - 1)))
        xt = (1 - tb) * x0 + tb * noise
        cur_lr = lr * min(1.0, (step + 1) / warmup)
        if step >= warmup and total < 10 ** 9:
            cur_lr = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))
        for gr in opt.param_groups:
            gr["lr"] = cur_lr
        if amp:
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                v = model(xt, t * TIMESTEP_SCALE, y)
        else:
            v = model(xt, t * TIMESTEP_SCALE, y)
        loss = F.mse_loss(v.float(), noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, ema_src, alpha=1 - decay)
        step += 1
        if step % 100 == 0 or step == total:
            li = loss.item()
            loss_avg = li if loss_avg is None else 0.95 * loss_avg + 0.05 * li
            if step % 500 == 0 or step == total:
                log(f"[{name}] step {step}/{total} loss {li:.4f} avg {loss_avg:.4f} lr {cur_lr:.2e} "
                    f"{time.time() - t0:.0f}s")
    if device == "cuda":
        torch.cuda.synchronize()
    secs = time.time() - t0
    sd = {k: v.detach().float().cpu() for k, v in ema.state_dict().items()}
    torch.save(sd, os.path.join(out_dir, f"{name}.pt"))
    meta = dict(config=cfg, params=n_params, tokens=model.num_tokens(),
                gflop_per_forward_per_sample=flops_per_forward(cfg) / 1e9, steps=step, batch=batch,
                lr=lr, train_seconds=secs, final_loss_avg=loss_avg, ema_decay=0.999,
                objective="flow matching, x_t=(1-t)x0+t*noise, v=noise-x0, t~logit-normal(0,1)",
                train_shift=train_shift,
                timestep_scale=TIMESTEP_SCALE, null_class=cfg["num_classes"], cfg_dropout=0.1)
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1)
    log(f"[{name}] done: {step} steps in {secs:.0f}s, loss avg {loss_avg:.4f}")
    return ema.eval(), meta


def evaluate(name, model, clf, device, out_dir, per_class, settings, frames=0):
    """Sample per_class samples of every class for each (steps, guidance, shift)
    setting; score with the classifier; grid of the first setting."""
    nc = model.num_classes
    labels = torch.arange(nc, device=device).repeat_interleave(per_class)
    shape = (labels.shape[0], frames, 1, 32, 32) if frames else (labels.shape[0], 1, 32, 32)
    res = {}
    clf = clf.to(device)
    for k, (steps, g, shift) in enumerate(settings):
        gen = torch.Generator(device="cpu").manual_seed(1234)
        noise = torch.randn(shape, generator=gen).to(device)
        xs = []
        for i in range(0, labels.shape[0], 256):
            xs.append(sample_euler(model, noise[i:i + 256], labels[i:i + 256], steps, g, shift))
        x = torch.cat(xs)
        acc = score_samples(clf, x, labels)
        res[f"steps{steps}_g{g}_shift{shift}"] = acc
        log(f"[{name}] samples steps {steps} guidance {g} shift {shift}: classifier acc {acc:.4f}")
        if k == 0:
            if frames:  # one row per class: its first video's 8 frames
                first = x[::per_class][:, :, :, :, :].reshape(-1, 1, 32, 32)
                save_grid(first, os.path.join(out_dir, f"{name}_grid.png"), frames)
            else:  # one row per class
                save_grid(x, os.path.join(out_dir, f"{name}_grid.png"), per_class)
    clf.cpu()
    return res


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "data"))
    ap.add_argument("--out", default=os.path.join(here, "out"))
    ap.add_argument("--image-seconds", type=float, default=170)
    ap.add_argument("--video-seconds", type=float, default=360)
    ap.add_argument("--image-batch", type=int, default=256)
    ap.add_argument("--video-batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--classifier-epochs", type=int, default=4)
    ap.add_argument("--video-train-shift", type=float, default=2.0)
    ap.add_argument("--skip-image", action="store_true", help="train only the classifier and the video model")
    ap.add_argument("--smoke", action="store_true", help="a few steps of everything (CPU check)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log(f"torch {torch.__version__} device {device} "
        f"{torch.cuda.get_device_name() if device == 'cuda' else ''}")
    t_all = time.time()
    results = {}

    clf, acc = train_classifier(args.data, device, 1 if args.smoke else args.classifier_epochs, log=log,
                                limit=2048 if args.smoke else None)
    torch.save(clf.state_dict(), os.path.join(args.out, "glyph_classifier.pt"))
    results["classifier_test_accuracy"] = acc

    steps = 3 if args.smoke else None
    if not args.skip_image:
        im = np.load(os.path.join(args.data, "glyph_images_train.npz"))
        xi = torch.from_numpy(im["x"]).to(device)
        yi = torch.from_numpy(im["y"]).long().to(device)
        img, meta = train_dit("glyph_dit", IMAGE_CONFIG, xi, yi, device, args.image_seconds,
                              8 if args.smoke else args.image_batch, args.lr, args.out, steps)
        results["image_train"] = meta
        settings = [(20, 3.0, 1.0)] if args.smoke else [(20, 3.0, 1.0), (20, 1.0, 1.0), (20, 2.0, 1.0),
                                                        (20, 4.0, 1.0), (20, 3.0, 2.0), (10, 3.0, 1.0)]
        results["image_samples"] = evaluate("glyph_dit", img, clf, device, args.out,
                                            2 if args.smoke else 64, settings)
        del xi, yi, img

    vi = np.load(os.path.join(args.data, "glyph_videos_train.npz"))
    xv = torch.from_numpy(vi["x"]).to(device)
    yv = torch.from_numpy(vi["y"]).long().to(device)
    vid, meta = train_dit("glyph_video_dit", VIDEO_CONFIG, xv, yv, device, args.video_seconds,
                          2 if args.smoke else args.video_batch, args.lr, args.out, steps,
                          train_shift=args.video_train_shift)
    results["video_train"] = meta
    sv = args.video_train_shift
    settings = [(20, 3.0, sv)] if args.smoke else [(20, 3.0, sv), (20, 1.0, sv), (20, 2.0, sv), (20, 4.0, sv),
                                                   (20, 3.0, 1.0), (20, 3.0, 3.0), (20, 4.0, 3.0)]
    results["video_samples"] = evaluate("glyph_video_dit", vid, clf, device, args.out,
                                        1 if args.smoke else 8, settings, frames=8)
    results["total_seconds"] = time.time() - t_all
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(args.out, "train_log.txt"), "w") as f:
        f.write("\n".join(LOG) + "\n")
    log(f"all done in {results['total_seconds']:.0f}s")


if __name__ == "__main__":
    main()
