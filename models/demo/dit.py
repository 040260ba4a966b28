"""Small class-conditional DiTs for the glyph demos (image and video).

Architecture follows DiT (Peebles & Xie): patch-2 embedding, adaLN-Zero blocks,
sinusoidal timestep embedding + MLP, a class table with one extra "null" row for
classifier-free guidance, final adaLN + linear, unpatchify. The model predicts the
flow-matching velocity v = noise - x0 for x_t = (1 - t) x0 + t noise and is fed
timestep = t * TIMESTEP_SCALE.

Written with plain ops so that torch 1.13's ONNX exporter (opset 17) emits a clean
graph: attention is explicit (softmax(q k^T * scale) v) unless `fast_attention` is set
(training on torch 2.x uses scaled_dot_product_attention, the same function), and the
LayerNorms carry a frozen weight 1 / bias 0 because an affine-free LayerNorm exports
with an empty Scale input that the ONNX checker rejects.

Image model: x [B, 1, 32, 32] -> 256 tokens, fixed 2-D sin-cos position embedding.
Video model: x [B, 8, 1, 32, 32] -> 8*16*16 = 2048 tokens, 3-D axial RoPE on q and k
(rotate-half convention; cos/sin tables [N, head_dim] are graph constants).
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TIMESTEP_SCALE = 1000.0


def frozen_layernorm(dim):
    ln = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=True)
    ln.weight.requires_grad_(False)
    ln.bias.requires_grad_(False)
    return ln


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def timestep_embedding(t, dim, max_period=10000.0):
    """DiT's sinusoidal embedding: [cos(t f_i), sin(t f_i)], f_i = max_period^(-i/half)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden, freq_dim=256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t):
        return self.mlp(timestep_embedding(t, self.freq_dim))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def axial_rope_tables(frames, gh, gw, head_dim, base=100.0):
    """cos/sin [frames*gh*gw, head_dim] for 3-D axial RoPE, rotate-half layout.

    The head_dim/2 rotation frequencies are split over the axes (t, y, x) in the ratio
    1:1.5:1.5 (rounded to even counts per axis where possible); each axis uses
    base^(-2i/d_axis) frequencies over its own integer positions. Token order is
    frame-major, then row, then column (matches the patchify order below).
    """
    half = head_dim // 2
    nt = max(1, half // 4)
    ny = (half - nt) // 2
    nx = half - nt - ny
    def freqs(n):
        return 1.0 / (base ** (np.arange(n, dtype=np.float64) * 2.0 / (2 * n)))
    t, y, x = np.meshgrid(np.arange(frames), np.arange(gh), np.arange(gw), indexing="ij")
    ang = np.concatenate([t.reshape(-1, 1) * freqs(nt)[None],
                          y.reshape(-1, 1) * freqs(ny)[None],
                          x.reshape(-1, 1) * freqs(nx)[None]], axis=1)  # [N, half]
    ang = np.concatenate([ang, ang], axis=1)  # [N, head_dim]: same angle for i and i+half
    return torch.tensor(np.cos(ang), dtype=torch.float32), torch.tensor(np.sin(ang), dtype=torch.float32)


def sincos_2d(dim, gh, gw):
    """DiT's fixed 2-D sin-cos position embedding [gh*gw, dim]."""
    def one(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = pos.reshape(-1)[:, None] * omega[None]
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    y, x = np.meshgrid(np.arange(gh, dtype=np.float64), np.arange(gw, dtype=np.float64), indexing="ij")
    emb = np.concatenate([one(dim // 2, y), one(dim // 2, x)], axis=1)
    return torch.tensor(emb, dtype=torch.float32)


class Attention(nn.Module):
    def __init__(self, dim, heads, fast_attention=False):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.fast_attention = fast_attention

    def forward(self, x, rope=None):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, H, N, dh]
        if rope is not None:
            cos, sin = rope
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if q.dtype != v.dtype:  # fp32 tables promote bf16 q, k under autocast
                q, k = q.to(v.dtype), k.to(v.dtype)
        if self.fast_attention:
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)
            o = torch.matmul(attn, v)
        o = o.transpose(1, 2).reshape(b, n, c)
        return self.proj(o)


class DiTBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0, fast_attention=False):
        super().__init__()
        self.norm1 = frozen_layernorm(dim)
        self.attn = Attention(dim, heads, fast_attention)
        self.norm2 = frozen_layernorm(dim)
        hid = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hid), nn.GELU(approximate="tanh"), nn.Linear(hid, dim))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x, c, rope=None):
        sh_a, sc_a, g_a, sh_m, sc_m, g_m = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + g_a.unsqueeze(1) * self.attn(modulate(self.norm1(x), sh_a, sc_a), rope)
        x = x + g_m.unsqueeze(1) * self.mlp(modulate(self.norm2(x), sh_m, sc_m))
        return x


