"""The test harness of tests/python/test_*.py on top of pytest: soft checks
inside one test, and running a test file alone. Needs neither edge-convert
nor edge-run (scripts/cross-test.sh runs the files that do not import
convert_util without a host converter)."""
import sys


class Checks:
    """Soft assertions inside one pytest test: every check is printed and
    counted, and done() fails the test listing all that failed, so one run of
    a slow model test reports every defect, not just the first."""

    def __init__(self):
        self.failures = []

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.failures.append(what)

    def done(self):
        assert not self.failures, "%d check(s) failed:\n  %s" % (len(self.failures), "\n  ".join(self.failures))
        print("all checks passed")


def run_alone(path):
    """`python3 tests/python/test_x.py` runs the file's tests through pytest,
    as `python3 -m pytest -q tests/python/test_x.py` does."""
    import pytest
    sys.exit(pytest.main(["-q", path]))
