"""edge-convert on bad input: clear messages, the documented exit codes, and
never a partial output file.

  - unsupported ops: ONE error listing every unsupported node (type, name, shapes), exit 4
  - corrupt / truncated ONNX, missing external data: exit 3
  - usage errors, dynamic dims without --input: exit 2
  - external data next to the model: converts
"""
import os
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from checks import Checks, run_alone
from convert_util import MODELS, convert, fixture


def tiny_model(path, nodes, inputs, outputs, inits=(), opset=17, ir=8):
    g = helper.make_graph(nodes, "tiny", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    onnx.save(m, path)


def test_convert_errors():
    c = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.fb")

        # Unsupported ops: every one is named in a single error.
        w = numpy_helper.from_array(np.ones((8, 8), np.float32), "w")
        nodes = [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="proj"),
            helper.make_node("Relu", ["h"], ["r"], name="bad_relu"),
            helper.make_node("Hardmax", ["r"], ["m"], name="bad_hardmax", axis=-1),
            helper.make_node("TopK", ["m", "k"], ["vals", "idx"], name="bad_topk", axis=-1),
        ]
        k = numpy_helper.from_array(np.array([2], np.int64), "k")
        p = os.path.join(tmp, "unsupported.onnx")
        tiny_model(p, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                   [helper.make_tensor_value_info("vals", TensorProto.FLOAT, [2, 2])], [w, k])
        r = convert(p, out, expect_rc=None)
        msg = r.stderr
        print(msg.strip())
        c.check(r.returncode == 4, "unsupported ops: exit code 4 (got %d)" % r.returncode)
        c.check(msg.count("error:") == 1, "unsupported ops: one error message")
        for name, op in (("bad_relu", "Relu"), ("bad_hardmax", "Hardmax"), ("bad_topk", "TopK")):
            c.check(("%s '%s'" % (op, name)) in msg, "unsupported ops: lists %s '%s'" % (op, name))
        c.check("[2,8]" in msg, "unsupported ops: input shapes listed")
        c.check(not os.path.exists(out), "unsupported ops: no output file")

        # A model that an existing output file must survive.
        with open(out, "wb") as f:
            f.write(b"previous")
        src = os.path.join(fixture("stock_mha", tmp), "model.onnx")
        data = open(src, "rb").read()
        for frac in (0.5, 0.9, 0.999):
            p = os.path.join(tmp, "trunc.onnx")
            open(p, "wb").write(data[:int(len(data) * frac)])
            r = convert(p, out, expect_rc=None)
            c.check(r.returncode == 3, "truncated at %.1f%%: exit 3 (got %d): %s" % (100 * frac, r.returncode,
                                                                                    r.stderr.strip()[:160]))
        p = os.path.join(tmp, "garbage.onnx")
        open(p, "wb").write(bytes(np.random.RandomState(0).randint(0, 256, 4096).astype(np.uint8)))
        r = convert(p, out, expect_rc=None)
        c.check(r.returncode == 3, "garbage bytes: exit 3 (got %d): %s" % (r.returncode, r.stderr.strip()[:160]))
        # Mutated bytes: any outcome but a crash (exit codes 0, 3 or 4 only).
        rng = np.random.RandomState(1)
        crashes = []
        for trial in range(60):
            buf = bytearray(data)
            for _ in range(1 + trial % 8):
                pos = rng.randint(0, 4000) if trial % 2 else rng.randint(0, len(buf))
                buf[pos] = rng.randint(0, 256)
            p = os.path.join(tmp, "mutant.onnx")
            open(p, "wb").write(bytes(buf))
            r = convert(p, out, expect_rc=None)
            if r.returncode not in (0, 3, 4) or "error" not in r.stderr and r.returncode != 0:
                crashes.append((trial, r.returncode, r.stderr[-200:]))
            if r.returncode == 0:
                with open(out, "wb") as f:
                    f.write(b"previous")
        c.check(not crashes, "60 mutated models: clean exits only %s" % crashes[:3])
        c.check(open(out, "rb").read() == b"previous", "failed conversions leave the existing output untouched")
        r = convert(os.path.join(tmp, "does_not_exist.onnx"), out, expect_rc=None)
        c.check(r.returncode == 3, "missing model file: exit 3")

        # External data: resolved next to the model; missing data is a clear error.
        m = onnx.load(src)
        ext_dir = os.path.join(tmp, "ext")
        os.makedirs(ext_dir)
        p = os.path.join(ext_dir, "model.onnx")
        onnx.save_model(m, p, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=0)
        r = convert(p, os.path.join(tmp, "ext.fb"), expect_rc=None)
        c.check(r.returncode == 0, "external data: converts (exit %d) %s" % (r.returncode, r.stderr.strip()[:200]))
        r2 = convert(src, os.path.join(tmp, "inline.fb"), expect_rc=None)
        same = r2.returncode == 0 and open(os.path.join(tmp, "ext.fb"), "rb").read() == open(
            os.path.join(tmp, "inline.fb"), "rb").read()
        c.check(same, "external data: same file as with inline weights")
        os.remove(os.path.join(ext_dir, "weights.bin"))
        r = convert(p, os.path.join(tmp, "ext2.fb"), expect_rc=None)
        c.check(r.returncode == 3 and "missing external data" in r.stderr,
                "missing external data: exit 3 with a clear message (%s)" % r.stderr.strip()[:200])
        c.check(not os.path.exists(os.path.join(tmp, "ext2.fb")), "missing external data: no output file")

        # Usage errors.
        r = convert(src, "", expect_rc=None)
        c.check(r.returncode == 2, "empty output path: exit 2")
        r = convert(src, out, "--frobnicate", expect_rc=None)
        c.check(r.returncode == 2 and "argument was not expected: --frobnicate" in r.stderr,
                "unknown option: exit 2 naming it (%s)" % r.stderr.strip()[-160:])
        r = convert(src, out, "--precision", expect_rc=None)
        c.check(r.returncode == 2 and "--precision" in r.stderr, "option without its value: exit 2")
        r = convert(src, out, "extra.onnx", expect_rc=None)
        c.check(r.returncode == 2 and "extra.onnx" in r.stderr, "second input model: exit 2")
        r = convert(src, out, "--precision=int4", expect_rc=None)
        c.check(r.returncode == 2 and "got 'int4'" in r.stderr, "--opt=value is checked like --opt value")
        r = convert(src, os.path.join(tmp, "eq.fb"), "--precision=int8", "--name=m", expect_rc=None)
        r2 = convert(src, os.path.join(tmp, "sp.fb"), "--precision", "int8", "--name", "m", expect_rc=None)
        c.check(r.returncode == 0 and r2.returncode == 0 and open(os.path.join(tmp, "eq.fb"), "rb").read() ==
                open(os.path.join(tmp, "sp.fb"), "rb").read(), "--opt=value and --opt value: the same file")
        r = convert(src, out, "--input", "x:2xbad", expect_rc=None)
        c.check(r.returncode == 2, "bad --input shape: exit 2")
        r = convert(src, out, "--input", "nosuch:1x2", expect_rc=None)
        c.check(r.returncode == 2, "--input for a missing input: exit 2")
        r = convert(src, out, "--sampler", "ddim", "--beta-start", "0.02", "--beta-end", "0.01", expect_rc=None)
        c.check(r.returncode == 2 and "0 < start <= end < 1" in r.stderr, "reversed DDIM betas: exit 2 (%s)" %
                r.stderr.strip()[:200])
        r = convert(src, out, "--beta-schedule", "cosine", expect_rc=None)
        c.check(r.returncode == 2 and "linear or scaled-linear" in r.stderr, "unknown beta schedule: exit 2")

        # Dynamic dims need --input; a contradicting shape is refused.
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16, 8])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16, 8])
        wv = numpy_helper.from_array(np.eye(8, dtype=np.float32), "w")
        p = os.path.join(tmp, "dyn.onnx")
        tiny_model(p, [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [x], [y], [wv])
        r = convert(p, out, expect_rc=None)
        c.check(r.returncode == 2 and "--input" in r.stderr, "dynamic dims without --input: exit 2, hint at --input")
        r = convert(p, os.path.join(tmp, "dyn.fb"), "--input", "x:3x16x8", expect_rc=None)
        c.check(r.returncode == 0, "dynamic dims with --input x:3x16x8: converts")
        r = convert(p, out, "--input", "x:3x15x8", expect_rc=None)
        c.check(r.returncode == 2, "--input contradicting a static dim: exit 2")

        # Shape mismatch inside the graph: a clear conversion error, no crash.
        w_bad = numpy_helper.from_array(np.ones((7, 4), np.float32), "w")
        p = os.path.join(tmp, "mismatch.onnx")
        tiny_model(p, [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm_bad")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], [w_bad])
        r = convert(p, out, expect_rc=None)
        c.check(r.returncode == 4 and "mm_bad" in r.stderr and "mismatch" in r.stderr,
                "shape mismatch: exit 4 naming the node (%s)" % r.stderr.strip()[:200])

        # Conv attributes of the wrong length or range (fuzz_onnx found a
        # 1-value 'dilations' read past its end; a zero stride divided by 0).
        wc = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "wc")
        for label, attrs in (("1-value dilations", {"dilations": [2]}), ("zero stride", {"strides": [0, 1]}),
                             ("negative pad", {"pads": [0, -5, 0, 0]}), ("3 pads", {"pads": [1, 1, 1]}),
                             ("zero groups", {"group": 0})):
            p = os.path.join(tmp, "conv_bad.onnx")
            tiny_model(p, [helper.make_node("Conv", ["x", "wc"], ["y"], name="conv_bad", **attrs)],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [wc])
            r = convert(p, out, expect_rc=None)
            c.check(r.returncode == 4 and "conv_bad" in r.stderr,
                    "Conv with %s: exit 4 naming the node (exit %d: %s)" % (label, r.returncode, r.stderr.strip()[:200]))
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
