"""Shared helpers of the converter tests (tests/python/test_convert_*.py)."""
import json
import os
import subprocess
import sys

import numpy as np

BUILD = os.environ.get("EDGE_BUILD_DIR", "build")
SOURCE = os.environ.get("EDGE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EDGE_CONVERT = os.path.join(BUILD, "converter", "edge-convert")
EDGE_RUN = os.path.join(BUILD, "runtime", "edge-run")
MODELS = os.path.join(SOURCE, "tests", "models")

sys.path.insert(0, MODELS)


def run(cmd, expect_rc=0):
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if expect_rc is not None and r.returncode != expect_rc:
        print("command:", " ".join(cmd))
        print("exit code", r.returncode, "expected", expect_rc)
        print(r.stdout[-4000:], r.stderr[-4000:])
        raise SystemExit(1)
    return r


def fixture(name, workdir):
    """Directory of a fixture: the committed one, else regenerated into workdir."""
    d = os.path.join(MODELS, name)
    if os.path.exists(os.path.join(d, "model.onnx")):
        return d
    import make_fixtures
    out = os.path.join(workdir, name)
    make_fixtures.MAKERS[name](out)
    return out


def convert(onnx_path, out_path, *extra, expect_rc=0):
    return run([EDGE_CONVERT, onnx_path, "-o", out_path] + list(extra), expect_rc)


def convert_json(onnx_path, out_path, *extra):
    r = convert(onnx_path, out_path, "--json", *extra)
    return json.loads(r.stdout)


def run_once(model, inputs, out_dir):
    cmd = [EDGE_RUN, model, "--once", "--out-dir", out_dir, "--quiet"]
    for k, v in inputs.items():
        cmd += ["--input", k + "=" + v]
    run(cmd)


def check_fixture_output(c, model, d, meta, out_dir, label, limit=1e-4):
    """Runs `model` once on the fixture's inputs and checks it against the saved PyTorch output."""
    run_once(model, {k: os.path.join(d, k + ".npy") for k in meta["inputs"]}, out_dir)
    got = np.load(os.path.join(out_dir, meta["output"] + ".npy"))
    ref = np.load(os.path.join(d, "expected_" + meta["output"] + ".npy"))
    ok_shape = got.shape == ref.shape
    e = rel_err(ref, got) if ok_shape else float("inf")
    c.check(ok_shape and e <= limit, "%s: edge-run vs PyTorch max rel err %.3e (limit %g), shape %s" %
            (label, e, limit, got.shape))


def rel_err(ref, got):
    return float(np.max(np.abs(ref.astype(np.float64) - got)) / max(1e-12, float(np.max(np.abs(ref)))))
