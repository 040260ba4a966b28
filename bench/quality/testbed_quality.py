"""Quality of the runtime's approximations on the testbed video DiT (models/testbed:
RGB clips of camera pans/zooms over photographs, 2048 tokens, hidden 256, 4 blocks).

For each configuration, edge-run generates the same clips (same classes, same seeds)
with the model's pipeline (20 flow steps, CFG 3, shift 2); the score is the PSNR of the
final clips against edge-run's own FP32 clips (range [-1, 1], peak-to-peak 2), over all
clips together and for the worst clip, plus the generation time.
With --torch-check the FP32 clips are also compared with PyTorch's sampler
(models/testbed/sample_torch.py) started from the same noise.

usage: bash models/testbed/build_fb.sh build
       /usr/bin/python3 bench/quality/testbed_quality.py [--build build] [--out bench/results]
            [--classes 0,5,11] [--seeds 0] [--threads 2] [--configs fp32,int8,...] [--torch-check]
Writes OUT/testbed_quality.{json,md,png}. Times are wall clock of one edge-run call per
seed (all classes of that seed batched), so they are only comparable within one run.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TESTBED = os.path.join(ROOT, "models", "testbed")
MODEL = os.path.join(TESTBED, "testbed_video_dit.fb")
sys.path.insert(0, os.path.join(ROOT, "python"))
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402

# name -> extra edge-run flags; the first is the reference
CONFIGS = {
    "fp32": [],
    "int8": ["--precision", "int8"],
    "fp32+cache0.1": ["--cache-threshold", "0.1"],
    "fp32+cache0.2": ["--cache-threshold", "0.2"],
    "fp32+sparse0.5": ["--attention-density", "0.5"],
    "fp32+sparse0.25": ["--attention-density", "0.25"],
    "int8+cache0.2+sparse0.5": ["--precision", "int8", "--cache-threshold", "0.2", "--attention-density", "0.5"],
}
DEFAULT = ["fp32", "int8", "fp32+cache0.1", "fp32+cache0.2", "fp32+sparse0.5", "fp32+sparse0.25"]


def edge_run(exe, out, classes, seed, extra, threads, dump_noise=None):
    cmd = [exe, MODEL, "--class", ",".join(map(str, classes)), "--seed", str(seed), "--threads", str(threads),
           "--json", "--out", out] + extra
    if dump_noise:
        cmd += ["--dump-noise", dump_noise]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(" ".join(cmd) + "\n" + r.stderr)
    return json.loads(r.stdout), np.load(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", default="0,5,11")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--configs", default=",".join(DEFAULT), help="from: " + ", ".join(CONFIGS))
    ap.add_argument("--torch-check", action="store_true")
    args = ap.parse_args()
    exe = os.path.join(args.build, "runtime", "edge-run")
    if not os.path.exists(MODEL):
        sys.exit(f"{MODEL} missing: run bash models/testbed/build_fb.sh {args.build}")
    classes = [int(c) for c in args.classes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.configs.split(",")
    if names[0] != "fp32":
        names = ["fp32"] + [n for n in names if n != "fp32"]
    os.makedirs(args.out, exist_ok=True)
    results, clips, torch_check = [], {}, None
    with tempfile.TemporaryDirectory() as d:
        ref = {}
        for name in names:
            per_seed, ms = [], 0.0
            info_sum = dict(blocks_computed=0, blocks_skipped=0)
            for s in seeds:
                noise = os.path.join(d, f"noise{s}.npy") if name == "fp32" else None
                info, x = edge_run(exe, os.path.join(d, "s.npy"), classes, s, CONFIGS[name], args.threads, noise)
                ms += info["total_ms"]
                for k in info_sum:
                    info_sum[k] += info.get(k, 0)
                if name == "fp32":
                    ref[s] = x
                per_seed.append(x)
                clips.setdefault(name, x[0])
            x = np.concatenate(per_seed)
            r = np.concatenate([ref[s] for s in seeds])
            per_clip = [psnr(r[i], x[i], PIXEL_PEAK) for i in range(x.shape[0])]
            total = info_sum["blocks_computed"] + info_sum["blocks_skipped"]
            res = dict(config=name, flags=" ".join(CONFIGS[name]), clips=int(x.shape[0]),
                       psnr_vs_fp32=round(psnr(r, x, PIXEL_PEAK), 2), worst_clip_psnr=round(min(per_clip), 2),
                       rel_l2_vs_fp32=float(np.linalg.norm((r - x).astype(np.float64)) / np.linalg.norm(r.astype(np.float64))),
                       blocks_skipped_pct=round(100.0 * info_sum["blocks_skipped"] / total, 1) if total else 0.0,
                       total_ms=round(ms, 1))
            results.append(res)
            print(json.dumps(res), flush=True)
        if args.torch_check:
            cmd = [sys.executable, os.path.join(TESTBED, "sample_torch.py"), "--classes", args.classes,
                   "--noise", os.path.join(d, f"noise{seeds[0]}.npy"), "--out", os.path.join(d, "torch")]
            subprocess.run(cmd, check=True, capture_output=True)
            t = np.load(os.path.join(d, "torch.npy"))
            torch_check = dict(seed=seeds[0], psnr=round(psnr(t, ref[seeds[0]], PIXEL_PEAK), 2),
                               max_abs_diff=float(np.abs(t.astype(np.float64) - ref[seeds[0]]).max()))
            print("FP32 vs PyTorch:", json.dumps(torch_check), flush=True)
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                         text=True).stdout.strip()
    cmdline = "/usr/bin/python3 bench/quality/testbed_quality.py " + " ".join(sys.argv[1:])
    doc = dict(schema="edge.testbed_quality.v1", model="models/testbed/testbed_video_dit.fb",
               machine=dict(cpu=cpu, arch=platform.machine(), threads=args.threads),
               classes=classes, seeds=seeds, command=cmdline.strip(), torch_check=torch_check, results=results)
    json.dump(doc, open(os.path.join(args.out, "testbed_quality.json"), "w"), indent=1)
    with open(os.path.join(args.out, "testbed_quality.md"), "w") as f:
        f.write(f"Testbed video DiT, classes {args.classes}, seeds {args.seeds}, {args.threads} threads; "
                f"`{doc['command']}`\n\n")
        f.write("| configuration | flags | PSNR vs FP32 (dB) | worst clip (dB) | rel. L2 | blocks skipped | time (ms) |\n")
        f.write("|---|---|---|---|---|---|---|\n")
        for r in results:
            f.write(f"| {r['config']} | `{r['flags']}` | {r['psnr_vs_fp32']} | {r['worst_clip_psnr']} | "
                    f"{r['rel_l2_vs_fp32']:.2e} | {r['blocks_skipped_pct']}% | {r['total_ms']} |\n")
        if torch_check:
            f.write(f"\nFP32 vs PyTorch (same noise, seed {torch_check['seed']}): PSNR {torch_check['psnr']} dB, "
                    f"max abs diff {torch_check['max_abs_diff']:.2e}\n")
    # figure: the first clip of each configuration, one row of 8 frames
    sys.path.insert(0, TESTBED)
    from make_clips import save_clip_grid
    save_clip_grid(np.stack([clips[n] for n in names]), os.path.join(args.out, "testbed_quality.png"))
    print("wrote", os.path.join(args.out, "testbed_quality.{json,md,png}"),
          "(png rows:", ", ".join(names) + ")")


if __name__ == "__main__":
    main()
