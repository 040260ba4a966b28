"""PyTorch worker for bench/peers/compare.py.

    PEER_PYTHON torch_worker.py CONFIG.json     (torch 2.x from PyPI; Debian's 1.13 works too)
CONFIG: {"threads": T, "export_dir": DIR, "variants": {"NAME": {"kind": "full"|"block",
         "precision": "fp32"|"int8"}}}

The full model is DiT from dit_torch.py with the exported weights; "block" is
its first block alone. int8 is torch.ao.quantization.quantize_dynamic over
every nn.Linear (int8 weights per tensor, activations quantized at run time).
Run under inference_mode with torch.set_num_threads(T); the driver starts the
process with tcmalloc preloaded and OPENBLAS_CORETYPE unset (PyTorch at its
best on this machine type). Attention runs through
F.scaled_dot_product_attention where torch has it (dit_torch.py). Protocol:
as ort_worker.py (forward/warmup/save/quit).
"""
import json
import os
import sys
import time

import warnings

import numpy as np
import torch

# torch.ao.quantization's dynamic INT8 still works in torch 2.x but warns that
# it moves to torchao; the warning would go to the driver's log each start.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dit_torch  # noqa: E402


def main():
    cfg = json.load(open(sys.argv[1]))
    torch.set_num_threads(int(cfg["threads"]))
    d = cfg["export_dir"]
    model, mcfg = dit_torch.load_dit(d)
    full_inputs = tuple(torch.from_numpy(np.load(os.path.join(d, n + ".npy"))) for n in ("x", "t", "y"))
    bi = dit_torch.block_inputs(mcfg)
    block_inputs = (torch.from_numpy(bi["h"]), torch.from_numpy(bi["c"]))
    variants = {}
    for name, v in cfg["variants"].items():
        if v["kind"] == "full":
            module, inputs = model, full_inputs
        else:
            module, inputs = dit_torch.BlockWrapper(model.blocks[0]).eval(), block_inputs
        if v["precision"] == "int8":
            module = torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
        variants[name] = {"module": module, "inputs": inputs, "last": None}
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "quantized_engine": torch.backends.quantized.engine,
                      "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
                      "ld_preload": os.environ.get("LD_PRELOAD", "")}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "quit":
            break
        try:
            v = variants[parts[1]]
            if parts[0] in ("forward", "warmup"):
                ms = []
                with torch.inference_mode():
                    for _ in range(int(parts[2])):
                        t0 = time.perf_counter()
                        out = v["module"](*v["inputs"])
                        ms.append((time.perf_counter() - t0) * 1e3)
                        v["last"] = out
                reply = {"forward_ms": ms} if parts[0] == "forward" else {"ok": True}
            elif parts[0] == "save":
                np.save(parts[2], v["last"].numpy().astype(np.float32))
                reply = {"ok": True}
            else:
                reply = {"error": "unknown command " + parts[0]}
        except Exception as e:  # reported to the driver, which fails the run
            reply = {"error": repr(e)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
