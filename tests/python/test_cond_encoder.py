"""Prompt conditioning through a stored condition encoder: a small text
encoder (token embedding, learned positions, LayerNorm, GELU, Linear) built
and exported here with PyTorch, converted into one file with a diffusers
PixArt transformer from the model zoo (`edge-convert --cond-encoder`) and run
with `edge-run --tokens`:
- the encoder graph alone matches PyTorch (max rel err <= 1e-4);
- a generation from token ids equals the generation from the embeddings
  PyTorch computes for the same (zero-padded) prompts, given with --cond
  (>= 60 dB), one prompt per sample or one for all;
- bad prompts, files and flag combinations fail with a clear message.
"""
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks, run_alone  # noqa: E402
from convert_util import EDGE_RUN, MODELS, convert, rel_err, run  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit.metrics import psnr  # noqa: E402

PIXART = os.path.join(MODELS, "zoo", "pixart", "legacy", "model.onnx")
T, D, VOCAB = 6, 24, 40  # PixArt's condition input is [B, 6, 24]
ROLES = ["--roles", "hidden_states=latent,timestep=timestep,encoder_hidden_states=condition"]
COMMON = ["--sampler", "flow", "--steps", "8", "--guidance", "3", "--shift", "2", *ROLES, "--output-kind",
          "latent", "--latent", "4x8x8"]


class TinyEncoder(nn.Module):
    def __init__(self, out_dim=D):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D)
        self.pos = nn.Parameter(0.1 * torch.randn(1, T, D))
        self.norm = nn.LayerNorm(D)
        self.proj = nn.Linear(D, out_dim)

    def forward(self, ids):
        return self.proj(torch.nn.functional.gelu(self.norm(self.emb(ids) + self.pos)))


def export(model, path):
    ids = torch.zeros(1, T, dtype=torch.int64)
    torch.onnx.export(model, (ids,), path, input_names=["ids"], output_names=["embeddings"], opset_version=17)


def test_cond_encoder():
    c = Checks()
    torch.manual_seed(3)
    enc = TinyEncoder().eval()
    with tempfile.TemporaryDirectory() as work:
        enc_onnx = os.path.join(work, "enc.onnx")
        export(enc, enc_onnx)
        null = os.path.join(work, "null.npy")
        np.save(null, (0.1 * np.random.default_rng(5).standard_normal((T, D))).astype(np.float32))
        fb = os.path.join(work, "pixart_enc.fb")
        convert(PIXART, fb, *COMMON, "--null-cond", null, "--cond-encoder", enc_onnx)

        prompts = [[3, 1, 4, 1, 5, 9], [2, 6]]
        padded = np.array([p + [0] * (T - len(p)) for p in prompts], np.int64)
        with torch.no_grad():
            want = enc(torch.from_numpy(padded)).numpy()

        # The encoder graph alone.
        out_dir = os.path.join(work, "once")
        ids_path = os.path.join(work, "ids.npy")
        np.save(ids_path, padded[:1])
        run([EDGE_RUN, fb, "--once", "--graph", "cond_encoder", "--input", "ids=" + ids_path, "--out-dir", out_dir,
             "--quiet"])
        e = rel_err(want[:1], np.load(os.path.join(out_dir, "embeddings.npy")))
        c.check(e <= 1e-4, "condition encoder graph vs PyTorch: max rel err %.2e" % e)

        # Token ids vs the embeddings PyTorch computed, one prompt per sample.
        a, b = os.path.join(work, "a.npy"), os.path.join(work, "b.npy")
        emb = os.path.join(work, "emb.npy")
        np.save(emb, want)
        run([EDGE_RUN, fb, "--tokens", "3,1,4,1,5,9;2,6", "--out", a, "--quiet"])
        run([EDGE_RUN, fb, "--cond", emb, "--out", b, "--quiet"])
        x, y = np.load(a), np.load(b)
        p = psnr(y, x, "max_abs")
        c.check(x.shape == (2, 4, 8, 8) and p >= 60, "--tokens (2 prompts) vs --cond of PyTorch's embeddings: "
                "%s, %.1f dB" % (x.shape, p))
        c.check(not np.array_equal(x[0], x[1]), "different prompts give different samples")
        # One prompt for every sample.
        run([EDGE_RUN, fb, "--tokens", "2,6", "--num-samples", "2", "--out", a, "--quiet"])
        z = np.load(a)
        c.check(np.array_equal(z[1], x[1]) and psnr(x[1], z[0], "max_abs") < 60,
                "one prompt serves every sample (sample 1 equal, sample 0 from its own noise)")

        # Bad uses.
        for flags, rc, text in (
                (["--tokens", "1,2,3,4,5,6,7"], 2, "prompt of 7 tokens"),
                (["--tokens", "1,x"], 2, "--tokens needs non-negative token ids"),
                (["--tokens", "1,99"], 2, "out of range"),
                (["--tokens", "1,2;3;4", "--num-samples", "2"], 2, "3 prompts for 2 samples"),
                (["--tokens", "1,2", "--cond", emb], 2, "give one"),
                ([], 2, "give --tokens")):
            r = run([EDGE_RUN, fb, *flags, "--out", a], expect_rc=None)
            c.check(r.returncode == rc and text in r.stderr,
                    "%s: exit %d (want %d), '%s' in: %s" % (" ".join(flags) or "no condition", r.returncode, rc,
                                                           text, r.stderr.strip()[-120:]))
        plain = os.path.join(work, "plain.fb")
        convert(PIXART, plain, *COMMON, "--null-cond", null)
        r = run([EDGE_RUN, plain, "--tokens", "1,2", "--out", a], expect_rc=2)
        c.check("no condition-encoder graph" in r.stderr, "--tokens without an encoder graph: exit 2")
        wide = os.path.join(work, "wide.onnx")
        export(TinyEncoder(out_dim=D + 8).eval(), wide)
        r = convert(PIXART, os.path.join(work, "x.fb"), *COMMON, "--null-cond", null, "--cond-encoder", wide,
                    expect_rc=2)
        c.check("does not feed the condition input" in r.stderr, "an encoder of the wrong width: exit 2")
        r = convert(PIXART, os.path.join(work, "x.fb"), *COMMON, "--cond-encoder", enc_onnx, expect_rc=2)
        c.check("--null-cond" in r.stderr, "--cond-encoder without a null embedding: exit 2")
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
