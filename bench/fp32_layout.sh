#!/bin/sh
# FP32 Linear weights stored row-major (packed into a copy at load) against
# stored packed (WeightLayout PackedF32N16, read in place from the mapping):
# peak RSS of a DiT-B/2 (1024 tokens, seeded random weights, the model of
# bench/run_all.sh) against its file size plus its planned arena, the time of
# a graph run, and the FP32 GEMM alone on both DiT-B/2 Linear shapes
# (edge-bench gemm --precision fp32: row-major-file kernel, packed-file
# kernel, XNNPACK). Runs alternate between the layouts (A B A B), so both see
# the same machine load; the load average is recorded beside them.
# Writes bench/results/fp32_layout.{json,md}.
#
#   bench/fp32_layout.sh [BUILD_DIR] [ROUNDS]      (default ./build, 3)
# EDGE_REUSE=1 keeps model files of an earlier run; EDGE_REPORT_ONLY=1 only
# rewrites the results from the raw measurements of the last run.
# Needs: a build with edge-bench and edge-run; /usr/bin/python3; about 2 GB
# of free space under ${TMPDIR:-/tmp}.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ROUNDS=${2:-3}
OUT=$ROOT/bench/results
WORK=${TMPDIR:-/tmp}/edge-fp32-layout
BENCH=$BUILD/bench/edge-bench
RUN=$BUILD/runtime/edge-run
mkdir -p "$WORK" "$OUT"
RAW=$WORK/raw.jsonl
if [ "${EDGE_REPORT_ONLY:-0}" != 1 ]; then
: > "$RAW"

for layout in row-major packed; do
  [ -f "$WORK/$layout/model.fb" ] && [ "${EDGE_REUSE:-0}" = 1 ] && continue
  rm -rf "$WORK/$layout"
  "$BENCH" model --dit b2 --export "$WORK/$layout" --fp32-layout "$layout" > /dev/null
  rm -rf "$WORK/$layout/weights"  # only the model file is measured
done

for r in $(seq "$ROUNDS"); do
  for layout in row-major packed; do
    for t in 1 2; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      # One sample, two denoising steps: load, plan, and graph runs (cond and
      # uncond batched) that read every weight.
      line=$("$RUN" "$WORK/$layout/model.fb" --class 1 --steps 2 --threads "$t" --json --out "$WORK/out.npy")
      size=$(stat -c %s "$WORK/$layout/model.fb")
      echo "{\"round\":$r,\"layout\":\"$layout\",\"threads\":$t,\"load\":$load,\"file_bytes\":$size,\"run\":$line}" >> "$RAW"
    done
  done
done
for shape in "768 3072" "3072 768"; do
  set -- $shape
  for t in 1 2; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    "$BENCH" gemm --m 1024 --k "$1" --n "$2" --precision fp32 --threads "$t" --reps 15 --json |
      sed "s/^{/{\"load\":$load,/" >> "$RAW"
  done
done
fi

/usr/bin/python3 - "$RAW" "$OUT/fp32_layout.json" "$OUT/fp32_layout.md" <<'EOF'
import json, statistics, sys
raw, out_json, out_md = sys.argv[1:]
rows = [json.loads(l) for l in open(raw)]
runs = [r for r in rows if "layout" in r]
gemm = [r for r in rows if r.get("bench") == "gemm"]
same = [r["same_bits"] for r in rows if r.get("bench") == "fp32_layouts"]
summary = {"runs": [], "gemm": []}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
md = ["# FP32 Linear weights: row-major (packed at load) vs stored packed (in place)", "",
      f"CPU: {cpu} ({isa}; where the best level is AVX2 both layouts run the same 6x16 kernel, "
      "AVX-512 runs 8x32 over one 32-column panel or two 16-column ones).", "",
      "DiT-B/2, 1024 tokens, seeded random weights (edge-bench model --dit b2 --export), "
      "`edge-run --class 1 --steps 2`; rounds alternate between the layouts. Peak RSS is getrusage's "
      "maximum resident set; the budget is file size + planned arena.", "",
      "| layout | threads | file MB | arena MB | peak RSS MiB | RSS / (file + arena) | ms per graph run (median) | load avg |",
      "|---|---|---|---|---|---|---|---|"]
base = {}
for layout in ("row-major", "packed"):
    for t in (1, 2):
        rs = [r for r in runs if r["layout"] == layout and r["threads"] == t]
        if not rs:
            continue
        rss = max(r["run"]["peak_rss_kb"] for r in rs) * 1024
        arena = rs[0]["run"]["arena_bytes"]
        size = rs[0]["file_bytes"]
        ms = statistics.median(r["run"]["ms_per_graph_run"] for r in rs)
        loads = [r["load"] for r in rs]
        ratio = rss / (size + arena)
        summary["runs"].append({"layout": layout, "threads": t, "file_bytes": size, "arena_bytes": arena,
                                "peak_rss_bytes": rss, "rss_over_file_plus_arena": round(ratio, 3),
                                "ms_per_graph_run": ms, "load": loads})
        if layout == "row-major":
            base[t] = ms
        speed = f" ({base[t] / ms:.2f}x row-major)" if layout == "packed" and t in base else ""
        md.append(f"| {layout} | {t} | {size / 1e6:.1f} | {arena / 1e6:.1f} | {rss / 2**20:.0f} | {ratio:.2f} | "
                  f"{ms:.1f}{speed} | {min(loads):.1f}-{max(loads):.1f} |")
md += ["", "FP32 GEMM alone, M = 1024 (edge-bench gemm --precision fp32, 15 alternating reps, median ms; "
       "the kernel a row-major file runs, the one a packed file runs, XNNPACK's fully-connected):", "",
       "On a loaded machine the CPU time per thread is the steadier figure; both ratios are row-major-file "
       "time over this kernel's (above 1: faster).", "",
       "| K x N | threads | kernel | median ms | GFLOP/s | vs row-major file (wall) | CPU ms per thread | vs row-major file (CPU) | load avg |",
       "|---|---|---|---|---|---|---|---|---|"]
ref = {}
for g in gemm:
    key = (g["k"], g["n"], g["threads"])
    if "packed file" not in g["kernel"] and "xnnpack" not in g["kernel"]:  # the row-major file's
        ref[key] = (g["median_ms"], g["cpu_ms_per_thread"])
for g in gemm:
    key = (g["k"], g["n"], g["threads"])
    rel = f"{ref[key][0] / g['median_ms']:.2f}x" if key in ref else "-"
    rel_cpu = f"{ref[key][1] / g['cpu_ms_per_thread']:.3f}x" if key in ref else "-"
    summary["gemm"].append(g)
    md.append(f"| {g['k']} x {g['n']} | {g['threads']} | {g['kernel']} | {g['median_ms']:.2f} | {g['gops']:.0f} | "
              f"{rel} | {g['cpu_ms_per_thread']:.2f} | {rel_cpu} | {g['load']} |")
summary["gemm_same_bits"] = all(same) if same else None
md += ["", f"Row-major-file and packed-file GEMM outputs bit-identical on every shape: {summary['gemm_same_bits']}."]
json.dump(summary, open(out_json, "w"), indent=1)
open(out_md, "w").write("\n".join(md) + "\n")
print("\n".join(md))
EOF
