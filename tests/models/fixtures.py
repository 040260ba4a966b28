"""Small PyTorch models used as converter fixtures, and their ONNX export.

Run with Debian's /usr/bin/python3 (torch 1.13, onnx 1.12). Every model uses a
fixed seed and random (not zero) init, so each block does real work.
"""
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# Export helper
# ---------------------------------------------------------------------------

_LN_REGISTERED = False


def _register_layer_norm_symbolic():
    """PyTorch 1.13 exports LayerNorm(elementwise_affine=False) at opset 17 as a
    LayerNormalization with an empty Scale input, which onnx's checker rejects;
    feed constant ones/zeros instead."""
    global _LN_REGISTERED
    if _LN_REGISTERED:
        return
    from torch.onnx import symbolic_helper, register_custom_op_symbolic

    @symbolic_helper.parse_args("v", "is", "v", "v", "f", "none")
    def layer_norm(g, inp, normalized_shape, weight, bias, eps, cudnn_enable):
        axis = -len(normalized_shape)
        n = int(np.prod(normalized_shape))
        if symbolic_helper._is_none(weight):
            weight = g.op("Constant", value_t=torch.ones(normalized_shape, dtype=torch.float32))
        if symbolic_helper._is_none(bias):
            bias = g.op("Constant", value_t=torch.zeros(normalized_shape, dtype=torch.float32))
        del n
        return g.op("LayerNormalization", inp, weight, bias, epsilon_f=eps, axis_i=axis)

    register_custom_op_symbolic("aten::layer_norm", layer_norm, 17)
    _LN_REGISTERED = True


def export(model, args, path, input_names, output_names, opset=17, dynamic_axes=None):
    if opset >= 17:
        _register_layer_norm_symbolic()
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
# Building blocks
# ---------------------------------------------------------------------------


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden, freq_dim=256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t):
        return self.mlp(timestep_embedding(t, self.freq_dim))


class Attention(nn.Module):
    """timm-style fused qkv attention (the DiT reference)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden, approximate="tanh"):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate=approximate)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class DiTBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    def __init__(self, dim, patch, out_channels):
        super().__init__()
        self.norm_final = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(dim, patch * patch * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


def sincos_pos_embed(dim, grid):
    """Fixed 2D sin-cos position table [grid*grid, dim] (as in DiT)."""
    gh = np.arange(grid, dtype=np.float32)
    gw = np.arange(grid, dtype=np.float32)
    g = np.meshgrid(gw, gh)
    g = np.stack(g, axis=0).reshape(2, 1, grid, grid)

    def emb_1d(d, pos):
        omega = np.arange(d // 2, dtype=np.float64) / (d / 2.0)
        omega = 1.0 / 10000 ** omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([emb_1d(dim // 2, g[0]), emb_1d(dim // 2, g[1])], axis=1).astype(np.float32)


class DiT(nn.Module):
    """Class-conditional DiT (adaLN-Zero blocks, patch embedding, learned sigma)."""

    def __init__(self, input_size=32, patch=2, in_channels=4, hidden=128, depth=4, heads=4,
                 mlp_ratio=4.0, num_classes=10, learn_sigma=True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = in_channels * 2 if learn_sigma else in_channels
        self.patch = patch
        self.heads = heads
        self.x_embedder = nn.Conv2d(in_channels, hidden, kernel_size=patch, stride=patch)
        self.t_embedder = TimestepEmbedder(hidden)
        self.y_embedder = nn.Embedding(num_classes + 1, hidden)  # +1: the null class
        grid = input_size // patch
        self.pos_embed = nn.Parameter(torch.from_numpy(sincos_pos_embed(hidden, grid)).unsqueeze(0),
                                      requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(hidden, heads, mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden, patch, self.out_channels)

    def unpatchify(self, x):
        c = self.out_channels
        p = self.patch
        h = w = int(x.shape[1] ** 0.5)
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, h * p)

    def forward(self, x, t, y):
        x = self.x_embedder(x).flatten(2).transpose(1, 2) + self.pos_embed
        c = self.t_embedder(t) + self.y_embedder(y)
        for block in self.blocks:
            x = block(x, c)
        x = self.final_layer(x, c)
        return self.unpatchify(x)


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
