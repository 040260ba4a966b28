"""The benchmark DiT as a PyTorch module, built from the weights that
`edge-bench model --export DIR` writes (DIR/weights/<name>.npy, DIR/config.json).

The model is python/edge_dit/dit.py's DiT as runtime/writer/dit_builder.cc
describes it (dit.builder_dit: patch embedding, timestep + class conditioning
with one shared SiLU, adaLN-Zero blocks with tanh-GELU MLP, final adaLN layer,
unpatchify), so PyTorch, ONNX Runtime (on the ONNX exported from this module)
and edge all run the same network with the same weights and inputs.

    /usr/bin/python3 dit_torch.py export DIR OUT.onnx [--block OUT_BLOCK.onnx]
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit import dit  # noqa: E402


def load_config(export_dir):
    with open(os.path.join(export_dir, "config.json")) as f:
        return json.load(f)


def load_dit(export_dir, fast_attention=None):
    """The DiT with the exported weights. fast_attention (default: where torch has it)
    runs torch 2.x's fused scaled_dot_product_attention in eager mode; an ONNX export
    writes the same math spelled out."""
    cfg = load_config(export_dir)
    if fast_attention is None:
        fast_attention = hasattr(F, "scaled_dot_product_attention")
    weights = {}
    for path in glob.glob(os.path.join(export_dir, "weights", "*.npy")):
        weights[os.path.basename(path)[:-4]] = torch.from_numpy(np.load(path))
    return dit.builder_dit(cfg, weights, fast_attention), cfg


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
    model, cfg = load_dit(export_dir, fast_attention=False)
    dit.export_layer_norm_without_affine()
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
