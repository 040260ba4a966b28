"""Quality of guidance reuse (edge-run --guidance-reuse) on one trained model:
full sampling runs (the model's stored steps and guidance), PSNR of the final
output against the same model's output without reuse (same classes and
seed), and the fraction of graph calls saved, per schedule (warm-up,
interval, order). The calls saved are counted, not timed: each left-out
unconditional call is one of the two calls of a step, so the time saved
follows from the count on any machine.

usage: /usr/bin/python3 bench/quality/guidance_reuse_curve.py [--model models/demo/glyph_video_dit.fb]
           [--classes 3,12] [--schedules W:K:O,...] [--name video] [--out bench/results]
Writes OUT/guidance_reuse_NAME.{json,md}.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402

DEFAULT_SCHEDULES = "2:2:0,2:2:1,4:2:1,6:2:1,10:2:1,2:3:1,4:3:1,6:3:1,8:3:1,10:100:0,10:100:1,14:100:0"


def run(edge_run, model, classes, flags, out):
    cmd = [edge_run, model, "--class", classes, "--seed", "0", "--threads", "1", "--json", "--quiet",
           "--out", out] + flags
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(" ".join(map(shlex.quote, cmd)) + "\n" + r.stderr)
    return json.loads(r.stdout), np.load(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "demo", "glyph_video_dit.fb"))
    ap.add_argument("--classes", default="3,12")
    ap.add_argument("--schedules", default=DEFAULT_SCHEDULES, help="warmup:interval:order,...")
    ap.add_argument("--name", default="video")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
    edge_run = os.path.join(args.build, "runtime", "edge-run")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        ref_info, ref = run(edge_run, args.model, args.classes, ["--guidance-reuse", "0"], os.path.join(d, "r.npy"))
        for sched in args.schedules.split(","):
            w, k, o = (int(v) for v in sched.split(":"))
            flags = ["--guidance-reuse", str(k), "--guidance-reuse-warmup", str(w), "--guidance-reuse-order", str(o)]
            info, x = run(edge_run, args.model, args.classes, flags, os.path.join(d, "x.npy"))
            gr = info["guidance_reuse"]
            row = {"warmup": w, "interval": k, "order": o, "psnr": psnr(ref, x, PIXEL_PEAK), "graph_runs": info["graph_runs"],
                   "ref_graph_runs": ref_info["graph_runs"], "uncond_reused": gr["uncond_reused"],
                   "steps": gr["steps"], "flags": " ".join(flags)}
            row["calls_saved"] = 1.0 - row["graph_runs"] / row["ref_graph_runs"]
            rows.append(row)
            print(f"warm-up {w:2d} every {k:3d} order {o}: {row['psnr']:6.2f} dB, "
                  f"{100 * row['calls_saved']:4.1f}% of calls saved ({gr['steps']})", flush=True)
    cmd = "/usr/bin/python3 bench/quality/guidance_reuse_curve.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"guidance_reuse_{args.name}")
    with open(base + ".json", "w") as f:
        json.dump({"model": os.path.relpath(args.model, ROOT), "classes": args.classes, "command": cmd,
                   "rows": rows}, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(f"# Guidance reuse on {os.path.relpath(args.model, ROOT)}\n\n")
        f.write(f"`{cmd}`\n\n")
        f.write(f"Classes {args.classes}, seed 0, the model's steps and guidance. PSNR of the final output "
                "against the same run without reuse; calls saved = 1 - graph calls / graph calls without reuse "
                "(each saved call is one unconditional pass; the time saved follows from it). Per step: "
                "c = unconditional pass run, r = estimated.\n\n")
        f.write("| warm-up | interval | order | PSNR (dB) | calls saved | steps |\n|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r['warmup']} | {r['interval']} | {r['order']} | {r['psnr']:.2f} | "
                    f"{100 * r['calls_saved']:.1f}% | `{r['steps']}` |\n")
    print("wrote", base + ".md")


if __name__ == "__main__":
    main()
