#!/usr/bin/env python3
"""Export the latent demo to ONNX (opset 17, torch 1.13's exporter, explicit attention).

    /usr/bin/python3 models/latent/export_onnx.py [--dir models/latent] [--out DIR]

latent_dit.onnx        x [2, 4, 16, 16] f32, t [2] f32 (flow t * 1000), y [2] int64 -> v [2, 4, 16, 16]
latent_decoder.onnx    z [1, 4, 16, 16] f32 (the DiT's latent) -> image [1, 3, 64, 64], nominally in [-1, 1]
latent_decoder_tile.onnx  the same decoder at a tile: z [1, 4, 8, 8] -> image [1, 3, 32, 32]

The denoiser's batch 2 holds the conditional and the unconditional (y = null class 16)
pass of one guided step. The decoder computes decode(z / scale + shift) with the latent
scale and shift of latent_vae.json folded into the graph (no clamp: image writers clamp).
Each export is checked with onnx.checker, and against the PyTorch model with
onnxruntime when it is installed.
"""
import argparse
import importlib.util
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(os.path.dirname(HERE), "demo")
sys.path.insert(0, HERE)
sys.path.insert(0, DEMO)
from vae import LatentDecoder, TinyVAE  # noqa: E402

# models/demo/export_onnx.py, under another name than this file's
_spec = importlib.util.spec_from_file_location("demo_export_onnx", os.path.join(DEMO, "export_onnx.py"))
demo_export = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo_export)

DIT = "latent_dit"
VAE = "latent_vae"


def _load_json(ckpt_dir, name):
    with open(os.path.join(ckpt_dir, name + ".json")) as f:
        return json.load(f)


def load_dit(ckpt_dir=HERE):
    """GlyphDiT (fp32) with the fp16 checkpoint widened, and its config."""
    return demo_export.load_model(ckpt_dir, DIT)


def load_decoder(ckpt_dir=HERE):
    """LatentDecoder (scaled latent -> image) and latent_vae.json's content."""
    meta = _load_json(ckpt_dir, VAE)
    vae = TinyVAE(**meta["config"])
    vae.load_state_dict(torch.load(os.path.join(ckpt_dir, VAE + ".pt"), map_location="cpu"))  # fp16 -> fp32
    return LatentDecoder(vae.decoder, meta["latent_scale"], meta["latent_shift"]).eval(), meta


def export_decoder(ckpt_dir, out_dir, latent_hw=16, suffix=""):
    dec, meta = load_decoder(ckpt_dir)
    c = meta["config"]["latent_channels"]
    z = torch.randn((1, c, latent_hw, latent_hw), generator=torch.Generator().manual_seed(1))
    path = os.path.join(out_dir, "latent_decoder" + suffix + ".onnx")
    demo_export.onnx_export(dec, (z,), path, ["z"], ["image"])
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=HERE, help="folder with the .pt/.json checkpoints")
    ap.add_argument("--out", help="folder for the .onnx files (default: --dir)")
    ap.add_argument("--tile", type=int, default=8, help="latent side of the tile decoder (0: none)")
    args = ap.parse_args()
    out = args.out or args.dir
    os.makedirs(out, exist_ok=True)
    demo_export.export(args.dir, DIT, batch=2, out_dir=out)
    lat = _load_json(args.dir, VAE)["latent_shape"]
    export_decoder(args.dir, out, lat[1])
    if args.tile:
        export_decoder(args.dir, out, args.tile, "_tile")


if __name__ == "__main__":
    main()
