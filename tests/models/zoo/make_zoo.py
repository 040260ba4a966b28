"""Exports the model zoo: diffusers architectures at tiny sizes with seeded random
weights (built from config dicts, nothing downloaded), each exported by torch 2.x
twice: the legacy TorchScript exporter (opset 17) and the dynamo exporter
(opset 18). Writes, per model and exporter, <out>/<model>/<exporter>/model.onnx
and, per model, the inputs and the PyTorch output as .npy plus meta.json.

Runs inside the virtual environment that make_zoo.sh sets up (torch 2.x,
diffusers, onnx, onnxscript, onnxruntime from PyPI):

  bash tests/models/zoo/make_zoo.sh [NAME ...]

Rerunning gives the same weights and inputs (fixed seeds); the ONNX files can
still differ in node names between torch versions.
"""
import argparse
import json
import os
import sys
import traceback

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORTERS = ("legacy", "dynamo")


def randomize(model, seed, std=0.05):
    """Seeded random weights everywhere: diffusers zero-initializes adaLN and
    output projections, which would make the blocks identities and the test blind."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("weight") and p.dim() == 1:  # norm gains
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))
    return model.eval()


class Wrap(torch.nn.Module):
    """Positional tensors in, one tensor out: the exporters' calling convention.
    `fixed` holds the keyword arguments that are not graph inputs (position ids,
    sizes), so they end up as constants in the graph."""

    def __init__(self, model, names, fixed=None, call=None):
        super().__init__()
        self.model = model
        self.names = names
        self.fixed = fixed or {}
        self.call = call

    def forward(self, *args):
        kw = dict(zip(self.names, args))
        kw.update(self.fixed)
        fn = self.call(self.model) if self.call else self.model
        out = fn(**kw, return_dict=False)
        return out[0] if isinstance(out, (tuple, list)) else out


def rand(g, *shape):
    return torch.randn(*shape, generator=g)


# Each maker returns (wrapper module, {input name: tensor}, fixed keyword
# arguments). At the test scale (committed files): hidden sizes 32-64, one or
# two blocks, a few dozen tokens, so the files stay small. At the bench scale
# (--scale bench, for bench/run_zoo_speed.sh, never committed): 6 heads of 64
# (hidden 384), two blocks, 256 image tokens per sample in a batch of 2 for the
# image models and 512 video tokens for the video models, 16 text tokens:
# shapes whose time is the network's, not the call overhead.
BIG = False


def pick(test, bench):
    return bench if BIG else test


def make_dit(g):
    from diffusers import DiTTransformer2DModel
    s = pick(8, 32)
    m = DiTTransformer2DModel(num_attention_heads=pick(2, 6), attention_head_dim=pick(16, 64), in_channels=4,
                              out_channels=8, num_layers=2, sample_size=s, patch_size=2, num_embeds_ada_norm=10)
    ins = {"hidden_states": rand(g, 2, 4, s, s), "timestep": torch.tensor([17, 803], dtype=torch.int64),
           "class_labels": torch.tensor([3, 9], dtype=torch.int64)}
    return m, ins, {}


def make_pixart(g):
    from diffusers import PixArtTransformer2DModel
    s, txt = pick(8, 32), pick(6, 16)
    m = PixArtTransformer2DModel(num_attention_heads=pick(2, 6), attention_head_dim=pick(16, 64), in_channels=4,
                                 out_channels=8, num_layers=2, sample_size=s, patch_size=2,
                                 cross_attention_dim=pick(32, 384), caption_channels=pick(24, 64),
                                 use_additional_conditions=False)
    ins = {"hidden_states": rand(g, 2, 4, s, s), "encoder_hidden_states": rand(g, 2, txt, pick(24, 64)),
           "timestep": torch.tensor([17, 803], dtype=torch.int64)}
    return m, ins, {"added_cond_kwargs": {"resolution": None, "aspect_ratio": None}}


def make_sd3(g):
    from diffusers import SD3Transformer2DModel
    s, txt = pick(8, 32), pick(6, 16)
    m = SD3Transformer2DModel(sample_size=s, patch_size=2, in_channels=4, num_layers=2,
                              attention_head_dim=pick(16, 64), num_attention_heads=pick(2, 6),
                              joint_attention_dim=pick(32, 64), caption_projection_dim=pick(32, 384),
                              pooled_projection_dim=pick(16, 64), out_channels=4, pos_embed_max_size=pick(16, 32))
    ins = {"hidden_states": rand(g, 2, 4, s, s), "encoder_hidden_states": rand(g, 2, txt, pick(32, 64)),
           "pooled_projections": rand(g, 2, pick(16, 64)), "timestep": torch.tensor([17.0, 803.0])}
    return m, ins, {}


def make_flux(g):
    from diffusers import FluxTransformer2DModel
    side, txt = pick(4, 16), pick(6, 16)
    m = FluxTransformer2DModel(patch_size=1, in_channels=pick(16, 64), num_layers=1, num_single_layers=pick(1, 2),
                               attention_head_dim=pick(16, 64), num_attention_heads=pick(2, 6),
                               joint_attention_dim=pick(32, 64), pooled_projection_dim=pick(16, 64),
                               guidance_embeds=False, axes_dims_rope=pick((4, 6, 6), (16, 24, 24)))
    # Position ids of a side x side latent grid and the text tokens: fixed, so
    # RoPE's cos/sin fold to constants as they do for any static-shape deployment.
    img_ids = torch.zeros(side, side, 3)
    img_ids[..., 1] = torch.arange(side)[:, None]
    img_ids[..., 2] = torch.arange(side)[None, :]
    ins = {"hidden_states": rand(g, 2, side * side, pick(16, 64)), "encoder_hidden_states": rand(g, 2, txt, pick(32, 64)),
           "pooled_projections": rand(g, 2, pick(16, 64)), "timestep": torch.tensor([0.017, 0.803])}
    return m, ins, {"img_ids": img_ids.reshape(side * side, 3), "txt_ids": torch.zeros(txt, 3)}


def make_wan(g):
    from diffusers import WanTransformer3DModel
    s, txt = pick(8, 32), pick(6, 16)
    m = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=pick(2, 6), attention_head_dim=pick(16, 64),
                              in_channels=4, out_channels=4, text_dim=pick(32, 64), freq_dim=pick(32, 256),
                              ffn_dim=pick(64, 1024), num_layers=pick(1, 2), cross_attn_norm=True,
                              qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=32)
    ins = {"hidden_states": rand(g, 1, 4, 2, s, s), "timestep": torch.tensor([803], dtype=torch.int64),
           "encoder_hidden_states": rand(g, 1, txt, pick(32, 64))}
    return m, ins, {}


def make_cogvideox(g):
    from diffusers import CogVideoXTransformer3DModel
    s, txt, hd = pick(8, 32), pick(6, 16), pick(16, 64)
    m = CogVideoXTransformer3DModel(num_attention_heads=pick(2, 6), attention_head_dim=hd, in_channels=4,
                                    out_channels=4, time_embed_dim=pick(32, 128), text_embed_dim=pick(32, 64),
                                    num_layers=pick(1, 2), sample_width=s, sample_height=s, sample_frames=5,
                                    patch_size=2, temporal_compression_ratio=4, max_text_seq_length=txt,
                                    use_rotary_positional_embeddings=True)
    # RoPE tables as the CogVideoX pipeline computes them, for 2 frames of patches.
    from diffusers.models.embeddings import get_3d_rotary_pos_embed
    p = s // 2
    cos, sin = get_3d_rotary_pos_embed(embed_dim=hd, crops_coords=((0, 0), (p, p)), grid_size=(p, p),
                                       temporal_size=2)
    ins = {"hidden_states": rand(g, 1, 2, 4, s, s), "encoder_hidden_states": rand(g, 1, txt, pick(32, 64)),
           "timestep": torch.tensor([803], dtype=torch.int64)}
    return m, ins, {"image_rotary_emb": (cos.float(), sin.float())}


def make_ltx(g):
    from diffusers import LTXVideoTransformer3DModel
    side, txt, cin = pick(4, 16), pick(6, 16), pick(8, 32)
    m = LTXVideoTransformer3DModel(in_channels=cin, out_channels=cin, patch_size=1, patch_size_t=1,
                                   num_attention_heads=pick(2, 6), attention_head_dim=pick(16, 64),
                                   cross_attention_dim=pick(32, 384), num_layers=pick(1, 2),
                                   caption_channels=pick(24, 64), qk_norm="rms_norm_across_heads")
    # The legacy exporter writes a Concat on axis 2 of a rank-2 tensor in the
    # timestep projection here (ONNX Runtime rejects the file): it is recorded
    # as an export failure.
    ins = {"hidden_states": rand(g, 2, 2 * side * side, cin), "encoder_hidden_states": rand(g, 2, txt, pick(24, 64)),
           "timestep": torch.tensor([17.0, 803.0])}
    return m, ins, {"num_frames": 2, "height": side, "width": side, "encoder_attention_mask": None}


def make_vae_decoder(g):
    from diffusers import AutoencoderKL
    m = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                      up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=pick((16, 32), (64, 128)),
                      layers_per_block=1, latent_channels=4, norm_num_groups=pick(8, 32), sample_size=pick(16, 64))
    ins = {"z": rand(g, 1, 4, pick(8, 32), pick(8, 32))}
    return m, ins, {"__call__": lambda mod: mod.decode}


def make_vae_encoder(g):
    # Not one of the eight: the encoder's downsampling pads (0, 1, 0, 1)
    # before a stride-2 Conv (an ONNX Pad), which the converter refuses. Kept as
    # the zoo's example of a clean refusal.
    m, _, _ = make_vae_decoder(g)
    ins = {"sample": rand(g, 1, 3, pick(16, 64), pick(16, 64))}
    return m, ins, {"__call__": lambda mod: lambda sample, return_dict: (mod._encode(sample),)}


MAKERS = {
    "dit": (make_dit, "DiTTransformer2DModel"),
    "pixart": (make_pixart, "PixArtTransformer2DModel"),
    "sd3": (make_sd3, "SD3Transformer2DModel"),
    "flux": (make_flux, "FluxTransformer2DModel"),
    "wan": (make_wan, "WanTransformer3DModel"),
    "cogvideox": (make_cogvideox, "CogVideoXTransformer3DModel"),
    "ltx": (make_ltx, "LTXVideoTransformer3DModel"),
    "vae_decoder": (make_vae_decoder, "AutoencoderKL (decoder)"),
    "vae_encoder": (make_vae_encoder, "AutoencoderKL (encoder)"),
}


def _register_rms_norm_symbolic():
    """The legacy exporter has no aten::rms_norm (torch.nn.functional.rms_norm,
    which diffusers' RMSNorm calls); spell it out in opset-17 ops, as a model
    written before rms_norm existed would have been exported."""
    from torch.onnx import register_custom_op_symbolic
    from torch.onnx.symbolic_helper import parse_args

    @parse_args("v", "is", "v", "f")
    def rms_norm(g, x, normalized_shape, weight, eps):
        two = g.op("Constant", value_t=torch.tensor(2.0))
        axes = list(range(-len(normalized_shape), 0))
        ms = g.op("ReduceMean", g.op("Pow", x, two), axes_i=axes, keepdims_i=1)  # axes attribute until opset 18
        eps_c = g.op("Constant", value_t=torch.tensor(eps))
        y = g.op("Div", x, g.op("Sqrt", g.op("Add", ms, eps_c)))
        return y if weight.node().mustBeNone() else g.op("Mul", y, weight)

    register_custom_op_symbolic("aten::rms_norm", rms_norm, 17)


def export(wrapper, args, names, path, exporter):
    if exporter == "legacy":
        _register_rms_norm_symbolic()
        torch.onnx.export(wrapper, args, path, opset_version=17, do_constant_folding=True, input_names=names,
                          output_names=["out"], dynamo=False)
    else:
        prog = torch.onnx.export(wrapper, args, input_names=names, output_names=["out"], opset_version=18,
                                 dynamo=True, external_data=False)
        prog.save(path, external_data=False)
    import onnx
    model = onnx.load(path)
    onnx.checker.check_model(model)
    # ONNX Runtime as a second opinion: a file it cannot run is a broken export.
    import onnxruntime as ort
    try:
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as e:  # keep the reason, not this machine's path
        raise RuntimeError("ONNX Runtime rejects the exported file: " + str(e).split(" failed:", 1)[-1].strip())
    feeds = {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)}
    return sess.run(None, feeds)[0], len(model.graph.node)


def make_one(name, out_root, seed):
    maker, arch = MAKERS[name]
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    model, ins, fixed = maker(g)
    randomize(model, seed)
    call = fixed.pop("__call__", None)
    wrapper = Wrap(model, list(ins), fixed, call).eval()
    args = tuple(ins.values())
    with torch.no_grad():
        ref = wrapper(*args).float()
    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    for k, v in ins.items():
        np.save(os.path.join(d, k + ".npy"), v.numpy())
    np.save(os.path.join(d, "expected_out.npy"), ref.numpy())
    meta = {"architecture": arch, "inputs": list(ins), "output": "out", "seed": seed,
            "param_bytes": int(sum(p.numel() for p in model.parameters()) * 4),
            "torch": torch.__version__, "exporters": {}}
    import diffusers
    meta["diffusers"] = diffusers.__version__
    for ex in EXPORTERS:
        sub = os.path.join(d, ex)
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, "model.onnx")
        try:
            with torch.no_grad():
                got, nodes = export(wrapper, args, list(ins), path, ex)
            err = float(np.max(np.abs(got - ref.numpy())) / max(1e-12, float(np.max(np.abs(ref.numpy())))))
            meta["exporters"][ex] = {"status": "ok", "onnx_nodes": nodes, "ort_rel_err": err}
            print("%-12s %-7s ok: %d nodes, %d bytes, onnxruntime rel err %.2e" %
                  (name, ex, nodes, os.path.getsize(path), err))
        except Exception as e:  # an exporter that fails is recorded, not fatal
            msg = "%s: %s" % (type(e).__name__, str(e).strip().splitlines()[0][:300] if str(e).strip() else "")
            meta["exporters"][ex] = {"status": "export failed", "error": msg}
            print("%-12s %-7s EXPORT FAILED: %s" % (name, ex, msg))
            if os.environ.get("ZOO_TRACE"):
                traceback.print_exc()
            for f in os.listdir(sub):
                os.remove(os.path.join(sub, f))
            os.rmdir(sub)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--scale", choices=("test", "bench"), default="test",
                    help="test: the committed tiny configs; bench: hidden 384, 256-512 tokens (for timing)")
    ap.add_argument("names", nargs="*", help="models (default all): " + " ".join(MAKERS))
    a = ap.parse_args()
    for n in a.names:
        if n not in MAKERS:
            sys.exit("unknown model %r (have: %s)" % (n, " ".join(MAKERS)))
    global BIG
    BIG = a.scale == "bench"
    torch.set_num_threads(1)
    for i, n in enumerate(a.names or list(MAKERS)):
        make_one(n, a.out, 100 + 10 * list(MAKERS).index(n))


if __name__ == "__main__":
    main()
