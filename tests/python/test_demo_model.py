"""The shipped demo model (models/demo/glyph_dit.fb, trained on glyphs rendered
from Debian fonts) generates recognizable samples: a classifier trained on the
same glyphs recognizes the intended class of edge-run's samples. Each
approximation (INT8 and NVFP4 weights, the step cache, tile- and
cluster-sparse attention, INT8 attention) keeps the classifier's accuracy and
a PSNR against the FP32 samples no lower than a floor set 3.5 dB under the
value measured when the floor was set, so a 5 dB regression fails.

One sample per class (16), 20 steps, guidance 3 (the model's defaults), seed 1,
2 threads: seven generations (FP32 and six approximations) of about 25 s of
CPU time each on a 2-core Zen 3.
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
from checks import run_alone  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402

CLASSES = list(range(16))

# name, edge-run options, PSNR floor in dB: 3.5 dB under the value measured
# with these settings (in the comment; x86-64 AVX2, 2 threads).
APPROXIMATIONS = [
    ("int8 weights", ["--precision", "int8"], 33.1),  # 36.6
    ("nvfp4 weights", ["--precision", "nvfp4"], 12.2),  # 15.7
    ("step cache tdc 0.2", ["--cache", "tdc", "--cache-threshold", "0.2"], 20.1),  # 23.6
    ("tile-sparse attention 0.5", ["--attention-density", "0.5"], 11.6),  # 15.1
    ("cluster-sparse attention", ["--attention-sparse", "clusters"], 22.0),  # 25.5
    ("int8 attention", ["--attention-precision", "int8"], 47.2),  # 50.7
]
ACCURACY_FLOOR = 0.875  # of 16 samples: at most two misses (all measured 1.0)


def generate(model, out, *extra):
    cmd = [EDGE_RUN, model, "--class", ",".join(str(c) for c in CLASSES), "--seed", "1",
           "--threads", "2", "--quiet", "--out", out] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(" ".join(cmd), r.stdout, r.stderr)
        sys.exit(1)
    return np.load(out)


def test_demo_model():
    clf = classifier.load_classifier(os.path.join(DEMO, "glyph_classifier.pt"))
    labels = torch.tensor(CLASSES)
    model = os.path.join(DEMO, "glyph_dit.fb")
    failures = []
    with tempfile.TemporaryDirectory() as d:
        fp32 = generate(model, os.path.join(d, "fp32.npy"))
        acc = classifier.score_samples(clf, torch.from_numpy(fp32), labels)
        print(f"FP32: classifier accuracy on {len(CLASSES)} edge-run samples {acc:.3f} (floor {ACCURACY_FLOOR})")
        if not acc >= ACCURACY_FLOOR:
            failures.append("fp32 accuracy")
        for i, (name, extra, floor) in enumerate(APPROXIMATIONS):
            got = generate(model, os.path.join(d, f"a{i}.npy"), *extra)
            p = psnr(fp32, got, PIXEL_PEAK)
            a = classifier.score_samples(clf, torch.from_numpy(got), labels)
            print(f"{name}: PSNR vs FP32 {p:.1f} dB (floor {floor}), accuracy {a:.3f} (floor {ACCURACY_FLOOR})")
            if not p >= floor:
                failures.append(f"{name} psnr")
            if not a >= ACCURACY_FLOOR:
                failures.append(f"{name} accuracy")
    assert not failures, "FAILED: " + ", ".join(failures)
    print("ok")


if __name__ == "__main__":
    run_alone(__file__)
