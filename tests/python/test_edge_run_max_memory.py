"""edge-run --max-memory: a model whose activation arena needs more than the cap
is refused before anything runs, with exit 4 and a message naming the cap; a
cap it fits under changes nothing (same output as no cap).

Model: the dit_s2 fixture converted (arena about 2 MiB).
"""
import os
import subprocess
import tempfile

import numpy as np

from checks import Checks, run_alone
from convert_util import EDGE_RUN, convert, fixture

FLAGS = ["--sampler", "ddim", "--roles", "x=latent,t=timestep,y=condition", "--latent", "4x32x32",
         "--num-classes", "10", "--null-class", "10"]


def run_once(fb, d, out_dir, extra):
    cmd = [EDGE_RUN, fb, "--once", "--out-dir", out_dir, "--quiet"] + extra
    for k in ("x", "t", "y"):
        cmd += ["--input", "%s=%s" % (k, os.path.join(d, k + ".npy"))]
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace")


def test_edge_run_max_memory():
    c = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        d = fixture("dit_s2", tmp)
        fb = os.path.join(tmp, "dit_s2.fb")
        convert(os.path.join(d, "model.onnx"), fb, *FLAGS)
        free = run_once(fb, d, os.path.join(tmp, "free"), [])
        c.check(free.returncode == 0, "no cap: exit %d%s" % (free.returncode, free.stderr[-500:]))
        low = run_once(fb, d, os.path.join(tmp, "low"), ["--max-memory", "1"])
        c.check(low.returncode == 4, "--max-memory 1 (MiB): exit %d (4 expected)" % low.returncode)
        c.check("cap" in low.stderr, "--max-memory 1: the message names the cap: %r" % low.stderr.strip())
        c.check(not os.path.exists(os.path.join(tmp, "low", "out.npy")), "--max-memory 1: no output written")
        ok = run_once(fb, d, os.path.join(tmp, "ok"), ["--max-memory", "64"])
        c.check(ok.returncode == 0, "--max-memory 64: exit %d%s" % (ok.returncode, ok.stderr[-500:]))
        if free.returncode == 0 and ok.returncode == 0:
            a = np.load(os.path.join(tmp, "free", "out.npy"))
            b = np.load(os.path.join(tmp, "ok", "out.npy"))
            c.check(np.array_equal(a, b), "--max-memory 64: output identical to the uncapped run")
        bad = run_once(fb, d, os.path.join(tmp, "bad"), ["--max-memory", "lots"])
        c.check(bad.returncode == 2, "--max-memory lots: usage error, exit %d" % bad.returncode)
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
