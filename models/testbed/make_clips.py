#!/usr/bin/env python3
"""Training clips for the testbed video DiT: camera pans and zooms over photographs.

Every source image comes from a Debian package, so the data can be rebuilt offline:

    apt-get install python3-skimage gnome-backgrounds python3-pil   (or, without
    installing: apt-get download python3-skimage gnome-backgrounds and
    dpkg -x each .deb into a folder passed as --root)

Class id = index in SOURCES (16 images: 14 from python3-skimage's data folder, photographs
and natural textures, 2 wallpapers from gnome-backgrounds). Grayscale images are used
as gray RGB.

Two stages:
  1. `prepare` (this script's CLI): load each image, convert to RGB, resize with Lanczos so
     that the short side is SHORT_SIDE px, and write sources.npz (uint8 images img0..img15,
     ~1.8 MB) to --out (default models/testbed/data/).
  2. `render_clips(sources, n, seed, device)`: n clips [n, 8, 3, 32, 32] uint8 and labels
     [n]. All random choices (class, window size, start position, pan velocity, zoom) come
     from numpy's default_rng(seed); frame k of a clip is the square window of side
     s0 * z^k centred at c0 + k * v of its source image, rendered bilinearly at 64x64 and
     box-filtered to 32x32 (float32 arithmetic, rounded to uint8; the same clips on any
     device up to a rare 1-LSB rounding difference between CPU and GPU). Windows always
     stay inside the image. Classes are balanced (n // 16 clips per class, then seeded
     shuffling).

    /usr/bin/python3 models/testbed/make_clips.py [--root /] [--out DIR]
    /usr/bin/python3 models/testbed/make_clips.py --preview /tmp/clips.png   # 16 clips, one per class
"""
import argparse
import math
import os

import numpy as np

SKIMAGE_DATA = "usr/lib/python3/dist-packages/skimage/data"    # package python3-skimage
GNOME_BACKGROUNDS = "usr/share/backgrounds/gnome"               # package gnome-backgrounds
SOURCES = [  # (class name, folder, file)
    ("astronaut", SKIMAGE_DATA, "astronaut.png"),
    ("chelsea", SKIMAGE_DATA, "chelsea.png"),
    ("coffee", SKIMAGE_DATA, "coffee.png"),
    ("rocket", SKIMAGE_DATA, "rocket.jpg"),
    ("motorcycle", SKIMAGE_DATA, "motorcycle_left.png"),
    ("retina", SKIMAGE_DATA, "retina.jpg"),
    ("hubble", SKIMAGE_DATA, "hubble_deep_field.jpg"),
    ("ihc", SKIMAGE_DATA, "ihc.png"),
    ("camera", SKIMAGE_DATA, "camera.png"),
    ("coins", SKIMAGE_DATA, "coins.png"),
    ("moon", SKIMAGE_DATA, "moon.png"),
    ("grass", SKIMAGE_DATA, "grass.png"),
    ("gravel", SKIMAGE_DATA, "gravel.png"),
    ("brick", SKIMAGE_DATA, "brick.png"),
    ("wood", GNOME_BACKGROUNDS, "wood-l.webp"),
    ("adwaita", GNOME_BACKGROUNDS, "adwaita-l.webp"),
]
NUM_CLASSES = len(SOURCES)
SHORT_SIDE = 160   # source images are resized to this short side
FRAMES = 8
RES = 32           # output side
SS = 2             # render at RES * SS, then box-filter down
WIN_MIN, WIN_MAX = 40.0, 100.0   # window side at frame 0, source px
SPEED_MIN, SPEED_MAX = 0.5, 3.0  # pan speed, output px per frame
ZOOM_MAX = 0.06                  # |log zoom| per frame


def prepare(root="/"):
    from PIL import Image
    out = {}
    for i, (name, folder, fname) in enumerate(SOURCES):
        path = os.path.join(root, folder, fname)
        if not os.path.exists(path):
            raise SystemExit(f"{path} not found: install python3-skimage and gnome-backgrounds "
                             f"(or dpkg -x their .debs into a folder given as --root)")
        im = Image.open(path).convert("RGB")
        w, h = im.size
        f = SHORT_SIDE / min(w, h)
        im = im.resize((max(SHORT_SIDE, round(w * f)), max(SHORT_SIDE, round(h * f))), Image.LANCZOS)
        out[f"img{i}"] = np.asarray(im, dtype=np.uint8)
    return out


def load_sources(path):
    z = np.load(path)
    return [z[f"img{i}"] for i in range(NUM_CLASSES)]


