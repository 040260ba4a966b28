#!/usr/bin/env python3
"""Export the trained glyph DiTs to ONNX (opset 17) with explicit attention.

    /usr/bin/python3 models/demo/export_onnx.py [--dir models/demo]

glyph_dit.onnx        x [2, 1, 32, 32] f32, t [2] f32 (flow t * 1000), y [2] int64 -> v [2, 1, 32, 32]
glyph_video_dit.onnx  x [2, 8, 1, 32, 32] f32, t [2] f32, y [2] int64 -> v [2, 8, 1, 32, 32]

Batch 2 so the conditional and unconditional (y = null class) passes of classifier-free
guidance run as one call. Each export is checked with onnx.checker and compared with
the PyTorch model on random inputs when onnxruntime is installed (otherwise only the
checker runs).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dit import GlyphDiT  # noqa: E402


def load_model(ckpt_dir, name):
    with open(os.path.join(ckpt_dir, name + ".json")) as f:
        cfg = json.load(f)["config"]
    m = GlyphDiT(**cfg, fast_attention=False)
    m.load_state_dict(torch.load(os.path.join(ckpt_dir, name + ".pt"), map_location="cpu"))
    return m.eval(), cfg


def share_constants(model):
    """Persistent buffers export as one named initializer; non-persistent ones would be
    inlined as a Constant at every use (the RoPE tables 8 times over)."""
    for n in ("rope_cos", "rope_sin", "pos_embed"):
        if hasattr(model, n):
            b = getattr(model, n)
            delattr(model, n)
            model.register_buffer(n, b, persistent=True)
    return model


def onnx_export(model, inputs, path, input_names, output_names):
    """torch.onnx.export (opset 17, TorchScript exporter) of model(*inputs) to path, checked
    with onnx.checker and, when onnxruntime is installed, against the PyTorch output."""
    kw = {}
    if int(torch.__version__.split(".")[0]) >= 2:
        kw["dynamo"] = False  # the TorchScript exporter, as with torch 1.13
    with torch.no_grad():
        ref = model(*inputs)
        torch.onnx.export(model, tuple(inputs), path, opset_version=17, input_names=input_names,
                          output_names=output_names, do_constant_folding=True, **kw)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"{path}: {os.path.getsize(path) / 1e6:.2f} MB, {len(m.graph.node)} nodes, ops {ops}")
    for vi in list(m.graph.input) + list(m.graph.output):
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        print(f"  {vi.name}: {dims} elem_type {vi.type.tensor_type.elem_type}")
    try:
        import onnxruntime as ort
    except ImportError:
        print("  (onnxruntime not installed: numeric check against PyTorch skipped)")
        return
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = sess.run(None, {n: a.numpy() for n, a in zip(input_names, inputs)})[0]
    err = np.abs(out - ref.numpy()).max()
    print(f"  onnxruntime vs torch: max abs diff {err:.2e}")
    assert err < 1e-3


def export(ckpt_dir, name, batch=2, out_dir=None, suffix=""):
    model, cfg = load_model(ckpt_dir, name)
    share_constants(model)
    s = cfg["input_size"]
    shape = (batch, cfg["frames"], cfg["in_channels"], s, s) if cfg["frames"] else (batch, cfg["in_channels"], s, s)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g)
    t = torch.linspace(700.0, 250.0, batch) if batch > 1 else torch.tensor([700.0])
    y = torch.arange(batch, dtype=torch.int64) % (cfg["num_classes"] + 1)
    path = os.path.join(out_dir or ckpt_dir, name + suffix + ".onnx")
    onnx_export(model, (x, t, y), path, ["x", "t", "y"], ["v"])
    return path


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=here, help="folder with the .pt/.json checkpoints")
    ap.add_argument("--out", help="folder for the .onnx files (default: --dir)")
    ap.add_argument("--suffix", default="", help="appended to the file names")
    # The graph's batch is fixed: with guidance, batch 2n carries n samples
    # (n conditional + n unconditional rows), so 32 = the 16-class grid in one pass.
    ap.add_argument("--image-batch", type=int, default=32)
    ap.add_argument("--video-batch", type=int, default=2)
    args = ap.parse_args()
    for name, batch in (("glyph_dit", args.image_batch), ("glyph_video_dit", args.video_batch)):
        if os.path.exists(os.path.join(args.dir, name + ".pt")):
            export(args.dir, name, batch=batch, out_dir=args.out, suffix=args.suffix)
        else:
            print(f"{name}.pt not in {args.dir}: not exported")


if __name__ == "__main__":
    main()
