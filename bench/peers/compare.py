"""edge against ONNX Runtime and PyTorch on the same network, side by side.

1. `edge-bench model --export` writes the benchmark DiT (seeded weights) and its
   inputs; dit_torch.py rebuilds it in PyTorch and exports the full model and its
   first block to ONNX; onnx_variants.py derives the INT8 and 4-bit ONNX.
2. One worker process per engine holds every variant loaded (edge-bench model
   --serve, ort_worker.py, torch_worker.py; the peers run under --peer-python,
   a virtual environment with onnxruntime and torch 2.x from PyPI). For each thread count, rounds go
   A B C ... A B C ...: one timed forward of every variant per round, so slow
   drift of the shared machine hits all engines alike, and each peer's time is
   divided by edge's time of the same round (pairwise ratios, then the median).
3. Outputs are saved once more to measure quality: PSNR and relative L2 error
   of every variant against the FP32 output of the same engine, and of every
   FP32 engine against edge FP32 (the engines compute the same network).
4. edge also runs the full sampling loop (Pipeline::Generate) and reports its
   per-op breakdown. Peers' 20-step time is 20 x their forward (the sampler's
   own work is a few vector ops per step).

    /usr/bin/python3 compare.py --build-dir build --peer-python VENV/bin/python \
        --out bench/results/model.json [--quick]       (bench/run_all.sh sets up VENV)
"""
import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
SCHEMA = "edge-bench.compare.v1"

# Published goals (README / issue): one block, ms; full stack speedups.
GOALS = {"block_ms": {"1": 30.0, "2": 17.0}, "speedup_vs_ort_fp32": 6.0, "speedup_vs_ort_int8": 3.0,
         "psnr_db": 30.0}
# Figures measured earlier on this machine type (design notes), for context only.
ANCHORS = {
    "block_ms": {"ort_fp32": [104, 58], "ort_int8": [54, 31], "ort_int4": [100, 54],
                 "torch_fp32": [124, 73], "torch_int8": [68, 46]},
    "forward_ms": {"ort_fp32": [1259, 675], "ort_int8": [621, 335], "torch_fp32": [1749, 1088],
                   "torch_int8": [1013, 595]},
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$", " ".join(shlex.quote(c) for c in cmd))
    subprocess.run(cmd, check=True, **kw)


class Worker:
    """A line-protocol worker process (one JSON line per command)."""

    def __init__(self, name, cmd, env=None, cwd=None):
        self.name = name
        log(f"[{name}] start:", " ".join(shlex.quote(c) for c in cmd))
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr,
                                  text=True, env=env, cwd=cwd, bufsize=1)
        self.hello = self._read()

    def _read(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} exited (rc {self.p.poll()})")
        return json.loads(line)

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        r = self._read()
        if "error" in r:
            raise RuntimeError(f"worker {self.name}: {line}: {r['error']}")
        return r

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=30)
            except Exception:
                self.p.kill()


def machine_info():
    info = {"cpu_model": "unknown", "isa": []}
    keep = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16",
            "avx_vnni", "amx_int8", "amx_bf16", "asimd", "asimddp", "i8mm", "bf16", "sve"]
    with open("/proc/cpuinfo") as f:
        for line in f:
            if ":" not in line:
                continue
            k, v = [s.strip() for s in line.split(":", 1)]
            if k == "model name" and info["cpu_model"] == "unknown":
                info["cpu_model"] = v
            elif k in ("cpu family", "model", "stepping") and k not in info:
                info[k] = v
            elif k in ("flags", "Features") and not info["isa"]:
                flags = set(v.split())
                info["isa"] = [x for x in keep if x in flags]
    info["cores_online"] = os.cpu_count()
    info["kernel"] = platform.release()
    try:
        info["os"] = "Debian " + open("/etc/debian_version").read().strip()
    except OSError:
        pass
    info["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        info["load_avg_at_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def blas_info():
    try:
        out = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Value:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def stats(v):
    v = sorted(v)
    if not v:
        return None
    n = len(v)
    med = v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])
    return {"median": med, "min": v[0], "max": v[-1], "n": n}


