"""PyTorch oracle for the DiT that runtime/writer/dit_builder.cc writes.

It reads the same weights (one .npy per weight) into python/edge_dit/dit.py's DiT
and runs it in float64 with torch's own ops, independently of the runtime's kernels.
"""
import glob
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit import dit  # noqa: E402


def load_weights(weight_dir):
    w = {}
    for path in glob.glob(os.path.join(weight_dir, "*.npy")):
        name = os.path.basename(path)[:-4]
        w[name] = torch.from_numpy(np.load(path)).double()
    return w


def load_model(weight_dir, cfg):
    """The float64 DiT holding the builder's weights; cfg: the builder's config.json."""
    return dit.builder_dit(cfg, load_weights(weight_dir))


def dit_forward(model, x, t, y):
    """x [B,C,H,W], t [B], y [B] int -> the model's output in float64."""
    with torch.no_grad():
        return model(x.double(), t.double(), y.long())


def flow_euler_sample(model_fn, noise, steps, shift=1.0, timestep_scale=1000.0):
    """Flow matching Euler: x_t = (1-t) x0 + t eps, v = eps - x0, t: 1 -> 0."""
    x = noise.clone().double()
    ts = [1.0 - i / steps for i in range(steps + 1)]
    ts = [shift * t / (1 + (shift - 1) * t) for t in ts]
    for i in range(steps):
        v = model_fn(x, ts[i] * timestep_scale)
        x = x + (ts[i + 1] - ts[i]) * v
    return x
