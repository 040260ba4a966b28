"""edge-run on bad input: a clear message and the documented non-zero exit,
never a crash (a signal) or a hang.

Exit codes: 2 usage / bad input files, 3 bad or missing model file, 4 runtime
failure, 5 NaN/Inf produced by the model (--check-finite, on by default).
The README's table of refusals points at these cases.
"""
import json
import os
import resource
import subprocess
import tempfile

import numpy as np
from checks import run_alone


BUILD = os.environ.get("EDGE_BUILD_DIR", "build")
EDGE_RUN = os.path.join(BUILD, "runtime", "edge-run")
MAKE_FIXTURE = os.path.join(BUILD, "tests", "make_dit_fixture")

failures = []


def check(name, args, want_code, want_text):
    r = subprocess.run([EDGE_RUN] + args, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    ok = r.returncode == want_code and want_text.lower() in out.lower()
    print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {r.returncode} (want {want_code}): {out.strip().splitlines()[-1] if out.strip() else ''}")
    if not ok:
        failures.append(name)


def test_edge_run_cli():
    failures.clear()
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([MAKE_FIXTURE, d, "--depth", "1", "--hidden", "32", "--image", "8"], check=True)
        model = os.path.join(d, "model.fb")
        empty = os.path.join(d, "empty.fb")
        open(empty, "wb").close()
        rnd = os.path.join(d, "random.fb")
        open(rnd, "wb").write(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
        trunc = os.path.join(d, "trunc.fb")
        open(trunc, "wb").write(open(model, "rb").read()[:1000])

        check("missing file", [os.path.join(d, "nope.fb")], 3, "cannot open")
        check("directory", [d], 3, "directory")
        check("empty file", [empty], 3, "empty")
        check("random bytes", [rnd], 3, "size prefix")
        check("truncated model", [trunc], 3, "truncated")
        data = open(model, "rb").read()
        for frac in (0.25, 0.5, 0.9, 0.999):
            cut = os.path.join(d, "cut.fb")
            open(cut, "wb").write(data[:int(len(data) * frac)])
            check("model truncated at %.1f%%" % (100 * frac), [cut, "--steps", "1"], 3, "past end of file")
            check("model truncated at %.1f%%, --no-mmap" % (100 * frac), [cut, "--no-mmap", "--steps", "1"], 3,
                  "past end of file")
        check("no arguments", [], 2, "no model file")
        check("unknown option", [model, "--bogus"], 2, "unknown option")
        check("bad steps", [model, "--steps", "0"], 2, "--steps")
        check("class out of range", [model, "--class", "999", "--out", os.path.join(d, "o.npy")], 2, "outside")
        check("--once without inputs", [model, "--once", "--out-dir", os.path.join(d, "o")], 2, "not given")
        check("guidance reuse negative", [model, "--guidance-reuse", "-1"], 2, "--guidance-reuse needs")
        check("guidance reuse order 2", [model, "--guidance-reuse", "2", "--guidance-reuse-order", "2"], 2, "0 or 1")
        check("guidance reuse order alone", [model, "--guidance-reuse-order", "0"], 2, "need --guidance-reuse K")
        # Every option takes its value as `--opt value` or `--opt=value`; a flag
        # given a value is refused rather than the value silently dropped.
        check("--opt=value", [model, "--steps=2", "--cache-threshold=0.2", "--out=" + os.path.join(d, "eq.npy")], 0,
              "wrote")
        check("--opt=value, bad value", [model, "--steps=0"], 2, "--steps needs an integer")
        check("--opt=, empty value", [model, "--steps="], 2, "--steps needs an integer")
        check("--flag=value", [model, "--once=1"], 2, "--once takes no value")
        check("unknown --opt=value", [model, "--bogus=1"], 2, "unknown option --bogus")
        check("--input=NAME=FILE", [model, "--once", "--input=x=" + os.path.join(d, "none.npy"), "--out-dir",
                                    os.path.join(d, "o")], 2, "input 'x'")
        check("--opt value, same run", [model, "--steps", "2", "--cache-threshold", "0.2", "--out",
                                        os.path.join(d, "sp.npy")], 0, "wrote")
        same = np.array_equal(np.load(os.path.join(d, "eq.npy")), np.load(os.path.join(d, "sp.npy")))
        print(f"{'ok  ' if same else 'FAIL'} --opt=value and --opt value give the same samples")
        if not same:
            failures.append("--opt=value vs --opt value")
        check("guidance reuse run", [model, "--steps", "4", "--guidance-reuse", "2", "--out", os.path.join(d, "g.npy")],
              0, "wrote")
        check("token reuse negative", [model, "--token-reuse", "-0.1"], 2, "--token-reuse needs")
        check("token reuse order 2", [model, "--token-reuse", "0.1", "--token-reuse-order", "2"], 2, "0 or 1")
        check("token reuse stale 256", [model, "--token-reuse", "0.1", "--token-reuse-max-stale", "256"], 2,
              "[0, 255]")
        check("token reuse run",
              [model, "--steps", "6", "--token-reuse=0.5", "--out", os.path.join(d, "token_reuse.npy")], 0,
              "of attention query rows recomputed")

        x = np.load(os.path.join(d, "x.npy"))
        bad_shape = os.path.join(d, "x_bad.npy")
        np.save(bad_shape, x[:, :, :4, :])
        check("wrong input shape", [model, "--once", "--input", "x=" + bad_shape, "--out-dir", os.path.join(d, "o")], 2,
              "must be")
        nan = os.path.join(d, "x_nan.npy")
        xn = x.copy()
        xn[0, 0, 0, 0] = np.nan
        np.save(nan, xn)
        check("NaN input", [model, "--once", "--input", "x=" + nan, "--out-dir", os.path.join(d, "o")], 2, "nan")
        check("not an input", [model, "--once", "--input", "out=" + nan, "--out-dir", os.path.join(d, "o")], 2,
              "not a graph input")
        check("missing input file", [model, "--once", "--input", "x=" + os.path.join(d, "none.npy"), "--out-dir",
                                     os.path.join(d, "o")], 2, "input 'x'")
        check("good run", [model, "--steps", "2", "--out", os.path.join(d, "s.npy")], 0, "wrote")
        check("good run, --no-mmap", [model, "--no-mmap", "--steps", "2", "--out", os.path.join(d, "s.npy")], 0,
              "wrote")

        # NaN/Inf produced inside the network from finite but huge inputs (+-3e38:
        # the first LayerNorm's variance overflows): exit 5, naming the op that
        # first produced one; --no-check-finite lets --once write the outputs as
        # they are.
        rng = np.random.default_rng(1)
        huge = os.path.join(d, "x_huge.npy")
        np.save(huge, (np.sign(rng.standard_normal(x.shape)) * 3e38).astype(np.float32))
        once_huge = [model, "--once", "--input", "x=" + huge, "--out-dir", os.path.join(d, "o")]
        for k in ("t", "y"):
            v = os.path.join(d, k + ".npy")
            if os.path.exists(v):
                once_huge += ["--input", "%s=%s" % (k, v)]
        check("NaN produced inside the network (--once)", once_huge, 5, "first produced")
        check("NaN produced inside the network, --no-check-finite", once_huge + ["--no-check-finite"], 0, "wrote")

        # --repeat: N timed runs of the graph on the same inputs; the outputs are
        # those of a single run, and --json lists one time per run.
        once_ok = [model, "--once", "--input", "x=" + os.path.join(d, "x.npy")]
        for k in ("t", "y"):
            v = os.path.join(d, k + ".npy")
            if os.path.exists(v):
                once_ok += ["--input", "%s=%s" % (k, v)]
        check("--repeat without --once", [model, "--repeat", "3"], 2, "--repeat needs --once")
        check("--repeat 0", once_ok + ["--repeat", "0", "--out-dir", os.path.join(d, "r0")], 2, "--repeat needs")
        subprocess.run([EDGE_RUN] + once_ok + ["--out-dir", os.path.join(d, "r1"), "--quiet"], check=True)
        r = subprocess.run([EDGE_RUN] + once_ok + ["--repeat", "3", "--out-dir", os.path.join(d, "r3"), "--json",
                                                   "--quiet"], capture_output=True, text=True, check=True)
        rep = json.loads(r.stdout)
        runs = rep.get("invoke_ms_runs", [])
        ok = (len(runs) == 3 and min(runs) == rep["invoke_ms_min"] and
              sorted(runs)[1] == rep["invoke_ms_median"] and runs[0] == rep["invoke_ms"])
        outs = sorted(os.listdir(os.path.join(d, "r1")))
        same = outs and all(np.array_equal(np.load(os.path.join(d, "r1", f)), np.load(os.path.join(d, "r3", f)))
                            for f in outs)
        print(f"{'ok  ' if ok and same else 'FAIL'} --repeat 3: {runs}, outputs equal to one run: {same}")
        if not (ok and same):
            failures.append("--repeat")
        noise = os.path.join(d, "noise_huge.npy")
        np.save(noise, (np.sign(rng.standard_normal((1,) + x.shape[1:])) * 3e38).astype(np.float32))
        check("NaN produced inside the network (generation)",
              [model, "--steps", "2", "--num-samples", "1", "--noise", noise, "--out", os.path.join(d, "n.npy")], 5,
              "first produced")
        check("png of a 4-channel latent", [model, "--steps", "1", "--out", os.path.join(d, "s.png")], 4, "channels")

        # Out of memory for real: address-space limits (RLIMIT_AS) from too small
        # to enough, on a 45 MB model (32 MiB: the model cannot be mapped or read
        # into memory; 64-80 MiB: prepare fails). Each run ends in exit 0 or 4 with a
        # message, never a signal (tests/fault/alloc_failure_test.cc fails every
        # allocation in turn, in process).
        big = os.path.join(d, "big")
        subprocess.run([MAKE_FIXTURE, big, "--depth", "4", "--hidden", "384", "--heads", "6", "--image", "16"],
                       check=True, stdout=subprocess.DEVNULL)
        codes = []
        for mb in (32, 64, 80, 96, 128, 192):
            def limit(mb=mb):
                resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))
            r = subprocess.run([EDGE_RUN, os.path.join(big, "model.fb"), "--steps", "1", "--num-samples", "1", "--quiet",
                                "--out", os.path.join(d, "big.npy")], capture_output=True, text=True, timeout=300,
                               preexec_fn=limit)
            codes.append(r.returncode)
            ok = r.returncode == 0 or (r.returncode == 4 and "cannot allocate" in r.stderr + r.stdout)
            print(f"{'ok  ' if ok else 'FAIL'} address space {mb} MiB: exit {r.returncode}: {r.stderr.strip()[-160:]}")
            if not ok:
                failures.append("address space %d MiB" % mb)
        if 4 not in codes or codes[-1] != 0:
            print("FAIL out of memory sweep: want exit 4 under the smallest limits and 0 under the largest:", codes)
            failures.append("out of memory sweep")
    assert not failures, "FAILED: " + ", ".join(failures)


if __name__ == "__main__":
    run_alone(__file__)
