"""Small PyTorch models used as converter fixtures, and their ONNX export.

Run with Debian's /usr/bin/python3 (torch 1.13, onnx 1.12). Every model uses a
fixed seed and random (not zero) init, so each block does real work.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit import dit  # noqa: E402
from edge_dit.dit import modulate  # noqa: E402

# ---------------------------------------------------------------------------
# Export helper
# ---------------------------------------------------------------------------


def export(model, args, path, input_names, output_names, opset=17, dynamic_axes=None):
    if opset >= 17:
        dit.export_layer_norm_without_affine()
    model.eval()
    # Grad mode stays on: nn.MultiheadAttention's fused inference path (which
    # has no ONNX export) is only taken when grad is off.
    if True:
        torch.onnx.export(model, args, path, opset_version=opset, do_constant_folding=True,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes)
    import onnx
    onnx.checker.check_model(onnx.load(path))


def randomize(model, seed, std=0.05):
    """Random weights everywhere (adaLN-Zero would make blocks identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() == 1:  # norm gains
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))
    return model


# ---------------------------------------------------------------------------
# (a) the DiT as facebookresearch/DiT's models.py writes it
# ---------------------------------------------------------------------------
#
# python/edge_dit/dit.py's DiT with the reference code's options (learned sigma, a
# learned position table, LayerNorm without affine, timm's Mlp names) and its export
# spelling where it differs from the demo models', so that the converter is tested on
# both: qkv.unbind (Split + Squeeze), t[:, None] in the timestep embedding, no token
# reshape after the patch embedding, an Einsum unpatchify.

REFERENCE_BLOCK = dict(norm_affine=False, mlp_names=("fc1", "act", "fc2"), qkv_unbind=True)


def timestep_embedding(t, dim, max_period=10000):
    """dit.timestep_embedding in the reference code's spelling (Unsqueeze before Cast,
    Concat on axis -1): the graphs of dit_s2 and video_block hold it."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedder(dit.TimestepEmbedder):
    def forward(self, t):
        return self.mlp(timestep_embedding(t, self.freq_dim))


class DiTBlock(dit.DiTBlock):
    """One reference block (the single_block fixture)."""

    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__(dim, heads, mlp_ratio, **REFERENCE_BLOCK)


class DiT(dit.DiT):
    """Class-conditional DiT (adaLN-Zero blocks, patch embedding, learned sigma)."""

    def __init__(self, input_size=32, patch=2, in_channels=4, hidden=128, depth=4, heads=4,
                 mlp_ratio=4.0, num_classes=10, learn_sigma=True):
        super().__init__(input_size=input_size, in_channels=in_channels, patch=patch, hidden=hidden,
                         depth=depth, heads=heads, mlp_ratio=mlp_ratio, num_classes=num_classes,
                         learn_sigma=learn_sigma, pos_embed="learned", **REFERENCE_BLOCK)
        self.t_embedder = TimestepEmbedder(hidden)  # keeps its place in the parameter order

    def patchify(self, x):
        return self.x_embedder(x).flatten(2).transpose(1, 2), None

    def unpatchify(self, x, b):
        c = self.out_channels
        p = self.patch
        h = int(x.shape[1] ** 0.5)
        x = x.reshape(x.shape[0], h, h, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, h * p)


# ---------------------------------------------------------------------------
# (b) text-conditioned block: RMSNorm, QK-norm, cross-attention (Wan/PixArt style)
# ---------------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class RMSNormDiv(nn.Module):
    """Pow / ReduceMean / Add / Sqrt / Div form."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * (x / torch.sqrt(torch.mean(x ** 2, dim=-1, keepdim=True) + self.eps))


