"""The testbed video DiT (models/testbed, trained on camera motion over photographs):
one forward of edge-run's FP32 graph (the cond + uncond batch of a guided step) agrees
with the PyTorch model on the same inputs, at an early and a late timestep.

The .fb is git-ignored (bash models/testbed/build_fb.sh BUILD makes it); without it the
test says so and passes. The full 20-step comparison is
bench/quality/testbed_quality.py --torch-check.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import torch

BUILD = os.environ.get("EDGE_BUILD_DIR", "build")
SOURCE = os.environ.get("EDGE_SOURCE_DIR", ".")
EDGE_RUN = os.path.join(BUILD, "runtime", "edge-run")
TESTBED = os.path.join(SOURCE, "models", "testbed")
MODEL = os.path.join(TESTBED, "testbed_video_dit.fb")
sys.path.insert(0, os.path.join(SOURCE, "models", "demo"))
from export_onnx import load_model  # noqa: E402
from checks import run_alone  # noqa: E402


def test_testbed_model():
    if not os.path.exists(MODEL):
        pytest.skip(f"{MODEL} not built (bash models/testbed/build_fb.sh {BUILD})")
    model, _ = load_model(TESTBED, "testbed_video_dit")
    rng = np.random.default_rng(3)
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        for tval in (950.0, 260.0):
            x = rng.standard_normal((2, 8, 3, 32, 32), dtype=np.float32)
            t = np.full((2,), tval, np.float32)
            y = np.array([0, 16], np.int64)
            for n, a in (("x", x), ("t", t), ("y", y)):
                np.save(os.path.join(d, n + ".npy"), a)
            cmd = [EDGE_RUN, MODEL, "--once", "--threads", "2", "--quiet", "--out-dir", os.path.join(d, "o")]
            cmd += sum((["--input", f"{n}={os.path.join(d, n + '.npy')}"] for n in "xty"), [])
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(" ".join(cmd), r.stdout, r.stderr)
                sys.exit(1)
            out = np.load(os.path.join(d, "o", "v.npy"))
            with torch.no_grad():
                ref = model(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(y)).numpy()
            rel = float(np.linalg.norm(out.astype(np.float64) - ref) / np.linalg.norm(ref))
            print(f"t={tval:.0f}: relative L2 edge-run vs PyTorch {rel:.2e} (limit 1e-4)")
            worst = max(worst, rel)
    assert worst <= 1e-4, f"relative L2 {worst:.2e} > 1e-4"


if __name__ == "__main__":
    run_alone(__file__)
