"""PyTorch oracle for the DiT that runtime/writer/dit_builder.cc writes.

It reads the same weights (one .npy per weight) and computes the forward pass
with torch's own ops, written independently of the runtime's kernels.
"""
import glob
import math
import os

import numpy as np
import torch
import torch.nn.functional as F


def load_weights(weight_dir):
    w = {}
    for path in glob.glob(os.path.join(weight_dir, "*.npy")):
        name = os.path.basename(path)[:-4]
        w[name] = torch.from_numpy(np.load(path)).double()
    return w


def timestep_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
    args = t.double()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def dit_forward(w, x, t, y, cfg):
    """x [B,C,H,W], t [B], y [B] int; cfg: dict with patch, hidden, depth, heads, learn_sigma."""
    x = x.double()
    P, D, heads = cfg["patch"], cfg["hidden"], cfg["heads"]
    B, C, H, W = x.shape
    h = F.conv2d(x, w["x_embedder.proj.weight"], w["x_embedder.proj.bias"], stride=P)
    h = h.flatten(2).transpose(1, 2) + w["pos_embed"]
    lin = lambda name, v: F.linear(v, w[name + ".weight"], w[name + ".bias"])
    te = lin("t_embedder.mlp.2", F.silu(lin("t_embedder.mlp.0", timestep_embedding(t, cfg["freq_dim"]))))
    c = te + w["y_embedder.embedding_table.weight"][y.long()]
    c = F.silu(c)
    N = h.shape[1]
    dh = D // heads
    for i in range(cfg["depth"]):
        p = f"blocks.{i}"
        mod = lin(p + ".adaLN_modulation.1", c).chunk(6, dim=1)
        sm, scm, gm, sp, scp, gp = [m[:, None, :] for m in mod]
        a = F.layer_norm(h, (D,), eps=1e-6) * (1 + scm) + sm
        qkv = lin(p + ".attn.qkv", a).reshape(B, N, 3, heads, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dh), dim=-1) @ v
        att = att.transpose(1, 2).reshape(B, N, D)
        h = h + gm * lin(p + ".attn.proj", att)
        m = F.layer_norm(h, (D,), eps=1e-6) * (1 + scp) + sp
        m = lin(p + ".mlp.fc2", F.gelu(lin(p + ".mlp.fc1", m), approximate="tanh"))
        h = h + gp * m
    shift, scale = lin("final_layer.adaLN_modulation.1", c).chunk(2, dim=1)
    h = F.layer_norm(h, (D,), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]
    h = lin("final_layer.linear", h)
    Cout = h.shape[-1] // (P * P)
    hp = H // P
    h = h.reshape(B, hp, hp, P, P, Cout).permute(0, 5, 1, 3, 2, 4).reshape(B, Cout, H, W)
    return h


def flow_euler_sample(model_fn, noise, steps, shift=1.0, timestep_scale=1000.0):
    """Flow matching Euler: x_t = (1-t) x0 + t eps, v = eps - x0, t: 1 -> 0."""
    x = noise.clone().double()
    ts = [1.0 - i / steps for i in range(steps + 1)]
    ts = [shift * t / (1 + (shift - 1) * t) for t in ts]
    for i in range(steps):
        v = model_fn(x, ts[i] * timestep_scale)
        x = x + (ts[i + 1] - ts[i]) * v
    return x


def psnr(ref, test, peak=None):
    ref = np.asarray(ref, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    mse = np.mean((ref - test) ** 2)
    if peak is None:
        peak = np.max(ref) - np.min(ref)
    if mse == 0:
        return float("inf")
    return 10 * np.log10(peak ** 2 / mse)
