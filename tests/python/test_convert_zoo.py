"""edge-convert on the model zoo (tests/models/zoo: diffusers architectures
exported by torch 2.x, committed with their inputs and PyTorch outputs).

tests/models/zoo/expect.json says, per model and exporter, what the converter
does with the file:
  "match":  converts; edge-run --once matches PyTorch (FP32 max |err| / max |ref|
            <= 1e-4); the listed op counts after fusion are present, and
            the listed cache regions (blocks), found from node names in a
            legacy export and from the name-scope metadata in a dynamo one.
  "refuse": exit code 4 with one message that lists every unsupported node;
            each listed substring appears in it.
Every committed ONNX file must have an entry (a new export is not silently
skipped). Prints the op counts before and after fusion of each file.
Needs only the committed files: no torch 2.x.
"""
import json
import os
import tempfile

import numpy as np

from checks import Checks, run_alone
from convert_util import EDGE_CONVERT, MODELS, rel_err, run, run_once

ZOO = os.path.join(MODELS, "zoo")


def check_output(c, fb, d, meta, rep, work, label, limit=1e-4):
    """Runs the model once on the saved inputs and compares with the PyTorch output.
    An integer input the converter declared f32 (timesteps only cast to float)
    is given as f32, as a sampler would."""
    dtypes = {t["name"]: t["dtype"] for t in rep["tensors"]}
    os.makedirs(work, exist_ok=True)
    inputs = {}
    for k in meta["inputs"]:
        path = os.path.join(d, k + ".npy")
        a = np.load(path)
        if dtypes.get(k) == "F32" and a.dtype != np.float32:
            path = os.path.join(work, k + ".npy")
            np.save(path, a.astype(np.float32))
        inputs[k] = path
    out_dir = os.path.join(work, "out")
    run_once(fb, inputs, out_dir)
    got = np.load(os.path.join(out_dir, meta["output"] + ".npy"))
    ref = np.load(os.path.join(d, "expected_" + meta["output"] + ".npy"))
    e = rel_err(ref, got) if got.shape == ref.shape else float("inf")
    c.check(e <= limit, "%s: edge-run vs PyTorch max rel err %.3e (limit %g), shape %s" % (label, e, limit, got.shape))


def test_convert_zoo():
    c = Checks()
    expect = json.load(open(os.path.join(ZOO, "expect.json")))
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(os.listdir(ZOO)):
            d = os.path.join(ZOO, name)
            if not os.path.isfile(os.path.join(d, "meta.json")):
                continue
            meta = json.load(open(os.path.join(d, "meta.json")))
            for ex in sorted(os.listdir(d)):
                onnx_path = os.path.join(d, ex, "model.onnx")
                if not os.path.isfile(onnx_path):
                    continue
                label = "%s/%s" % (name, ex)
                want = expect.get(name, {}).get(ex)
                c.check(want is not None, "%s: has an entry in expect.json" % label)
                if want is None:
                    continue
                fb = os.path.join(tmp, name + "_" + ex + ".fb")
                r = run([EDGE_CONVERT, onnx_path, "-o", fb, "--json"], expect_rc=None)
                if want["status"] == "match":
                    c.check(r.returncode == 0, "%s: converts (exit %d) %s" % (label, r.returncode,
                                                                         r.stderr.strip()[:2000]))
                    if r.returncode != 0:
                        continue
                    rep = json.loads(r.stdout)
                    ops = rep["ops_after"]
                    print("%s: %d ONNX ops -> %d edge ops %s" % (label, rep["num_ops_before"], rep["num_ops_after"],
                                                                  json.dumps(ops, sort_keys=True)))
                    for op, n in want.get("ops", {}).items():
                        c.check(ops.get(op, 0) == n, "%s: %d %s ops (got %d)" % (label, n, op, ops.get(op, 0)))
                    for op in want.get("forbidden", []):
                        c.check(op not in ops, "%s: no leftover %s ops" % (label, op))
                    if "regions" in want:
                        got = [r["name"] for r in rep["cache_regions"]]
                        c.check(got == want["regions"], "%s: cache regions %s (got %s)" % (label, want["regions"], got))
                    check_output(c, fb, d, meta, rep, os.path.join(tmp, name + "_" + ex), label)
                else:
                    msg = r.stderr
                    c.check(r.returncode == 4, "%s: refused with exit code 4 (got %d)" % (label, r.returncode))
                    c.check(msg.count("unsupported node(s)") == 1, "%s: one message listing the unsupported nodes" %
                            label)
                    for s in want.get("message", []):
                        c.check(s in msg, "%s: the message names %r" % (label, s))
                    print("%s: refused:\n%s" % (label, msg.strip()))
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