def quality(ref, test):
    """PSNR (peak: the reference's range), relative L2 error and max |error| /
    max |ref| of test against ref; all None when the shapes differ."""
    if ref.shape != test.shape:
        return {"psnr_db": None, "rel_l2": None, "max_rel": None}
    ref = ref.astype(np.float64)
    test = test.astype(np.float64)
    mse = float(np.mean((ref - test) ** 2))
    peak = float(ref.max() - ref.min())
    psnr = None if mse == 0 else 10 * np.log10(peak * peak / mse)
    rel = float(np.linalg.norm(ref - test) / max(np.linalg.norm(ref), 1e-30))
    max_rel = float(np.abs(test - ref).max() / max(float(np.abs(ref).max()), 1e-30))
    return {"psnr_db": psnr, "rel_l2": rel, "max_rel": max_rel}


def run_json(cmd, env=None):
    """Runs cmd; its stdout parsed as JSON, and its ru_maxrss (KiB, via wait4).
    The latter starts from the driver's own resident set: exec keeps the
    high-water mark of the forked image, so a child's own peak RSS is its VmHWM
    instead. A failure raises with the end of its stderr."""
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err.read()[-2000:]}")
    return json.loads(out), ru.ru_maxrss


def prepare(a, work):
    """Model, weights, inputs and the ONNX files; reused when --reuse and present."""
    full = os.path.join(work, "model")
    marker = os.path.join(work, "ready.json")
    key = {"depth": a.depth, "image": a.image, "seed": a.seed}
    if a.reuse and os.path.exists(marker) and json.load(open(marker)) == key:
        log("reusing", work)
        return full
    os.makedirs(work, exist_ok=True)
    shutil.rmtree(full, ignore_errors=True)  # no stale weights of another shape
    if os.path.exists(marker):
        os.remove(marker)
    run([a.edge_bench, "model", "--dit", "b2", "--depth", str(a.depth), "--image", str(a.image),
         "--seed", str(a.seed), "--export", full])
    py = a.python
    run([py, os.path.join(HERE, "dit_torch.py"), "export", full, os.path.join(work, "full_fp32.onnx"),
         "--block", os.path.join(work, "block_fp32.onnx")])
    for kind in ("full", "block"):
        run([py, os.path.join(HERE, "onnx_variants.py"), os.path.join(work, f"{kind}_fp32.onnx"),
             "--int8", os.path.join(work, f"{kind}_int8.onnx"), "--int4", os.path.join(work, f"{kind}_int4.onnx")])
    # Block inputs as .npy for the ONNX Runtime worker (the same values torch_worker uses).
    sys.path.insert(0, HERE)
    import dit_torch  # noqa: E402
    bi = dit_torch.block_inputs(dit_torch.load_config(full))
    for k, v in bi.items():
        np.save(os.path.join(work, f"block_{k}.npy"), v)
    json.dump(key, open(marker, "w"))
    return full


def peer_env():
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)  # may name an AVX2 core type; OpenBLAS picks the right one itself
    if os.path.exists(TCMALLOC):
        env["LD_PRELOAD"] = TCMALLOC
    return env


