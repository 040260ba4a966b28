"""A DiT built with the writer API runs end to end and matches PyTorch.

1. tests/tools/make_dit_fixture writes a DiT (4 adaLN-Zero blocks, hidden 128,
   odd-free but realistic shapes) with seeded weights, its weights as .npy and
   inputs.
2. `edge-run --once` runs the graph; the PyTorch oracle (dit_oracle.py, float64)
   computes the same forward from the same weights: max relative error <= 1e-4.
3. A 20-step flow-matching Euler run of `edge-run` fed the same noise matches the
   PyTorch sampler at PSNR >= 60 dB, and the runtime's seeded noise matches the
   independent NumPy Philox copy.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import dit_oracle  # noqa: E402
import edge_noise  # noqa: E402
from checks import run_alone  # noqa: E402
from edge_dit.metrics import psnr  # noqa: E402

BUILD = os.environ.get("EDGE_BUILD_DIR", "build")
EDGE_RUN = os.path.join(BUILD, "runtime", "edge-run")
MAKE_FIXTURE = os.path.join(BUILD, "tests", "make_dit_fixture")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print("command failed:", " ".join(cmd), "\n", r.stdout, r.stderr)
        sys.exit(1)
    return r.stdout


def rel_err(ref, test):
    return float(np.max(np.abs(ref - test)) / max(1e-12, np.max(np.abs(ref))))


def test_dit_end_to_end():
    failures = []
    with tempfile.TemporaryDirectory() as d:
        run([MAKE_FIXTURE, d])
        cfg = json.load(open(os.path.join(d, "config.json")))
        model = dit_oracle.load_model(os.path.join(d, "weights"), cfg)
        x = np.load(os.path.join(d, "x.npy"))
        t = np.load(os.path.join(d, "t.npy"))
        y = np.load(os.path.join(d, "y.npy"))
        out_dir = os.path.join(d, "out")
        run([EDGE_RUN, os.path.join(d, "model.fb"), "--once", "--input", "x=" + os.path.join(d, "x.npy"),
             "--input", "t=" + os.path.join(d, "t.npy"), "--input", "y=" + os.path.join(d, "y.npy"),
             "--out-dir", out_dir])
        got = np.load(os.path.join(out_dir, "out.npy"))
        ref = dit_oracle.dit_forward(model, torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(y)).numpy()
        e = rel_err(ref, got)
        print(f"one forward: shape {got.shape}, max rel err vs PyTorch {e:.3e} (limit 1e-4)")
        if got.shape != ref.shape or not e <= 1e-4:
            failures.append("forward mismatch")

        # Full sampling run with the same noise on both sides.
        steps, n = 20, 2
        L = int(np.prod(cfg["latent_shape"]))
        noise = np.stack([edge_noise.gaussian_noise(7, k, L) for k in range(n)]).reshape([n] + cfg["latent_shape"])
        np.save(os.path.join(d, "noise.npy"), noise.astype(np.float32))
        samples = os.path.join(d, "samples.npy")
        run([EDGE_RUN, os.path.join(d, "model.fb"), "--steps", str(steps), "--num-samples", str(n),
             "--noise", os.path.join(d, "noise.npy"), "--guidance", "1", "--out", samples])
        got_s = np.load(samples)
        classes = torch.arange(n) % cfg["num_classes"]

        def model_fn(xx, tt):
            return dit_oracle.dit_forward(model, xx, torch.full((n,), tt, dtype=torch.float64), classes)

        ref_s = dit_oracle.flow_euler_sample(model_fn, torch.from_numpy(noise), steps).numpy()
        p = psnr(ref_s, got_s, "range")
        print(f"20-step flow Euler sampling: PSNR vs PyTorch {p:.1f} dB (limit 60)")
        if not p >= 60:
            failures.append("sampling mismatch")

        # Seeded noise: runtime vs the NumPy Philox copy (no --noise).
        run([EDGE_RUN, os.path.join(d, "model.fb"), "--steps", "1", "--num-samples", "1", "--seed", "123",
             "--dump-noise", os.path.join(d, "rt_noise.npy"), "--out", os.path.join(d, "s1.npy")])
        rt_noise = np.load(os.path.join(d, "rt_noise.npy")).reshape(-1)
        py_noise = edge_noise.gaussian_noise(123, 0, rt_noise.size)
        ne = float(np.max(np.abs(rt_noise - py_noise)))
        print(f"seeded noise vs NumPy Philox: max abs diff {ne:.2e}; mean {rt_noise.mean():+.3f} std {rt_noise.std():.3f}")
        if not ne <= 1e-6:
            failures.append("noise mismatch")

    assert not failures, "FAILED: " + ", ".join(failures)
    print("ok")


if __name__ == "__main__":
    run_alone(__file__)
