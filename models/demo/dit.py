"""The glyph demos' DiTs (image and video): configurations, cost and sampling.

The model itself is python/edge_dit/dit.py's DiT (imported here as GlyphDiT, with its
defaults: frozen-affine LayerNorm, MLP layers named 0/1/2 as in the checkpoints). It
predicts the flow-matching velocity v = noise - x0 for x_t = (1 - t) x0 + t noise and
is fed timestep = t * TIMESTEP_SCALE.

Image model: x [B, 1, 32, 32] -> 256 tokens, fixed 2-D sin-cos position embedding.
Video model: x [B, 8, 1, 32, 32] -> 8*16*16 = 2048 tokens, 3-D axial RoPE on q and k
(rotate-half convention; cos/sin tables [N, head_dim] are graph constants).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
# Re-exported: the demo, latent and testbed scripts import these from here.
from edge_dit.dit import TIMESTEP_SCALE, rotate_half  # noqa: E402,F401
from edge_dit.dit import DiT as GlyphDiT  # noqa: E402,F401


IMAGE_CONFIG = dict(input_size=32, in_channels=1, patch=2, hidden=128, depth=6, heads=4,
                    mlp_ratio=4.0, num_classes=16, frames=0)
VIDEO_CONFIG = dict(input_size=32, in_channels=1, patch=2, hidden=128, depth=4, heads=4,
                    mlp_ratio=4.0, num_classes=16, frames=8)


def flops_per_forward(cfg):
    """Multiply-adds x 2 for one sample (linear layers, attention, patch in/out)."""
    d, L, m = cfg["hidden"], cfg["depth"], cfg["mlp_ratio"]
    g = cfg["input_size"] // cfg["patch"]
    n = max(cfg["frames"], 1) * g * g
    pp = cfg["patch"] ** 2 * cfg["in_channels"]
    per_tok = L * (4 * d * d + 2 * m * d * d) + 2 * pp * d
    attn = L * 2 * n * n * d
    cond = 256 * d + d * d + L * 6 * d * d + 2 * d * d
    return 2 * (n * per_tok + attn + cond)


def shift_time(t, shift):
    """Flow time shift: t' = s t / (1 + (s - 1) t)."""
    return shift * t / (1 + (shift - 1) * t)


@torch.no_grad()
def sample_euler(model, noise, labels, steps=20, guidance=3.0, shift=1.0, batched_cfg=True):
    """Euler integration of dx/dt = v from t = 1 (noise) to t = 0, with CFG
    v = v_u + g (v_c - v_u). Returns x at t = 0, in [-1, 1] nominally."""
    x = noise.clone()
    b = x.shape[0]
    ts = shift_time(torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64), shift)
    null = torch.full_like(labels, model.null_class)
    for i in range(steps):
        t, t_next = float(ts[i]), float(ts[i + 1])
        tt = torch.full((b,), t * TIMESTEP_SCALE, dtype=x.dtype, device=x.device)
        if guidance == 1.0:
            v = model(x, tt, labels)
        elif batched_cfg:
            vv = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null]))
            v_c, v_u = vv[:b], vv[b:]
            v = v_u + guidance * (v_c - v_u)
        else:
            v_c = model(x, tt, labels)
            v_u = model(x, tt, null)
            v = v_u + guidance * (v_c - v_u)
        x = x + (t_next - t) * v
    return x