def clip_params(sizes, n, seed):
    """Per clip: label, frame-0 window side s0, log zoom per frame, velocity (source px per
    frame, x/y) and frame-0 centre. sizes[c] = (H, W) of source c."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(NUM_CLASSES), n // NUM_CLASSES)
    labels = np.concatenate([labels, rng.integers(0, NUM_CLASSES, n - labels.shape[0])])
    labels = labels[rng.permutation(n)]
    s0 = rng.uniform(WIN_MIN, WIN_MAX, n)
    logz = rng.uniform(-ZOOM_MAX, ZOOM_MAX, n) * (rng.random(n) < 2.0 / 3.0)  # a third pure pans
    ang = rng.uniform(0, 2 * math.pi, n)
    speed = rng.uniform(SPEED_MIN, SPEED_MAX, n) * (rng.random(n) < 0.9)      # a tenth pure zooms
    u = rng.random((n, 2))
    k = np.arange(FRAMES)
    p = np.zeros((n, 6))  # s0, logz, vx, vy, cx0, cy0
    for i in range(n):
        h, w = sizes[labels[i]]
        s, lz = s0[i], logz[i]
        v = speed[i] * s / RES * np.array([math.cos(ang[i]), math.sin(ang[i])])
        while True:
            sk = s * np.exp(lz * k)
            lo = [np.max(sk / 2 - k * v[a]) for a in range(2)]
            hi = [np.min(dim - sk / 2 - k * v[a]) for a, dim in enumerate((w, h))]
            if lo[0] <= hi[0] and lo[1] <= hi[1]:
                break
            v = v * 0.5 if np.abs(v).max() > 1e-3 else v * 0.0
            if not v.any():
                s *= 0.9
        c = [lo[a] + u[i, a] * (hi[a] - lo[a]) for a in range(2)]
        p[i] = (s, lz, v[0], v[1], c[0], c[1])
    return labels, p


def render_clips(sources, n, seed, device="cpu", chunk=2048):
    """n clips [n, FRAMES, 3, RES, RES] uint8 (torch, on device) and labels [n] int64."""
    import torch
    labels, p = clip_params([s.shape[:2] for s in sources], n, seed)
    out = torch.empty((n, FRAMES, 3, RES, RES), dtype=torch.uint8, device=device)
    imgs = [torch.from_numpy(s).to(device).permute(2, 0, 1).float() for s in sources]  # [3, H, W]
    r = RES * SS
    grid = (torch.arange(r, dtype=torch.float32, device=device) + 0.5) / r - 0.5  # [-0.5, 0.5) window units
    kk = torch.arange(FRAMES, dtype=torch.float32, device=device)
    pt = torch.from_numpy(p).float().to(device)
    lab = torch.from_numpy(labels).to(device)
    for c in range(NUM_CLASSES):
        idx_all = torch.nonzero(lab == c).flatten()
        img = imgs[c]
        _, h, w = img.shape
        for j in range(0, idx_all.shape[0], chunk):
            idx = idx_all[j:j + chunk]
            q = pt[idx]
            side = q[:, 0:1] * torch.exp(q[:, 1:2] * kk)           # [m, F]
            cx = q[:, 4:5] + q[:, 2:3] * kk
            cy = q[:, 5:6] + q[:, 3:4] * kk
            # pixel-centre coordinates in the source, [m, F, r] per axis
            xs = cx[..., None] + side[..., None] * grid - 0.5
            ys = cy[..., None] + side[..., None] * grid - 0.5
            x0, y0 = xs.floor(), ys.floor()
            fx, fy = xs - x0, ys - y0
            x0, y0 = x0.long(), y0.long()
            x1, y1 = (x0 + 1).clamp(0, w - 1), (y0 + 1).clamp(0, h - 1)
            x0, y0 = x0.clamp(0, w - 1), y0.clamp(0, h - 1)
            def g(yy, xx):  # -> [3, m, F, r, r]
                return img[:, yy[..., :, None], xx[..., None, :]]
            fxb, fyb = fx[..., None, :], fy[..., :, None]
            v = (g(y0, x0) * (1 - fxb) + g(y0, x1) * fxb) * (1 - fyb) + \
                (g(y1, x0) * (1 - fxb) + g(y1, x1) * fxb) * fyb
            m = idx.shape[0]
            v = v.reshape(3, m, FRAMES, RES, SS, RES, SS).mean(dim=(4, 6))
            out[idx] = v.permute(1, 2, 0, 3, 4).round().clamp(0, 255).to(torch.uint8)
    return out, torch.from_numpy(labels)


def save_clip_grid(x, path, scale=2):
    """x: [rows, F, 3, 32, 32] float in [-1, 1] or uint8 -> PNG, one clip per row."""
    from PIL import Image
    x = np.asarray(x)
    if x.dtype != np.uint8:
        x = np.clip((x.astype(np.float32) + 1) * 127.5, 0, 255).round().astype(np.uint8)
    rows, f, c, h, w = x.shape
    if c == 1:
        x = np.repeat(x, 3, axis=2)
    g = np.full((rows * (h + 2), f * (w + 2), 3), 64, np.uint8)
    for r in range(rows):
        for k in range(f):
            g[r * (h + 2) + 1:r * (h + 2) + 1 + h, k * (w + 2) + 1:k * (w + 2) + 1 + w] = x[r, k].transpose(1, 2, 0)
    im = Image.fromarray(g)
    im.resize((im.width * scale, im.height * scale), Image.NEAREST).save(path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/", help="file system root that holds the packages' files")
    ap.add_argument("--out", default=os.path.join(here, "data"))
    ap.add_argument("--preview", help="also write a PNG of one rendered clip per class")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    src = prepare(args.root)
    path = os.path.join(args.out, "sources.npz")
    np.savez(path, **src)
    print(f"wrote {path}: " + ", ".join(f"{n} {src[f'img{i}'].shape[1]}x{src[f'img{i}'].shape[0]}"
                                       for i, (n, _, _) in enumerate(SOURCES)))
    if args.preview:
        import torch
        x, y = render_clips(load_sources(path), 256, seed=123)
        first = [int(torch.nonzero(y == c)[0]) for c in range(NUM_CLASSES)]
        save_clip_grid(x[first].numpy(), args.preview)
        print("wrote", args.preview)


if __name__ == "__main__":
    main()
