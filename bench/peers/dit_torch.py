"""The benchmark DiT as a PyTorch module, built from the weights that
`edge-bench model --export DIR` writes (DIR/weights/<name>.npy, DIR/config.json).

The graph mirrors runtime/writer/dit_builder.cc op for op (patch embedding,
timestep + class conditioning with one shared SiLU, adaLN-Zero blocks with
tanh-GELU MLP, final adaLN layer, unpatchify), so PyTorch, ONNX Runtime (on
the ONNX exported from this module) and edge all run the same network with
the same weights and inputs.

    /usr/bin/python3 dit_torch.py export DIR OUT.onnx [--block OUT_BLOCK.onnx]
"""
import argparse
import glob
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNormNoAffine(nn.Module):
    """LayerNorm without learned affine. The ones/zeros are explicit so the ONNX
    export has a Scale input (an empty Scale fails onnx's checker)."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.dim, self.eps = dim, eps
        self.register_buffer("one", torch.ones(dim), persistent=False)
        self.register_buffer("zero", torch.zeros(dim), persistent=False)

    def forward(self, x):
        return F.layer_norm(x, (self.dim,), self.one, self.zero, self.eps)


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, D = x.shape
        dh = D // self.heads
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if hasattr(F, "scaled_dot_product_attention") and not torch.onnx.is_in_onnx_export():
            o = F.scaled_dot_product_attention(q, k, v)  # torch 2.x eager: its fused attention
        else:  # Debian's 1.13 (and every ONNX export): the same math spelled out
            a = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(dh)), dim=-1)
            o = torch.matmul(a, v)
        return self.proj(o.transpose(1, 2).reshape(B, N, D))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Block(nn.Module):
    """adaLN-Zero block; `c` is the already SiLU-activated conditioning."""

    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = LayerNormNoAffine(dim)
        self.norm2 = LayerNormNoAffine(dim)
        self.attn = Attention(dim, heads)
        self.mlp = Mlp(dim, mlp_ratio * dim)
        self.adaLN_modulation = nn.Sequential(nn.Identity(), nn.Linear(dim, 6 * dim))

    def forward(self, x, c):
        sm, scm, gm, sp, scp, gp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gm.unsqueeze(1) * self.attn(modulate(self.norm1(x), sm, scm))
        return x + gp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), sp, scp))


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    def __init__(self, dim, freq_dim):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        half = freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t):
        args = t.float()[:, None] * self.freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class LabelEmbedder(nn.Module):
    def __init__(self, num_classes, dim):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, dim)

    def forward(self, y):
        return self.embedding_table(y)


class FinalLayer(nn.Module):
    def __init__(self, dim, out):
        super().__init__()
        self.norm = LayerNormNoAffine(dim)
        self.adaLN_modulation = nn.Sequential(nn.Identity(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, out)

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm(x), shift, scale))


class DiT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D, P, C = cfg["hidden"], cfg["patch"], cfg["in_channels"]
        self.cfg = cfg
        self.cout = 2 * C if cfg.get("learn_sigma") else C
        n = (cfg["image_size"] // P) ** 2
        self.x_embedder = PatchEmbed(C, D, P)
        self.pos_embed = nn.Parameter(torch.zeros(1, n, D))
        self.t_embedder = TimestepEmbedder(D, cfg["freq_dim"])
        self.y_embedder = LabelEmbedder(cfg["num_classes"], D)
        self.blocks = nn.ModuleList(
            [Block(D, cfg["heads"], cfg.get("mlp_ratio", 4)) for _ in range(cfg["depth"])])
        self.final_layer = FinalLayer(D, P * P * self.cout)

    def forward(self, x, t, y):
        P, H = self.cfg["patch"], self.cfg["image_size"]
        hp = H // P
        h = self.x_embedder(x) + self.pos_embed
        c = F.silu(self.t_embedder(t) + self.y_embedder(y))
        for blk in self.blocks:
            h = blk(h, c)
        h = self.final_layer(h, c)
        B = h.shape[0]
        h = h.reshape(B, hp, hp, P, P, self.cout).permute(0, 5, 1, 3, 2, 4)
        return h.reshape(B, self.cout, H, H)


def load_config(export_dir):
    with open(os.path.join(export_dir, "config.json")) as f:
        return json.load(f)


def load_dit(export_dir):
    cfg = load_config(export_dir)
    model = DiT(cfg)
    state = {}
    for path in glob.glob(os.path.join(export_dir, "weights", "*.npy")):
        state[os.path.basename(path)[:-4]] = torch.from_numpy(np.load(path))
    model.load_state_dict(state, strict=True)
    return model.eval(), cfg


def block_inputs(cfg, seed=11):
    """Inputs of one block: hidden states [1, N, D] and conditioning [1, D]."""
    g = np.random.default_rng(seed)
    n = (cfg["image_size"] // cfg["patch"]) ** 2
    h = g.standard_normal((1, n, cfg["hidden"])).astype(np.float32)
    c = g.standard_normal((1, cfg["hidden"])).astype(np.float32)
    return {"h": h, "c": c}


class BlockWrapper(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, h, c):
        return self.block(h, c)


def export(export_dir, out_path, block_path=None):
    model, cfg = load_dit(export_dir)
    x = torch.from_numpy(np.load(os.path.join(export_dir, "x.npy")))
    t = torch.from_numpy(np.load(os.path.join(export_dir, "t.npy")))
    y = torch.from_numpy(np.load(os.path.join(export_dir, "y.npy")))
    with torch.no_grad():
        torch.onnx.export(model, (x, t, y), out_path, input_names=["x", "t", "y"], output_names=["out"],
                          opset_version=17, do_constant_folding=True)
        if block_path:
            bi = block_inputs(cfg)
            torch.onnx.export(BlockWrapper(model.blocks[0]), (torch.from_numpy(bi["h"]), torch.from_numpy(bi["c"])),
                              block_path, input_names=["h", "c"], output_names=["out"], opset_version=17,
                              do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["export"])
    ap.add_argument("export_dir")
    ap.add_argument("out")
    ap.add_argument("--block")
    a = ap.parse_args()
    export(a.export_dir, a.out, a.block)


if __name__ == "__main__":
    main()
