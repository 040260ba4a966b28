"""The DiT (Peebles & Xie) in PyTorch, defined once for every script that needs it.

Users: the glyph demos (models/demo, models/latent, models/testbed: training and ONNX
export), the converter fixtures (tests/models/fixtures.py), the float64 test oracle
(tests/python/dit_oracle.py) and the PyTorch / ONNX Runtime benchmark peer
(bench/peers/dit_torch.py). Runs on Debian's torch 1.13 and on torch 2.x.

Architecture: patch embedding (a patch x patch Conv2d), sinusoidal timestep embedding
+ MLP, a class table with one extra "null" row for classifier-free guidance, adaLN-Zero
blocks (LayerNorm without a learned affine, attention with a fused qkv Linear, tanh-GELU
MLP), final adaLN + Linear, unpatchify. Image models (frames == 0) add a fixed 2-D
sin-cos position embedding, or a learned table (pos_embed="learned"); video models
(frames > 0) put 3-D axial RoPE on q and k instead.

Written with plain ops so that torch 1.13's ONNX exporter (opset 17) emits a clean graph:
attention is explicit (softmax(q k^T * scale) v) unless `fast_attention` is set (torch
2.x's scaled_dot_product_attention, the same function, for training and eager timing).

The options below do not change the function the model computes; each keeps a graph or
a set of weight names that files outside this module depend on:
  norm_affine       True: LayerNorm with a frozen weight 1 / bias 0. The demo checkpoints
                    hold these tensors, and a LayerNorm without affine exports (torch 1.13,
                    opset 17) with an empty Scale input that onnx's checker rejects.
                    False: no affine tensors; export through export_layer_norm_without_affine().
  mlp_names         state-dict names of the MLP's Linear / GELU / Linear: ("0", "1", "2") in
                    the demo checkpoints, ("fc1", "act", "fc2") in the DiT reference code and
                    in runtime/writer/dit_builder.cc.
  qkv_unbind        the DiT reference code's spelling of the qkv split: qkv.unbind(0) (ONNX
                    Split and Squeeze, where qkv[0], qkv[1], qkv[2] export Gather) and the
                    head width taken from the traced input width (the converter fixtures'
                    graphs hold this form, value names included).
  shared_cond_silu  apply the conditioning's SiLU once, before every adaLN Linear, as
                    dit_builder.cc does, instead of inside each block's adaLN_modulation
                    (whose SiLU is then an Identity; the state-dict names stay the same).
"""
import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The model is fed timestep = flow time t in [0, 1] times this.
TIMESTEP_SCALE = 1000.0

_LN_EXPORT_REGISTERED = False


def export_layer_norm_without_affine():
    """Makes torch.onnx.export (torch 1.13, opset >= 17) write LayerNorm without affine
    as a LayerNormalization with constant ones / zeros for Scale / B: torch 1.13 writes
    an empty Scale input, which onnx's checker rejects. Idempotent."""
    global _LN_EXPORT_REGISTERED
    if _LN_EXPORT_REGISTERED:
        return
    from torch.onnx import register_custom_op_symbolic, symbolic_helper

    @symbolic_helper.parse_args("v", "is", "v", "v", "f", "none")
    def layer_norm(g, inp, normalized_shape, weight, bias, eps, cudnn_enable):
        axis = -len(normalized_shape)
        if symbolic_helper._is_none(weight):
            weight = g.op("Constant", value_t=torch.ones(normalized_shape, dtype=torch.float32))
        if symbolic_helper._is_none(bias):
            bias = g.op("Constant", value_t=torch.zeros(normalized_shape, dtype=torch.float32))
        return g.op("LayerNormalization", inp, weight, bias, epsilon_f=eps, axis_i=axis)

    register_custom_op_symbolic("aten::layer_norm", layer_norm, 17)
    _LN_EXPORT_REGISTERED = True


