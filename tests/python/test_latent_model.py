"""The latent demo (models/latent: a DiT on 16x16x4 latents and a tiny VAE decoder):
edge-run's FP32 graphs agree with the PyTorch models on the same inputs.

- the denoiser, one forward of the cond + uncond batch at an early and a late timestep;
- the decoder, z [1, 4, 16, 16] -> image [1, 3, 64, 64], on DiT-scale latents;
- the tile decoder, z [1, 4, 8, 8] -> [1, 3, 32, 32], when it is built.
Each: max |edge - torch| / max |torch| <= 1e-4.

The .fb files are git-ignored until they ship (bash models/latent/build_fb.sh BUILD makes
them); without them the test says so and passes. The graphs are read from the
single-graph files: latent_denoiser.fb (made when latent_dit.fb holds the denoiser and the
decoder together), else latent_dit.fb; latent_decoder.fb; latent_decoder_tile.fb.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

BUILD = os.environ.get("EDGE_BUILD_DIR", "build")
SOURCE = os.environ.get("EDGE_SOURCE_DIR", ".")
EDGE_RUN = os.path.join(BUILD, "runtime", "edge-run")
LATENT = os.path.join(SOURCE, "models", "latent")
sys.path.insert(0, LATENT)
from export_onnx import load_decoder, load_dit  # noqa: E402  (models/latent/export_onnx.py)

LIMIT = 1e-4


def run_once(model, inputs, out_dir, output):
    with tempfile.TemporaryDirectory() as d:
        cmd = [EDGE_RUN, model, "--once", "--threads", "2", "--quiet", "--out-dir", out_dir]
        for name, a in inputs.items():
            p = os.path.join(d, name + ".npy")
            np.save(p, a)
            cmd += ["--input", f"{name}={p}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(" ".join(cmd), r.stdout, r.stderr)
            sys.exit(1)
    return np.load(os.path.join(out_dir, output + ".npy"))


def rel_err(ref, got):
    return float(np.abs(got.astype(np.float64) - ref).max() / max(1e-12, float(np.abs(ref).max())))


def main():
    dit_fb = os.path.join(LATENT, "latent_denoiser.fb")
    if not os.path.exists(dit_fb):
        dit_fb = os.path.join(LATENT, "latent_dit.fb")
    dec_fb = os.path.join(LATENT, "latent_decoder.fb")
    tile_fb = os.path.join(LATENT, "latent_decoder_tile.fb")
    if not (os.path.exists(dit_fb) and os.path.exists(dec_fb)):
        print(f"skip: {dit_fb} / {dec_fb} not built (bash models/latent/build_fb.sh {BUILD})")
        return
    dit, cfg = load_dit(LATENT)
    dec, _ = load_decoder(LATENT)
    rng = np.random.default_rng(5)
    errs = []
    with tempfile.TemporaryDirectory() as d:
        c, s = cfg["in_channels"], cfg["input_size"]
        for tval in (950.0, 260.0):
            x = rng.standard_normal((2, c, s, s), dtype=np.float32)
            t = np.full((2,), tval, np.float32)
            y = np.array([3, cfg["num_classes"]], np.int64)
            got = run_once(dit_fb, {"x": x, "t": t, "y": y}, os.path.join(d, "dit"), "v")
            with torch.no_grad():
                ref = dit(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(y)).numpy()
            e = rel_err(ref, got)
            print(f"denoiser t={tval:.0f}: max rel err edge-run vs PyTorch {e:.2e} (limit {LIMIT:g})")
            errs.append(e)
        for fb, hw in ((dec_fb, s), (tile_fb, s // 2)):
            if not os.path.exists(fb):
                print(f"{fb} not built: not checked")
                continue
            z = rng.standard_normal((1, c, hw, hw), dtype=np.float32)
            got = run_once(fb, {"z": z}, os.path.join(d, "dec"), "image")
            with torch.no_grad():
                ref = dec(torch.from_numpy(z)).numpy()
            e = rel_err(ref, got) if got.shape == ref.shape else float("inf")
            print(f"{os.path.basename(fb)} z {list(z.shape)} -> {list(got.shape)}: max rel err edge-run vs "
                  f"PyTorch {e:.2e} (limit {LIMIT:g})")
            errs.append(e)
    if not max(errs) <= LIMIT:
        print("FAILED")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
