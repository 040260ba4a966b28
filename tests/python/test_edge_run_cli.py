"""edge-run on bad input: a clear message and the documented non-zero exit,
never a crash (a signal) or a hang.

Exit codes: 2 usage / bad input files, 3 bad or missing model file.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

BUILD = os.environ.get("EDGE_BUILD_DIR", "build")
EDGE_RUN = os.path.join(BUILD, "runtime", "edge-run")
MAKE_FIXTURE = os.path.join(BUILD, "tests", "make_dit_fixture")

failures = []


def check(name, args, want_code, want_text):
    r = subprocess.run([EDGE_RUN] + args, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    ok = r.returncode == want_code and want_text.lower() in out.lower()
    print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {r.returncode} (want {want_code}): {out.strip().splitlines()[-1] if out.strip() else ''}")
    if not ok:
        failures.append(name)


with tempfile.TemporaryDirectory() as d:
    subprocess.run([MAKE_FIXTURE, d, "--depth", "1", "--hidden", "32", "--image", "8"], check=True)
    model = os.path.join(d, "model.fb")
    empty = os.path.join(d, "empty.fb")
    open(empty, "wb").close()
    rnd = os.path.join(d, "random.fb")
    open(rnd, "wb").write(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    trunc = os.path.join(d, "trunc.fb")
    open(trunc, "wb").write(open(model, "rb").read()[:1000])

    check("missing file", [os.path.join(d, "nope.fb")], 3, "cannot open")
    check("directory", [d], 3, "directory")
    check("empty file", [empty], 3, "empty")
    check("random bytes", [rnd], 3, "size prefix")
    check("truncated model", [trunc], 3, "truncated")
    check("no arguments", [], 2, "no model file")
    check("unknown option", [model, "--bogus"], 2, "unknown option")
    check("bad steps", [model, "--steps", "0"], 2, "--steps")
    check("class out of range", [model, "--class", "999", "--out", os.path.join(d, "o.npy")], 2, "outside")
    check("--once without inputs", [model, "--once", "--out-dir", os.path.join(d, "o")], 2, "not given")
    check("guidance reuse negative", [model, "--guidance-reuse", "-1"], 2, "--guidance-reuse needs")
    check("guidance reuse order 2", [model, "--guidance-reuse", "2", "--guidance-reuse-order", "2"], 2, "0 or 1")
    check("guidance reuse order alone", [model, "--guidance-reuse-order", "0"], 2, "need --guidance-reuse K")
    check("guidance reuse run", [model, "--steps", "4", "--guidance-reuse", "2", "--out", os.path.join(d, "g.npy")],
          0, "wrote")

    x = np.load(os.path.join(d, "x.npy"))
    bad_shape = os.path.join(d, "x_bad.npy")
    np.save(bad_shape, x[:, :, :4, :])
    check("wrong input shape", [model, "--once", "--input", "x=" + bad_shape, "--out-dir", os.path.join(d, "o")], 2,
          "must be")
    nan = os.path.join(d, "x_nan.npy")
    xn = x.copy()
    xn[0, 0, 0, 0] = np.nan
    np.save(nan, xn)
    check("NaN input", [model, "--once", "--input", "x=" + nan, "--out-dir", os.path.join(d, "o")], 2, "nan")
    check("not an input", [model, "--once", "--input", "out=" + nan, "--out-dir", os.path.join(d, "o")], 2,
          "not a graph input")
    check("missing input file", [model, "--once", "--input", "x=" + os.path.join(d, "none.npy"), "--out-dir",
                                 os.path.join(d, "o")], 2, "input 'x'")
    check("good run", [model, "--steps", "2", "--out", os.path.join(d, "s.npy")], 0, "wrote")
    check("png of a 4-channel latent", [model, "--steps", "1", "--out", os.path.join(d, "s.png")], 4, "channels")

if failures:
    print("FAILED:", ", ".join(failures))
    sys.exit(1)
print("ok")
