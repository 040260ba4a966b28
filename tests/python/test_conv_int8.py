"""INT8 Conv2d weights (edge-convert --conv-precision int8): a small conv net
built with PyTorch (3x3 with padding, stride 2, groups, dilation, 1x1, a
PatchEmbed-like stride == kernel conv, GroupNorm + SiLU between), exported to
ONNX and converted twice, FP32 and INT8 convs.

Checks:
  - the FP32 conversion matches PyTorch (1e-4);
  - the INT8 conversion stays within the stated tolerance of the FP32 one:
    max |int8 - fp32| / max |fp32| <= 0.03 and PSNR >= 35 dB (W8A8 per
    output channel / per output pixel, six convs in a row);
  - every Conv2d runs the INT8 kernel (`edge-run --verbose`) and the conv
    weights shrink about 4x in the file; the quantization report says int8;
  - with a decoder graph (the zoo's DiT + AutoencoderKL decoder), the flag
    reaches the decoder's convs too: its output stays within 35 dB PSNR of
    the FP32 file's;
  - an unknown value is refused with exit 2 and a message naming the flag.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

from checks import Checks, run_alone
from convert_util import EDGE_RUN, MODELS, convert, rel_err, run, run_once
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "python"))
from edge_dit.metrics import psnr  # noqa: E402

TOL_REL = 0.03
TOL_PSNR = 35.0


class ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.patch = nn.Conv2d(3, 24, 2, stride=2)                         # PatchEmbed: stride == kernel
        self.conv1 = nn.Conv2d(24, 20, 3, padding=1)                       # 3x3, channels off the tiles
        self.norm = nn.GroupNorm(4, 20)
        self.down = nn.Conv2d(20, 36, 3, stride=2, padding=1)              # stride 2
        self.grouped = nn.Conv2d(36, 36, 3, padding=2, dilation=2, groups=3)  # groups, dilation
        self.pw = nn.Conv2d(36, 17, 1)                                     # 1x1
        self.out = nn.Conv2d(17, 5, 3, padding=(1, 0))                     # uneven padding

    def forward(self, x):
        h = self.patch(x)
        h = torch.nn.functional.silu(self.norm(self.conv1(h)))
        h = torch.nn.functional.silu(self.down(h))
        h = self.grouped(h) + h
        return self.out(torch.nn.functional.silu(self.pw(h)))


def verbose_kernels(model, x_path, work):
    r = run([EDGE_RUN, model, "--once", "--input", "x=" + x_path, "--out-dir", os.path.join(work, "v"), "--verbose"])
    return [ln for ln in (r.stdout + r.stderr).splitlines() if "Conv2d" in ln]


def test_conv_int8():
    c = Checks()
    torch.manual_seed(3)
    net = ConvNet().eval()
    x = torch.randn(1, 3, 34, 30)
    with torch.no_grad():
        ref = net(x).numpy()
    with tempfile.TemporaryDirectory() as work:
        onnx_path = os.path.join(work, "convnet.onnx")
        torch.onnx.export(net, (x,), onnx_path, input_names=["x"], output_names=["y"], opset_version=17)
        x_path = os.path.join(work, "x.npy")
        np.save(x_path, x.numpy())
        outs = {}
        for prec in ("fp32", "int8"):
            fb = os.path.join(work, prec + ".fb")
            r = convert(onnx_path, fb, "--conv-precision", prec, "--json")
            c.check(json.loads(r.stdout)["quantization"]["conv_precision"] == prec,
                    "%s: the report names the conv precision" % prec)
            run_once(fb, {"x": x_path}, os.path.join(work, prec))
            outs[prec] = np.load(os.path.join(work, prec, "y.npy"))
        e32 = rel_err(ref, outs["fp32"])
        c.check(e32 <= 1e-4, "fp32 convs vs PyTorch: max rel err %.2e" % e32)
        e8, p8 = rel_err(outs["fp32"], outs["int8"]), psnr(outs["fp32"], outs["int8"], "max_abs")
        c.check(e8 <= TOL_REL and p8 >= TOL_PSNR,
                "int8 convs vs fp32 convs: max rel err %.2e (<= %g), PSNR %.1f dB (>= %g)" % (e8, TOL_REL, p8, TOL_PSNR))
        c.check(e8 > 0, "int8 convs differ from fp32 (the flag took effect)")

        lines = verbose_kernels(os.path.join(work, "int8.fb"), x_path, work)
        c.check(len(lines) == 6 and all("qs8_conv2d_" in ln for ln in lines),
                "every Conv2d runs an INT8 kernel: %s" % "; ".join(ln.strip() for ln in lines))
        c.check(any("qs8_conv2d_patchify_gemm_" in ln for ln in lines), "the PatchEmbed conv names its patchify form")
        fp32_lines = verbose_kernels(os.path.join(work, "fp32.fb"), x_path, work)
        c.check(not any("qs8_" in ln for ln in fp32_lines), "the default keeps the convs FP32")
        conv_params = sum(p.numel() for n, p in net.named_parameters() if n.endswith("weight") and p.dim() == 4)
        saved = os.path.getsize(os.path.join(work, "fp32.fb")) - os.path.getsize(os.path.join(work, "int8.fb"))
        c.check(2.5 * conv_params < saved <= 3 * conv_params,
                "the file shrinks by %d bytes for %d conv weights (3 bytes each, less the scales)" % (saved, conv_params))

        r = convert(onnx_path, os.path.join(work, "bad.fb"), "--conv-precision", "int4", expect_rc=None)
        c.check(r.returncode == 2 and "--conv-precision: fp32 or int8 (got 'int4')" in r.stderr,
                "an unknown value is refused (exit %d): %s" % (r.returncode, r.stderr.strip()[:200]))

        # Every graph of the file: the zoo's DiT with its VAE decoder.
        zoo = os.path.join(MODELS, "zoo")
        dit = os.path.join(zoo, "dit", "legacy", "model.onnx")
        vae = os.path.join(zoo, "vae_decoder", "legacy", "model.onnx")
        pipe = ["--sampler", "flow", "--steps", "4", "--guidance", "1", "--roles",
                "hidden_states=latent,timestep=timestep,class_labels=condition", "--output-kind", "latent",
                "--latent", "4x8x8", "--decoder", vae]
        meta = json.load(open(os.path.join(zoo, "vae_decoder", "meta.json")))
        feeds = {k: os.path.join(zoo, "vae_decoder", k + ".npy") for k in meta["inputs"]}
        dec = {}
        for prec in ("fp32", "int8"):
            fb = os.path.join(work, "dit_vae_%s.fb" % prec)
            convert(dit, fb, *pipe, "--conv-precision", prec)
            out = os.path.join(work, "dec_" + prec)
            cmd = [EDGE_RUN, fb, "--once", "--graph", "decoder", "--out-dir", out, "--quiet"]
            for k, v in feeds.items():
                cmd += ["--input", "%s=%s" % (k, v)]
            run(cmd)
            dec[prec] = np.load(os.path.join(out, meta["output"] + ".npy"))
            sizes = dec.setdefault("sizes", {})
            sizes[prec] = os.path.getsize(fb)
        ed, pd = rel_err(dec["fp32"], dec["int8"]), psnr(dec["fp32"], dec["int8"], "max_abs")
        c.check(0 < ed and pd >= TOL_PSNR,
                "decoder graph (17 convs, random weights), int8 convs vs fp32: PSNR %.1f dB (>= %g), max rel err "
                "%.2e" % (pd, TOL_PSNR, ed))
        c.check(dec["sizes"]["int8"] < dec["sizes"]["fp32"],
                "the two-graph file shrinks: %d -> %d bytes" % (dec["sizes"]["fp32"], dec["sizes"]["int8"]))
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
