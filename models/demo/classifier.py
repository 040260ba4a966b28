"""A tiny CNN that tells the glyph classes apart; used to score generated samples.

score_samples(clf, x, labels) returns the fraction of samples whose predicted class
is the class they were generated for (x: [N, 1, 32, 32] in [-1, 1]; video frames are
scored one by one after reshaping to that form).

Train: /usr/bin/python3 models/demo/classifier.py --data models/demo/data --out models/demo
(runs on CPU in a few minutes, or on a GPU; train.py also trains it in its run).
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class GlyphClassifier(nn.Module):
    def __init__(self, num_classes=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x):
        return self.net(x)


def to_float(x_u8):
    """uint8 glyphs (ink 255) -> float in [-1, 1]."""
    return x_u8.float() / 127.5 - 1.0


def load_split(data_dir, split):
    """Image glyphs plus every frame of the video glyphs, as [N, 1, 32, 32] uint8."""
    im = np.load(os.path.join(data_dir, f"glyph_images_{split}.npz"))
    vi = np.load(os.path.join(data_dir, f"glyph_videos_{split}.npz"))
    xv = vi["x"].reshape(-1, 1, 32, 32)
    yv = np.repeat(vi["y"], vi["x"].shape[1])
    return np.concatenate([im["x"], xv]), np.concatenate([im["y"], yv])


@torch.no_grad()
def predict(clf, x, batch=1024):
    clf.eval()
    out = []
    for i in range(0, x.shape[0], batch):
        out.append(clf(x[i:i + batch].clamp(-1, 1)).argmax(1))
    return torch.cat(out)


def score_samples(clf, x, labels):
    """Accuracy of the classifier's prediction vs the intended class."""
    x = x.reshape(-1, 1, 32, 32).float()
    reps = x.shape[0] // labels.shape[0]
    labels = labels.to(x.device).repeat_interleave(reps)
    return float((predict(clf, x) == labels).float().mean())


def train_classifier(data_dir, device, epochs=4, batch=256, log=print, limit=None):
    xtr, ytr = load_split(data_dir, "train")
    xte, yte = load_split(data_dir, "test")
    if limit:  # quick checks only
        xtr, ytr, xte, yte = xtr[:limit], ytr[:limit], xte[:limit], yte[:limit]
    xtr, ytr = torch.from_numpy(xtr).to(device), torch.from_numpy(ytr).long().to(device)
    xte, yte = torch.from_numpy(xte).to(device), torch.from_numpy(yte).long().to(device)
    torch.manual_seed(0)
    clf = GlyphClassifier().to(device)
    opt = torch.optim.AdamW(clf.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * (xtr.shape[0] // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    t0 = time.time()
    for ep in range(epochs):
        clf.train()
        perm = torch.randperm(xtr.shape[0], device=device)
        for i in range(xtr.shape[0] // batch):
            idx = perm[i * batch:(i + 1) * batch]
            x = to_float(xtr[idx])
            # small extra jitter (1 px shifts) so the classifier does not key on exact placement
            x = torch.roll(x, shifts=(int(np.random.randint(-1, 2)), int(np.random.randint(-1, 2))), dims=(2, 3))
            loss = F.cross_entropy(clf(x), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = float((predict(clf, to_float(xte)) == yte).float().mean())
        log(f"classifier epoch {ep + 1}/{epochs}: loss {loss.item():.4f} test acc {acc:.4f} ({time.time() - t0:.1f}s)")
    return clf.cpu(), acc


def load_classifier(path):
    clf = GlyphClassifier()
    clf.load_state_dict(torch.load(path, map_location="cpu"))
    return clf.eval()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "data"))
    ap.add_argument("--out", default=here)
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    clf, acc = train_classifier(args.data, dev, args.epochs)
    torch.save(clf.state_dict(), os.path.join(args.out, "glyph_classifier.pt"))
    with open(os.path.join(args.out, "glyph_classifier.json"), "w") as f:
        json.dump({"test_accuracy": acc, "epochs": args.epochs}, f, indent=1)


if __name__ == "__main__":
    main()
