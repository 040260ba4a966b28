"""Would per-input-channel smoothing (SmoothQuant / AWQ: y = (x / s) (W s)^T,
s_j = max|x_j|^a / max|W_j|^(1-a)) lower the W4A8 error of the demo image
model's Linear layers? Captures each Linear's input over a 20-step guided
sampling run (4 classes, PyTorch, FP32), then per layer simulates the
runtime's W4A8 (NVFP4 weights with MSE-searched block scales, per-token INT8
activations) and prints the relative L2 error of the layer output for several
migration strengths a (a = 0: no smoothing), and the weight-only and
activation-only errors, and the error with a block Hadamard rotation (32)
of K applied to both sides. Layer-level only: no end-to-end generation.

usage: /usr/bin/python3 bench/quality/smooth_probe.py [--model glyph_dit]
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(os.path.dirname(os.path.dirname(HERE)), "models", "demo")
sys.path.insert(0, DEMO)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "python"))
import dit  # noqa: E402
import export_onnx  # noqa: E402

E4M3 = np.array([(m * 2.0 ** -9 if e == 0 else (1 + m / 8.0) * 2.0 ** (e - 7))
                 for c in range(127) for e, m in [(c >> 3, c & 7)]], np.float32)
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], np.float32)
MID = (E2M1[1:] + E2M1[:-1]) / 2


def e2m1_round(a):
    """|q| -> nearest E2M1 magnitude (ties are measure-zero here)."""
    return E2M1[np.searchsorted(MID, np.minimum(a, 6.0))]


def nvfp4_mse(w):
    """Dequantized NVFP4 of w[N, K] (K % 16 == 0) with each block's E4M3 scale searched for least MSE."""
    n, k = w.shape
    g_enc = 448.0 * 6.0 / np.abs(w).max()
    b = w.reshape(n, k // 16, 16)
    ideal = np.abs(b).max(axis=2) / 6.0 * g_enc
    best = np.full(ideal.shape, np.inf)
    out = np.zeros_like(b)
    for s in E4M3[1:]:
        ok = (s >= ideal / 2) & (s <= ideal * 2)
        if not ok.any():
            continue
        d = s / g_enc
        q = np.sign(b) * e2m1_round(np.abs(b) / d) * d
        e = ((q - b) ** 2).sum(axis=2)
        better = ok & (e < best)
        best = np.where(better, e, best)
        out = np.where(better[:, :, None], q, out)
    return out.reshape(n, k)


def int8_per_token(x):
    s = np.abs(x).max(axis=1, keepdims=True) / 127.0
    s[s == 0] = 1
    return np.clip(np.rint(x / s), -127, 127) * s


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="glyph_dit")
    ap.add_argument("--rows", type=int, default=1024, help="input rows kept per layer")
    a = ap.parse_args()
    model, cfg = export_onnx.load_model(DEMO, a.model)
    caps = {}

    def hook(name):
        def f(mod, inp):
            x = inp[0].detach().reshape(-1, inp[0].shape[-1]).numpy()
            caps.setdefault(name, []).append(x[:: max(1, x.shape[0] // 64)])
        return f

    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.startswith("blocks."):
            mod.register_forward_pre_hook(hook(name))
    g = torch.Generator().manual_seed(1000)
    shape = (4, cfg["frames"], cfg["in_channels"], 32, 32) if cfg.get("frames") else (4, cfg["in_channels"], 32, 32)
    with torch.no_grad():
        dit.sample_euler(model, torch.randn(shape, generator=g), torch.arange(4), steps=20, guidance=3.0,
                         shift=1.0 if not cfg.get("frames") else 2.0)
    alphas = [0.0, 0.25, 0.5, 0.75]
    print("| layer | input from | max/mean channel amax | W4 only | A8 only | " +
          " | ".join(f"W4A8 a={al}" for al in alphas) + " | W4A8 Hadamard-32 on K |")
    print("|---|---|---|---|---|" + "---|" * (len(alphas) + 1))
    h = np.array([[1.0]])
    while h.shape[0] < 32:  # Sylvester Hadamard of order 32 (the head dim), orthonormal
        h = np.block([[h, h], [h, -h]])
    h = (h / np.sqrt(32)).astype(np.float32)
    src = {"attn.qkv": "Modulate", "attn.proj": "Attention (V)", "mlp.0": "Modulate", "mlp.2": "GELU",
           "adaLN_modulation.1": "SiLU(c)"}
    mods = dict(model.named_modules())
    for name, xs in caps.items():
        x = np.concatenate(xs)[: a.rows].astype(np.float32)
        w = mods[name].weight.detach().numpy().astype(np.float32)
        y = x @ w.T
        xa = np.abs(x).max(axis=0) + 1e-12
        wa = np.abs(w).max(axis=0) + 1e-12
        row = [rel(y, x @ nvfp4_mse(w).T), rel(y, int8_per_token(x) @ w.T)]
        for al in alphas:
            s = xa ** al / wa ** (1 - al) if al > 0 else np.ones_like(xa)
            row.append(rel(y, int8_per_token(x / s) @ nvfp4_mse(w * s).T))
        hk = np.kron(np.eye(x.shape[1] // 32, dtype=np.float32), h)  # block-diagonal rotation of K
        row.append(rel(y, int8_per_token(x @ hk) @ nvfp4_mse(w @ hk).T))
        kind = next((v for k, v in src.items() if name.endswith(k)), "?")
        print(f"| {name} | {kind} | {xa.max() / xa.mean():.1f} | " + " | ".join(f"{v:.4f}" for v in row) + " |",
              flush=True)


if __name__ == "__main__":
    main()