def layer_norm(dim, affine):
    """LayerNorm (eps 1e-6) that normalizes only; affine=True keeps a frozen weight 1 / bias 0."""
    ln = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=affine)
    if affine:
        ln.weight.requires_grad_(False)
        ln.bias.requires_grad_(False)
    return ln


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def timestep_embedding(t, dim, max_period=10000.0, dtype=torch.float32):
    """DiT's sinusoidal embedding: [cos(t f_i), sin(t f_i)], f_i = max_period^(-i/half),
    computed in `dtype` (float64 for the test oracle)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=dtype, device=t.device) / half)
    args = t.to(dtype).unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden, freq_dim=256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t):
        # The embedding in the first Linear's dtype; torch's dynamically
        # quantized Linear (the INT8 bench peer) has weight() as a method and
        # takes float32 input.
        w = self.mlp[0].weight
        return self.mlp(timestep_embedding(t, self.freq_dim, dtype=w.dtype if isinstance(w, torch.Tensor)
                                           else torch.float32))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def axial_rope_tables(frames, gh, gw, head_dim, base=100.0):
    """cos/sin [frames*gh*gw, head_dim] for 3-D axial RoPE, rotate-half layout.

    The head_dim/2 rotation frequencies are split over the axes (t, y, x) in the ratio
    1:1.5:1.5 (rounded to even counts per axis where possible); each axis uses
    base^(-2i/d_axis) frequencies over its own integer positions. Token order is
    frame-major, then row, then column (matches DiT.patchify).
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
    def __init__(self, dim, heads, fast_attention=False, qkv_unbind=False):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.fast_attention = fast_attention
        self.qkv_unbind = qkv_unbind

    def forward(self, x, rope=None):
        b, n, c = x.shape
        if self.qkv_unbind:
            qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
        else:
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


