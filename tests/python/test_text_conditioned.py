"""Prompt conditioning end to end: a diffusers PixArt transformer (cross-attention
on text-encoder states) and a diffusers AutoencoderKL decoder from the model zoo
(tests/models/zoo), converted into one file with the unconditional embedding
stored (`edge-convert --null-cond`), sampled with `edge-run --cond` and decoded.

The oracle steps the same flow-matching Euler sampler in numpy, running the
denoiser graph once per step (`edge-run --once`, whose output is checked
against PyTorch here too) with the conditional and the null embedding side by
side, applies guidance, then decodes with the decoder graph alone. edge-run's
whole generation must match it: a check of the pipeline's condition plumbing
(per-sample embeddings, the stored null embedding, guidance), independent of
the runtime's pipeline code.
"""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks, run_alone  # noqa: E402
from convert_util import EDGE_RUN, MODELS, convert, rel_err, run  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit.metrics import psnr  # noqa: E402

ZOO = os.path.join(MODELS, "zoo")
STEPS, GUIDANCE, SHIFT = 20, 3.0, 2.0


def once(fb, inputs, work, tag, graph="denoiser"):
    out = os.path.join(work, "once_" + tag)
    os.makedirs(out, exist_ok=True)
    cmd = [EDGE_RUN, fb, "--once", "--graph", graph, "--out-dir", out, "--quiet"]
    for k, v in inputs.items():
        path = os.path.join(work, "%s_%s.npy" % (tag, k))
        np.save(path, v)
        cmd += ["--input", "%s=%s" % (k, path)]
    run(cmd)
    return np.load(os.path.join(out, "out.npy"))


def test_text_conditioned():
    c = Checks()
    pix = os.path.join(ZOO, "pixart", "legacy", "model.onnx")
    vae = os.path.join(ZOO, "vae_decoder", "legacy", "model.onnx")
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory() as work:
        null = (0.1 * rng.standard_normal((6, 24))).astype(np.float32)
        prompts = rng.standard_normal((2, 6, 24)).astype(np.float32)
        np.save(os.path.join(work, "null.npy"), null)
        np.save(os.path.join(work, "prompts.npy"), prompts)
        fb = os.path.join(work, "pixart_vae.fb")
        convert(pix, fb, "--sampler", "flow", "--steps", str(STEPS), "--guidance", str(GUIDANCE), "--shift",
                str(SHIFT), "--roles", "hidden_states=latent,timestep=timestep,encoder_hidden_states=condition",
                "--output-kind", "latent", "--latent", "4x8x8", "--null-cond", os.path.join(work, "null.npy"),
                "--decoder", vae)

        # The denoiser graph against PyTorch.
        meta = json.load(open(os.path.join(ZOO, "pixart", "meta.json")))
        ins = {k: np.load(os.path.join(ZOO, "pixart", k + ".npy")) for k in meta["inputs"]}
        ins["timestep"] = ins["timestep"].astype(np.float32)
        e = rel_err(np.load(os.path.join(ZOO, "pixart", "expected_out.npy")), once(fb, ins, work, "ref"))
        c.check(e <= 1e-4, "PixArt graph vs PyTorch: max rel err %.2e" % e)

        # edge-run: both prompts, seed 0, noise dumped for the oracle.
        px_path = os.path.join(work, "px.npy")
        noise_path = os.path.join(work, "noise.npy")
        run([EDGE_RUN, fb, "--cond", os.path.join(work, "prompts.npy"), "--out", px_path, "--dump-noise",
             noise_path, "--quiet"])
        got = np.load(px_path)
        x = np.load(noise_path).astype(np.float32)
        c.check(got.shape == (2, 3, 16, 16) and x.shape == (2, 4, 8, 8), "shapes: pixels %s, noise %s" %
                (got.shape, x.shape))

        # Oracle: flow Euler with guidance, the graph once per step and sample.
        ts = [1.0 - i / STEPS for i in range(STEPS + 1)]
        sig = [SHIFT * t / (1 + (SHIFT - 1) * t) for t in ts]
        for k in range(2):
            xk = x[k].copy()
            for i in range(STEPS):
                v = once(fb, {"hidden_states": np.stack([xk, xk]),
                              "timestep": np.full((2,), np.float32(sig[i] * 1000.0), np.float32),
                              "encoder_hidden_states": np.stack([prompts[k], null])}, work, "s")
                vc, vu = v[0, :4], v[1, :4]  # learned sigma: the first C channels
                pred = vu + np.float32(GUIDANCE) * (vc - vu)
                xk = xk + np.float32(sig[i + 1] - sig[i]) * pred
            want = once(fb, {"z": xk[None]}, work, "d", graph="decoder")[0]
            p = psnr(want, got[k], "max_abs")
            c.check(p >= 60, "sample %d: edge-run generate+decode vs the step-by-step oracle: %.1f dB" % (k, p))

        # One embedding for several samples; different prompts give different images.
        one = os.path.join(work, "one.npy")
        np.save(one, prompts[1])
        px1 = os.path.join(work, "px1.npy")
        run([EDGE_RUN, fb, "--cond", one, "--num-samples", "2", "--out", px1, "--quiet"])
        both = np.load(px1)
        c.check(np.array_equal(both[1], got[1]) and not np.array_equal(both[0], got[0]),
                "a single --cond embedding serves every sample (sample 1 equal, sample 0 differs)")

        # Bad uses.
        r = run([EDGE_RUN, fb, "--out", px1], expect_rc=2)
        c.check("give --cond" in r.stderr, "no --cond for an embedding model: exit 2")
        r = run([EDGE_RUN, fb, "--cond", one, "--class", "1", "--out", px1], expect_rc=2)
        c.check("not classes" in r.stderr, "--class on an embedding model: exit 2")
        bad = os.path.join(work, "bad.npy")
        np.save(bad, np.zeros((5, 24), np.float32))
        r = run([EDGE_RUN, fb, "--cond", bad, "--out", px1], expect_rc=2)
        c.check("embeddings of 144 values" in r.stderr, "--cond of the wrong size: exit 2")
        nan = prompts.copy()
        nan[0, 0, 0] = np.nan
        np.save(bad, nan)
        r = run([EDGE_RUN, fb, "--cond", bad, "--out", px1], expect_rc=2)
        c.check("NaN" in r.stderr, "--cond with a NaN: exit 2")
        np.save(bad, np.zeros((5, 24), np.float32))
        r = convert(pix, os.path.join(work, "x.fb"), "--roles",
                    "hidden_states=latent,timestep=timestep,encoder_hidden_states=condition", "--latent", "4x8x8",
                    "--null-cond", bad, expect_rc=2)
        c.check("takes 144 float32 values per sample" in r.stderr, "--null-cond of the wrong size: exit 2")
        plain = os.path.join(work, "plain.fb")
        convert(pix, plain, "--sampler", "flow", "--guidance", "3", "--roles",
                "hidden_states=latent,timestep=timestep,encoder_hidden_states=condition", "--output-kind", "latent",
                "--latent", "4x8x8")
        r = run([EDGE_RUN, plain, "--cond", one, "--out", px1], expect_rc=3)
        c.check("null embedding" in r.stderr, "guidance without a stored null embedding: exit 3 (%s)" %
                r.stderr.strip()[-80:])
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
