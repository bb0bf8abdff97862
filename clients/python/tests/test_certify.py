"""The Python client under ``opsync-sim certify-client``, through clients/python/adapter.py
(spec/client-adapter.md; simulator/README.md, "Certify your client").

- ``CertifyTest``: the clean client passes every scripted case and a few swarm seeds: no MUST
  case fails or ends in error, and the report holds every case once.
- ``CertifyDefectsTest``: each deliberate defect (opsync/env.py DEFECTS) fails a MUST case of
  those ``DEFECT_CASES`` names for it, and certify-client exits 1.

They need opsync-sim: ``run_tests.py --sim BIN test_certify`` (CTest passes the one it built);
without it they are skipped. The adapter runs on this interpreter (CTest's is /usr/bin/python3,
where Debian's python3-cryptography lives).
"""

import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTER = os.path.abspath(os.path.join(HERE, "..", "adapter.py"))
sys.path.insert(0, os.path.join(HERE, ".."))

from opsync.env import DEFECTS  # noqa: E402

# The cases that catch each defect (a subset of the MUST cases it fails; at least one must fail).
DEFECT_CASES = {
    "lww-strict-less": ["client-001"],
    "retry-fresh-ids": ["client-006", "client-007"],
    "backoff-wall-clock": ["client-013"],
    "stamp-wall-clock": ["client-004", "client-005"],
    # This client retries a failed chunk in place, within the sync, so client-015's reset does not
    # show the defect; client-024 loses every attempt, and the resume happens in a later sync.
    "no-resume": ["client-024"],
}
# Few swarm seeds: the scripted cases are the certification's fixed part; each seed costs some
# 10 to 25 s of one core. The full run (16 seeds) is `opsync-sim certify-client` by hand.
SWARM_SEEDS = 2
RUN_TIMEOUT_S = 600


def sim_binary():
    return os.environ.get("OPSYNC_SIM_BIN")


def adapter_command(defect=None):
    command = f"{shlex.quote(sys.executable)} {shlex.quote(ADAPTER)}"
    return f"env OPSYNC_PY_DEFECT={defect} {command}" if defect else command


def certify(out, adapter, *args):
    """Runs certify-client; returns (exit code, its output, the JSON report)."""
    report = os.path.join(out, "report.json")
    command = [sim_binary(), "certify-client", "--adapter", adapter, "--jobs", "2",
               "--out", os.path.join(out, "failures"), "--json", report, *args]
    run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if run.returncode not in (0, 1) or not os.path.exists(report):
        raise AssertionError(f"{' '.join(command)} exited {run.returncode}:\n"
                             f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    with open(report) as handle:
        return run.returncode, run.stdout, json.load(handle)


def import_report_checks():
    """conformance/tests/self_test.py's checks of the three report files."""
    sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "conformance", "tests"))
    import self_test
    return self_test


def case_ids(*args):
    listed = subprocess.run([sim_binary(), "certify-client", "--list", *args], capture_output=True, text=True,
                            check=True, timeout=60).stdout
    return [line.split()[0] for line in listed.splitlines() if line and not line[0].isspace()]


def failed_must_cases(report):
    return [c["id"] for c in report["cases"] if c["level"] == "MUST" and c["outcome"] in ("fail", "error")]


@unittest.skipUnless(sim_binary(), "needs opsync-sim: run_tests.py --sim BIN")
class CertifyTestCase(unittest.TestCase):
    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="opsync-py-certify-")
        self.addCleanup(shutil.rmtree, self.out, True)


class CertifyTest(CertifyTestCase):
    def test_the_clean_client_passes(self):
        expected = case_ids()
        code, output, report = certify(self.out, adapter_command(), "--swarm-seeds", str(SWARM_SEEDS),
                                       "--junit", os.path.join(self.out, "junit.xml"),
                                       "--html", os.path.join(self.out, "report.html"))
        print(output[output.find("opsync"):].strip(), file=sys.stderr)
        outcomes = {c["id"]: c["outcome"] for c in report["cases"]}
        self.assertEqual(sorted(outcomes), sorted(expected), "every case once")
        self.assertEqual(failed_must_cases(report), [], output[-4000:])
        self.assertEqual(code, 0, output[-4000:])
        # The SHOULD cases pass too (a SHOULD that fails is a warning, not a failure).
        self.assertEqual([i for i, o in outcomes.items() if o != "pass"], [], output[-4000:])
        # The reports: JUnit against its schema, JSON against its schema, the page in headless
        # Chromium, with the server suite's own checks (one format for both).
        if shutil.which("chromium"):
            checks = import_report_checks()
            checks.check_report_files(pathlib.Path(self.out), page_must_show=("Client under test",))
        else:
            print("test_certify: chromium is missing (Debian package chromium): the page is not checked",
                  file=sys.stderr)


class CertifyDefectsTest(CertifyTestCase):
    def test_every_defect_is_listed(self):
        self.assertEqual(set(DEFECT_CASES), set(DEFECTS))

    def test_each_defect_fails_a_must_case(self):
        caught = {}
        for defect, cases in DEFECT_CASES.items():
            with self.subTest(defect=defect):
                out = os.path.join(self.out, defect)
                os.makedirs(out)
                code, output, report = certify(out, adapter_command(defect),
                                               *[arg for case in cases for arg in ("--filter", case)])
                caught[defect] = failed_must_cases(report)
                self.assertEqual(code, 1, f"{defect} passes {cases}:\n{output[-3000:]}")
                self.assertTrue(caught[defect], f"{defect} fails no MUST case of {cases}:\n{output[-3000:]}")
        for defect, cases in caught.items():
            print(f"test_certify: {defect} fails {', '.join(cases) or 'nothing'}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
