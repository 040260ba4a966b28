"""Markdown table of an `edge-bench conv --json` run (bench/run_conv.sh):
per shape and thread count, edge's and XNNPACK's times, % of the FP32 FMA
peak measured in the same run, and edge's speed relative to XNNPACK.
With --int8 (runs of `edge-bench conv --precision int8`, bench/conv_int8.sh):
edge's INT8 Conv2d against its FP32 one instead.

    /usr/bin/python3 conv_table.py conv_decoder.json > conv_decoder.md
    /usr/bin/python3 conv_table.py --int8 conv_int8.json
"""
import json
import sys


def int8_table(rows):
    """INT8 rows against the FP32 row of the same shape and thread count."""
    fp32 = {}
    for r in rows:
        if r.get("precision", "fp32") == "fp32" and not r["kernel"].startswith("xnnpack"):
            fp32[(r["role"], r["c"], r["o"], r["h"], r["w"], r["k"], r["threads"])] = r
    print("| layer | kernel | C -> O | H x W | threads | FP32 ms (CPU) | INT8 ms (CPU) | INT8 / FP32 speed: CPU | min wall "
          "| INT8 max rel diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r.get("precision") != "int8":
            continue
        f = fp32[(r["role"], r["c"], r["o"], r["h"], r["w"], r["k"], r["threads"])]
        print("| %s | %dx%d | %d -> %d | %dx%d | %d | %.3f (%.3f) | %.3f (%.3f) | %.2fx | %.2fx | %.1e |"
              % (r["role"], r["k"], r["k"], r["c"], r["o"], r["h"], r["w"], r["threads"], f["median_ms"],
                 f["cpu_ms_per_thread"], r["median_ms"], r["cpu_ms_per_thread"], r["speed_vs_edge_fp32_cpu"],
                 r["speed_vs_edge_fp32_min"], r["max_rel_diff"]))


def main():
    if sys.argv[1] == "--int8":
        int8_table([d for d in map(json.loads, open(sys.argv[2])) if d["bench"] == "conv"])
        return
    rows, peak, machine = [], None, {}
    for line in open(sys.argv[1]):
        d = json.loads(line)
        if d["bench"] == "peak":
            peak = d["fp32_fma_gflops_per_core"]
        elif d["bench"] == "machine":
            machine.update(d)
        elif d["bench"] == "conv":
            rows.append(d)
    pairs = {}
    for r in rows:
        if r.get("precision", "fp32") != "fp32":
            continue  # edge-bench conv --precision int8 rows: bench/results/conv_int8.md
        key = (r["role"], r["c"], r["o"], r["h"], r["w"], r["k"], r["threads"], r.get("isa", "best"))
        pairs.setdefault(key, {})["xnn" if r["kernel"].startswith("xnnpack") else "edge"] = r
    print("# Decoder convolutions: edge vs XNNPACK (F32)\n")
    print("Command: `bench/run_conv.sh build` (edge-bench conv --threads 1,2 --reps 9 --json).")
    print("CPU: %s, %s cores; FP32 FMA peak %.1f GFLOP/s per core (measured in the same run, in thread CPU time)."
          % (machine.get("cpu", "?"), machine.get("nproc", "?"), peak or 0))
    print("Load: %s before, %s after (a shared machine: the median wall time includes time given to other "
          "processes; min wall and CPU time do not)." % (machine.get("uptime", "?"), machine.get("uptime_after", "?")))
    print("edge: NCHW im2col in chunks + packed GEMM (ops/f32_conv2d.h); XNNPACK: convolution2d_nhwc_f32 "
          "(2022 snapshot) in its own NHWC layout, no layout conversion counted. Stride 1, same padding, "
          "batch 1. Ratio > 1: edge faster. % of peak: GFLOP/s from the median wall time over threads x the per-core peak.\n")
    print("| layer | kernel | edge GEMM | C -> O | H x W | threads | edge ms (min) | XNNPACK ms (min) | edge % peak | "
          "XNNPACK % peak | edge / XNNPACK speed: min wall | median wall | CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    worst = None
    for key, p in pairs.items():
        e, x = p.get("edge"), p.get("xnn")
        if not e or not x:
            continue
        role, c, o, h, w, k, t, isa = key
        print("| %s | %dx%d | %s | %d -> %d | %dx%d | %d | %.3f (%.3f) | %.3f (%.3f) | %.0f%% | %.0f%% | %.2fx | %.2fx | %.2fx |"
              % (role, k, k, e["kernel"], c, o, h, w, t, e["median_ms"], e["min_ms"], x["median_ms"], x["min_ms"],
                 e["pct_of_peak"], x["pct_of_peak"], e["edge_speed_vs_xnnpack_min"],
                 e["edge_speed_vs_xnnpack"], e["edge_speed_vs_xnnpack_cpu"]))
        r = e["edge_speed_vs_xnnpack_min"]
        if isa == "best":
            worst = r if worst is None else min(worst, r)
    if worst is not None:
        print("\nLowest edge / XNNPACK speed ratio (min wall) with edge's best GEMM: %.2fx. Rows with "
              "f32_gemm_4x4__scalar are edge's portable GEMM (`--isa scalar`), what runs where it has no SIMD "
              "GEMM: there XNNPACK wins, and the Conv2d binding runs XNNPACK's convolution instead." % worst)


if __name__ == "__main__":
    main()
