"""Speed on real graphs: every zoo architecture that edge converts, timed as
edge FP32 and INT8 against ONNX Runtime FP32 and INT8 on the same ONNX file,
at 1 and 2 threads, alternated.

1. The zoo (tests/models/zoo layout: <model>/meta.json, inputs and
   expected_out.npy, <model>/<exporter>/model.onnx). The committed files are
   tiny (call overhead dominates); bench/run_zoo_speed.sh exports the same
   architectures at the bench scale (make_zoo.py --scale bench) and times those.
2. Variants per ONNX file:
   - edge fp32: `edge-convert MODEL.onnx` (the defaults);
   - edge int8: `edge-convert --precision int8` (W8A8 linears, FP32 attention
     and convolutions);
   - edge int8+attn: also `--attention-precision int8`;
   - ort fp32: the ONNX file itself (all graph optimizations);
   - ort int8: `onnxruntime.quantization.quantize_dynamic` with its defaults
     (INT8 weights, per tensor; dynamic uint8 activations), ONNX Runtime's own
     quantization tool.
3. Timing: every measurement is a fresh process that loads the model, runs
   it once untimed, then `--repeat` times (`edge-run --once --repeat N`, this
   file's `ort` mode under the same Python); its median is one sample. Rounds
   alternate the variants of one file (edge fp32, ort fp32, edge int8, ...),
   per thread count; the figure is the median over rounds, and each ratio the
   median of the per-round ratios.
4. Quality: relative L2 error and max relative error (max |err| / max |ref|)
   of every variant's output (written by its first timed process) against
   the PyTorch output of the zoo.

    PY bench/peers/zoo_speed.py --build-dir build [--zoo DIR] [--quick]
    (PY: a Python with numpy, onnx and onnxruntime: the peers' environment;
     bench/run_zoo_speed.sh sets everything up)

Writes <out-dir>/zoo_speed.json and .md (default bench/results; --quick: the
committed zoo, 1 round, 1 thread, into --work).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCHEMA = "edge-bench.zoo_speed.v1"
sys.path.insert(0, HERE)
from compare import log, machine_info, quality, run_json, stats  # noqa: E402  (bench/peers; numpy only)

VARIANTS = ("edge fp32", "ort fp32", "edge int8", "ort int8", "edge int8+attn")
EDGE_FLAGS = {"edge fp32": [], "edge int8": ["--precision", "int8"],
              "edge int8+attn": ["--precision", "int8", "--attention-precision", "int8"]}


# ---------------------------------------------------------------------------
# ONNX Runtime side: one process per measurement.

def ort_main(argv):
    ap = argparse.ArgumentParser(prog="zoo_speed.py ort")
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True, help="JSON {name: file.npy}")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--repeat", type=int, required=True)
    ap.add_argument("--out", help="write the output here (.npy)")
    a = ap.parse_args(argv)
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    load_ms = 1e3 * (time.perf_counter() - t0)
    feeds = {k: np.load(v) for k, v in json.loads(a.inputs).items()}
    out = sess.run(None, feeds)[0]  # untimed first run
    runs = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        out = sess.run(None, feeds)[0]
        runs.append(1e3 * (time.perf_counter() - t0))
    if a.out:
        np.save(a.out, np.asarray(out, dtype=np.float32))
    print(json.dumps({"load_ms": load_ms, "invoke_ms_runs": runs, "ort_version": ort.__version__}))
    return 0


# ---------------------------------------------------------------------------
# Driver.

def prepare(a, work, name, ex, d, meta):
    """Converts and quantizes one ONNX file; returns {variant: runner spec} and notes."""
    onnx_path = os.path.join(d, ex, "model.onnx")
    base = os.path.join(work, name + "_" + ex)
    os.makedirs(base, exist_ok=True)
    specs, notes = {}, {}
    rep = None
    for v, flags in EDGE_FLAGS.items():
        fb = base + "_" + v.replace(" ", "_").replace("+", "_") + ".fb"
        r = subprocess.run([a.edge_convert, onnx_path, "-o", fb, "--json"] + flags, capture_output=True, text=True)
        if r.returncode != 0:
            notes[v] = "edge-convert exit %d: %s" % (r.returncode, r.stderr.strip().splitlines()[-1][:300])
            continue
        if rep is None:
            rep = json.loads(r.stdout)
        specs[v] = {"fb": fb}
    if rep is None:
        return None, notes, None
    # Inputs: an integer input that edge-convert declared f32 (a timestep only
    # cast to float) is given to edge as f32; ONNX Runtime gets the original.
    dtypes = {t["name"]: t["dtype"] for t in rep["tensors"]}
    edge_inputs, ort_inputs = {}, {}
    for k in meta["inputs"]:
        p = os.path.join(d, k + ".npy")
        ort_inputs[k] = p
        arr = np.load(p)
        if dtypes.get(k) == "F32" and arr.dtype != np.float32:
            p = os.path.join(base, k + ".f32.npy")
            np.save(p, arr.astype(np.float32))
        edge_inputs[k] = p
    for v in EDGE_FLAGS:
        if v in specs:
            specs[v]["inputs"] = edge_inputs
    specs["ort fp32"] = {"onnx": onnx_path, "inputs": ort_inputs}
    q8 = base + "_ort_int8.onnx"
    try:
        import logging
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.shape_inference import quant_pre_process
        logging.getLogger().setLevel(logging.ERROR)
        # ONNX Runtime's recommended flow: its pre-processing (shape inference
        # and graph optimization), then dynamic quantization. A file the
        # pre-processing cannot take is quantized as it is.
        src = base + "_ort_pre.onnx"
        try:
            quant_pre_process(onnx_path, src)
        except Exception as e:
            notes["ort int8 pre-processing"] = "skipped: %s" % str(e).strip().splitlines()[0][:200]
            src = onnx_path
        quantize_dynamic(src, q8, weight_type=QuantType.QInt8)
        specs["ort int8"] = {"onnx": q8, "inputs": ort_inputs}
    except Exception as e:  # recorded; the other variants still run
        notes["ort int8"] = "quantize_dynamic: %s" % str(e).strip().splitlines()[0][:300]
    ops = {"onnx_nodes": rep["num_ops_before"], "edge_ops": rep["num_ops_after"]}
    return specs, notes, ops


def measure_one(a, spec, T, repeat, out=None):
    """One fresh process: median ms of `repeat` runs after an untimed one."""
    if "fb" in spec:
        cmd = [a.edge_run, spec["fb"], "--once", "--threads", str(T), "--repeat", str(repeat + 1), "--json",
               "--quiet", "--out-dir", out or tempfile.mkdtemp(dir=a.tmp)]
        for k, p in spec["inputs"].items():
            cmd += ["--input", "%s=%s" % (k, p)]
        runs = run_json(cmd)[0]["invoke_ms_runs"][1:]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "ort", "--model", spec["onnx"], "--inputs",
               json.dumps(spec["inputs"]), "--threads", str(T), "--repeat", str(repeat)]
        if out:
            cmd += ["--out", os.path.join(out, "out.npy")]
        runs = run_json(cmd)[0]["invoke_ms_runs"]
    return stats(runs)["median"]


def run_file(a, work, name, ex, d, meta, result):
    label = "%s/%s" % (name, ex)
    specs, notes, ops = prepare(a, work, name, ex, d, meta)
    entry = {"model": name, "architecture": meta["architecture"], "exporter": ex, "notes": notes, "ops": ops,
             "threads": {}, "quality": {}}
    result["files"].append(entry)
    if specs is None:
        log("%s: not converted: %s" % (label, notes))
        return
    ref = np.load(os.path.join(d, "expected_" + meta["output"] + ".npy"))
    # A variant's first timed process also writes its output for the quality
    # check; one that fails is noted and dropped.
    order = [v for v in VARIANTS if v in specs]
    for T in a.threads:
        samples = {v: [] for v in order}
        for r in range(a.rounds):
            for v in list(order):
                spec = specs[v]
                out = tempfile.mkdtemp(dir=a.tmp) if v not in entry["quality"] else None
                try:
                    samples[v].append(measure_one(a, spec, T, a.repeat, out))
                    if out is not None:
                        got = np.load(os.path.join(out, meta["output"] + ".npy") if "fb" in spec
                                      else os.path.join(out, "out.npy"))
                        entry["quality"][v] = quality(ref, got)
                except Exception as e:
                    notes[v] = str(e)[-300:]
                    order.remove(v)
                    samples.pop(v)
        row = {v: stats(s) for v, s in samples.items()}
        ratios = {}
        for num, den in (("ort fp32", "edge fp32"), ("ort int8", "edge int8"), ("ort int8", "edge int8+attn"),
                         ("ort fp32", "ort int8"), ("edge fp32", "edge int8")):
            if num in samples and den in samples:
                ratios["%s / %s" % (num, den)] = stats([x / y for x, y in zip(samples[num], samples[den])])["median"]
        entry["threads"][str(T)] = {"ms": row, "ratios": ratios}
        log("%s T=%d: %s | %s" % (label, T, "  ".join("%s %.2f" % (v, row[v]["median"]) for v in order),
                                  "  ".join("%s %.2fx" % kv for kv in ratios.items())))


def fmt(x, f="%.2f"):
    return "-" if x is None else f % x


def write_md(result, path):
    L = ["# Zoo speed: edge against ONNX Runtime on the same ONNX files", ""]
    m = result["machine"]
    L.append("Machine: %s (%s), %s cores; ONNX Runtime %s (PyPI); zoo scale: %s; %d rounds of %d runs "
             "(medians), alternated; %s." % (m.get("cpu_model"), " ".join(m.get("isa", [])), m.get("cores_online"),
                                             result.get("ort_version", "?"), result["zoo_scale"], result["rounds"],
                                             result["repeat"], m.get("date")))
    L.append("Load average at start: %s." % ", ".join("%.2f" % x for x in m.get("load_avg_at_start", [])))
    L.append("")
    L.append("Speed-up = ONNX Runtime ms / edge ms (median of per-round ratios); > 1: edge is faster.")
    L.append("")
    for T in result["threads"]:
        L.append("## %s thread%s" % (T, "" if T == 1 else "s"))
        L.append("")
        L.append("| model | exporter | edge fp32 ms | ORT fp32 ms | **fp32 speed-up** | edge int8 ms | ORT int8 ms "
                 "| **int8 speed-up** | edge int8+attn ms | int8+attn speed-up |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for e in result["files"]:
            t = e["threads"].get(str(T))
            if t is None:
                L.append("| %s | %s | not timed: %s |" % (e["architecture"], e["exporter"],
                                                        "; ".join("%s: %s" % kv for kv in e["notes"].items())))
                continue
            ms, r = t["ms"], t["ratios"]
            g = lambda v: fmt(ms[v]["median"]) if v in ms else "-"  # noqa: E731
            L.append("| %s | %s | %s | %s | **%s** | %s | %s | **%s** | %s | %s |" % (
                e["architecture"], e["exporter"], g("edge fp32"), g("ort fp32"),
                fmt(r.get("ort fp32 / edge fp32"), "%.2fx"), g("edge int8"), g("ort int8"),
                fmt(r.get("ort int8 / edge int8"), "%.2fx"), g("edge int8+attn"),
                fmt(r.get("ort int8 / edge int8+attn"), "%.2fx")))
        L.append("")
    L.append("## Quality against PyTorch (relative L2 error of the output)")
    L.append("")
    L.append("| model | exporter | ONNX ops -> edge ops | " + " | ".join(VARIANTS) + " |")
    L.append("|---|---|---|" + "---|" * len(VARIANTS))
    for e in result["files"]:
        q = e["quality"]
        ops = e["ops"] or {}
        L.append("| %s | %s | %s | %s |" % (e["architecture"], e["exporter"],
                                            "%s -> %s" % (ops.get("onnx_nodes", "-"), ops.get("edge_ops", "-")),
                                            " | ".join(fmt(q[v]["rel_l2"], "%.1e") if v in q and q[v]["rel_l2"]
                                                       is not None else "-" for v in VARIANTS)))
    notes = [(e, v, n) for e in result["files"] for v, n in e["notes"].items()]
    if notes:
        L += ["", "Notes:", ""]
        L += ["- %s/%s, %s: %s" % (e["model"], e["exporter"], v, n) for e, v, n in notes]
    open(path, "w").write("\n".join(L) + "\n")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "ort":
        return ort_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "tests", "models", "zoo"))
    ap.add_argument("--zoo-scale", default=None, help="label for the report (default: test or bench, from --zoo)")
    ap.add_argument("--models", default="", help="comma-separated subset (default: every model)")
    ap.add_argument("--exporters", default="legacy,dynamo")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per process")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "edge-zoo-speed"))
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--quick", action="store_true", help="1 round of 2 runs at 1 thread, results into --work")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.repeat, a.threads, a.out_dir = 1, 2, "1", a.work
    a.threads = [int(x) for x in a.threads.split(",")]
    a.edge_convert = os.path.join(a.build_dir, "converter", "edge-convert")
    a.edge_run = os.path.join(a.build_dir, "runtime", "edge-run")
    for tool in (a.edge_convert, a.edge_run):
        if not os.access(tool, os.X_OK):
            sys.exit("zoo_speed: %s not built (cmake --build %s)" % (tool, a.build_dir))
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out_dir, exist_ok=True)
    a.tmp = tempfile.mkdtemp(dir=a.work)
    import onnxruntime
    result = {"schema": SCHEMA, "machine": machine_info(), "ort_version": onnxruntime.__version__,
              "python": sys.version.split()[0], "rounds": a.rounds, "repeat": a.repeat, "threads": a.threads,
              "zoo": os.path.relpath(a.zoo, ROOT) if a.zoo.startswith(ROOT) else a.zoo,
              "zoo_scale": a.zoo_scale or ("test" if os.path.abspath(a.zoo) == os.path.join(ROOT, "tests", "models", "zoo")
                                           else "bench"), "files": []}
    want = set(filter(None, a.models.split(",")))
    for name in sorted(os.listdir(a.zoo)):
        d = os.path.join(a.zoo, name)
        if not os.path.isfile(os.path.join(d, "meta.json")) or (want and name not in want):
            continue
        meta = json.load(open(os.path.join(d, "meta.json")))
        result.setdefault("versions", {}).update({"torch (export)": meta.get("torch"),
                                                  "diffusers": meta.get("diffusers")})
        for ex in a.exporters.split(","):
            if os.path.isfile(os.path.join(d, ex, "model.onnx")):
                run_file(a, a.work, name, ex, d, meta, result)
    js = os.path.join(a.out_dir, "zoo_speed.json")
    json.dump(result, open(js, "w"), indent=1)
    write_md(result, os.path.join(a.out_dir, "zoo_speed.md"))
    log("wrote %s and zoo_speed.md" % js)
    return 0


if __name__ == "__main__":
    sys.exit(main())
