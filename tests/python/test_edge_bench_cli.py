"""edge-bench's command line (CLI11, bench/model_bench_util.h): every
subcommand takes `--opt value` and `--opt=value`, refuses an unknown option or
a missing value with exit 2 and the option named, and its --json output is
JSON (one object per line for gemm and conv)."""
import json
import os
import subprocess

import pytest

from checks import Checks, run_alone

BUILD = os.environ.get("EDGE_BUILD_DIR", "build")
EDGE_BENCH = os.path.join(BUILD, "bench", "edge-bench")


def bench(*args):
    return subprocess.run([EDGE_BENCH] + list(args), capture_output=True, text=True, timeout=300)


def test_edge_bench_cli():
    if not os.path.exists(EDGE_BENCH):
        pytest.skip(f"{EDGE_BENCH} not built (EDGE_BUILD_BENCH=OFF)")
    c = Checks()
    for args, text in ((["gemm", "--frob"], "not expected: --frob"),
                       (["conv", "--threads"], "edge-bench conv: --threads"),
                       (["model", "--bogus", "1"], "edge-bench model: The following arguments were not expected"),
                       (["attention", "--tokens"], "edge-bench attention: --tokens"),
                       (["nosuch"], "usage: edge-bench")):
        r = bench(*args)
        c.check(r.returncode == 2 and text in r.stderr,
                "%s: exit %d (want 2), %r in the message: %s" % (" ".join(args), r.returncode, text,
                                                                r.stderr.strip()[:160]))

    # The same run with both forms of the options: the same kind of report.
    forms = (["conv", "--shape", "8,8,8,8,3", "--threads", "1", "--reps", "1", "--json"],
             ["conv", "--shape=8,8,8,8,3", "--threads=1", "--reps=1", "--json"])
    reports = []
    for args in forms:
        r = bench(*args)
        lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        reports.append(lines)
        c.check(r.returncode == 0 and [j["bench"] for j in lines] == ["peak"] + ["conv"] * (len(lines) - 1) and
                len(lines) >= 2 and all(j["c"] == 8 and j["k"] == 3 and j["reps"] == 1 for j in lines[1:]),
                "%s: exit %d, JSON lines %s" % (" ".join(args), r.returncode, [j.get("bench") for j in lines]))
    c.check([list(j) for j in reports[0]] == [list(j) for j in reports[1]], "--opt value and --opt=value: same report")

    r = bench("attention", "--quick", "--runs=1", "--json")
    try:
        rep = json.loads(r.stdout)
    except ValueError:
        rep = {}
    c.check(r.returncode == 0 and rep.get("tokens") == 256 and rep.get("variants", [{}])[0].get("variant") == "dense",
            "attention --quick --runs=1 --json: one JSON report (exit %d)" % r.returncode)
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
