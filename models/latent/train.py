#!/usr/bin/env python3
"""Train the latent demo on one GPU: a tiny autoencoder, then a class-conditional DiT on
its latents (flow matching).

Data: 64x64 RGB crops of the 16 photographs of models/testbed (class = photograph),
rendered at start-up on the training device from models/testbed/data/sources.npz by
make_clips.render_clips with one frame per clip (a square window of side 64-160 source
px at a random place; numpy default_rng(seed) decides everything): seed 0 for training,
seed 1 for the held-out images.

Stages (each a wall-clock budget; the step count is fixed after timing the first steps
so that the cosine LR schedule ends with the budget):
  1. autoencoder (vae.py): MSE + beta * KL, AdamW, bf16 autocast; the weights are then
     rounded to fp16 (what ships) and everything after uses the rounded model;
     reconstruction PSNR on the held-out images;
  2. latent statistics of the training set: shift = mean, scale = 1 / std (all channels);
  3. DiT (models/demo/dit.py's GlyphDiT, 16x16x4 latents, patch 2 -> 64 tokens) with
     models/demo/train.py's train_dit on z = (mean latent - shift) * scale;
  4. a small CNN classifier of the 16 photographs (real crops) scores decoded samples at
     a few guidance scales; a grid of samples per class.

    /usr/bin/python3 models/testbed/make_clips.py          # sources.npz (once)
    python3 models/latent/train.py --out OUT               # one CUDA GPU, torch 2.x
    /usr/bin/python3 models/latent/train.py --smoke        # CPU check, a few steps

Writes to OUT: latent_vae.{pt,json}, latent_dit.{pt,json} (fp16 state_dicts; configs and
training facts), results.json, train_log.txt, train_images.png, vae_recon.png and
latent_dit_grid.png.
"""
import argparse
import contextlib
import importlib.util
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
DEMO = os.path.join(MODELS, "demo")
TESTBED = os.path.join(MODELS, "testbed")
sys.path.insert(0, HERE)
sys.path.insert(0, TESTBED)
sys.path.insert(0, DEMO)
from dit import flops_per_forward, sample_euler  # noqa: E402
import make_clips  # noqa: E402
from vae import VAE_CONFIG, TinyVAE, LatentDecoder, conv_flops, count_params  # noqa: E402

_spec = importlib.util.spec_from_file_location("demo_train", os.path.join(DEMO, "train.py"))
demo_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo_train)
log = demo_train.log

NUM_CLASSES = make_clips.NUM_CLASSES
RES = 64
WINDOW = (64.0, 160.0)  # crop side in source px (sources have a short side of 160)
DIT_CONFIG = dict(input_size=16, in_channels=4, patch=2, hidden=64, depth=4, heads=4,
                  mlp_ratio=4.0, num_classes=NUM_CLASSES, frames=0)
SAMPLING = dict(steps=20, guidance=3.0, shift=1.0)


def render_images(sources, n, seed, device):
    """n crops [n, 3, 64, 64] uint8 and labels [n]: make_clips.render_clips with one
    frame per clip (no motion), 64 px output and WINDOW-sized windows."""
    keys = ("FRAMES", "RES", "WIN_MIN", "WIN_MAX")
    saved = {k: getattr(make_clips, k) for k in keys}
    make_clips.FRAMES, make_clips.RES = 1, RES
    make_clips.WIN_MIN, make_clips.WIN_MAX = WINDOW
    try:
        x, y = make_clips.render_clips(sources, n, seed, device)
    finally:
        for k, v in saved.items():
            setattr(make_clips, k, v)
    return x[:, 0], y.to(device)


def to_float(x_u8):
    return x_u8.float() / 127.5 - 1.0


def save_grid(x, path, ncol, scale=2):
    """x: [N, 3, H, W] float in [-1, 1] (or uint8) -> PNG grid, ncol images per row."""
    x = np.asarray(x)
    make_clips.save_clip_grid(x.reshape((-1, ncol) + x.shape[1:]), path, scale)


def psnr(a, b):
    """Per-image PSNR of images in [-1, 1] (peak-to-peak 2)."""
    mse = ((a.float() - b.float()) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def lr_at(step, total, lr, warmup):
    if step < warmup or total is None:
        return lr * min(1.0, (step + 1) / warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))


