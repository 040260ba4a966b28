"""Step-cache quality vs skipping, per policy, on the trained demo models.

Every configuration is a full edge-run generation (the model's stored 20 steps
and guidance, seed 0; image: classes 0..15, video: classes 0,5,10,15) whose
final samples are compared with the FP32 output without cache (PSNR, range
[-1, 1]). Rows: each policy over a threshold sweep (static: intervals), the
ablation that drops skipped blocks instead of reusing their residual, and the
calibrated defaults (--cache auto / --cache POLICY on the files written by
edge-convert --cache-calibrate), each in FP32 and with --precision int8.

usage: bash models/demo/build_fb.sh build
       (optional, calibrated files) edge-convert ... --cache-calibrate 35,30 -o models/demo/glyph_dit_cache.fb
       /usr/bin/python3 bench/quality/cache_curves.py [--edge-run build/runtime/edge-run] [--jobs N]
Writes OUT/cache_curves_<models>.{json,md} (and appends rows to cache_curves.jsonl as they finish). Runs are single-threaded and run --jobs at
a time, so times are comparable within one invocation only.
"""
import argparse
import concurrent.futures as cf
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEMO = os.path.join(ROOT, "models", "demo")
sys.path.insert(0, os.path.join(ROOT, "python"))
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402

THRESHOLDS = [0.025, 0.05, 0.1, 0.2, 0.4]
POLICIES = ["tdc", "fb", "tea", "mag", "taylor"]
INTERVALS = [2, 3, 4]
MODELS = {
    "image": (["glyph_dit_cache.fb", "glyph_dit.fb"], list(range(16))),
    "video": (["glyph_video_dit_cache.fb", "glyph_video_dit.fb"], [0, 5, 10, 15]),
}


def configs(calibrated, precisions=("fp32", "int8")):
    out = [("fp32", "none", [])]
    for prec in precisions:
        pf = [] if prec == "fp32" else ["--precision", "int8"]
        if prec == "int8":
            out.append(("int8", "none", pf))
        for pol in POLICIES:
            for t in THRESHOLDS:
                out.append((prec, pol, pf + ["--cache", pol, "--cache-threshold", str(t)]))
        for k in INTERVALS:
            out.append((prec, "static", pf + ["--cache", "static", "--cache-interval", str(k)]))
        out.append((prec, "tdc-drop", pf + ["--cache", "tdc", "--cache-threshold", "0.2", "--cache-drop"]))
        if calibrated:
            # The calibrated defaults: auto at both stored targets, each policy at 30 dB.
            for target in ("35", "30"):
                out.append((prec, "auto@" + target, pf + ["--cache", "auto", "--cache-target", target]))
            for pol in POLICIES + ["static"]:
                out.append((prec, pol + "@30", pf + ["--cache", pol, "--cache-target", "30"]))
    return out


