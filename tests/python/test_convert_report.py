"""edge-convert --report / --json describe the conversion: ops before and after
fusion, parameter count, file size, cache regions, dtype per tensor; and
--block-prefix picks the module list whose blocks become cache regions."""
import json
import os
import re
import tempfile

from checks import Checks, run_alone
from convert_util import convert, fixture


def test_convert_report():
    c = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        d = fixture("dit_s2", tmp)
        src = os.path.join(d, "model.onnx")
        meta = json.load(open(os.path.join(d, "meta.json")))
        fb = os.path.join(tmp, "m.fb")
        txt = convert(src, fb, "--report").stdout
        print(txt[:1500])
        for section in ("ops before fusion:", "ops after fusion:", "parameters:", "file size:", "cache regions: 4",
                        "tensors:"):
            c.check(section in txt, "report has '%s'" % section)
        m = re.search(r"parameters: (\d+)", txt)
        c.check(m and int(m.group(1)) * 4 == meta["param_bytes"],
                "report parameter count %s == PyTorch's %d" % (m and m.group(1), meta["param_bytes"] // 4))
        m = re.search(r"file size: (\d+) bytes", txt)
        c.check(m and int(m.group(1)) == os.path.getsize(fb), "report file size matches the file")
        for k in range(4):
            c.check(re.search(r"blocks\.%d\s+ops \d+\.\.\d+" % k, txt) is not None, "report lists region blocks.%d" % k)
        c.check(re.search(r"^\s+MatMul\s+\d+", txt, re.M) is not None, "report counts ONNX MatMul before fusion")
        c.check(re.search(r"^\s+Attention\s+4$", txt, re.M) is not None, "report counts 4 Attention after fusion")
        c.check(re.search(r"^\s+I64\s+activation\s+\[2\]\s+y$", txt, re.M) is not None,
                "report gives input y's dtype (I64)")

        rep = json.loads(convert(src, fb, "--json").stdout)
        c.check(rep["ops_before"].get("MatMul", 0) > 0 and rep["ops_after"].get("Attention") == 4,
                "json: ops before/after")
        c.check(rep["parameters"] * 4 == meta["param_bytes"], "json: parameters")
        c.check(rep["file_bytes"] == os.path.getsize(fb), "json: file_bytes")
        regs = rep["cache_regions"]
        c.check([r["name"] for r in regs] == ["blocks.%d" % k for k in range(4)], "json: 4 block regions in order")
        chained = all(regs[k]["input"] == regs[k - 1]["output"] for k in range(1, len(regs)))
        ordered = all(regs[k]["first_op"] > regs[k - 1]["last_op"] for k in range(1, len(regs)))
        c.check(chained and ordered, "json: regions chain on the residual stream and do not overlap")
        dtypes = {t["name"]: t["dtype"] for t in rep["tensors"]}
        c.check(dtypes.get("y") == "I64" and dtypes.get("x") == "F32", "json: dtype per tensor (%s, %s)" %
                (dtypes.get("x"), dtypes.get("y")))

        rep = json.loads(convert(src, fb, "--json", "--block-prefix", "blocks").stdout)
        c.check(len(rep["cache_regions"]) == 4, "--block-prefix blocks: 4 regions")
        r = convert(src, fb, "--json", "--block-prefix", "nosuch")
        c.check(len(json.loads(r.stdout)["cache_regions"]) == 0 and "nosuch" in r.stderr,
                "--block-prefix nosuch: no regions, with a note")
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