class StepBudget:
    """Fixes the step count from the time of steps 50..250 and the remaining budget."""

    def __init__(self, name, seconds, device, max_steps=None, warmup=200):
        self.name, self.seconds, self.device, self.warmup = name, seconds, device, warmup
        self.total = max_steps
        self.t0 = time.time()

    def update(self, step):
        if self.total is not None and step >= self.total:
            return False
        if step in (50, 250) and self.total is None:
            if self.device == "cuda":
                torch.cuda.synchronize()
            if step == 50:
                self.t50 = time.time()
            else:
                per = (time.time() - self.t50) / 200
                self.total = max(self.warmup + 100, step + int((self.seconds - (time.time() - self.t0)) / per))
                log(f"[{self.name}] {per * 1000:.1f} ms/step -> {self.total} steps")
        return True


def train_vae(x_train, device, seconds, batch, lr, beta, max_steps=None):
    torch.manual_seed(2)
    vae = TinyVAE(**VAE_CONFIG).to(device)
    log(f"[vae] params encoder {count_params(vae.encoder)} decoder {count_params(vae.decoder)} "
        f"batch {batch} lr {lr} beta {beta} budget {seconds}s")
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.99))
    amp = device == "cuda"
    n = x_train.shape[0]
    budget = StepBudget("vae", seconds, device, max_steps)
    step, rec_avg, kl_avg = 0, None, None
    while budget.update(step):
        x = to_float(x_train[torch.randint(0, n, (batch,), device=device)])
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step, budget.total, lr, budget.warmup)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext():
            mean, logvar = vae.encode(x)
            z = mean + torch.exp(0.5 * logvar.float()) * torch.randn_like(mean, dtype=torch.float32)
            rec = vae.decode(z)
        rec_loss = F.mse_loss(rec.float(), x)
        kl = 0.5 * (mean.float() ** 2 + logvar.float().exp() - 1.0 - logvar.float()).mean()
        loss = rec_loss + beta * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0 or step == budget.total:
            r, k = rec_loss.item(), kl.item()
            rec_avg = r if rec_avg is None else 0.95 * rec_avg + 0.05 * r
            kl_avg = k if kl_avg is None else 0.95 * kl_avg + 0.05 * k
            if step % 1000 == 0 or step == budget.total:
                log(f"[vae] step {step}/{budget.total} mse {r:.5f} avg {rec_avg:.5f} "
                    f"({10 * math.log10(4 / rec_avg):.2f} dB) kl {k:.3f} {time.time() - budget.t0:.0f}s")
    if device == "cuda":
        torch.cuda.synchronize()
    secs = time.time() - budget.t0
    return vae, dict(steps=step, batch=batch, lr=lr, kl_weight=beta, train_seconds=secs,
                     final_mse_avg=rec_avg, final_kl_avg=kl_avg)


@torch.no_grad()
def encode_all(vae, x_u8, batch=1024):
    out = []
    for i in range(0, x_u8.shape[0], batch):
        out.append(vae.encode(to_float(x_u8[i:i + batch]))[0])
    return torch.cat(out)


@torch.no_grad()
def decode_all(dec, z, batch=1024):
    return torch.cat([dec(z[i:i + batch]) for i in range(0, z.shape[0], batch)])


class PhotoClassifier(nn.Module):
    """Which of the 16 photographs a 64x64 crop comes from (scores the samples)."""

    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for c in (32, 64, 128, 128):
            layers += [nn.Conv2d(cin, c, 3, stride=2, padding=1), nn.GroupNorm(8, c), nn.SiLU()]
            cin = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, NUM_CLASSES)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


