"""edge's DDIM sampler (runtime/sampler.cc) follows an independent numpy
oracle (ddim_oracle.py) step by step: timesteps, alpha_bar of both beta
schedules, the update for epsilon, velocity and sample prediction, the final
step's alpha_bar of 1, and classifier-free guidance around it.

The model is a fixed function, so the oracle can evaluate it exactly:
  out = 0.7 tanh(0.9 x) + 0.3 tanh(0.002 t) + E[y]
(an ONNX graph built here and converted by edge-convert; E a seeded table,
class 10 the null class). edge-run writes the latents after every step
(--dump-trajectory) from numpy noise (--noise); each step must match the
oracle to a relative 1e-5 of that step's largest value (measured: 3.2e-7
at worst). Bugs planted in runtime/sampler.cc fail it: model timesteps one
higher (5.8e-4 at step 0), alpha_bar of the final step taken from ab[0]
instead of 1 (7.2e-5 to 0.5, at the last step), the sign of the velocity
term in x0 (2e-2 at step 0), the two beta schedules swapped (all 12 runs).
"""
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
import convert_util as cu  # noqa: E402
import ddim_oracle  # noqa: E402
from checks import Checks, run_alone  # noqa: E402

C, H, W = 4, 8, 8
NUM_CLASSES, NULL = 10, 10
TRAIN_STEPS = 1000
SCHEDULES = [("linear", 1e-4, 0.02), ("scaled-linear", 0.00085, 0.012)]  # DDPM's and Stable Diffusion's
PREDICTIONS = ["epsilon", "velocity", "sample"]
# steps, guidance: 20 divides 1000; 7 does not (ratio 142, last t 852); guidance off and on.
RUNS = [(20, 3.0), (7, 1.0)]
CLASSES = [3, 7, 0]
LIMIT = 1e-5

TABLE = (0.2 * np.random.default_rng(5).standard_normal((NUM_CLASSES + 1, C * H * W))).astype(np.float32)


def model_fn(x, t, y):
    e = TABLE[np.asarray(y)].astype(np.float64).reshape(-1, C, H, W)
    return 0.7 * np.tanh(0.9 * x) + 0.3 * np.tanh(0.002 * t) + e


def write_onnx(path):
    B = 2  # one guided sample (cond + uncond) per run
    f = lambda name, v: numpy_helper.from_array(np.asarray(v, dtype=np.float32), name)
    inits = [f("c09", 0.9), f("c07", 0.7), f("c0002", 0.002), f("c03", 0.3), f("table", TABLE),
             numpy_helper.from_array(np.array([B, 1, 1, 1], dtype=np.int64), "tshape"),
             numpy_helper.from_array(np.array([B, C, H, W], dtype=np.int64), "eshape")]
    n = helper.make_node
    nodes = [n("Mul", ["x", "c09"], ["x9"]), n("Tanh", ["x9"], ["tx"]), n("Mul", ["tx", "c07"], ["fx"]),
             n("Reshape", ["t", "tshape"], ["t4"]), n("Mul", ["t4", "c0002"], ["t2"]), n("Tanh", ["t2"], ["tt"]),
             n("Mul", ["tt", "c03"], ["ft"]),
             n("Gather", ["table", "y"], ["e"], axis=0), n("Reshape", ["e", "eshape"], ["fe"]),
             n("Add", ["fx", "ft"], ["s"]), n("Add", ["s", "fe"], ["out"])]
    g = helper.make_graph(nodes, "ddim_fixed", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, C, H, W]),
        helper.make_tensor_value_info("t", TensorProto.FLOAT, [B]),
        helper.make_tensor_value_info("y", TensorProto.INT64, [B])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [B, C, H, W])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def oracle(noise, steps, guidance, schedule, b0, b1, prediction):
    out = []
    for k, cls in enumerate(CLASSES):
        def guided(x, t, cls=cls):
            c = model_fn(x, t, [cls])
            if guidance == 1.0:
                return c
            u = model_fn(x, t, [NULL])
            return u + guidance * (c - u)
        out.append(ddim_oracle.sample(guided, noise[k:k + 1], steps, TRAIN_STEPS, schedule, b0, b1, prediction))
    return np.concatenate(out, axis=1)  # [steps, N, C, H, W]


def test_ddim_oracle():
    c = Checks()
    noise = np.random.default_rng(11).standard_normal((len(CLASSES), C, H, W)).astype(np.float32)
    worst = 0.0
    with tempfile.TemporaryDirectory() as w:
        onnx_path = os.path.join(w, "fixed.onnx")
        write_onnx(onnx_path)
        noise_path = os.path.join(w, "noise.npy")
        np.save(noise_path, noise)
        for schedule, b0, b1 in SCHEDULES:
            for prediction in PREDICTIONS:
                fb = os.path.join(w, f"{schedule}_{prediction}.fb")
                cu.convert(onnx_path, fb, "--sampler", "ddim", "--prediction", prediction, "--train-steps",
                           str(TRAIN_STEPS), "--beta-schedule", schedule, "--beta-start", str(b0), "--beta-end",
                           str(b1), "--latent", f"{C}x{H}x{W}", "--roles", "x=latent,t=timestep,y=condition",
                           "--num-classes", str(NUM_CLASSES), "--null-class", str(NULL), "--output-kind", "latent")
                for steps, guidance in RUNS:
                    traj_path, out_path = os.path.join(w, "traj.npy"), os.path.join(w, "out.npy")
                    cu.run([cu.EDGE_RUN, fb, "--noise", noise_path, "--class", ",".join(map(str, CLASSES)),
                            "--steps", str(steps), "--guidance", str(guidance), "--dump-trajectory", traj_path,
                            "--out", out_path, "--quiet", "--threads", "1"])
                    got = np.load(traj_path)
                    ref = oracle(noise, steps, guidance, schedule, b0, b1, prediction)
                    label = f"{schedule} {prediction}, {steps} steps, guidance {guidance:g}"
                    c.check(got.shape == ref.shape, f"{label}: trajectory shape {got.shape} == {ref.shape}")
                    if got.shape != ref.shape:
                        continue
                    errs = [float(np.max(np.abs(got[i] - ref[i])) / max(1.0, np.max(np.abs(ref[i]))))
                            for i in range(steps)]
                    first_bad = next((i for i, e in enumerate(errs) if not e <= LIMIT), None)
                    worst = max(worst, max(errs))
                    c.check(first_bad is None, f"{label}: every step within {LIMIT:g} of the oracle (max "
                            f"{max(errs):.1e}" + ("" if first_bad is None else f"; first off at step {first_bad}: "
                                                  f"{errs[first_bad]:.1e}") + ")")
                    c.check(np.array_equal(np.load(out_path), got[-1]), f"{label}: --out is the last step")
    print(f"worst step error {worst:.1e}")
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
