"""bench/peers/latent_vs_ort.py --quick (2 steps, classes 0 and 5, one round at
2 threads): the latent demo's generation through ONNX Runtime (the ONNX graphs,
the sampler of runtime/sampler.cc) against edge-run's, same noise, PSNR >= 60 dB,
and the report's fields. Only where the peers' virtual environment already
exists (bench/peers/venv.sh makes it from PyPI; nothing is installed here):
skipped otherwise, as in CI.
"""
import json
import os
import subprocess
import sys
import tempfile

import pytest

from checks import run_alone

BUILD = os.path.abspath(os.environ.get("EDGE_BUILD_DIR", "build"))
SOURCE = os.environ.get("EDGE_SOURCE_DIR", ".")
PEER_PY = os.path.join(os.environ.get("EDGE_PEER_VENV", os.path.expanduser("~/.cache/edge-peers-venv")),
                       "bin", "python")


def test_latent_vs_ort_quick():
    if not os.access(PEER_PY, os.X_OK):
        pytest.skip(f"no peers' virtual environment ({PEER_PY})")
    if subprocess.run([PEER_PY, "-c", "import numpy, onnxruntime"], capture_output=True).returncode != 0:
        pytest.skip("the peers' environment has no onnxruntime")
    with tempfile.TemporaryDirectory() as work:
        r = subprocess.run([sys.executable, os.path.join(SOURCE, "bench", "peers", "latent_vs_ort.py"), "--quick",
                            "--build-dir", BUILD, "--peer-python", PEER_PY, "--work", work],
                           capture_output=True, text=True)
        print(r.stderr[-3000:])
        assert r.returncode == 0
        res = json.load(open(os.path.join(work, "latent_vs_ort.json")))
        assert res["settings"]["steps"] == 2 and res["settings"]["graph_runs"] == 4  # 2 samples x 2 steps
        rows = {(x["engine"], x["threads"]): x for x in res["rows"]}
        assert set(rows) == {("edge", 2), ("ort", 2)}
        ort = rows[("ort", 2)]
        assert ort["psnr_vs_edge_db"] is None or ort["psnr_vs_edge_db"] >= 60
        for x in rows.values():
            assert x["generation_ms"]["median"] > 0 and x["peak_rss_kb"]["median"] > 0 and x["load_ms"]["median"] > 0
        assert "| ONNX Runtime | 2 |" in open(os.path.join(work, "latent_vs_ort.md")).read()


if __name__ == "__main__":
    run_alone(__file__)
