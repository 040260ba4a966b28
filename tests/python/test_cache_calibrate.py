"""Step cache end to end on the dit_s2 fixture (converted with 6 flow steps):
- edge-convert --cache-calibrate is deterministic (two runs, any number of
  calibration threads: byte-identical files) and stores what it reports;
- the calibrated file still runs without cache, bit-identical to the plain file;
- every policy (and auto) runs from the CLI, reports per-step decisions in
  --json whose counts add up, and threshold 0 equals no cache bit for bit;
- calibrated defaults keep the quality they were chosen for (PSNR vs FP32 on
  other seeds, with a margin), and dropping blocks is clearly worse than
  reusing their residual;
- bad cache flags fail with a clear message and exit code 2.
"""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import convert_util as cu  # noqa: E402
from checks import Checks, run_alone  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit.metrics import psnr  # noqa: E402

POLICIES = ["none", "tdc", "fb", "tea", "mag", "static", "taylor"]


def gen(model, out, *flags):
    r = cu.run([cu.EDGE_RUN, model, "--class", "3,7", "--seed", "5", "--json", "--out", out, "--threads", "1"] + list(flags))
    return json.loads(r.stdout), np.load(out)


def test_cache_calibrate():
    c = Checks()
    with tempfile.TemporaryDirectory() as w:
        d = cu.fixture("dit_s2", w)
        common = ["--sampler", "flow", "--steps", "6", "--guidance", "3", "--latent", "4x32x32", "--roles",
                  "x=latent,t=timestep,y=condition", "--num-classes", "10", "--null-class", "10",
                  "--output-kind", "latent"]
        onnx = os.path.join(d, "model.onnx")
        plain = os.path.join(w, "plain.fb")
        cal1 = os.path.join(w, "cal1.fb")
        cal2 = os.path.join(w, "cal2.fb")
        cu.convert(onnx, plain, *common)
        cal = ["--cache-calibrate", "30", "--cache-calib-classes", "1,2"]
        r1 = cu.convert(onnx, cal1, *common, *cal, "--cache-calib-threads", "1")
        cu.convert(onnx, cal2, *common, *cal, "--cache-calib-threads", "3")
        c.check(open(cal1, "rb").read() == open(cal2, "rb").read(),
                "calibration is deterministic (1 and 3 threads give the same file)")
        c.check("target 30.0 dB" in r1.stdout and "tea rescaling" in r1.stdout, "calibration report printed")
        print(r1.stdout[-1500:])

        o = os.path.join(w, "o.npy")
        info_p, ref = gen(plain, o)
        info_c, ref_c = gen(cal1, o)
        c.check(np.array_equal(ref, ref_c), "calibrated file without cache == plain file, bit for bit")
        for pol in POLICIES:
            flags = ["--cache", pol, "--cache-threshold", "0"]
            if pol == "static":
                flags = ["--cache", "static", "--cache-interval", "1"]
            info, x = gen(cal1, o, *flags)
            c.check(np.array_equal(ref, x) and info["blocks_skipped"] == 0, f"{pol}: threshold 0 == no cache")
        for pol in POLICIES[1:] + ["auto"]:
            info, x = gen(cal1, o, "--cache", pol, "--cache-threshold", "100") if pol != "auto" else gen(cal1, o, "--cache", "auto")
            steps = info["cache_steps"]
            ok = len(steps) == 6 and sum(s["skipped"] for s in steps) == info["blocks_skipped"] and \
                sum(s["computed"] for s in steps) == info["blocks_computed"] and np.all(np.isfinite(x))
            c.check(ok, f"{pol}: runs, per-step decisions add up ({info['blocks_skipped']} skipped)")
            if pol not in ("auto", "static"):
                c.check(info["blocks_skipped"] > 0, f"{pol}: a huge threshold skips")
        # Calibrated defaults: the stored PSNR target (30 dB) with a margin on other classes/seeds.
        info, x = gen(cal1, o, "--cache", "auto")
        p = psnr(ref, x, "range", identical=99.0)
        c.check(p >= 25.0, f"auto ({info['cache_policy']}, threshold {info['cache_threshold']}): {p:.1f} dB >= 25 "
                f"with {info['blocks_skipped']} skipped")
        # Dropping skipped blocks (same decisions) must be clearly worse than reusing their residual.
        _, ref20 = gen(plain, o, "--steps", "20")
        info_r, xr = gen(plain, o, "--steps", "20", "--cache", "tdc", "--cache-threshold", "100")
        info_d, xd = gen(plain, o, "--steps", "20", "--cache", "tdc", "--cache-threshold", "100", "--cache-drop")
        pr, pd = psnr(ref20, xr, "range", identical=99.0), psnr(ref20, xd, "range", identical=99.0)
        c.check(info_r["blocks_skipped"] == info_d["blocks_skipped"] and pd < pr - 6.0,
                f"drop {pd:.1f} dB is clearly worse than reuse {pr:.1f} dB")
        # Bad flags: clear message, exit 2.
        for flags, text in ((["--cache", "bogus"], "--cache needs"), (["--cache-scale", "-1"], "--cache-scale"),
                            (["--cache", "auto"], "no cache calibration"), (["--cache-steps", "1,x"], "--cache-steps")):
            r = cu.run([cu.EDGE_RUN, plain, "--out", o] + flags, expect_rc=None)
            c.check(r.returncode == 2 and text in r.stderr, f"{' '.join(flags)}: exit {r.returncode}, '{text}'")
        r = cu.convert(onnx, os.path.join(w, "x.fb"), *common, "--cache-calibrate", "0", expect_rc=None)
        c.check(r.returncode == 2, "--cache-calibrate 0 is a usage error")
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