def train_classifier(x_train, y_train, x_test, y_test, device, steps, batch=256):
    torch.manual_seed(3)
    clf = PhotoClassifier().to(device)
    opt = torch.optim.AdamW(clf.parameters(), lr=2e-3)
    n = x_train.shape[0]
    for step in range(steps):
        idx = torch.randint(0, n, (batch,), device=device)
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step, steps, 2e-3, 50)
        loss = F.cross_entropy(clf(to_float(x_train[idx])), y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    clf.eval()
    acc = accuracy(clf, to_float(x_test), y_test)
    log(f"[classifier] {steps} steps, held-out accuracy on real crops {acc:.4f}")
    return clf, acc


@torch.no_grad()
def accuracy(clf, x, y, batch=1024):
    hits = 0
    for i in range(0, x.shape[0], batch):
        hits += (clf(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return hits / x.shape[0]


def fp16_roundtrip(model):
    """The shipped weights are fp16: round the model's weights in place, return the
    fp16 state_dict."""
    sd = {k: v.detach().half().cpu() for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.float() for k, v in sd.items()})
    return sd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(TESTBED, "data", "sources.npz"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--images", type=int, default=65536)
    ap.add_argument("--test-images", type=int, default=2048)
    ap.add_argument("--vae-seconds", type=float, default=170)
    ap.add_argument("--vae-batch", type=int, default=128)
    ap.add_argument("--vae-lr", type=float, default=1e-3)
    ap.add_argument("--kl-weight", type=float, default=1e-5)
    ap.add_argument("--dit-seconds", type=float, default=270)
    ap.add_argument("--dit-batch", type=int, default=256)
    ap.add_argument("--dit-lr", type=float, default=6e-4)
    ap.add_argument("--classifier-steps", type=int, default=1500)
    ap.add_argument("--per-class", type=int, default=32, help="samples per class scored per guidance")
    ap.add_argument("--smoke", action="store_true", help="tiny run on CPU")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    log(f"torch {torch.__version__} device {device} {torch.cuda.get_device_name() if device == 'cuda' else ''}")
    t_all = time.time()
    smoke = args.smoke
    results = {}

    sources = make_clips.load_sources(args.data)
    n_train = 256 if smoke else args.images
    n_test = 64 if smoke else args.test_images
    x_train, y_train = render_images(sources, n_train, 0, device)
    x_test, y_test = render_images(sources, n_test, 1, device)
    if device == "cuda":
        torch.cuda.synchronize()
    log(f"rendered {n_train} training crops (seed 0) and {n_test} held-out crops (seed 1) "
        f"{tuple(x_train.shape[1:])} in {time.time() - t_all:.1f}s")
    first = [int(torch.nonzero(y_train == c)[0]) for c in range(NUM_CLASSES)]
    save_grid(x_train[first].cpu().numpy(), os.path.join(args.out, "train_images.png"), 8)

    # 1. autoencoder
    vae, vae_meta = train_vae(x_train, device, args.vae_seconds, 8 if smoke else args.vae_batch,
                              args.vae_lr, args.kl_weight, 3 if smoke else None)
    vae.eval()
    vae_sd = fp16_roundtrip(vae)
    torch.save(vae_sd, os.path.join(args.out, "latent_vae.pt"))

    # 2. latent statistics (posterior means of the training crops)
    lat = encode_all(vae, x_train)
    shift = float(lat.mean())
    scale = float(1.0 / lat.std())
    log(f"[vae] latents {tuple(lat.shape[1:])}: mean {shift:.4f} std {1 / scale:.4f} -> scale {scale:.5f}; "
        f"per channel mean {[round(float(v), 3) for v in lat.mean(dim=(0, 2, 3))]} "
        f"std {[round(float(v), 3) for v in lat.std(dim=(0, 2, 3))]}")
    dec = LatentDecoder(vae.decoder, scale, shift).eval()
    z_test = (encode_all(vae, x_test) - shift) * scale
    rec = decode_all(dec, z_test)
    p = psnr(rec, to_float(x_test))
    vae_meta.update(psnr_heldout_mean=float(p.mean()), psnr_heldout_min=float(p.min()),
                    psnr_heldout_images=n_test, psnr_heldout_seed=1)
    log(f"[vae] held-out reconstruction PSNR (fp16 weights): mean {p.mean():.2f} dB, min {p.min():.2f} dB "
        f"over {n_test} crops")
    k = min(8, n_test)
    save_grid(torch.cat([to_float(x_test[:k]), rec[:k]]).cpu().numpy(), os.path.join(args.out, "vae_recon.png"), k)
    vae_meta = dict(config=vae.config, params_encoder=count_params(vae.encoder),
                    params_decoder=count_params(vae.decoder),
                    gflop_decoder=conv_flops(vae.decoder.cpu(), (4, 16, 16)) / 1e9,
                    latent_shape=[VAE_CONFIG["latent_channels"], RES // vae.factor, RES // vae.factor],
                    latent_scale=scale, latent_shift=shift,
                    latent_note="DiT latent z = (encoder mean - shift) * scale; decoder input z / scale + shift",
                    objective="MSE on [-1, 1] pixels + kl_weight * mean KL per latent element",
                    **vae_meta)
    vae.to(device)
    with open(os.path.join(args.out, "latent_vae.json"), "w") as f:
        json.dump(vae_meta, f, indent=1)
    results["vae"] = vae_meta
    del x_train  # the DiT trains on latents only
    z_train = (lat - shift) * scale
    del lat

    # 3. DiT on the latents (train_dit's batches go through to_float: latents already are)
    demo_train.to_float = lambda x: x
    model, dit_meta = demo_train.train_dit("latent_dit", DIT_CONFIG, z_train, y_train, device,
                                           args.dit_seconds, 8 if smoke else args.dit_batch, args.dit_lr,
                                           args.out, 3 if smoke else None)
    model = model.float().eval()
    torch.save(fp16_roundtrip(model), os.path.join(args.out, "latent_dit.pt"))

    # 4. classifier scores of decoded samples, and the grid
    x_clf, y_clf = render_images(sources, 512 if smoke else 32768, 2, device)
    clf, clf_acc = train_classifier(x_clf, y_clf, x_test, y_test, device, 5 if smoke else args.classifier_steps)
    del x_clf
    results["classifier_heldout_accuracy"] = clf_acc
    results["classifier_on_reconstructions"] = accuracy(clf, rec, y_test)
    per = 2 if smoke else args.per_class
    labels = torch.arange(NUM_CLASSES, device=device).repeat_interleave(per)
    noise = torch.randn((labels.shape[0], 4, 16, 16), generator=torch.Generator().manual_seed(1234)).to(device)
    scores = {}
    for g in (1.0, 2.0, 3.0, 4.0):
        z = sample_euler(model, noise, labels, SAMPLING["steps"], g, SAMPLING["shift"])
        x = decode_all(dec, z)
        scores[f"guidance{g:g}"] = dict(accuracy=accuracy(clf, x, labels), latent_std=float(z.std()))
        log(f"[samples] 20 steps guidance {g:g}: classifier accuracy {scores[f'guidance{g:g}']['accuracy']:.4f}, "
            f"latent std {float(z.std()):.3f}")
    results["samples"] = scores
    # grid: 8 samples per class at the shipped settings, noise default_rng(0)
    cols = 2 if smoke else 8
    noise = np.random.default_rng(0).standard_normal((NUM_CLASSES * cols, 4, 16, 16), dtype=np.float32)
    lab = torch.arange(NUM_CLASSES, device=device).repeat_interleave(cols)
    z = sample_euler(model, torch.from_numpy(noise).to(device), lab, SAMPLING["steps"], SAMPLING["guidance"],
                     SAMPLING["shift"])
    save_grid(decode_all(dec, z).cpu().numpy(), os.path.join(args.out, "latent_dit_grid.png"), cols, scale=1)

    dit_meta.update(data=dict(script="models/latent/train.py (make_clips.render_clips, one frame)",
                              images=n_train, seed=0, window=list(WINDOW), res=RES,
                              classes=[s[0] for s in make_clips.SOURCES]),
                    latent_scale=scale, latent_shift=shift, sampling=SAMPLING,
                    gflop_per_forward_per_sample=flops_per_forward(DIT_CONFIG) / 1e9)
    with open(os.path.join(args.out, "latent_dit.json"), "w") as f:
        json.dump(dit_meta, f, indent=1)
    results["dit"] = dit_meta
    results["total_seconds"] = time.time() - t_all
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    log(f"all done in {results['total_seconds']:.0f}s")
    with open(os.path.join(args.out, "train_log.txt"), "w") as f:
        f.write("\n".join(demo_train.LOG) + "\n")


if __name__ == "__main__":
    main()
