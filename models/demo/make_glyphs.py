#!/usr/bin/env python3
"""Render the glyph datasets the demo DiTs are trained on.

Data comes only from fonts Debian ships, so anyone can rebuild it offline:

    apt-get install -y fonts-dejavu-core fonts-dejavu-extra fonts-liberation \
        fonts-freefont-ttf python3-pil python3-numpy

Every TrueType file of those packages (found under /usr/share/fonts/truetype/{dejavu,
liberation,freefont}) renders each class glyph once at high resolution; samples are
random affine warps of those renders (scale, rotation, shift, optional bolder stroke),
box-filtered down to 32x32. Ink is 255, background 0 (the models see x/127.5 - 1).

Outputs (uint8, written to --out, default models/demo/data/):
  glyph_images_{train,test}.npz    x: [N, 1, 32, 32], y: [N] class ids
  glyph_videos_{train,test}.npz    x: [N, 8, 1, 32, 32] (8 frames of one glyph moving
                                   and rotating smoothly), y: [N]

The class list is CLASSES below; a class id is its index in that string.
Usage: /usr/bin/python3 models/demo/make_glyphs.py [--out DIR] [--images N] [--videos N]
"""
import argparse
import glob
import math
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Digits plus letters that no digit resembles, so classes stay distinct at 32x32.
CLASSES = "0123456789AEHKRX"
FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation",
             "/usr/share/fonts/truetype/freefont"]
RES = 32          # output side
SS = 4            # supersampling factor: warp at 128x128, then box-filter down
HI = 192          # side of the high-resolution glyph canvas
GLYPH_PX = 120    # target glyph height on the high-resolution canvas
FRAMES = 8


def list_fonts():
    fonts = []
    for d in FONT_DIRS:
        fonts += sorted(glob.glob(os.path.join(d, "*.ttf")))
    # The math font maps Latin letters to the same outlines as DejaVu Serif; drop it
    # so no outline is counted twice.
    return [f for f in fonts if "Math" not in os.path.basename(f)]


def render_base(font_path, ch, stroke):
    """Glyph centred on a HI x HI canvas, its ink box scaled to GLYPH_PX tall."""
    font = ImageFont.truetype(font_path, 100)
    l, t, r, b = font.getbbox(ch, stroke_width=stroke)
    h = max(b - t, 1)
    size = max(8, int(round(100 * GLYPH_PX / h)))
    font = ImageFont.truetype(font_path, size)
    sw = int(round(stroke * size / 100))
    l, t, r, b = font.getbbox(ch, stroke_width=sw)
    img = Image.new("L", (HI, HI), 0)
    d = ImageDraw.Draw(img)
    x = (HI - (r - l)) / 2 - l
    y = (HI - (b - t)) / 2 - t
    d.text((x, y), ch, fill=255, font=font, stroke_width=sw, stroke_fill=255)
    return img


def warp(base, scale, angle_deg, dx, dy):
    """Render base with the glyph scale*RES px tall, rotated by angle_deg, its centre
    shifted by (dx, dy) output pixels; returns uint8 [RES, RES]."""
    out = RES * SS
    # Output pixel p maps to input pixel c_in + R(-a) (p - c_out - d) / k,
    # k = (supersampled) output pixels per input pixel.
    k = scale * out / GLYPH_PX
    a = math.radians(angle_deg)
    ca, sa = math.cos(a) / k, math.sin(a) / k
    cx_o, cy_o = out / 2 + dx * SS, out / 2 + dy * SS
    cx_i = cy_i = HI / 2
    # PIL AFFINE data (a,b,c,d,e,f): x_in = a x + b y + c, y_in = d x + e y + f.
    coeffs = (ca, sa, cx_i - ca * cx_o - sa * cy_o,
              -sa, ca, cy_i + sa * cx_o - ca * cy_o)
    hi = base.transform((out, out), Image.AFFINE, coeffs, resample=Image.BILINEAR)
    return np.asarray(hi.resize((RES, RES), Image.BOX), dtype=np.uint8)


def make_bases(fonts):
    """bases[(font_idx, class_idx, stroke)] for stroke in (0, 1): plain and bolder."""
    bases = {}
    for fi, f in enumerate(fonts):
        for ci, ch in enumerate(CLASSES):
            for s in (0, 1):
                bases[(fi, ci, s)] = render_base(f, ch, 4 * s)
    return bases


def make_images(bases, n_fonts, n, rng):
    x = np.zeros((n, 1, RES, RES), np.uint8)
    y = rng.integers(0, len(CLASSES), n)
    for i in range(n):
        base = bases[(int(rng.integers(n_fonts)), int(y[i]), int(rng.random() < 0.3))]
        x[i, 0] = warp(base, rng.uniform(0.58, 0.80), rng.uniform(-12, 12),
                       rng.uniform(-2, 2), rng.uniform(-2, 2))
    return x, y


def make_videos(bases, n_fonts, n, rng):
    """8 frames: the glyph moves on a straight line and turns at a constant rate."""
    x = np.zeros((n, FRAMES, 1, RES, RES), np.uint8)
    y = rng.integers(0, len(CLASSES), n)
    for i in range(n):
        base = bases[(int(rng.integers(n_fonts)), int(y[i]), int(rng.random() < 0.3))]
        scale = rng.uniform(0.48, 0.62)
        a0, da = rng.uniform(-15, 15), rng.uniform(-4, 4)
        # Start and end points inside a +-3.5 px box keep the glyph in frame.
        p0 = rng.uniform(-3.5, 3.5, 2)
        p1 = rng.uniform(-3.5, 3.5, 2)
        for f in range(FRAMES):
            u = f / (FRAMES - 1)
            p = (1 - u) * p0 + u * p1
            x[i, f, 0] = warp(base, scale, a0 + da * f, p[0], p[1])
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    ap.add_argument("--images", type=int, default=48000)
    ap.add_argument("--videos", type=int, default=12000)
    ap.add_argument("--test-fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    fonts = list_fonts()
    if not fonts:
        raise SystemExit("no fonts found; install the Debian packages listed in the docstring")
    print(f"{len(fonts)} fonts, {len(CLASSES)} classes: {CLASSES}")
    bases = make_bases(fonts)
    os.makedirs(args.out, exist_ok=True)
    for split, seed_off, frac in (("train", 0, 1 - args.test_fraction), ("test", 1, args.test_fraction)):
        rng = np.random.default_rng(args.seed * 2 + seed_off)
        xi, yi = make_images(bases, len(fonts), int(args.images * frac), rng)
        np.savez_compressed(os.path.join(args.out, f"glyph_images_{split}.npz"), x=xi, y=yi)
        xv, yv = make_videos(bases, len(fonts), int(args.videos * frac), rng)
        np.savez_compressed(os.path.join(args.out, f"glyph_videos_{split}.npz"), x=xv, y=yv)
        print(f"{split}: images {xi.shape}, videos {xv.shape}")


if __name__ == "__main__":
    main()