def run(edge_run, model, classes, flags, path):
    cmd = [edge_run, model, "--class", ",".join(map(str, classes)), "--seed", "0", "--threads", "1", "--json",
           "--out", path] + flags
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(" ".join(cmd) + "\n" + r.stderr)
    return json.loads(r.stdout), np.load(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edge-run", default=os.path.join(ROOT, "build", "runtime", "edge-run"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--models", default="image,video")
    ap.add_argument("--classes", default="", help="override the classes (e.g. 0,10) for a shorter run")
    ap.add_argument("--thresholds", default="", help="override the threshold sweep, e.g. 0.05,0.1")
    ap.add_argument("--intervals", default="", help="override the static intervals, e.g. 2,3")
    ap.add_argument("--precisions", default="fp32,int8")
    args = ap.parse_args()
    global THRESHOLDS, INTERVALS
    if args.thresholds:
        THRESHOLDS = [float(v) for v in args.thresholds.split(",")]
    if args.intervals:
        INTERVALS = [int(v) for v in args.intervals.split(",")]
    os.makedirs(args.out, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for group in args.models.split(","):
            files, classes = MODELS[group]
            if args.classes:
                classes = [int(v) for v in args.classes.split(",")]
            files = [f for f in files if os.path.exists(os.path.join(DEMO, f))]
            if not files:
                print(f"skip {group}: not built")
                continue
            model = os.path.join(DEMO, files[0])
            calibrated = files[0].endswith("_cache.fb")
            todo = configs(calibrated, args.precisions.split(","))
            # The reference first; then every row is printed (and appended to
            # cache_curves.jsonl) as soon as it is done, so a cut-off run keeps them.
            ref_info, ref = run(args.edge_run, model, classes, todo[0][2], os.path.join(d, f"{group}_ref.npy"))

            def row_of(cfg, info, x):
                prec, pol, fl = cfg
                total = info["blocks_skipped"] + info["blocks_computed"]
                return dict(model=group, file=files[0], precision=prec, policy=pol, flags=" ".join(fl),
                            resolved_policy=info.get("cache_policy"), threshold=info.get("cache_threshold"),
                            interval=info.get("cache_interval"),
                            skip_fraction=round(info["blocks_skipped"] / total, 4) if total else 0.0,
                            psnr_vs_fp32=round(psnr(ref, x, PIXEL_PEAK, identical=99.0), 2), total_ms=round(info["total_ms"], 1),
                            speedup_vs_fp32=round(ref_info["total_ms"] / info["total_ms"], 3),
                            cache_mib=round(info.get("cache_bytes", 0) / 1048576, 2))

            got = {0: row_of(todo[0], ref_info, ref)}
            with cf.ThreadPoolExecutor(args.jobs) as ex:
                futs = {ex.submit(run, args.edge_run, model, classes, fl, os.path.join(d, f"{group}_{i}.npy")): i
                        for i, (_, _, fl) in enumerate(todo) if i > 0}
                for f in cf.as_completed(futs):
                    i = futs[f]
                    info, x = f.result()
                    got[i] = row_of(todo[i], info, x)
                    print(json.dumps(got[i]), flush=True)
                    with open(os.path.join(args.out, "cache_curves.jsonl"), "a") as jl:
                        jl.write(json.dumps(got[i]) + "\n")
            rows.extend(got[i] for i in sorted(got))
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                         text=True).stdout.strip()
    doc = dict(schema="edge.cache_curves.v1",
               machine=dict(cpu=cpu, arch=platform.machine(), cores=os.cpu_count(), jobs=args.jobs),
               command="python3 bench/quality/cache_curves.py " + " ".join(os.sys.argv[1:]), rows=rows)
    tag = "_" + args.models.replace(",", "_")
    json.dump(doc, open(os.path.join(args.out, f"cache_curves{tag}.json"), "w"), indent=1)
    with open(os.path.join(args.out, f"cache_curves{tag}.md"), "w") as f:
        f.write("# Step cache: PSNR vs FP32 against skipped block runs\n\n")
        f.write(f"{cpu}, {os.cpu_count()} cores; {args.jobs} single-threaded runs at a time, so the times "
                "and speed-ups are indicative only (memory bandwidth is shared).\n\n")
        for group in args.models.split(","):
            sel = [r for r in rows if r["model"] == group]
            if not sel:
                continue
            f.write(f"## {group} ({sel[0]['file']}, classes {args.classes or MODELS[group][1]}, seed 0)\n\n")
            f.write("| precision | policy | flags | threshold | skipped | PSNR (dB) | speed-up | residual MiB |\n")
            f.write("|---|---|---|---|---|---|---|---|\n")
            for r in sel:
                thr = r["interval"] if r["resolved_policy"] == "static" else r["threshold"]
                f.write(f"| {r['precision']} | {r['policy']} | `{r['flags']}` | {thr:.4g} | "
                        f"{100 * r['skip_fraction']:.1f}% | {r['psnr_vs_fp32']} | {r['speedup_vs_fp32']}x | "
                        f"{r['cache_mib']} |\n")
            f.write("\n")
    print("wrote", os.path.join(args.out, f"cache_curves{tag}.{{json,md}}"))


if __name__ == "__main__":
    main()
