"""PSNR of full generations (the model's 20 steps, guidance 3, one sample per
class of --classes (default 0-15), seed 0) of converted models against the
FP32 model's own output: over all samples and over the held-back classes only
(>= 4; the converter's output-ranked calibration uses classes 0-3 with noise
seed 1000), plus the worst sample. Deterministic: no timing is taken.

usage: /usr/bin/python3 bench/quality/nvfp4_quality.py --edge-run build/runtime/edge-run \
           --ref image_fp32.fb LABEL=model.fb [LABEL=model.fb ...]
Prints one markdown table row per model.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402


def generate(edge_run, model, out, threads, classes):
    cmd = [edge_run, model, "--class", ",".join(map(str, classes)), "--seed", "0", "--threads", str(threads),
           "--quiet", "--out", out]
    subprocess.run(cmd, check=True, capture_output=True)
    return np.load(out).astype(np.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edge-run", default="build/runtime/edge-run")
    ap.add_argument("--ref", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", default="0-15", help="FIRST-LAST: the classes generated (one sample each)")
    ap.add_argument("--ref-cache", help="reference samples .npy: read if it exists, else written")
    ap.add_argument("models", nargs="+", help="LABEL=model.fb")
    a = ap.parse_args()
    first, last = map(int, a.classes.split("-"))
    classes = list(range(first, last + 1))
    held = [i for i, c in enumerate(classes) if c >= 4]
    with tempfile.TemporaryDirectory() as d:
        if a.ref_cache and os.path.exists(a.ref_cache):
            ref = np.load(a.ref_cache).astype(np.float64)
        else:
            ref = generate(a.edge_run, a.ref, a.ref_cache or os.path.join(d, "ref.npy"), a.threads, classes)
        n = ref.shape[0]
        print(f"| model | file (MB) | PSNR, classes {a.classes} | held-back classes (>= 4) | worst sample |")
        print("|---|---|---|---|---|")
        for i, spec in enumerate(a.models):
            label, path = spec.split("=", 1)
            x = generate(a.edge_run, path, os.path.join(d, f"m{i}.npy"), a.threads, classes)
            per = [psnr(ref[k], x[k], PIXEL_PEAK) for k in range(n)]
            print(f"| {label} | {os.path.getsize(path) / 1e6:.2f} | {psnr(ref, x, PIXEL_PEAK):.2f} dB | "
                  f"{psnr(ref[held], x[held], PIXEL_PEAK):.2f} dB | {min(per):.2f} dB |", flush=True)


if __name__ == "__main__":
    main()