def mlp(dim, hidden, names=("0", "1", "2")):
    """Linear -> tanh-GELU -> Linear, its three modules named `names` in the state dict."""
    layers = (nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
    return nn.Sequential(OrderedDict(zip(names, layers)))


class DiTBlock(nn.Module):
    """adaLN-Zero block. x [B, N, D], c [B, D] (already SiLU-activated with shared_cond_silu)."""

    def __init__(self, dim, heads, mlp_ratio=4.0, fast_attention=False, norm_affine=True,
                 mlp_names=("0", "1", "2"), qkv_unbind=False, shared_cond_silu=False):
        super().__init__()
        self.norm1 = layer_norm(dim, norm_affine)
        self.attn = Attention(dim, heads, fast_attention, qkv_unbind)
        self.norm2 = layer_norm(dim, norm_affine)
        self.mlp = mlp(dim, int(dim * mlp_ratio), mlp_names)
        self.adaLN_modulation = nn.Sequential(nn.Identity() if shared_cond_silu else nn.SiLU(),
                                              nn.Linear(dim, 6 * dim))

    def forward(self, x, c, rope=None):
        sh_a, sc_a, g_a, sh_m, sc_m, g_m = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + g_a.unsqueeze(1) * self.attn(modulate(self.norm1(x), sh_a, sc_a), rope)
        x = x + g_m.unsqueeze(1) * self.mlp(modulate(self.norm2(x), sh_m, sc_m))
        return x


class FinalLayer(nn.Module):
    def __init__(self, dim, out_dim, norm_affine=True, shared_cond_silu=False):
        super().__init__()
        self.norm_final = layer_norm(dim, norm_affine)
        self.linear = nn.Linear(dim, out_dim)
        self.adaLN_modulation = nn.Sequential(nn.Identity() if shared_cond_silu else nn.SiLU(),
                                              nn.Linear(dim, 2 * dim))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class DiT(nn.Module):
    """frames == 0: image model, x [B, C, H, W]; frames > 0: video, x [B, F, C, H, W].

    forward(x, t, y): t [B] timestep (flow t * TIMESTEP_SCALE), y [B] int64 class
    (null_class = num_classes for the unconditional pass). The output has the shape of x,
    with 2C channels (prediction, then the learned variance) when learn_sigma is set.
    pos_embed: "sincos" (fixed table, not in the state dict) or "learned" (a parameter).
    The remaining options are described in the module's docstring.
    """

    def __init__(self, input_size=32, in_channels=1, patch=2, hidden=128, depth=6, heads=4,
                 mlp_ratio=4.0, num_classes=16, frames=0, fast_attention=False, learn_sigma=False,
                 freq_dim=256, pos_embed="sincos", norm_affine=True, mlp_names=("0", "1", "2"),
                 qkv_unbind=False, shared_cond_silu=False):
        super().__init__()
        # What the demo checkpoints' .json files record.
        self.config = dict(input_size=input_size, in_channels=in_channels, patch=patch, hidden=hidden,
                           depth=depth, heads=heads, mlp_ratio=mlp_ratio, num_classes=num_classes,
                           frames=frames)
        self.in_channels, self.patch, self.frames = in_channels, patch, frames
        self.out_channels = 2 * in_channels if learn_sigma else in_channels
        self.num_classes = num_classes
        self.shared_cond_silu = shared_cond_silu
        self.grid = input_size // patch
        self.x_embedder = nn.Conv2d(in_channels, hidden, kernel_size=patch, stride=patch)
        self.t_embedder = TimestepEmbedder(hidden, freq_dim)
        self.y_embedder = nn.Embedding(num_classes + 1, hidden)  # row num_classes = null
        self.blocks = nn.ModuleList([
            DiTBlock(hidden, heads, mlp_ratio, fast_attention, norm_affine, mlp_names, qkv_unbind,
                     shared_cond_silu) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden, patch * patch * self.out_channels, norm_affine, shared_cond_silu)
        if frames:
            cos, sin = axial_rope_tables(frames, self.grid, self.grid, hidden // heads)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        elif pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, self.grid * self.grid, hidden))
        else:
            assert pos_embed == "sincos", pos_embed
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

    def patchify(self, x):
        """x -> (tokens [B, F*g*g, D] (frame-major, then row, then column), B for unpatchify)."""
        b = x.shape[0]
        g, p, c = self.grid, self.patch, self.in_channels
        f = max(self.frames, 1)
        if self.frames:
            x = x.reshape(b * f, c, g * p, g * p)   # frames share the patch embedding
        h = self.x_embedder(x).flatten(2).transpose(1, 2)  # [B*F, g*g, D]
        return h.reshape(b, f * g * g, h.shape[-1]), b

    def unpatchify(self, h, b):
        """[B, F*g*g, p*p*C_out] -> the latent layout (token (f, i, j) holds the p x p x C_out
        pixels of patch (i, j) of frame f)."""
        g, p, c = self.grid, self.patch, self.out_channels
        f = max(self.frames, 1)
        h = h.reshape(b, f, g, g, p, p, c).permute(0, 1, 6, 2, 4, 3, 5).reshape(b, f, c, g * p, g * p)
        if not self.frames:
            h = h.reshape(b, c, g * p, g * p)
        return h

    def forward(self, x, t, y):
        h, b = self.patchify(x)
        rope = None
        if self.frames:
            rope = (self.rope_cos, self.rope_sin)
        else:
            h = h + self.pos_embed
        cond = self.t_embedder(t) + self.y_embedder(y)
        if self.shared_cond_silu:
            cond = F.silu(cond)
        for blk in self.blocks:
            h = blk(h, cond, rope)
        h = self.final_layer(h, cond)  # [B, F*g*g, p*p*C_out]
        return self.unpatchify(h, b)


# The weight names runtime/writer/dit_builder.cc writes (`edge-bench model --export`,
# tests' make_dit_fixture) where they differ from DiT's state-dict names.
_BUILDER_PREFIXES = (("x_embedder.proj.", "x_embedder."), ("y_embedder.embedding_table.", "y_embedder."))


def builder_dit(cfg, weights, fast_attention=False):
    """The DiT that runtime/writer/dit_builder.cc describes, holding its weights.

    cfg: the builder's config.json (image_size, in_channels, patch, hidden, depth, heads,
    num_classes, freq_dim, learn_sigma, optional mlp_ratio); weights: name -> tensor in the
    builder's names. The model takes the weights' dtype (float64 for the test oracle).
    The builder applies the conditioning's SiLU once and has a learned position table.
    """
    model = DiT(input_size=cfg["image_size"], in_channels=cfg["in_channels"], patch=cfg["patch"],
                hidden=cfg["hidden"], depth=cfg["depth"], heads=cfg["heads"],
                mlp_ratio=cfg.get("mlp_ratio", 4), num_classes=cfg["num_classes"],
                fast_attention=fast_attention, learn_sigma=bool(cfg.get("learn_sigma")),
                freq_dim=cfg["freq_dim"], pos_embed="learned", norm_affine=False,
                mlp_names=("fc1", "act", "fc2"), shared_cond_silu=True)
    state = {}
    for name, w in weights.items():
        for builder, ours in _BUILDER_PREFIXES:
            if name.startswith(builder):
                name = ours + name[len(builder):]
        state[name] = w
    dtype = next(iter(weights.values())).dtype
    model.to(dtype).load_state_dict(state, strict=True)
    return model.eval()
