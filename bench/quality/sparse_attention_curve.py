#!/usr/bin/python3
"""Quality-speed curve of sparse attention on the trained video DiT.

For each class/seed, runs the full 20-step CFG clip with FP32 dense attention
and with each sparse configuration (edge-run flags), then reports per
configuration: PSNR of the final clip against the FP32 clip (data range
[-1, 1], as bench/quality/demo_quality.py), the fraction of query-key pairs
computed exactly (cluster mode), and the time spent in the Attention ops
(edge-run --profile) against dense. Times depend on machine load; PSNR and the
exact fraction are deterministic.

Usage (from the repo root, after building and `bash models/demo/build_fb.sh build`):
  /usr/bin/python3 bench/quality/sparse_attention_curve.py [--build build] \
      [--cases 3:0,7:1,12:2] [--configs NAME ...] [--jobs 2] [--out bench/results/sparse_attention_curve]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402

MODEL = "models/demo/glyph_video_dit.fb"

# name -> extra edge-run flags. "tiles" is the previous contiguous-tile scheme.
CONFIGS = {
    "tiles d=0.5": ["--attention-sparse", "tiles", "--attention-density", "0.5"],
    # Clusters chosen by mass only (top-p), 64-key clusters, no error routing.
    "clusters mass-only k64 p=0.9": ["--attention-sparse", "clusters", "--attention-key-cluster-size", "64",
                                     "--attention-top-p", "0.9", "--attention-min-frac", "0.05",
                                     "--attention-err-tol", "0"],
    # Defaults (8-key clusters, top-p 0.3, min-frac 0.02, 1 k-means iteration per step) at error budgets.
    "clusters err-tol 0.01": ["--attention-sparse", "clusters", "--attention-err-tol", "0.01"],
    "clusters err-tol 0.015 (default)": ["--attention-sparse", "clusters"],
    "clusters err-tol 0.02": ["--attention-sparse", "clusters", "--attention-err-tol", "0.02"],
    "clusters err-tol 0.03": ["--attention-sparse", "clusters", "--attention-err-tol", "0.03"],
    "clusters err-tol 0.05": ["--attention-sparse", "clusters", "--attention-err-tol", "0.05"],
    "clusters err-tol 0.02, assignment reused": ["--attention-sparse", "clusters", "--attention-err-tol", "0.02",
                                                 "--attention-kmeans-iters", "0"],
}


def run(edge_run, cls, seed, flags, out):
    cmd = [edge_run, MODEL, "--class", str(cls), "--seed", str(seed), "--threads", "1", "--json", "--profile",
           "--quiet", "--out", out] + flags
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    info = json.loads(r.stdout.strip().splitlines()[-1])
    attn_ms = sum(op["total_ms"] for op in info.get("ops", []) if op["type"] == "Attention")
    return np.load(out), info, attn_ms


def parse_extra(items):
    """NAME=FLAGS entries (flags separated by spaces) added to CONFIGS."""
    for it in items:
        name, _, flags = it.partition("=")
        CONFIGS[name] = flags.split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--cases", default="3:0,7:1,12:2", help="class:seed list")
    ap.add_argument("--configs", nargs="*", help="subset of configuration names")
    ap.add_argument("--extra", nargs="*", default=[], help="NAME=FLAGS configurations to add")
    ap.add_argument("--out", default=None, help="write OUT.json")
    ap.add_argument("--jobs", type=int, default=1, help="clips run at once (PSNR is unaffected; times get noisier)")
    a = ap.parse_args()
    parse_extra(a.extra)
    edge_run = os.path.join(a.build, "runtime", "edge-run")
    cases = [tuple(int(v) for v in c.split(":")) for c in a.cases.split(",")]
    names = a.configs if a.configs else list(CONFIGS)
    tmp = tempfile.mkdtemp()
    rows = []
    refs = {}
    dense_attn = []
    dense_total = []
    for cls, seed in cases:
        path = os.path.join(tmp, f"ref_{cls}_{seed}.npy")
        refs[(cls, seed)], info, ms = run(edge_run, cls, seed, ["--attention-sparse", "off"], path)
        dense_attn.append(ms)
        dense_total.append(info["total_ms"])
    dense_ms = float(np.mean(dense_attn))
    print(f"FP32 dense: attention {dense_ms:.0f} ms per clip, total {np.mean(dense_total):.0f} ms "
          f"(mean over {len(cases)} clips)")
    print("| configuration | PSNR mean (dB) | PSNR min (dB) | exact pairs | attention ms | attention speed-up | total ms |")
    print("|---|---|---|---|---|---|---|")
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(max_workers=max(1, a.jobs))
    for name in names:
        ps, fr, am, tm = [], [], [], []
        futs = [pool.submit(run, edge_run, cls, seed, CONFIGS[name], os.path.join(tmp, f"x_{cls}_{seed}.npy"))
                for cls, seed in cases]
        for (cls, seed), f in zip(cases, futs):
            x, info, ms = f.result()
            ps.append(psnr(refs[(cls, seed)], x, PIXEL_PEAK))
            fr.append(info.get("attention_exact_fraction", float("nan")))
            am.append(ms)
            tm.append(info["total_ms"])
        row = dict(config=name, flags=" ".join(CONFIGS[name]), psnr_mean=round(float(np.mean(ps)), 2),
                   psnr_min=round(float(np.min(ps)), 2), psnr=[round(p, 2) for p in ps],
                   exact_fraction=round(float(np.mean(fr)), 4), attention_ms=round(float(np.mean(am)), 1),
                   attention_speedup=round(dense_ms / float(np.mean(am)), 2), total_ms=round(float(np.mean(tm)), 1))
        rows.append(row)
        print(f"| {name} | {row['psnr_mean']} | {row['psnr_min']} | {row['exact_fraction']} | {row['attention_ms']} | "
              f"{row['attention_speedup']}x | {row['total_ms']} |", flush=True)
    if a.out:
        cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                             text=True).stdout.strip()
        doc = dict(schema="edge.sparse_attention_curve.v1", model=MODEL, cases=a.cases, machine=cpu,
                   load=os.getloadavg(), dense_attention_ms=round(dense_ms, 1),
                   dense_total_ms=round(float(np.mean(dense_total)), 1),
                   command="/usr/bin/python3 bench/quality/sparse_attention_curve.py " + " ".join(sys.argv[1:]),
                   results=rows)
        json.dump(doc, open(a.out + ".json", "w"), indent=1)


if __name__ == "__main__":
    main()
