#!/usr/bin/python3
"""Writes the committed seed corpora of the fuzz targets (tests/fuzz/corpus/):

  onnx/   tiny ONNX exports: one timm-style DiT block (graph inputs at both
          ends) and a one-block DiT with patch embedding, timestep and class
          embedding -- every fusion pattern in a few KB;
  model/  the same converted by edge-convert (FP32, and INT8 where it applies);
  npy/    small .npy files of every dtype the reader takes, and a 2.0 header.

  /usr/bin/python3 tests/fuzz/make_corpus.py BUILD_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(os.path.dirname(HERE), "models")
sys.path.insert(0, MODELS)
sys.path.insert(0, os.path.join(MODELS, "single_block"))
import make_fixtures  # noqa: E402
import make_single_block  # noqa: E402


def main():
    build = sys.argv[1]
    convert = os.path.join(build, "converter", "edge-convert")
    out = os.path.join(HERE, "corpus")
    for sub in ("onnx", "model", "npy"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        block = make_single_block.make(os.path.join(tmp, "block"), hidden=16, heads=2, tokens=4)
        dit = make_fixtures.make_dit(os.path.join(tmp, "dit"), hidden=16, depth=1, heads=2, input_size=4, seed=3)
        dit_flags = ["--sampler", "flow", "--roles", "x=latent,t=timestep,y=condition", "--latent", "4x4x4",
                     "--num-classes", "10", "--null-class", "10"]
        # The block's K = 16 layers stay FP32 at any precision: one file for it.
        for name, path, precs, flags in (("block", block, ("fp32",), []),
                                         ("dit", dit, ("fp32", "int8"), dit_flags)):
            shutil.copy(path, os.path.join(out, "onnx", name + ".onnx"))
            for prec in precs:
                subprocess.run([convert, path, "-o", os.path.join(out, "model", "%s_%s.fb" % (name, prec)),
                                "--precision", prec] + flags, check=True, stdout=subprocess.DEVNULL)
    rng = np.random.default_rng(0)
    arrays = {
        "f32_3d": rng.standard_normal((2, 3, 4)).astype("<f4"),
        "f32_scalar": np.array(1.5, dtype="<f4"),
        "i32": np.arange(6, dtype="<i4").reshape(2, 3),
        "i64": np.array([3, 10], dtype="<i8"),
        "u8": np.arange(8, dtype="u1"),
        "f32_empty": np.zeros((0, 4), dtype="<f4"),
    }
    for name, a in arrays.items():
        np.save(os.path.join(out, "npy", name + ".npy"), a)
    with open(os.path.join(out, "npy", "v2_header.npy"), "wb") as f:
        np.lib.format.write_array(f, arrays["f32_3d"], version=(2, 0))


if __name__ == "__main__":
    main()
