"""edge-convert --weight-rounding gptq (error-feedback rounding on
calibration inputs, converter/gptq.h) on the dit_s2 fixture:
  * INT8, NVFP4 and mixed conversions are byte-identical when repeated;
  * the JSON report names the rounding and, per quantized Linear, its
    relative calibration output error with nearest rounding and with error
    feedback; the kept one is never the larger, and error feedback lowers it
    for most layers;
  * the stored weights differ from the nearest rounding's but the file is
    the same size (same format, same kernels) and runs; its one-step output
    stays within the precision's limit of the FP32 output;
  * the default (auto) is nearest rounding for int8 / nvfp4 (the plain
    conversion's bytes) and error feedback for mixed, which calibrates anyway;
    --weight-rounding nearest turns it off there;
  * bad values exit 2; a model without pipeline metadata (nothing to
    calibrate on) exits 2 with a message naming the flag.
Quality on a trained model: test_demo_nvfp4_quality.py and
bench/results/nvfp4_quality.md.
"""
import json
import os
import tempfile

import numpy as np

from checks import Checks, run_alone
from convert_util import convert, convert_json, fixture, run_once

DIT = ["--sampler", "ddim", "--roles", "x=latent,t=timestep,y=condition", "--latent", "4x32x32",
       "--num-classes", "10", "--null-class", "10", "--prediction", "epsilon", "--timestep-scale", "1",
       "--guidance", "4"]
CALIB = ["--calib-steps", "4", "--calib-seeds", "1"]
LIMITS = {"int8": 1e-2, "nvfp4": 5e-2}


def rel_l2(ref, got):
    ref = ref.astype(np.float64)
    return float(np.linalg.norm(got - ref) / max(1e-30, np.linalg.norm(ref)))


def test_convert_gptq():
    c = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        d = fixture("dit_s2", tmp)
        meta = json.load(open(os.path.join(d, "meta.json")))
        onnx_path = os.path.join(d, "model.onnx")
        inputs = {k: os.path.join(d, k + ".npy") for k in meta["inputs"]}

        def output(fb):
            od = fb + "_out"
            run_once(fb, inputs, od)
            return np.load(os.path.join(od, meta["output"] + ".npy"))

        fp32 = os.path.join(tmp, "fp32.fb")
        convert(onnx_path, fp32, *DIT)
        ref = output(fp32)
        for p in ["int8", "nvfp4"]:
            near = os.path.join(tmp, p + "_nearest.fb")
            r_near = convert_json(onnx_path, near, "--precision", p, *DIT)
            near2 = os.path.join(tmp, p + "_nearest2.fb")
            convert(onnx_path, near2, "--precision", p, "--weight-rounding", "nearest", *DIT)
            c.check(open(near, "rb").read() == open(near2, "rb").read() and
                    r_near["quantization"]["weight_rounding"] == "nearest",
                    "%s: the default rounding is nearest" % p)
            fb = os.path.join(tmp, p + "_gptq.fb")
            r = convert_json(onnx_path, fb, "--precision", p, "--weight-rounding", "gptq", *CALIB, *DIT)
            fb2 = os.path.join(tmp, p + "_gptq2.fb")
            convert(onnx_path, fb2, "--precision", p, "--weight-rounding", "gptq", *CALIB, *DIT)
            c.check(open(fb, "rb").read() == open(fb2, "rb").read(), "%s gptq: two conversions byte-identical" % p)
            q = r["quantization"]
            layers = [l for l in q["layers"] if l["precision"] == p]
            rep = [l for l in layers if "gptq_err" in l]
            kept = [l for l in rep if l["gptq_kept"]]
            c.check(q["weight_rounding"] == "gptq" and len(rep) == len(layers) > 0,
                    "%s gptq: every one of %d quantized layers reported" % (p, len(layers)))
            c.check(all(l["gptq_err"] < l["gptq_err_nearest"] for l in kept) and len(kept) >= 0.75 * len(rep),
                    "%s gptq: error feedback kept by %d of %d layers, each with a lower calibration output error "
                    "(mean %.4g vs nearest %.4g)" %
                    (p, len(kept), len(rep), np.mean([l["gptq_err"] for l in rep] or [0]),
                     np.mean([l["gptq_err_nearest"] for l in rep] or [0])))
            same_size = os.path.getsize(fb) == os.path.getsize(near)
            c.check(same_size and open(fb, "rb").read() != open(near, "rb").read(),
                    "%s gptq: same file size as nearest (%d bytes), different weights" % (p, os.path.getsize(fb)))
            e = rel_l2(ref, output(fb))
            e_near = rel_l2(ref, output(near))
            c.check(np.isfinite(e) and e <= LIMITS[p],
                    "%s gptq: one-step output rel L2 vs FP32 %.4f (limit %g; nearest %.4f)" % (p, e, LIMITS[p], e_near))
        # mixed (error feedback by default): the calibration and the allocation see the error-feedback weights.
        fb = os.path.join(tmp, "mixed_gptq.fb")
        mflags = ["--precision", "mixed", "--mixed-rank", "error", *CALIB]
        r = convert_json(onnx_path, fb, *mflags, *DIT)
        fb2 = os.path.join(tmp, "mixed_gptq2.fb")
        convert(onnx_path, fb2, *mflags, "--weight-rounding", "gptq", *DIT)
        mix = [l for l in r["quantization"]["layers"] if l["reason"].startswith("mixed")]
        c.check(r["quantization"]["weight_rounding"] == "gptq" and open(fb, "rb").read() == open(fb2, "rb").read() and
                mix and all("gptq_err" in l for l in mix),
                "mixed: error feedback by default, byte-identical when repeated; %d mixed layers, each rounded with "
                "its statistics" % len(mix))
        fb3 = os.path.join(tmp, "mixed_nearest.fb")
        r3 = convert_json(onnx_path, fb3, *mflags, "--weight-rounding", "nearest", *DIT)
        c.check(r3["quantization"]["weight_rounding"] == "nearest" and
                not any("gptq_err" in l for l in r3["quantization"]["layers"]) and
                open(fb3, "rb").read() != open(fb, "rb").read(),
                "mixed --weight-rounding nearest: no error feedback, other weights")
        # Usage errors.
        bad = os.path.join(tmp, "bad.fb")
        for flags, what in [(["--weight-rounding", "stochastic"], "--weight-rounding"),
                            (["--weight-rounding", "gptq", "--gptq-damp", "0"], "--gptq-damp"),
                            (["--weight-rounding", "gptq", "--gptq-damp", "nan"], "--gptq-damp")]:
            rr = convert(onnx_path, bad, "--precision", "int8", *flags, *DIT, expect_rc=None)
            c.check(rr.returncode == 2 and what in rr.stderr, "%s: exit %d, '%s'" %
                    (" ".join(flags), rr.returncode, rr.stderr.strip()[-120:]))
        rr = convert(onnx_path, bad, "--precision", "int8", "--weight-rounding", "gptq", expect_rc=None)
        c.check(rr.returncode == 2 and "--weight-rounding gptq" in rr.stderr and "pipeline" in rr.stderr,
                "gptq without pipeline metadata: exit %d, '%s'" % (rr.returncode, rr.stderr.strip()[-160:]))
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
