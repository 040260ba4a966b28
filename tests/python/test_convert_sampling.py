"""Fixture (a): a full 20-step flow-matching run of edge-run, with classifier-free
guidance, matches a PyTorch implementation of the same sampler fed the same
noise at PSNR >= 60 dB.

The PyTorch model is rebuilt from the fixture recipe (same seeds) and first
checked against the fixture's saved output, so both sides hold the same weights.
"""
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import convert_util as cu  # noqa: E402
import dit_oracle  # noqa: E402
import edge_noise  # noqa: E402

sys.path.insert(0, cu.MODELS)
import fixtures as fx  # noqa: E402
from checks import run_alone  # noqa: E402
from edge_dit.metrics import psnr  # noqa: E402


def test_convert_sampling():
    torch.manual_seed(1)
    model = fx.randomize(fx.DiT(input_size=32, hidden=128, depth=4, heads=4, num_classes=10), 1).eval()
    d = os.path.join(cu.MODELS, "dit_s2")
    with torch.no_grad():
        out = model(torch.from_numpy(np.load(os.path.join(d, "x.npy"))), torch.from_numpy(np.load(os.path.join(d, "t.npy"))),
                    torch.from_numpy(np.load(os.path.join(d, "y.npy")))).numpy()
    e0 = cu.rel_err(np.load(os.path.join(d, "expected_out.npy")), out)
    print(f"rebuilt PyTorch model vs fixture output: max rel err {e0:.2e}")
    assert e0 <= 1e-6, "the rebuilt model does not hold the fixture's weights"

    steps, guidance, shift, n = 20, 4.0, 1.0, 3
    classes = [3, 7, 0]
    with tempfile.TemporaryDirectory() as w:
        fb = os.path.join(w, "dit_s2.fb")
        cu.convert(os.path.join(d, "model.onnx"), fb, "--sampler", "flow", "--steps", str(steps), "--guidance",
                   str(guidance), "--shift", str(shift), "--latent", "4x32x32", "--roles", "x=latent,t=timestep,y=condition",
                   "--num-classes", "10", "--null-class", "10", "--output-kind", "latent")
        noise = np.stack([edge_noise.gaussian_noise(42, k, 4 * 32 * 32) for k in range(n)]).reshape(n, 4, 32, 32)
        np.save(os.path.join(w, "noise.npy"), noise)
        got_path = os.path.join(w, "samples.npy")
        cu.run([cu.EDGE_RUN, fb, "--noise", os.path.join(w, "noise.npy"), "--class", ",".join(map(str, classes)),
                "--out", got_path, "--quiet", "--threads", "2"])
        got = np.load(got_path)

    ref = []
    for k in range(n):
        y = torch.tensor([classes[k], 10])

        def velocity(x, tt):
            with torch.no_grad():
                v = model(torch.cat([x, x]).float(), torch.full((2,), tt, dtype=torch.float32), y).double()
            v = v[:, :4]  # learned sigma: the prediction is the first C channels
            return v[1:2] + guidance * (v[0:1] - v[1:2])

        ref.append(dit_oracle.flow_euler_sample(velocity, torch.from_numpy(noise[k:k + 1]), steps, shift).numpy())
    ref = np.concatenate(ref)
    p = psnr(ref, got, "range")
    print(f"20-step flow Euler, guidance {guidance}, {n} samples: PSNR vs PyTorch {p:.1f} dB (limit 60)")
    assert p >= 60, f"PSNR {p:.1f} dB < 60"


if __name__ == "__main__":
    run_alone(__file__)
