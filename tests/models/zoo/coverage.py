#!/usr/bin/python3
"""Prints the zoo coverage table (markdown) for the README: per architecture
and exporter, whether edge-convert takes the file, the FP32 error of edge-run
against PyTorch, and the op counts before and after fusion. The README's
table is bench/results/zoo_coverage.md:

  EDGE_BUILD_DIR=build /usr/bin/python3 tests/models/zoo/coverage.py > bench/results/zoo_coverage.md
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("EDGE_BUILD_DIR", "build")
COARSE = ["Attention", "RMSNorm", "LayerNorm", "GroupNorm", "Upsample", "Modulate", "GatedResidual", "RoPE", "TimestepEmbedding", "Conv2d"]


def row(name, ex, meta, tmp):
    d = os.path.join(HERE, name)
    info = meta["exporters"].get(ex, {})
    if info.get("status") != "ok":
        return [meta["architecture"], ex, "export failed", "-", info.get("error", "")[:90].replace("|", "/")]
    onnx_path = os.path.join(d, ex, "model.onnx")
    fb = os.path.join(tmp, name + ex + ".fb")
    r = subprocess.run([os.path.join(BUILD, "converter", "edge-convert"), onnx_path, "-o", fb, "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        first = r.stderr.strip().splitlines()
        return [meta["architecture"], ex, "refused (exit %d)" % r.returncode, "-", " ".join(first[:3])[:120]]
    rep = json.loads(r.stdout)
    dtypes = {t["name"]: t["dtype"] for t in rep["tensors"]}
    cmd = [os.path.join(BUILD, "runtime", "edge-run"), fb, "--once", "--out-dir", os.path.join(tmp, "out"), "--quiet"]
    for k in meta["inputs"]:
        p = os.path.join(d, k + ".npy")
        a = np.load(p)
        if dtypes.get(k) == "F32" and a.dtype != np.float32:
            p = os.path.join(tmp, k + ".npy")
            np.save(p, a.astype(np.float32))
        cmd += ["--input", k + "=" + p]
    subprocess.run(cmd, check=True)
    got = np.load(os.path.join(tmp, "out", "out.npy"))
    ref = np.load(os.path.join(d, "expected_out.npy"))
    err = float(np.max(np.abs(ref.astype(np.float64) - got)) / np.max(np.abs(ref)))
    ops = rep["ops_after"]
    coarse = ", ".join("%s %d" % (k, ops[k]) for k in COARSE if k in ops)
    rest = sum(v for k, v in ops.items() if k not in COARSE and k not in ("Linear",))
    return [meta["architecture"], ex, "converts, matches" if err <= 1e-4 else "converts, MISMATCH", "%.1e" % err,
            "%d -> %d: Linear %d, %s; %d other" % (rep["num_ops_before"], rep["num_ops_after"], ops.get("Linear", 0),
                                                  coarse, rest)]


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(os.listdir(HERE)):
            mp = os.path.join(HERE, name, "meta.json")
            if not os.path.isfile(mp):
                continue
            meta = json.load(open(mp))
            for ex in ("legacy", "dynamo"):
                rows.append(row(name, ex, meta, tmp))
    print("| architecture | exporter | status | max rel err | ONNX ops -> edge ops after fusion |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
