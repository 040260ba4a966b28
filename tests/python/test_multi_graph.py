"""Multi-graph model files: a diffusers DiT and a diffusers AutoencoderKL decoder
(the model zoo's exports, tests/models/zoo) converted into one file with
`edge-convert --decoder`, then run by edge-run.

Checks:
  - each graph matches PyTorch on its own (`edge-run --once --graph NAME`);
  - a generation that decodes equals the latents of a `--no-decode` run decoded
    by the decoder graph alone, bit for bit (the shared arena changes nothing);
  - the file holds the decoder's weights once and is version 2; the single-graph
    file is version 1;
  - bad uses give clear errors: an unknown graph, --graph without --once, a
    decoder with two inputs, --decoder without a latent role.
"""
import json
import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks, run_alone  # noqa: E402
from convert_util import EDGE_RUN, MODELS, convert, rel_err, run  # noqa: E402

ZOO = os.path.join(MODELS, "zoo")
PIPE = ["--sampler", "flow", "--steps", "6", "--guidance", "1", "--roles",
        "hidden_states=latent,timestep=timestep,class_labels=condition", "--output-kind", "latent",
        "--latent", "4x8x8"]


def format_version(path):
    # [u32 size][flatbuffer]: the root table's first field is format_version.
    with open(path, "rb") as f:
        buf = f.read(4096)
    root = 4 + struct.unpack_from("<I", buf, 4)[0]
    vtable = root - struct.unpack_from("<i", buf, root)[0]
    off = struct.unpack_from("<H", buf, vtable + 4)[0]
    return struct.unpack_from("<I", buf, root + off)[0] if off else 0


def test_multi_graph():
    c = Checks()
    dit = os.path.join(ZOO, "dit", "legacy", "model.onnx")
    vae = os.path.join(ZOO, "vae_decoder", "legacy", "model.onnx")
    with tempfile.TemporaryDirectory() as work:
        fb = os.path.join(work, "dit_vae.fb")
        single = os.path.join(work, "dit.fb")
        convert(dit, fb, *PIPE, "--decoder", vae)
        convert(dit, single, *PIPE)
        c.check(format_version(fb) == 2 and format_version(single) == 1,
                "format versions: two graphs %d, one graph %d" % (format_version(fb), format_version(single)))
        grew = os.path.getsize(fb) - os.path.getsize(single)
        vae_params = json.load(open(os.path.join(ZOO, "vae_decoder", "meta.json")))["param_bytes"]
        # The decoder's weights (plus its tables), and the decoder's encoder
        # half is not in the export.
        c.check(0 < grew < 1.2 * vae_params + 65536,
                "the decoder adds %d bytes for %d bytes of parameters" % (grew, vae_params))

        # Each graph against PyTorch.
        for graph, d in (("denoiser", "dit"), ("decoder", "vae_decoder")):
            meta = json.load(open(os.path.join(ZOO, d, "meta.json")))
            out = os.path.join(work, graph)
            os.makedirs(out)
            cmd = [EDGE_RUN, fb, "--once", "--graph", graph, "--out-dir", out, "--quiet"]
            for k in meta["inputs"]:
                x = np.load(os.path.join(ZOO, d, k + ".npy"))
                if k == "timestep":  # integer in the export, f32 in the edge model (a cast-only input)
                    x = x.astype(np.float32)
                path = os.path.join(work, "%s_%s.npy" % (graph, k))
                np.save(path, x)
                cmd += ["--input", "%s=%s" % (k, path)]
            run(cmd)
            got = np.load(os.path.join(out, meta["output"] + ".npy"))
            ref = np.load(os.path.join(ZOO, d, "expected_" + meta["output"] + ".npy"))
            e = rel_err(ref, got) if got.shape == ref.shape else float("inf")
            c.check(e <= 1e-4, "graph %s vs PyTorch: max rel err %.2e" % (graph, e))

        # Generate + decode == generate, then the decoder graph alone.
        px = os.path.join(work, "px.npy")
        lat = os.path.join(work, "lat.npy")
        r = run([EDGE_RUN, fb, "--class", "3,5", "--out", px, "--json", "--quiet"])
        info = json.loads(r.stdout)
        run([EDGE_RUN, fb, "--class", "3,5", "--out", lat, "--no-decode", "--quiet"])
        pixels, latents = np.load(px), np.load(lat)
        c.check(pixels.shape == (2, 3, 16, 16) and latents.shape == (2, 4, 8, 8),
                "decoded %s from latents %s" % (pixels.shape, latents.shape))
        same = True
        for k in range(2):
            zk = os.path.join(work, "z%d.npy" % k)
            np.save(zk, latents[k:k + 1])
            out = os.path.join(work, "dec%d" % k)
            os.makedirs(out)
            run([EDGE_RUN, fb, "--once", "--graph", "decoder", "--input", "z=" + zk, "--out-dir", out, "--quiet"])
            same &= np.array_equal(np.load(os.path.join(out, "out.npy"))[0], pixels[k])
        c.check(same, "generate+decode equals the decoder graph run on the --no-decode latents, bit for bit")
        dec = info.get("decoder", {})
        c.check(dec.get("tiles") == 1 and dec.get("shared_arena_bytes", 0) >= dec.get("arena_bytes", 1) and
                dec.get("shared_arena_bytes", 0) >= info["arena_bytes"],
                "JSON decoder section: %s; the shared arena is the larger plan" % dec)
        png = os.path.join(work, "px.png")
        run([EDGE_RUN, fb, "--class", "3", "--out", png, "--quiet"])
        c.check(open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "a latent model writes a PNG of the decoded pixels")

        # Bad uses.
        r = run([EDGE_RUN, fb, "--once", "--graph", "encoder", "--out-dir", work], expect_rc=2)
        c.check("no graph named 'encoder'" in r.stderr and "decoder" in r.stderr,
                "unknown graph: exit 2, names the graphs there are")
        r = run([EDGE_RUN, fb, "--graph", "decoder"], expect_rc=2)
        c.check("--graph needs --once" in r.stderr, "--graph without --once: exit 2")
        r = convert(dit, os.path.join(work, "bad.fb"), *PIPE, "--decoder", dit, expect_rc=4)
        c.check("one input" in r.stderr, "a decoder with three inputs: exit 4")
        r = convert(dit, os.path.join(work, "bad.fb"), "--decoder", vae, expect_rc=2)
        c.check("latent input" in r.stderr, "--decoder without pipeline metadata: exit 2")
        c.check(not os.path.exists(os.path.join(work, "bad.fb")), "no file is left behind by a failed conversion")
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
