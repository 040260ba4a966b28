"""Quality testbed on the trained demo models: renders side by side the samples
of each runtime configuration (FP32, INT8, NVFP4, mixed, + delta cache,
+ block-sparse attention) from the same seed, with PSNR vs the FP32 output,
the classifier's accuracy on the samples, and the generation time.

usage: bash models/demo/build_fb.sh build   (makes the .fb files not shipped)
       /usr/bin/python3 bench/quality/demo_quality.py [--build build] [--out bench/results]
Writes OUT/demo_quality.{json,md,png}.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEMO = os.path.join(ROOT, "models", "demo")
sys.path.insert(0, DEMO)
sys.path.insert(0, os.path.join(ROOT, "python"))
import classifier  # noqa: E402
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402

# name, model file, extra edge-run flags
IMAGE_CONFIGS = [
    ("fp32", "glyph_dit.fb", []),
    ("int8", "glyph_dit.fb", ["--precision", "int8"]),
    ("nvfp4", "glyph_dit.fb", ["--precision", "nvfp4"]),
    ("mixed", "glyph_dit_mixed.fb", []),
    ("fp32+cache0.2", "glyph_dit.fb", ["--cache-threshold", "0.2"]),
    ("fp32+cache0.5", "glyph_dit.fb", ["--cache-threshold", "0.5"]),
    ("fp32+sparse0.5", "glyph_dit.fb", ["--attention-density", "0.5"]),
    ("int8+cache0.2+sparse0.5", "glyph_dit.fb", ["--precision", "int8", "--cache-threshold", "0.2",
                                                 "--attention-density", "0.5"]),
]
VIDEO_CONFIGS = [
    ("video fp32", "glyph_video_dit.fb", []),
    ("video mixed", "glyph_video_dit_mixed.fb", []),
    ("video fp32+sparse0.5", "glyph_video_dit.fb", ["--attention-density", "0.5"]),
    ("video fp32+sparse0.25", "glyph_video_dit.fb", ["--attention-density", "0.25"]),
    ("video fp32+cache0.2", "glyph_video_dit.fb", ["--cache-threshold", "0.2"]),
    ("video mixed+cache0.2+sparse0.25", "glyph_video_dit_mixed.fb", ["--cache-threshold", "0.2",
                                                                      "--attention-density", "0.25"]),
]


def run(edge_run, model, out, classes, extra, threads):
    cmd = [edge_run, model, "--class", ",".join(map(str, classes)), "--seed", "0", "--threads", str(threads),
           "--json", "--out", out] + extra
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(" ".join(cmd) + "\n" + r.stderr)
    return json.loads(r.stdout), np.load(out)


def tile(rows, labels, path):
    """rows: list of [n, 32, 32] arrays in [-1, 1] -> one labelled PNG."""
    from PIL import Image, ImageDraw
    n = rows[0].shape[0]
    cell, pad, label_w = 32, 2, 210
    W = label_w + n * (cell + pad) + pad
    H = len(rows) * (cell + pad) + pad
    img = Image.new("L", (W, H), 255)
    draw = ImageDraw.Draw(img)
    for r, (row, lab) in enumerate(zip(rows, labels)):
        y0 = pad + r * (cell + pad)
        draw.text((4, y0 + 10), lab, fill=0)
        for i in range(n):
            a = ((np.clip(row[i], -1, 1) + 1) * 127.5).astype(np.uint8)
            img.paste(Image.fromarray(a, "L"), (label_w + pad + i * (cell + pad), y0))
    img = img.resize((W * 2, H * 2), Image.NEAREST)
    img.save(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    edge_run = os.path.join(args.build, "runtime", "edge-run")
    clf = classifier.load_classifier(os.path.join(DEMO, "glyph_classifier.pt"))
    os.makedirs(args.out, exist_ok=True)
    results, rows, labels = [], [], []
    with tempfile.TemporaryDirectory() as d:
        for group, configs, classes in (("image", IMAGE_CONFIGS, list(range(16))),
                                        ("video", VIDEO_CONFIGS, [0, 5, 10, 15])):
            ref = None
            for name, model, extra in configs:
                path = os.path.join(DEMO, model)
                if not os.path.exists(path):
                    print(f"skip {name}: {model} not built")
                    continue
                info, x = run(edge_run, path, os.path.join(d, "s.npy"), classes, extra, args.threads)
                if ref is None:
                    ref = x
                frames = x.reshape(len(classes), -1, 32, 32)
                acc = classifier.score_samples(clf, torch.from_numpy(frames.reshape(-1, 1, 32, 32).copy()),
                                               torch.tensor(classes))
                skipped = info.get("blocks_skipped", 0)
                total_blocks = skipped + info.get("blocks_computed", 0)
                res = dict(group=group, config=name, model=model, flags=" ".join(extra),
                           total_ms=round(info["total_ms"], 1), psnr_vs_fp32=round(psnr(ref, x, PIXEL_PEAK), 2),
                           rel_l2_vs_fp32=float(np.sqrt(np.sum((ref.astype(np.float64) - x) ** 2) / np.sum(ref.astype(np.float64) ** 2))),
                           classifier_accuracy=round(acc, 3),
                           blocks_skipped_pct=round(100.0 * skipped / total_blocks, 1) if total_blocks else 0.0,
                           model_bytes=os.path.getsize(path))
                results.append(res)
                print(json.dumps(res))
                rows.append(frames[:, 0] if group == "image" else frames.reshape(-1, 32, 32)[:16])
                labels.append(f"{name}  {res['psnr_vs_fp32']:.1f} dB" if res["psnr_vs_fp32"] != float("inf") else name)
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                         text=True).stdout.strip()
    doc = dict(schema="edge.demo_quality.v1", machine=dict(cpu=cpu, arch=platform.machine(), threads=args.threads),
               command="/usr/bin/python3 bench/quality/demo_quality.py", results=results)
    json.dump(doc, open(os.path.join(args.out, "demo_quality.json"), "w"), indent=1)
    with open(os.path.join(args.out, "demo_quality.md"), "w") as f:
        f.write("| model | configuration | PSNR vs FP32 (dB) | rel. L2 | classifier acc. | blocks skipped | time (ms) | file (MB) |\n")
        f.write("|---|---|---|---|---|---|---|---|\n")
        for r in results:
            f.write(f"| {r['group']} | {r['config']} | {r['psnr_vs_fp32']} | {r['rel_l2_vs_fp32']:.2e} | "
                    f"{r['classifier_accuracy']} | {r['blocks_skipped_pct']}% | {r['total_ms']} | "
                    f"{r['model_bytes'] / 1e6:.2f} |\n")
    # Video rows show 4 frames x 4 classes; equal widths for one figure.
    width = max(r.shape[0] for r in rows)
    rows = [np.concatenate([r, np.ones((width - r.shape[0], 32, 32))]) if r.shape[0] < width else r for r in rows]
    tile(rows, labels, os.path.join(args.out, "demo_quality.png"))
    print("wrote", os.path.join(args.out, "demo_quality.{json,md,png}"))


if __name__ == "__main__":
    main()