class FinalLayer(nn.Module):
    def __init__(self, dim, out_dim):
        super().__init__()
        self.norm_final = frozen_layernorm(dim)
        self.linear = nn.Linear(dim, out_dim)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class GlyphDiT(nn.Module):
    """frames == 0: image model, x [B, C, H, W]; frames > 0: video, x [B, F, C, H, W]."""

    def __init__(self, input_size=32, in_channels=1, patch=2, hidden=128, depth=6, heads=4,
                 mlp_ratio=4.0, num_classes=16, frames=0, fast_attention=False):
        super().__init__()
        self.config = dict(input_size=input_size, in_channels=in_channels, patch=patch, hidden=hidden,
                           depth=depth, heads=heads, mlp_ratio=mlp_ratio, num_classes=num_classes,
                           frames=frames)
        self.in_channels, self.patch, self.frames = in_channels, patch, frames
        self.num_classes = num_classes
        self.grid = input_size // patch
        self.x_embedder = nn.Conv2d(in_channels, hidden, kernel_size=patch, stride=patch)
        self.t_embedder = TimestepEmbedder(hidden)
        self.y_embedder = nn.Embedding(num_classes + 1, hidden)  # row num_classes = null
        self.blocks = nn.ModuleList([DiTBlock(hidden, heads, mlp_ratio, fast_attention) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden, patch * patch * in_channels)
        if frames:
            cos, sin = axial_rope_tables(frames, self.grid, self.grid, hidden // heads)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        else:
            self.register_buffer("pos_embed", sincos_2d(hidden, self.grid, self.grid).unsqueeze(0),
                                 persistent=False)
        self._init_weights()

    @property
    def null_class(self):
        return self.num_classes

    def num_tokens(self):
        return max(self.frames, 1) * self.grid * self.grid

    def _init_weights(self):
        def basic(m):
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        self.apply(basic)
        w = self.x_embedder.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.x_embedder.bias)
        nn.init.normal_(self.y_embedder.weight, std=0.02)
        for m in self.t_embedder.mlp:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
        for blk in self.blocks:  # adaLN-Zero: every block starts as the identity
            nn.init.zeros_(blk.adaLN_modulation[-1].weight)
            nn.init.zeros_(blk.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    def forward(self, x, t, y):
        """x: latent, t: [B] timestep (flow t * 1000), y: [B] int64 class (null = num_classes)."""
        b = x.shape[0]
        g, p, c = self.grid, self.patch, self.in_channels
        f = max(self.frames, 1)
        if self.frames:
            x = x.reshape(b * f, c, g * p, g * p)   # frames share the patch embedding
        h = self.x_embedder(x).flatten(2).transpose(1, 2)  # [B*F, g*g, D]
        h = h.reshape(b, f * g * g, h.shape[-1])
        rope = None
        if self.frames:
            rope = (self.rope_cos, self.rope_sin)
        else:
            h = h + self.pos_embed
        cond = self.t_embedder(t) + self.y_embedder(y)
        for blk in self.blocks:
            h = blk(h, cond, rope)
        h = self.final_layer(h, cond)  # [B, F*g*g, p*p*c]
        # unpatchify: token (f, i, j) holds the p x p x c pixels of patch (i, j) of frame f
        h = h.reshape(b, f, g, g, p, p, c).permute(0, 1, 6, 2, 4, 3, 5).reshape(b, f, c, g * p, g * p)
        if not self.frames:
            h = h.reshape(b, c, g * p, g * p)
        return h


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
