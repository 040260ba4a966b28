"""ONNX Runtime (CPU, the `onnxruntime` Python package from PyPI) worker for
bench/peers/compare.py.

    PEER_PYTHON ort_worker.py CONFIG.json
CONFIG: {"threads": T, "variants": {"NAME": {"path": "m.onnx",
         "inputs": {"x": "x.npy", ...}}, ...}}
Every session is created up front (intra-op threads T, inter-op 1, all graph
optimizations, sequential execution, memory arena and patterns on), then stdin
is served line by line, one JSON line answering each command:
  forward NAME N   N timed runs -> {"forward_ms": [...]}
  warmup NAME N    N untimed runs
  save NAME PATH   last output of NAME as .npy (float32)
  quit
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    cfg = json.load(open(sys.argv[1]))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(cfg["threads"])
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.enable_cpu_mem_arena = True
    opts.enable_mem_pattern = True
    variants = {}
    try:
        for name, v in cfg["variants"].items():
            s = ort.InferenceSession(v["path"], opts, providers=["CPUExecutionProvider"])
            feeds = {k: np.load(p) for k, p in v["inputs"].items()}
            variants[name] = {"session": s, "feeds": feeds, "last": None}
    except Exception as e:  # the driver reports it and stops
        print(json.dumps({"ready": False, "error": repr(e)}), flush=True)
        return 1
    print(json.dumps({"ready": True, "ort_version": ort.__version__, "python": sys.version.split()[0],
                      "variants": list(variants)}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "quit":
            break
        try:
            v = variants[parts[1]]
            if parts[0] in ("forward", "warmup"):
                ms = []
                for _ in range(int(parts[2])):
                    t0 = time.perf_counter()
                    out = v["session"].run(None, v["feeds"])
                    ms.append((time.perf_counter() - t0) * 1e3)
                    v["last"] = out[0]
                reply = {"forward_ms": ms} if parts[0] == "forward" else {"ok": True}
            elif parts[0] == "save":
                np.save(parts[2], np.asarray(v["last"], dtype=np.float32))
                reply = {"ok": True}
            else:
                reply = {"error": "unknown command " + parts[0]}
        except Exception as e:  # reported to the driver, which fails the run
            reply = {"error": repr(e)}
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