def run_threads(a, work, full, T, result):
    """All engines at T threads: alternate rounds, pairwise ratios, quality, edge extras."""
    workers = []
    entries = []  # (label, engine, precision, kind, worker, variant)
    unavailable = []

    def edge_worker(kind, precision, density=1.0):
        depth = a.depth if kind == "full" else 1
        # A sparse configuration is labelled like a precision ("fp32+sparse0.25")
        # so it gets its own row, measured against the dense FP32 one.
        label = precision if density == 1.0 else f"{precision}+sparse{density:g}"
        # The full model is the exported file (mapped, not rebuilt); the block
        # model is a one-block build with the same seed (same block weights).
        src = (["--model", os.path.join(full, "model.fb")] if kind == "full" else
               ["--dit", "b2", "--depth", str(depth), "--image", str(a.image), "--seed", str(a.seed)])
        w = Worker(f"edge-{kind}-{label}-t{T}",
                   [a.edge_bench, "model"] + src + ["--inputs", full, "--serve", "--threads", str(T),
                                                    "--precision", precision, "--density", str(density)])
        if not w.hello.get("ready"):
            unavailable.append({"engine": "edge", "kind": kind, "precision": precision,
                                "attention_density": density, "threads": T,
                                "reason": w.hello.get("reason", "worker not ready")})
            w.close()
            return
        workers.append(w)
        entries.append((f"edge {label}", "edge", label, kind, w, density))

    try:
        for kind in ("full", "block"):
            for prec in a.edge_precisions:
                edge_worker(kind, prec)
            for prec, d in sorted({(g[0], g[2]) for g in a.gen if g[2] != 1.0}):
                edge_worker(kind, prec, d)
        # ONNX Runtime: every variant in one process.
        ins_full = {n: os.path.join(full, n + ".npy") for n in ("x", "t", "y")}
        ins_block = {n: os.path.join(work, f"block_{n}.npy") for n in ("h", "c")}
        ort_cfg = {"threads": T, "variants": {}}
        for kind in ("full", "block"):
            for prec in ("fp32", "int8", "int4"):
                ort_cfg["variants"][f"{kind}_{prec}"] = {"path": os.path.join(work, f"{kind}_{prec}.onnx"),
                                                         "inputs": ins_full if kind == "full" else ins_block}
        cfg_path = os.path.join(work, f"ort_t{T}.json")
        json.dump(ort_cfg, open(cfg_path, "w"))
        ort = Worker(f"ort-t{T}", [a.peer_python, os.path.join(HERE, "ort_worker.py"), cfg_path], env=peer_env())
        workers.append(ort)
        if not ort.hello.get("ready"):
            raise RuntimeError("ONNX Runtime worker: " + str(ort.hello.get("error")))
        result.setdefault("versions", {})["onnxruntime"] = ort.hello.get("ort_version")
        result["versions"]["peer_python"] = ort.hello.get("python")
        torch_cfg = {"threads": T, "export_dir": full, "variants": {}}
        for kind in ("full", "block"):
            for prec in ("fp32", "int8"):
                torch_cfg["variants"][f"{kind}_{prec}"] = {"kind": kind, "precision": prec}
        cfg_path = os.path.join(work, f"torch_t{T}.json")
        json.dump(torch_cfg, open(cfg_path, "w"))
        tw = Worker(f"torch-t{T}", [a.peer_python, os.path.join(HERE, "torch_worker.py"), cfg_path], env=peer_env())
        workers.append(tw)
        result.setdefault("versions", {})["torch"] = tw.hello.get("torch")
        result["peer_settings"] = {
            "pytorch": {"ld_preload": tw.hello.get("ld_preload"), "openblas_coretype": tw.hello.get("openblas_coretype"),
                        "quantized_engine": tw.hello.get("quantized_engine"), "blas": blas_info(),
                        "set_num_threads": "threads of the row"},
            "onnxruntime": {"intra_op_threads": "threads of the row", "inter_op_threads": 1,
                            "graph_optimization": "all", "execution_mode": "sequential",
                            "int8": "DynamicQuantizeLinear+MatMulInteger (per-column symmetric int8 weights)",
                            "int4": "MatMulNBits bits=4 block 32 accuracy_level 4"},
        }
        for kind in ("full", "block"):
            for prec in ("fp32", "int8", "int4"):
                entries.append((f"ort {prec}", "ort", prec, kind, ort, f"{kind}_{prec}"))
            for prec in ("fp32", "int8"):
                entries.append((f"torch {prec}", "torch", prec, kind, tw, f"{kind}_{prec}"))

        def forward(e, n):
            _, engine, _, _, w, var = e
            r = w.ask(f"forward {n}" if engine == "edge" else f"forward {var} {n}")
            return r["forward_ms"], r.get("block_ms", [])

        def warm(e, n):
            _, engine, _, _, w, var = e
            w.ask(f"warmup {n}" if engine == "edge" else f"warmup {var} {n}")

        per_turn = {"full": 1, "block": a.block_runs}
        for e in entries:
            warm(e, 1 if e[3] == "full" else 2)
        times = {id(e): [] for e in entries}     # per round: the turn's median
        edge_block_in_full = []
        log(f"threads {T}: {a.rounds} rounds over {len(entries)} variants")
        for r in range(a.rounds):
            order = entries[r % len(entries):] + entries[:r % len(entries)]  # rotate who goes first
            for e in order:
                ms, blk = forward(e, per_turn[e[3]])
                times[id(e)].append(stats(ms)["median"])
                if e[1] == "edge" and e[3] == "full" and e[2] == "fp32" and blk:
                    edge_block_in_full.append(stats(blk)["median"])
                time.sleep(a.pause)
            log(f"  round {r + 1}: " + ", ".join(f"{e[0]} {e[3]} {times[id(e)][-1]:.1f}" for e in entries))

        # Quality: one more output from each variant.
        outs = {}
        for e in entries:
            path = os.path.join(work, f"out_{e[1]}_{e[3]}_{e[2]}_t{T}.npy")
            _, engine, _, _, w, var = e
            w.ask(f"save {path}" if engine == "edge" else f"save {var} {path}")
            outs[id(e)] = np.load(path)

        rows = []
        for kind in ("full", "block"):
            ref_edge = next((e for e in entries if e[1] == "edge" and e[2] == "fp32" and e[3] == kind), None)
            for e in (x for x in entries if x[3] == kind):
                row = {"engine": e[1], "precision": e[2], "kind": kind, "threads": T,
                       "ms": stats(times[id(e)]), "rounds_ms": times[id(e)]}
                if ref_edge is not None:
                    ratios = [p / q for p, q in zip(times[id(e)], times[id(ref_edge)])]
                    row["ratio_vs_edge_fp32"] = stats(ratios)  # > 1: edge FP32 is faster
                own_ref = next(x for x in entries if x[1] == e[1] and x[2] == "fp32" and x[3] == kind)
                row["quality_vs_own_fp32"] = quality(outs[id(own_ref)], outs[id(e)])
                if ref_edge is not None and e[2] == "fp32" and kind == "full":
                    row["quality_vs_edge_fp32"] = quality(outs[id(ref_edge)], outs[id(e)])
                rows.append(row)
        result["rows"] += rows
        if edge_block_in_full:
            result["edge_block_in_full_model_ms"][str(T)] = stats(edge_block_in_full)

        # edge extras: per-op breakdown (full and block) and the sampling loop.
        for e in entries:
            if e[1] == "edge":
                ops = e[4].ask("ops")
                key = f"{e[3]}_t{T}" if e[2] == "fp32" else f"{e[3]}_{e[2]}_t{T}"
                result["edge_ops"][key] = {"op_types_ms": ops["op_types"], "ops": ops["ops"],
                                           "peak_rss_bytes": ops["peak_rss_bytes"]}
        ref_gen = None
        if a.steps > 0:
            # The sampling runs of --gen (precision/cache/density), each on the
            # edge worker of that precision and density; the first is the reference.
            for prec, cache, dens in a.gen:
                label = prec if dens == 1.0 else f"{prec}+sparse{dens:g}"
                e = next((x for x in entries if x[1] == "edge" and x[3] == "full" and x[2] == label), None)
                if e is None:
                    continue  # that worker is listed as unavailable
                tag = f"{label}_{cache.replace(':', '')}_t{T}"
                path = os.path.join(work, f"gen_{tag}.npy")
                g = e[4].ask(f"generate {a.steps} {path} {cache}")
                entry = {"precision": prec, "cache": cache, "attention_density": dens,
                         "threads": T, "steps": a.steps, "total_ms": g["total_ms"],
                         "step_ms": stats(g["step_ms"]), "blocks_computed": g.get("blocks_computed"),
                         "blocks_skipped": g.get("blocks_skipped"), "latents": os.path.basename(path)}
                if ref_gen is None:
                    ref_gen = path
                else:
                    entry["quality_vs_fp32"] = quality(np.load(ref_gen), np.load(path))
                    entry["reference"] = os.path.basename(ref_gen)
                log(f"  generate {tag}: {g['total_ms']:.0f} ms, skipped {g.get('blocks_skipped')}")
                result["edge_generate"].append(entry)
        result["unavailable"] += unavailable
    finally:
        for w in workers:
            w.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--work", default="/tmp/edge-bench-compare")
    ap.add_argument("--out", default=None, help="JSON report path")
    ap.add_argument("--quick", action="store_true", help="1 block at 256 tokens, 1 thread, 2 rounds, 2 steps")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--block-runs", type=int, default=3, help="block forwards per turn (median taken)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--image", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pause", type=float, default=0.2, help="seconds between turns (peers' spinning threads settle)")
    ap.add_argument("--precisions", default="fp32,int8,nvfp4", help="edge precisions to try")
    ap.add_argument("--gen", default="fp32/none/1,int8/none/1,nvfp4/none/1,int8/delta:0.3/1,int8/delta:0.3/0.25,"
                    "nvfp4/delta:0.3/0.25",
                    help="edge sampling runs, precision/cache/attention density; the first is the reference")
    ap.add_argument("--reuse", action="store_true", help="reuse the exported model/ONNX in --work")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="Python that exports the ONNX files (Debian's PyTorch, the project's oracle)")
    ap.add_argument("--peer-python", default=os.environ.get("EDGE_PEER_PYTHON"),
                    help="Python with onnxruntime and torch 2.x that runs the peers (bench/run_all.sh makes one)")
    a = ap.parse_args()
    if not a.peer_python:
        ap.error("--peer-python (or EDGE_PEER_PYTHON) is required: a Python with onnxruntime and torch "
                 "(bench/run_all.sh sets one up)")
    if a.quick:
        a.depth, a.image, a.threads, a.rounds, a.steps, a.block_runs = 1, 32, "1", 2, 4, 2
    a.edge_bench = os.path.abspath(os.path.join(a.build_dir, "bench", "edge-bench"))
    a.edge_precisions = [p for p in a.precisions.split(",") if p]
    a.gen = [(g.split("/")[0], g.split("/")[1], float(g.split("/")[2])) for g in a.gen.split(",") if g]
    t0 = time.time()
    here = os.getcwd() + os.sep
    argv = [x[len(here):] if x.startswith(here) else x for x in sys.argv]  # repo-relative paths
    result = {"schema": SCHEMA, "command": " ".join([os.path.relpath(sys.argv[0])] + argv[1:]),
              "machine": machine_info(),
              "model": {"name": "DiT-B/2-like (random weights)", "depth": a.depth, "hidden": 768, "heads": 12,
                        "tokens": (a.image // 2) ** 2, "image": a.image, "seed": a.seed},
              "settings": {"rounds": a.rounds, "block_runs_per_turn": a.block_runs, "steps": a.steps,
                           "pause_s": a.pause, "quick": a.quick,
                           "order": "round-robin over all variants, start rotated each round; 1 warm-up run each"},
              "goals": GOALS, "anchors": ANCHORS, "rows": [], "edge_ops": {}, "edge_generate": [],
              "edge_block_in_full_model_ms": {}, "unavailable": []}
    work = os.path.abspath(a.work)
    full = prepare(a, work)
    sizes = {}
    for n in ("model.fb",):
        sizes["edge_model_fb"] = os.path.getsize(os.path.join(full, n))
    for kind in ("full",):
        for prec in ("fp32", "int8", "int4"):
            sizes[f"onnx_{prec}"] = os.path.getsize(os.path.join(work, f"{kind}_{prec}.onnx"))
    result["model"]["file_bytes"] = sizes
    build = os.path.abspath(a.build_dir)
    result["binaries_bytes"] = {n: os.path.getsize(os.path.join(build, p)) for n, p in (
        ("edge-bench", "bench/edge-bench"), ("edge-run", "runtime/edge-run"),
        ("libedge_runtime.a", "runtime/libedge_runtime.a"), ("libedge_ops.a", "ops/libedge_ops.a"))
        if os.path.exists(os.path.join(build, p))}
    for T in [int(t) for t in a.threads.split(",")]:
        run_threads(a, work, full, T, result)
    result["wall_s"] = round(time.time() - t0, 1)
    text = json.dumps(result, indent=1)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(text + "\n")
        log("wrote", a.out)
    else:
        print(text)


if __name__ == "__main__":
    main()