class SelfAttnQKNorm(nn.Module):
    """Separate q/k/v projections, RMSNorm on q and k over the full width, Div scale."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = RMSNorm(dim)
        self.norm_k = RMSNormDiv(dim)

    def forward(self, x):
        B, N, C = x.shape
        h, d = self.heads, C // self.heads
        q = self.norm_q(self.q(x)).view(B, N, h, d).transpose(1, 2)
        k = self.norm_k(self.k(x)).view(B, N, h, d).transpose(1, 2)
        v = self.v(x).view(B, N, h, d).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
        o = torch.matmul(torch.softmax(s, dim=-1), v)
        return self.o(o.transpose(1, 2).reshape(B, N, C))


class CrossAttn(nn.Module):
    """Cross-attention to text tokens; scale applied to q and k separately."""

    def __init__(self, dim, ctx_dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(ctx_dim, 2 * dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = RMSNorm(dim // heads)  # per-head QK-norm
        self.norm_k = RMSNorm(dim // heads)

    def forward(self, x, ctx):
        B, N, C = x.shape
        L = ctx.shape[1]
        h, d = self.heads, C // self.heads
        q = self.norm_q(self.q(x).view(B, N, h, d)).permute(0, 2, 1, 3)
        kv = self.kv(ctx).view(B, L, 2, h, d)
        k, v = kv[:, :, 0], kv[:, :, 1]
        k = self.norm_k(k).permute(0, 2, 1, 3)
        v = v.permute(0, 2, 1, 3)
        s = d ** -0.25
        attn = torch.softmax((q * s) @ (k * s).transpose(-2, -1), dim=-1)
        o = (attn @ v).permute(0, 2, 1, 3).reshape(B, N, C)
        return self.o(o)


class TextBlock(nn.Module):
    def __init__(self, dim, ctx_dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.self_attn = SelfAttnQKNorm(dim, heads)
        self.norm_x = nn.LayerNorm(dim, eps=1e-6)  # affine
        self.cross_attn = CrossAttn(dim, ctx_dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"), nn.Linear(4 * dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim ** 0.5)

    def forward(self, x, e, ctx):
        # PixArt style: per-block table plus the shared timestep projection.
        shift1, scale1, gate1, shift2, scale2, gate2 = (self.modulation + e.reshape(e.shape[0], 6, -1)).chunk(6, dim=1)
        x = x + gate1 * self.self_attn(self.norm1(x) * (1 + scale1) + shift1)
        x = x + self.cross_attn(self.norm_x(x), ctx)
        x = x + gate2 * self.ffn(self.norm2(x) * (1 + scale2) + shift2)
        return x


class TextDiT(nn.Module):
    def __init__(self, dim=96, ctx_dim=64, heads=4, depth=2, freq_dim=64):
        super().__init__()
        self.freq_dim = freq_dim
        self.time_embedding = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.blocks = nn.ModuleList([TextBlock(dim, ctx_dim, heads) for _ in range(depth)])
        self.head_norm = RMSNorm(dim)
        self.head = nn.Linear(dim, dim)

    def forward(self, x, t, ctx):
        # diffusers-style embedding: [sin, cos], shift 1
        half = self.freq_dim // 2
        exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32) / (half - 1)
        emb = t[:, None].float() * torch.exp(exponent)[None, :]
        emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
        e = self.time_embedding(emb)
        e0 = self.time_projection(e)
        for b in self.blocks:
            x = b(x, e0, ctx)
        return self.head(self.head_norm(x))


# ---------------------------------------------------------------------------
# (c) video block with 3D RoPE over frames x height x width
# ---------------------------------------------------------------------------


class ManualLayerNorm(nn.Module):
    """Decomposed LayerNorm (what opset < 17 exports, and what hand-written code gives)."""

    def __init__(self, dim, eps=1e-5, affine=True):
        super().__init__()
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(dim))
            self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        m = x.mean(-1, keepdim=True)
        d = x - m
        v = (d * d).mean(-1, keepdim=True)
        y = d / torch.sqrt(v + self.eps)
        if self.affine:
            y = y * self.weight + self.bias
        return y


def rope_3d_tables(F_, H, W, head_dim, theta=10000.0):
    """cos/sin [N, head_dim] for rotate-half RoPE; head_dim split over (f, h, w)."""
    dt = head_dim // 4 // 2 * 2
    dh = (head_dim - dt) // 2 // 2 * 2
    dw = head_dim - dt - dh
    parts = []
    f, h, w = np.meshgrid(np.arange(F_), np.arange(H), np.arange(W), indexing="ij")
    for pos, d in ((f, dt), (h, dh), (w, dw)):
        inv = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
        parts.append(np.outer(pos.reshape(-1), inv))
    ang = np.concatenate(parts, axis=1)  # [N, head_dim/2]
    ang = np.concatenate([ang, ang], axis=1)
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def rotate_half(x):
    """dit.rotate_half spelled with chunk (ONNX Split, where dit's slices export Slice)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class VideoAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x, cos, sin):
        B, N, C = x.shape
        h, d = self.heads, C // self.heads
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q = q.reshape(B, N, h, d).transpose(1, 2)
        k = k.reshape(B, N, h, d).transpose(1, 2)
        v = v.reshape(B, N, h, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        s = q @ k.transpose(-1, -2)  # no scale here: applied after
        p = (s * (d ** -0.5)).softmax(-1)
        o = (p @ v).transpose(1, 2).reshape(B, N, C)
        return self.to_out(o)


class VideoBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = ManualLayerNorm(dim, affine=False, eps=1e-6)
        self.attn = VideoAttention(dim, heads)
        self.norm2 = ManualLayerNorm(dim, eps=1e-6)
        self.ff1 = nn.Linear(dim, 4 * dim)
        self.ff2 = nn.Linear(4 * dim, dim)
        self.ada = nn.Linear(dim, 6 * dim)

    def forward(self, x, c, cos, sin):
        m = self.ada(F.silu(c))
        sh1, sc1, g1 = m[:, 0 * x.shape[-1]:1 * x.shape[-1]], m[:, x.shape[-1]:2 * x.shape[-1]], m[:, 2 * x.shape[-1]:3 * x.shape[-1]]
        sh2, sc2, g2 = m[:, 3 * x.shape[-1]:4 * x.shape[-1]], m[:, 4 * x.shape[-1]:5 * x.shape[-1]], m[:, 5 * x.shape[-1]:]
        x = x + g1.unsqueeze(1) * self.attn(modulate(self.norm1(x), sh1, sc1), cos, sin)
        hdn = self.ff1(modulate(self.norm2(x), sh2, sc2))
        hdn = F.gelu(hdn)  # erf form
        x = x + g2.unsqueeze(1) * self.ff2(hdn)
        return x


class VideoDiT(nn.Module):
    def __init__(self, frames=4, size=8, dim=96, heads=4, depth=2):
        super().__init__()
        self.heads = heads
        cos, sin = rope_3d_tables(frames, size, size, dim // heads)
        self.register_buffer("rope_cos", torch.from_numpy(cos))
        self.register_buffer("rope_sin", torch.from_numpy(sin))
        self.t_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.dim = dim
        self.blocks = nn.ModuleList([VideoBlock(dim, heads) for _ in range(depth)])
        self.out = nn.Linear(dim, dim)

    def forward(self, x, t):
        c = self.t_mlp(timestep_embedding(t, self.dim))
        for b in self.blocks:
            x = b(x, c, self.rope_cos, self.rope_sin)
        return self.out(x)


# ---------------------------------------------------------------------------
# (e) stock torch.nn attention modules
# ---------------------------------------------------------------------------


class StockEncoder(nn.Module):
    def __init__(self, dim=64, heads=4, depth=2):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0,
                                       batch_first=True, norm_first=True,
                                       activation=lambda v: F.gelu(v))  # a callable: no fused fast path
            for _ in range(depth)])
        self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x):
        for l in self.layers:
            x = l(x)
        return x + self.mha(x, x, x, need_weights=False)[0]
