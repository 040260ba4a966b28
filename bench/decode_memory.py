"""Memory and time of a 256x256 latent-to-pixel decode, whole and tiled.

Builds a diffusers AutoencoderKL with Stable Diffusion's decoder configuration
(block_out_channels 128/256/512/512, 2 layers per block, 32 groups, 4 latent
channels, factor 8) with seeded random weights (nothing downloaded), exports
its decoder twice with the legacy exporter (opset 17): for the whole 32x32
latent and for a 16x16 tile. Each is converted with `edge-convert --decoder`
beside a one-layer stand-in denoiser (the decode is what is measured), and
`edge-run --steps 1 --json` decodes one sample: peak RSS, the shared arena
(the decoder's activation plan: the denoiser's is far smaller) and the decode
time, whole against tiled, alternately, plus the PSNR of tiled against whole.

Runs in the virtual environment of tests/models/zoo/make_zoo.sh (torch 2.x,
diffusers): ZOO_VENV (default ~/.cache/edge-zoo-venv).

  bash bench/decode_memory.sh [BUILD_DIR]   # writes bench/results/decode_memory.{json,md}
"""
import argparse
import json
import os
import platform
import subprocess
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class StandIn(torch.nn.Module):
    """v = conv1x1(x) * (1 + 0 * t): a denoiser of the latent's shape."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 4, 1)

    def forward(self, x, t):
        return self.conv(x) * (1 + 0 * t.view(-1, 1, 1, 1))


class Decode(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, z):
        return self.vae.decode(z).sample


def export(module, args, names, path):
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=names, output_names=["out"], opset_version=17,
                          dynamo=False)


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--latent", type=int, default=32, help="latent side (pixels: x8)")
    ap.add_argument("--tile", type=int, default=16, help="decoder tile side in latent pixels")
    ap.add_argument("--overlap", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "decode_memory"))
    a = ap.parse_args()
    from diffusers import AutoencoderKL
    torch.manual_seed(0)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=32, layers_per_block=2,
                        block_out_channels=(128, 256, 512, 512),
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4).eval()
    with torch.no_grad():
        for p in vae.parameters():
            p.copy_(torch.randn_like(p) * 0.02)
    params = sum(p.numel() for p in vae.decoder.parameters()) + sum(p.numel() for p in vae.post_quant_conv.parameters())
    conv = os.path.join(a.build, "converter", "edge-convert")
    run = os.path.join(a.build, "runtime", "edge-run")
    L = a.latent
    rows = {}
    with tempfile.TemporaryDirectory() as work:
        export(StandIn().eval(), (torch.randn(1, 4, L, L), torch.ones(1)), ["x", "t"], os.path.join(work, "den.onnx"))
        for kind, side in (("whole", L), ("tiled", a.tile)):
            onnx = os.path.join(work, "dec_%s.onnx" % kind)
            export(Decode(vae), (torch.randn(1, 4, side, side),), ["z"], onnx)
            fb = os.path.join(work, "%s.fb" % kind)
            subprocess.run([conv, os.path.join(work, "den.onnx"), "-o", fb, "--decoder", onnx, "--roles",
                            "x=latent,t=timestep", "--sampler", "flow", "--steps", "1", "--guidance", "1",
                            "--output-kind", "latent", "--latent", "4x%dx%d" % (L, L), "--decode-tile-overlap",
                            str(a.overlap)], check=True, capture_output=True)
            rows[kind] = {"decoder_input": [1, 4, side, side], "file_bytes": os.path.getsize(fb), "runs": []}
        outs = {}
        for r in range(a.rounds):
            for kind in ("whole", "tiled"):
                npy = os.path.join(work, "%s.npy" % kind)
                t0 = time.time()
                j = run_json([run, os.path.join(work, "%s.fb" % kind), "--threads", str(a.threads), "--out", npy,
                              "--json", "--quiet"])
                rows[kind]["runs"].append({"wall_s": time.time() - t0, "decode_ms": j["decoder"]["total_ms"],
                                           "peak_rss_kb": j["peak_rss_kb"],
                                           "shared_arena_bytes": j["decoder"]["shared_arena_bytes"],
                                           "tiles": j["decoder"]["tiles"]})
                outs[kind] = np.load(npy)
    ref, got = outs["whole"].astype(np.float64), outs["tiled"]
    mse = float(np.mean((ref - got) ** 2))
    psnr = 10 * np.log10(float(np.max(np.abs(ref))) ** 2 / mse) if mse > 0 else float("inf")
    res = {"machine": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d"),
           "decoder_parameters": params, "latent": [4, L, L], "pixels": [3, 8 * L, 8 * L], "tile": a.tile,
           "overlap": a.overlap, "threads": a.threads, "tiled_vs_whole_psnr_db": psnr, "rows": rows,
           "command": "bash bench/decode_memory.sh"}
    with open(a.out + ".json", "w") as f:
        json.dump(res, f, indent=1)
    med = lambda kind, key: float(np.median([x[key] for x in rows[kind]["runs"]]))  # noqa: E731
    lines = ["# Decoding a %dx%d image from a %dx%d latent: whole and tiled" % (8 * L, 8 * L, L, L), "",
             "Stable Diffusion's VAE decoder configuration (%.1f M parameters, random weights), FP32, %d thread(s); "
             "command: `bash bench/decode_memory.sh` (results of %s). Medians of %d runs, whole and tiled "
             "alternately. Arena: the activation plan shared by the denoiser stand-in and the decoder (the "
             "decoder's). Peak RSS includes the mapped weights (%.0f MB) and the output." %
             (params / 1e6, a.threads, res["date"], a.rounds, 4 * params / 1e6), "",
             "| decode | decoder input | tiles | arena | peak RSS | decode time |", "|---|---|---|---|---|---|"]
    for kind in ("whole", "tiled"):
        lines.append("| %s | 1x4x%dx%d | %d | %.1f MiB | %.1f MiB | %.0f ms |" % (
            kind, rows[kind]["decoder_input"][2], rows[kind]["decoder_input"][3], rows[kind]["runs"][0]["tiles"],
            med(kind, "shared_arena_bytes") / 2**20, med(kind, "peak_rss_kb") / 1024, med(kind, "decode_ms")))
    lines += ["", "Tiled against whole (overlap %d latent pixels, GroupNorm statistics per tile): PSNR %.1f dB." %
              (a.overlap, psnr)]
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
