"""End-to-end speed and quality of runtime configurations on one trained model:
full sampling runs (the model's stored steps and guidance), PSNR of the final
output against the same model's FP32 output (same classes and seed), and the
speed-up over FP32 measured alternately in the same run (FP32, config, FP32,
config, ...). Times are the child's CPU time (user + sys) on one thread, which
stays meaningful when other work shares the machine; wall time is reported too.

usage: /usr/bin/python3 bench/quality/speed_quality.py [--model models/demo/glyph_video_dit.fb]
           [--base-model FP32.fb] [--preset attention|all] [--config NAME=FLAGS ...] [--classes 0,5,10,15]
           [--rounds 2] [--name video] [--out bench/results]
--base-model: the FP32 reference and baseline runs use this file (default: --model), so that a
file written by edge-convert --target-psnr runs its stored defaults (--config "tuned=") against
the plain FP32 conversion of the same model.
Writes OUT/speed_quality_NAME.{json,md}.
"""
import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402

PRESETS = {
    "none": [],
    "attention": [
        ("attention int8", "--attention-precision int8"),
        ("linear int8", "--precision int8"),
        ("linear int8 + attention int8", "--precision int8 --attention-precision int8"),
    ],
}
# Token-level reuse in attention alone, with the other kernel approximations
# and with the step cache.
PRESETS["token"] = [
    ("token reuse 0.05", "--token-reuse 0.05"),
    ("token reuse 0.07", "--token-reuse 0.07"),
    ("token reuse 0.1", "--token-reuse 0.1"),
    ("token reuse 0.07, order 0", "--token-reuse 0.07 --token-reuse-order 0"),
    ("token reuse 0.07 + attention int8", "--token-reuse 0.07 --attention-precision int8"),
    ("token reuse 0.07 + linear int8 + attention int8",
     "--token-reuse 0.07 --precision int8 --attention-precision int8"),
    ("token reuse 0.07 + cache tdc 0.1", "--token-reuse 0.07 --cache tdc --cache-threshold 0.1"),
]
PRESETS["all"] = PRESETS["attention"] + [
    ("clusters", "--attention-sparse clusters"),
    ("clusters + attention int8", "--attention-sparse clusters --attention-precision int8"),
    ("cache auto (35 dB calibration)", "--cache auto"),
    ("cache auto + attention int8", "--cache auto --attention-precision int8"),
    ("cache auto + linear int8 + attention int8", "--cache auto --precision int8 --attention-precision int8"),
    ("cache auto, 30 dB calibration", "--cache auto --cache-target 30"),
    ("cache auto 30 + linear int8 + attention int8",
     "--cache auto --cache-target 30 --precision int8 --attention-precision int8"),
    ("cache auto 30 + int8 + clusters",
     "--cache auto --cache-target 30 --precision int8 --attention-precision int8 --attention-sparse clusters"),
]


def run(edge_run, model, classes, seed, flags, out):
    cmd = [edge_run, model, "--class", ",".join(map(str, classes)), "--seed", str(seed), "--threads", "1",
           "--json", "--quiet", "--out", out] + shlex.split(flags)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError(" ".join(cmd) + "\n" + r.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(r.stdout), np.load(out), cpu, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "demo", "glyph_video_dit.fb"))
    ap.add_argument("--base-model", default=None, help="FP32 file for the reference (default: --model)")
    ap.add_argument("--name", default="video")
    ap.add_argument("--preset", default="attention", choices=sorted(PRESETS))
    ap.add_argument("--config", action="append", default=[], help="NAME=FLAGS (repeatable)")
    ap.add_argument("--classes", default="0,5,10,15")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
    edge_run = os.path.join(args.build, "runtime", "edge-run")
    if not os.path.exists(args.model):
        sys.exit(f"{args.model} not found (bash models/demo/build_fb.sh build makes the demo models)")
    configs = list(PRESETS[args.preset])
    for c in args.config:
        name, _, flags = c.partition("=")
        configs.append((name, flags))
    classes = [int(c) for c in args.classes.split(",")]
    base_model = args.base_model or args.model
    results = []
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "s.npy")
        ref = None
        base_cpu, base_wall = [], []
        cfg_cpu = {n: [] for n, _ in configs}
        cfg_wall = {n: [] for n, _ in configs}
        outputs, infos = {}, {}
        for rnd in range(args.rounds):
            for name, flags in configs:
                _, x0, c0, w0 = run(edge_run, base_model, classes, args.seed, "", out)
                if ref is None:
                    ref = x0
                base_cpu.append(c0)
                base_wall.append(w0)
                info, x, c, w = run(edge_run, args.model, classes, args.seed, flags, out)
                cfg_cpu[name].append(c)
                cfg_wall[name].append(w)
                outputs[name], infos[name] = x, info
                print(f"round {rnd} {name}: fp32 {c0:.2f} s, config {c:.2f} s (CPU)", file=sys.stderr)
        fp32_cpu, fp32_wall = float(np.median(base_cpu)), float(np.median(base_wall))
        for name, flags in configs:
            x = outputs[name]
            per = [psnr(ref[i], x[i], PIXEL_PEAK) for i in range(len(classes))]
            skipped = infos[name].get("blocks_skipped", 0)
            total = skipped + infos[name].get("blocks_computed", 0)
            res = dict(config=name, flags=flags, psnr_db=round(psnr(ref, x, PIXEL_PEAK), 2), psnr_min_db=round(min(per), 2),
                       cpu_s=round(float(np.median(cfg_cpu[name])), 3),
                       speedup_cpu=round(fp32_cpu / float(np.median(cfg_cpu[name])), 3),
                       speedup_wall=round(fp32_wall / float(np.median(cfg_wall[name])), 3),
                       blocks_skipped_pct=round(100.0 * skipped / total, 1) if total else 0.0,
                       token_rows_pct=round(100.0 * infos[name].get("token_reuse", {}).get("rows_recomputed", 1.0), 1))
            results.append(res)
            print(json.dumps(res))
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                         text=True).stdout.strip()
    cmd = "/usr/bin/python3 bench/quality/speed_quality.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    doc = dict(schema="edge.speed_quality.v1", model=os.path.relpath(args.model, ROOT),
               base_model=os.path.relpath(base_model, ROOT), classes=classes,
               seed=args.seed, rounds=args.rounds, machine=dict(cpu=cpu, arch=platform.machine(), threads=1),
               fp32_cpu_s=round(fp32_cpu, 3), command=cmd.strip(), results=results)
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"speed_quality_{args.name}")
    json.dump(doc, open(base + ".json", "w"), indent=1)
    with open(base + ".md", "w") as f:
        f.write(f"`{doc['command']}` on {cpu}, 1 thread; model `{doc['model']}`, classes {classes}, seed "
                f"{args.seed}; FP32 {fp32_cpu:.2f} s CPU per run (median of {len(base_cpu)}, alternated).\n\n")
        f.write("| configuration | flags | PSNR vs FP32 (dB) | worst sample (dB) | speed-up (CPU time) | "
                "speed-up (wall) | blocks skipped | attention rows computed |\n|---|---|---|---|---|---|---|---|\n")
        for r in results:
            f.write(f"| {r['config']} | `{r['flags']}` | {r['psnr_db']} | {r['psnr_min_db']} | "
                    f"{r['speedup_cpu']}x | {r['speedup_wall']}x | {r['blocks_skipped_pct']}% | "
                    f"{r.get('token_rows_pct', 100.0)}% |\n")
    print("wrote", base + ".{json,md}")


if __name__ == "__main__":
    main()
