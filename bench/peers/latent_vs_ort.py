"""The latent demo's whole generation (models/latent), edge against ONNX
Runtime on the same ONNX graphs: 20 guided flow-matching Euler steps of the
DiT, then the decoder, for a few classes, from the same initial noise.

1. Debian's PyTorch exports the denoiser and the decoder to ONNX
   (models/latent/export_onnx.py); edge-convert turns them into one .fb with
   the pipeline models/latent/build_fb.sh stores (read from latent_dit.json),
   and the .fb is compared with the shipped models/latent/latent_dit.fb.
2. `edge-run MODEL --dump-noise` writes the initial noise; both engines start
   from it.
3. Every timed generation is a fresh process: `edge-run --json` for edge
   (load_ms; total_ms of the sampling loop + decoder total_ms) and this file's
   `ort` mode under the peers' Python (onnxruntime InferenceSession, the
   sampler of runtime/sampler.cc and runtime/pipeline.cc: the batch-2 graph
   carries one sample's conditional and unconditional rows, then the batch-1
   decoder per sample). Generation time excludes process start and model
   load (reported apart); peak RSS is the child's ru_maxrss (os.wait4), the
   same measure for both. Rounds alternate edge, ONNX Runtime, edge, ... per
   thread count, after one untimed round.
4. Quality: PSNR of ONNX Runtime's images against edge's ([-1, 1] images,
   peak-to-peak 2, as tests/python/test_latent_model.py).

    /usr/bin/python3 bench/peers/latent_vs_ort.py --build-dir build \
        --peer-python ~/.cache/edge-peers-venv/bin/python [--quick]
    (bench/run_latent_vs_ort.sh makes the peers' environment and runs it)

Writes <out-dir>/latent_vs_ort.json and .md (default bench/results; --quick:
2 steps, 2 classes, 1 round at 2 threads, no waiting, into --work).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LATENT = os.path.join(ROOT, "models", "latent")
SCHEMA = "edge-bench.latent_vs_ort.v1"
sys.path.insert(0, HERE)
from compare import log, machine_info, peer_env, run, run_json, stats  # noqa: E402  (bench/peers; numpy only)
sys.path.insert(0, os.path.join(ROOT, "python"))
from edge_dit.metrics import PIXEL_PEAK, psnr  # noqa: E402


# ---------------------------------------------------------------------------
# ONNX Runtime side (runs under the peers' Python: numpy + onnxruntime only).

def flow_schedule(steps, shift, timestep_scale):
    """runtime/sampler.cc's flow-matching Euler schedule: sigma (float32, steps + 1)
    and the graph's timestep per step (float32)."""
    t = 1.0 - np.arange(steps + 1, dtype=np.float64) / steps
    ts = shift * t / (1.0 + (shift - 1.0) * t)
    return ts.astype(np.float32), (ts[:steps] * timestep_scale).astype(np.float32)


