"""INT8 Conv2d weights (edge-convert --conv-precision int8) on a latent model:
quality of the decoded images against the FP32 file and the decoder's time.

Runs `edge-run MODEL --class 0..N-1 --seed S --threads 1 --out X.npy --json
--profile` for the FP32 and the INT8 file alternately (FP32, INT8, FP32, ...),
`--rounds` times each, and prints a markdown report: PSNR of the INT8 file's
decoded images against the FP32 file's (pixels in [-1, 1], peak-to-peak 2,
mean over the images and the worst image; the runs of one file must give the
same bits), and per file the median of the decoder's process CPU time, its
wall time, the Conv2d share of the decoder's per-op profile, the denoiser's
Conv2d time and the whole generation's wall time.

    /usr/bin/python3 bench/quality/conv_int8.py --fp32 A.fb --int8 B.fb [--classes 16] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402


def run(edge_run, model, classes, seed, out):
    cmd = [edge_run, model, "--class", ",".join(str(c) for c in range(classes)), "--seed", str(seed),
           "--threads", "1", "--out", out, "--json", "--profile"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    j = json.loads(r.stdout)
    conv_ms = lambda ops: sum(o["total_ms"] for o in ops if o["type"] == "Conv2d")  # noqa: E731
    return {"decoder_cpu_ms": j["decoder"]["cpu_ms"], "decoder_wall_ms": j["decoder"]["total_ms"],
            "decoder_conv_ms": conv_ms(j["decoder"]["ops"]), "decoder_ops_ms": sum(o["total_ms"] for o in j["decoder"]["ops"]),
            "denoiser_conv_ms": conv_ms(j["ops"]), "generation_ms": j["total_ms"],
            "kernels": sorted({o["kernel"] for o in j["decoder"]["ops"] if o["type"] == "Conv2d"}),
            "command": " ".join(cmd)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edge-run", default="build/runtime/edge-run")
    ap.add_argument("--fp32", required=True)
    ap.add_argument("--int8", required=True)
    ap.add_argument("--classes", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    runs = {"fp32": [], "int8": []}
    images = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.rounds):
            for prec in ("fp32", "int8"):
                out = os.path.join(tmp, "%s_%d.npy" % (prec, i))
                runs[prec].append(run(a.edge_run, getattr(a, prec), a.classes, a.seed, out))
                img = np.load(out)
                assert prec not in images or np.array_equal(images[prec], img), prec + ": runs differ"
                images[prec] = img
    ref, got = images["fp32"], images["int8"]
    per = [psnr(ref[i], got[i], PIXEL_PEAK) for i in range(ref.shape[0])]
    med = {p: {k: statistics.median(r[k] for r in runs[p]) for k in runs[p][0] if k.endswith("_ms")} for p in runs}
    print("Images: %s, %d classes, seed %d, 20 steps with guidance (the model's pipeline)." %
          (list(ref.shape), a.classes, a.seed))
    print("PSNR of the INT8-conv images against the FP32 ones: %.2f dB mean over the images (of the whole batch: "
          "%.2f dB), worst image %.2f dB (class %d); max |difference| %.4f.\n" %
          (float(np.mean(per)), psnr(ref, got, PIXEL_PEAK), min(per), int(np.argmin(per)), float(np.max(np.abs(ref - got)))))
    print("| | decoder CPU ms | decoder wall ms | decoder Conv2d ms (share of its ops) | denoiser Conv2d ms | generation wall ms | decoder Conv2d kernels |")
    print("|---|---|---|---|---|---|---|")
    for p in ("fp32", "int8"):
        m = med[p]
        print("| %s | %.1f | %.1f | %.1f (%.0f%%) | %.2f | %.1f | %s |" %
              (p, m["decoder_cpu_ms"], m["decoder_wall_ms"], m["decoder_conv_ms"],
               100 * m["decoder_conv_ms"] / m["decoder_ops_ms"], m["denoiser_conv_ms"], m["generation_ms"],
               ", ".join(runs[p][0]["kernels"])))
    r = med["fp32"]["decoder_cpu_ms"] / med["int8"]["decoder_cpu_ms"]
    rc = med["fp32"]["decoder_conv_ms"] / med["int8"]["decoder_conv_ms"]
    print("\nMedians of %d alternated runs per file, 1 thread. Decoder speed INT8 / FP32: %.2fx in CPU time "
          "(%d decodes), Conv2d alone %.2fx (per-op wall time)." % (a.rounds, r, ref.shape[0], rc))
    print("\nPer run (decoder CPU ms): " + "; ".join(
        "%s %s" % (p, ", ".join("%.1f" % x["decoder_cpu_ms"] for x in runs[p])) for p in runs))
    print("\nCommands: `%s`, `%s`" % (runs["fp32"][0]["command"].replace(tmp, "OUT"),
                                     runs["int8"][0]["command"].replace(tmp, "OUT")))


if __name__ == "__main__":
    main()
