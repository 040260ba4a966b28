"""A whole VAE decode, edge against ONNX Runtime on the same ONNX file: an
AutoencoderKL decoder at a small SD-like size (block channels 32, 64, 128,
128; 2 ResNet layers per block; 32 groups; latent 4x16x16 -> 3x128x128
pixels) with seeded random weights, exported by torch.onnx.export (legacy,
opset 17), converted by edge-convert, checked against PyTorch, then timed
alternating edge (an edge-bench model --serve worker, after a warm-up)
and ONNX Runtime (one warm session per thread count) run by run, 1 and 2
threads.
Writes <out>/vae_decoder.json and .md (the edge op-type breakdown included).

Runs in the model zoo's virtual environment (torch 2.x, diffusers, onnx,
onnxruntime; bash tests/models/zoo/make_zoo.sh makes it):
  bench/run_vae_decoder.sh BUILD_DIR
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import torch


def make_decoder(work):
    from diffusers import AutoencoderKL
    m = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                      up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(32, 64, 128, 128),
                      layers_per_block=2, latent_channels=4, norm_num_groups=32, sample_size=128)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in sorted(m.named_parameters()):
            if name.endswith("weight") and p.dim() == 1:  # norm gains
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    m.eval()

    class Decode(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, z):
            return self.m.decode(z, return_dict=False)[0]

    d = Decode(m)
    z = torch.randn(1, 4, 16, 16, generator=g)
    with torch.no_grad():
        out = d(z)
    onnx_path = os.path.join(work, "decoder.onnx")
    torch.onnx.export(d, (z,), onnx_path, input_names=["z"], output_names=["out"], opset_version=17, dynamo=False)
    np.save(os.path.join(work, "z.npy"), z.numpy())
    return onnx_path, z.numpy(), out.numpy()


class EdgeWorker:
    """edge-bench model --serve: the model loaded once, one forward per request."""

    def __init__(self, bench, fb, threads, inputs):
        self.p = subprocess.Popen([bench, "model", "--model", fb, "--threads", str(threads), "--precision", "fp32",
                                   "--inputs", inputs, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        self.ready = json.loads(self.p.stdout.readline())
        if not self.ready.get("ready"):
            raise RuntimeError("edge-bench serve: %s" % self.ready)

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    ap.add_argument("--rounds", type=int, default=9)
    a = ap.parse_args()
    import onnxruntime as ort
    convert = os.path.join(a.build, "converter", "edge-convert")
    edge_run = os.path.join(a.build, "runtime", "edge-run")
    bench = os.path.join(a.build, "bench", "edge-bench")
    with tempfile.TemporaryDirectory() as work:
        onnx_path, z, ref = make_decoder(work)
        fb = os.path.join(work, "decoder.fb")
        rep = json.loads(subprocess.run([convert, onnx_path, "-o", fb, "--json"], capture_output=True, text=True,
                                        check=True).stdout)
        out_dir = os.path.join(work, "out")
        subprocess.run([edge_run, fb, "--once", "--out-dir", out_dir, "--quiet", "--input",
                        "z=" + os.path.join(work, "z.npy")], check=True)
        got = np.load(os.path.join(out_dir, "out.npy"))
        edge_err = float(np.abs(got - ref).max() / np.abs(ref).max())
        results = {"model": "AutoencoderKL decoder, channels (32, 64, 128, 128), 2 layers per block, "
                            "latent 1x4x16x16 -> 1x3x128x128",
                   "onnx_ops": rep["num_ops_before"], "edge_ops": rep["num_ops_after"], "edge_op_counts": rep["ops_after"],
                   "edge_max_rel_err_vs_torch": edge_err, "onnxruntime": ort.__version__, "torch": torch.__version__,
                   "load_before": os.getloadavg(), "rows": []}
        for threads in (1, 2):
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
            ort_out = sess.run(None, {"z": z})[0]  # warm-up
            ort_err = float(np.abs(ort_out - ref).max() / np.abs(ref).max())
            worker = EdgeWorker(bench, fb, threads, work)
            worker.ask("warmup 1")
            edge_ms, ort_ms = [], []
            for _ in range(a.rounds):  # run by run: A B A B
                edge_ms += worker.ask("forward 1")["forward_ms"]
                t0 = time.perf_counter()
                sess.run(None, {"z": z})
                ort_ms.append((time.perf_counter() - t0) * 1e3)
            op_ms = {k: v["median"] for k, v in worker.ask("ops")["op_types"].items()}
            results["edge_arena_bytes"] = worker.ready["arena_bytes"]
            worker.close()
            results["rows"].append({"threads": threads, "edge_ms": edge_ms, "ort_ms": ort_ms,
                                    "edge_median_ms": float(np.median(edge_ms)), "ort_median_ms": float(np.median(ort_ms)),
                                    "edge_min_ms": min(edge_ms), "ort_min_ms": min(ort_ms),
                                    "ort_max_rel_err_vs_torch": ort_err, "edge_op_types_ms": op_ms})
        results["load_after"] = os.getloadavg()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "vae_decoder.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(a.out, "vae_decoder.md"), "w") as f:
        f.write("# A whole VAE decode: edge vs ONNX Runtime (F32)\n\n")
        f.write("Command: `bench/run_vae_decoder.sh build` (bench/vae_decoder.py, %d alternated rounds).\n" % a.rounds)
        f.write("Model: %s, seeded random weights; ONNX %d ops -> edge %d ops %s.\n" %
                (results["model"], results["onnx_ops"], results["edge_ops"], json.dumps(results["edge_op_counts"], sort_keys=True)))
        f.write("Max |out - PyTorch| / max |PyTorch|: edge %.1e, ONNX Runtime %.1e (ONNX Runtime %s).\n" %
                (edge_err, results["rows"][0]["ort_max_rel_err_vs_torch"], ort.__version__))
        f.write("Load average %s before, %s after (a shared machine: times include others' use of the cores).\n\n" %
                (", ".join("%.1f" % x for x in results["load_before"]), ", ".join("%.1f" % x for x in results["load_after"])))
        f.write("| threads | edge ms median (min) | ONNX Runtime ms median (min) | edge speed / ONNX Runtime (median) | "
                "edge Conv2d ms | edge GroupNorm ms | edge Upsample ms |\n|---|---|---|---|---|---|---|\n")
        for r in results["rows"]:
            o = r["edge_op_types_ms"]
            f.write("| %d | %.1f (%.1f) | %.1f (%.1f) | %.2fx | %.1f | %.1f | %.1f |\n" %
                    (r["threads"], r["edge_median_ms"], r["edge_min_ms"], r["ort_median_ms"], r["ort_min_ms"],
                     r["ort_median_ms"] / r["edge_median_ms"], o.get("Conv2d", 0), o.get("GroupNorm", 0), o.get("Upsample", 0)))


if __name__ == "__main__":
    main()