def vm_hwm_kb():
    """This process's peak resident set, KiB (VmHWM: what edge-run's peak_rss_kb reads)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def ort_generate(a):
    import onnxruntime as ort
    t0 = time.perf_counter()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    dit = ort.InferenceSession(a.dit, so, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(a.decoder, so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    x_name, t_name, y_name = (i.name for i in dit.get_inputs())
    z_name = dec.get_inputs()[0].name
    noise = np.load(a.noise).astype(np.float32)
    classes = [int(c) for c in a.classes.split(",")]
    assert noise.shape[0] == len(classes), (noise.shape, classes)
    sigma, model_t = flow_schedule(a.steps, a.shift, a.timestep_scale)
    g = np.float32(a.guidance)

    t1 = time.perf_counter()
    latents = np.empty_like(noise)
    for k, c in enumerate(classes):  # one sample per run: its cond and uncond rows
        x = noise[k:k + 1].copy()
        y = np.array([c, a.null_class], np.int64)
        for i in range(a.steps):
            v = dit.run(None, {x_name: np.concatenate([x, x]), t_name: np.full(2, model_t[i], np.float32),
                               y_name: y})[0]
            pred = v[1:] + g * (v[:1] - v[1:])
            x += (sigma[i + 1] - sigma[i]) * pred
        latents[k] = x[0]
    t2 = time.perf_counter()
    images = np.concatenate([dec.run(None, {z_name: latents[k:k + 1]})[0] for k in range(len(classes))])
    t3 = time.perf_counter()
    np.save(a.out, images.astype(np.float32))
    print(json.dumps({"load_ms": load_ms, "sample_ms": (t2 - t1) * 1e3, "decode_ms": (t3 - t2) * 1e3,
                      "generation_ms": (t3 - t1) * 1e3, "peak_rss_kb": vm_hwm_kb(), "onnxruntime": ort.__version__, "numpy": np.__version__,
                      "python": sys.version.split()[0]}))


# ---------------------------------------------------------------------------
# The driver (Debian's python3).

def wait_quiet(limit, max_wait_s, poll_s=30):
    """Waits (up to max_wait_s) for the 1-minute load average to drop below limit."""
    t0 = time.time()
    while os.getloadavg()[0] >= limit and time.time() - t0 < max_wait_s:
        log(f"load average {os.getloadavg()[0]:.2f} >= {limit}: waiting")
        time.sleep(poll_s)
    return os.getloadavg()


def prepare(a, work, sampling, num_classes):
    """ONNX graphs and the converted .fb (build_fb.sh's pipeline flags)."""
    onnx_dir = os.path.join(work, "onnx")
    run(["/usr/bin/python3", os.path.join(LATENT, "export_onnx.py"), "--dir", LATENT, "--out", onnx_dir,
         "--tile", "0"], stdout=subprocess.DEVNULL)
    fb = os.path.join(work, "latent_dit.fb")
    run([os.path.join(a.build_dir, "converter", "edge-convert"), os.path.join(onnx_dir, "latent_dit.onnx"), "-o", fb,
         "--name", "latent_dit", "--sampler", "flow", "--steps", str(sampling["steps"]),
         "--guidance", str(sampling["guidance"]), "--shift", str(sampling["shift"]),
         "--roles", "x=latent,t=timestep,y=condition", "--num-classes", str(num_classes),
         "--null-class", str(num_classes), "--output-kind", "latent", "--timestep-scale", "1000",
         "--latent", "4x16x16", "--decoder", os.path.join(onnx_dir, "latent_decoder.onnx")],
        stdout=subprocess.DEVNULL)
    with open(fb, "rb") as f, open(os.path.join(LATENT, "latent_dit.fb"), "rb") as g:
        same = f.read() == g.read()
    return onnx_dir, fb, same


def git_rev():
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def measure(a, work, fb, onnx_dir, noise, sampling, null_class, steps):
    edge_run = os.path.join(a.build_dir, "runtime", "edge-run")
    env = peer_env()
    rows, images = [], {}
    for T in a.threads:
        def edge_cmd(out):
            return [edge_run, fb, "--class", a.classes, "--noise", noise, "--steps", str(steps),
                    "--threads", str(T), "--json", "--quiet", "--out", out]

        def ort_cmd(out):
            return [a.peer_python, os.path.abspath(__file__), "ort", "--dit", os.path.join(onnx_dir, "latent_dit.onnx"),
                    "--decoder", os.path.join(onnx_dir, "latent_decoder.onnx"), "--noise", noise,
                    "--classes", a.classes, "--steps", str(steps), "--guidance", str(sampling["guidance"]),
                    "--shift", str(sampling["shift"]), "--null-class", str(null_class), "--threads", str(T),
                    "--out", out]

        def one(engine):
            out = os.path.join(work, f"{engine}_t{T}.npy")
            if engine == "edge":
                j, rss = run_json(edge_cmd(out))
                r = {"load_ms": j["load_ms"], "sample_ms": j["total_ms"], "decode_ms": j["decoder"]["total_ms"],
                     "peak_rss_kb": j["peak_rss_kb"], "graph_runs": j["graph_runs"]}
                r["generation_ms"] = r["sample_ms"] + r["decode_ms"]
            else:
                j, rss = run_json(ort_cmd(out), env)
                r = {k: j[k] for k in ("load_ms", "sample_ms", "decode_ms", "generation_ms", "peak_rss_kb")}
                versions.update({k: j[k] for k in ("onnxruntime", "numpy", "python")})
            r["wait4_maxrss_kb"] = rss
            images[(engine, T)] = np.load(out)
            return r

        versions = {}
        for engine in ("edge", "ort"):  # untimed: page cache, clocks, first-run costs
            one(engine)
        runs = {"edge": [], "ort": []}
        for r in range(a.rounds):
            for engine in ("edge", "ort"):
                runs[engine].append(one(engine))
                runs[engine][-1]["load_avg_after"] = os.getloadavg()[0]
            log(f"threads {T} round {r + 1}: edge {runs['edge'][-1]['generation_ms']:.1f} ms, "
                f"ONNX Runtime {runs['ort'][-1]['generation_ms']:.1f} ms")
        ratios = [o["generation_ms"] / e["generation_ms"] for e, o in zip(runs["edge"], runs["ort"])]
        for engine in ("edge", "ort"):
            v = runs[engine]
            row = {"engine": engine, "threads": T, "runs": v,
                   **{k: stats([x[k] for x in v]) for k in ("generation_ms", "sample_ms", "decode_ms", "load_ms",
                                                             "peak_rss_kb")}}
            row["psnr_vs_edge_db"] = psnr(images[("edge", T)], images[(engine, T)], PIXEL_PEAK, identical=None)
            if engine == "ort":
                row["ratio_ort_over_edge"] = stats(ratios)  # pairwise per round; > 1: edge is faster
            rows.append(row)
    return rows, images, versions


def ort_floor_kb(a):
    """Peak RSS of the peers' Python that imports numpy and onnxruntime and exits."""
    j, _ = run_json([a.peer_python, os.path.abspath(__file__), "ort-floor"], peer_env())
    return j["peak_rss_kb"]


def write_md(path, res):
    m, s = res["machine"], res["settings"]
    under = res["load_avg_before"][0] >= 1.5 or res["load_avg_after"][0] >= 1.5
    L = ["# The latent demo's whole generation: edge vs ONNX Runtime", ""]
    zen3 = " (Zen 3)" if m.get("cpu family") == "25" and m.get("model") in ("1", "33", "80") else ""
    L.append(f"Machine: {m['cpu_model']}, family {m.get('cpu family')} model {m.get('model')}{zen3}, "
             f"{'+'.join(m['isa']).upper()}, {m['cores_online']} cores, {m.get('os', '')}, kernel {m['kernel']}; "
             f"{m['date']}. Load average (1, 5, 15 min) before "
             + ", ".join(f"{x:.2f}" for x in res["load_avg_before"]) + ", after "
             + ", ".join(f"{x:.2f}" for x in res["load_avg_after"])
             + (" (**taken under load**: a shared machine)." if under else "."))
    v = res["versions"]
    L.append(f"Versions: edge {v['edge']}; ONNX Runtime {v.get('onnxruntime')} (PyPI, Python {v.get('python')}, "
             f"numpy {v.get('numpy')}); ONNX exported by Debian's torch {v.get('export_torch')}.")
    L.append("")
    heads = []
    for r in res["rows"]:
        if r["engine"] == "ort":
            e = next(x for x in res["rows"] if x["engine"] == "edge" and x["threads"] == r["threads"])
            heads.append(f"{r['threads']} thread{'s' if r['threads'] > 1 else ''}: edge "
                         f"{e['generation_ms']['median']:.0f} ms, ONNX Runtime {r['generation_ms']['median']:.0f} ms "
                         f"(ONNX Runtime / edge {r['ratio_ort_over_edge']['median']:.2f}x), peak RSS "
                         f"{e['peak_rss_kb']['median'] / 1024:.1f} vs {r['peak_rss_kb']['median'] / 1024:.1f} MiB")
    L.append("Headline: " + "; ".join(heads) + ".")
    L.append("")
    L.append(f"Generation: classes {s['classes']} (one image each), {s['steps']} flow-matching Euler steps, guidance "
             f"{s['guidance']:g} with null class {s['null_class']}, shift {s['shift']:g}, timestep = t x 1000; the "
             "batch-2 denoiser graph carries one sample's conditional and unconditional rows (edge-run's batching), "
             f"{s['graph_runs']} denoiser runs, then the batch-1 decoder per sample (64x64 RGB). Both engines start "
             "from `edge-run --dump-noise`'s noise.")
    L.append(f"Model: {res['model']['note']}")
    L.append("")
    L.append("Timing: each generation is a fresh process; generation = sampling + decode, without process start and "
             "model load (load is its own column: edge-run's `load_ms`, ONNX Runtime's two InferenceSession "
             f"creations). {s['rounds']} rounds alternating edge, ONNX Runtime per thread count after one untimed "
             "round; ratio = median of the per-round ONNX Runtime / edge ratios (> 1: edge is faster). edge's times "
             "are edge-run's `--json` (`total_ms` + `decoder.total_ms`): `edge-bench model` runs a .fb's sampling "
             "loop for one sample from its own seed without the decoder, not this generation. Peak RSS: each child "
             "process's VmHWM at its end (/proc/self/status; edge-run's `peak_rss_kb` reads the same), not wait4's "
             "ru_maxrss, which starts from the driver's own resident set (exec keeps the forked image's high-water "
             "mark; recorded as `wait4_maxrss_kb`). The ONNX Runtime process holds the Python interpreter, "
             f"numpy and onnxruntime: importing them alone peaks at {res['ort_import_floor_kb'] / 1024:.1f} MiB. "
             "ONNX Runtime settings: intra-op threads of the row, inter-op 1, all graph optimizations, sequential "
             "execution, CPU provider" + (", libtcmalloc_minimal preloaded" if res.get("ld_preload") else "") + ".")
    L.append("")
    L.append("| engine | threads | generation ms median | min | max | sampling ms | decode ms | ONNX Runtime / edge "
             "| peak RSS MiB | load ms | PSNR vs edge dB |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        ratio = f"{r['ratio_ort_over_edge']['median']:.2f}x" if "ratio_ort_over_edge" in r else "1"
        ps = "identical" if r["psnr_vs_edge_db"] is None else f"{r['psnr_vs_edge_db']:.1f}"
        L.append(f"| {'edge' if r['engine'] == 'edge' else 'ONNX Runtime'} | {r['threads']} | "
                 f"{r['generation_ms']['median']:.1f} | {r['generation_ms']['min']:.1f} | "
                 f"{r['generation_ms']['max']:.1f} | "
                 f"{r['sample_ms']['median']:.1f} | {r['decode_ms']['median']:.1f} | {ratio} | "
                 f"{r['peak_rss_kb']['median'] / 1024:.1f} | {r['load_ms']['median']:.1f} | {ps} |")
    L.append("")
    per_run_load = all("load_avg_after" in x for r in res["rows"] for x in r["runs"])
    L.append("Sampling and decode columns are medians of their own (their sum need not be the generation's median). "
             "Per-run times" + (" and the 1-minute load average after each run" if per_run_load else "")
             + " are in latent_vs_ort.json.")
    L.append("")
    L.append("Commands:")
    L.append("")
    for c in res["commands"]:
        L.append(f"    {c}")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def main():
    if sys.argv[1:] == ["ort-floor"]:
        import onnxruntime  # noqa: F401
        print(json.dumps({"peak_rss_kb": vm_hwm_kb()}))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "ort":
        ap = argparse.ArgumentParser(prog="latent_vs_ort.py ort")
        for k in ("dit", "decoder", "noise", "classes", "out"):
            ap.add_argument("--" + k, required=True)
        ap.add_argument("--steps", type=int, required=True)
        ap.add_argument("--guidance", type=float, required=True)
        ap.add_argument("--shift", type=float, required=True)
        ap.add_argument("--timestep-scale", type=float, default=1000.0)
        ap.add_argument("--null-class", type=int, required=True)
        ap.add_argument("--threads", type=int, required=True)
        return ort_generate(ap.parse_args(sys.argv[2:]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.environ.get("EDGE_BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--peer-python", default=os.path.expanduser("~/.cache/edge-peers-venv/bin/python"))
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "edge-latent-vs-ort"))
    ap.add_argument("--out-dir", help="default bench/results (--quick: --work)")
    ap.add_argument("--classes", default="0,5,10,15")
    ap.add_argument("--steps", type=int, default=0, help="0: the model's (20)")
    ap.add_argument("--threads", default="2,1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-load", type=float, default=1.5, help="wait for a 1-minute load average below this")
    ap.add_argument("--max-wait", type=float, default=600, help="seconds to wait for it at most")
    ap.add_argument("--quick", action="store_true", help="2 steps, classes 0,5, 1 round, 2 threads, into --work")
    a = ap.parse_args()
    if a.quick:
        a.steps, a.classes, a.rounds, a.threads, a.max_wait = 2, "0,5", 1, "2", 0
    a.out_dir = a.out_dir or (a.work if a.quick else os.path.join(ROOT, "bench", "results"))
    a.threads = [int(t) for t in a.threads.split(",")]
    a.build_dir = os.path.abspath(a.build_dir)
    if not os.access(a.peer_python, os.X_OK):
        sys.exit(f"no peers' Python at {a.peer_python} (bench/run_latent_vs_ort.sh makes it)")
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out_dir, exist_ok=True)
    meta = json.load(open(os.path.join(LATENT, "latent_dit.json")))
    sampling, num_classes = meta["sampling"], meta["config"]["num_classes"]
    steps = a.steps or sampling["steps"]

    onnx_dir, fb, same = prepare(a, work=a.work, sampling=sampling, num_classes=num_classes)
    noise = os.path.join(a.work, "noise.npy")
    edge_run = os.path.join(a.build_dir, "runtime", "edge-run")
    run([edge_run, fb, "--class", a.classes, "--steps", str(steps), "--dump-noise", noise, "--quiet",
         "--out", os.path.join(a.work, "noise_run.npy")])

    before = wait_quiet(a.max_load, a.max_wait)
    log(f"measuring at load average {before[0]:.2f}")
    machine = machine_info()
    rows, _, versions = measure(a, a.work, fb, onnx_dir, noise, sampling, num_classes, steps)
    after = os.getloadavg()
    torch_v = subprocess.run(["/usr/bin/python3", "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    n = len(a.classes.split(","))
    res = {
        "schema": SCHEMA, "machine": machine, "load_avg_before": before, "load_avg_after": after,
        "versions": {"edge": git_rev(), "export_torch": torch_v, **versions},
        "model": {"fb": fb, "identical_to_shipped": same,
                  "note": ("edge runs the .fb converted here from the exported ONNX with build_fb.sh's pipeline flags, "
                           + ("byte-identical to the shipped models/latent/latent_dit.fb"
                              if same else "which differs from the shipped models/latent/latent_dit.fb")
                           + "; ONNX Runtime runs the exported latent_dit.onnx and latent_decoder.onnx.")},
        "settings": {"classes": a.classes, "steps": steps, "guidance": sampling["guidance"], "shift": sampling["shift"],
                     "null_class": num_classes, "rounds": a.rounds, "threads": a.threads, "quick": a.quick,
                     "graph_runs": rows[0]["runs"][0]["graph_runs"], "samples": n},
        "ort_import_floor_kb": ort_floor_kb(a), "ld_preload": peer_env().get("LD_PRELOAD"),
        "commands": ["bench/run_latent_vs_ort.sh" + (" --quick" if a.quick else ""),
                     "(= /usr/bin/python3 bench/peers/latent_vs_ort.py --build-dir BUILD --peer-python "
                     "~/.cache/edge-peers-venv/bin/python" + (" --quick" if a.quick else "") + ")",
                     f"edge: edge-run latent_dit.fb --class {a.classes} --noise noise.npy --threads T --json --out "
                     "edge.npy",
                     f"ONNX Runtime: VENV/bin/python bench/peers/latent_vs_ort.py ort --dit latent_dit.onnx "
                     f"--decoder latent_decoder.onnx --noise noise.npy --classes {a.classes} --steps {steps} ..."],
        "rows": rows,
    }
    with open(os.path.join(a.out_dir, "latent_vs_ort.json"), "w") as f:
        json.dump(res, f, indent=1)
    write_md(os.path.join(a.out_dir, "latent_vs_ort.md"), res)
    low = [r for r in rows if r["psnr_vs_edge_db"] is not None and r["psnr_vs_edge_db"] < 60]
    for r in rows:
        log(f"{r['engine']:5s} t{r['threads']}: {r['generation_ms']['median']:.1f} ms (min {r['generation_ms']['min']:.1f}),"
            f" peak RSS {r['peak_rss_kb']['median'] / 1024:.1f} MiB, load {r['load_ms']['median']:.1f} ms, PSNR vs edge "
            f"{r['psnr_vs_edge_db']}")
    log("wrote", os.path.join(a.out_dir, "latent_vs_ort.json"), "and .md")
    if low:
        log("PSNR below 60 dB: the engines do not compute the same generation")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
