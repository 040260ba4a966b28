"""The shipped demo model (models/demo/glyph_dit.fb, trained on glyphs rendered
from Debian fonts) generates recognizable samples: a classifier trained on the
same glyphs recognizes the intended class of edge-run's samples, and INT8
weights stay close to the FP32 output.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

BUILD = os.environ.get("EDGE_BUILD_DIR", "build")
SOURCE = os.environ.get("EDGE_SOURCE_DIR", ".")
EDGE_RUN = os.path.join(BUILD, "runtime", "edge-run")
DEMO = os.path.join(SOURCE, "models", "demo")
sys.path.insert(0, DEMO)
import classifier  # noqa: E402


def generate(model, out, *extra):
    cmd = [EDGE_RUN, model, "--class", ",".join(str(c) for c in list(range(16)) * 2), "--seed", "1",
           "--threads", "2", "--quiet", "--out", out] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(" ".join(cmd), r.stdout, r.stderr)
        sys.exit(1)
    return np.load(out)


def main():
    clf = classifier.load_classifier(os.path.join(DEMO, "glyph_classifier.pt"))
    labels = torch.arange(16).repeat(2)
    failures = []
    with tempfile.TemporaryDirectory() as d:
        fp32 = generate(os.path.join(DEMO, "glyph_dit.fb"), os.path.join(d, "fp32.npy"))
        acc = classifier.score_samples(clf, torch.from_numpy(fp32), labels)
        print(f"FP32: classifier accuracy on 32 edge-run samples {acc:.3f} (limit 0.9)")
        if not acc >= 0.9:
            failures.append("fp32 accuracy")
        int8 = generate(os.path.join(DEMO, "glyph_dit.fb"), os.path.join(d, "int8.npy"), "--precision", "int8")
        mse = float(np.mean((fp32.astype(np.float64) - int8) ** 2))
        psnr = 10 * np.log10(4.0 / mse) if mse > 0 else float("inf")
        acc8 = classifier.score_samples(clf, torch.from_numpy(int8), labels)
        print(f"INT8 weights: PSNR vs FP32 {psnr:.1f} dB (limit 25), accuracy {acc8:.3f}")
        if not psnr >= 25:
            failures.append("int8 psnr")
    if failures:
        print("FAILED:", ", ".join(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
