#!/usr/bin/python3
"""opsync-sim run --server against real servers: the reference opsync-server and a broken build.

    check_external.py OPSYNC_SIM OPSYNC_SERVER OPSYNC_BROKEN_SERVER

1. Against opsync-server, runs with client-side faults (lost requests and answers, duplicates,
   partitions, skewed and jumping clocks, device crashes) pass, and so does the scenario whose
   lost answer makes a device resend its operation.
2. Against opsync-broken-server --defect no-dedupe, that scenario fails log_integrity; the bug
   file it writes holds the server's answers and matches the schema; it replays from the
   recording to the same verdict and trace hash without any server; it renders; replayed against
   the reference server (--server) it passes, which puts the defect in the server.
Exits 0 when all of this holds, 1 otherwise.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
SCENARIO = HERE.parent / "scenarios" / "variant-no-dedupe.json"


def start(command, work, name):
    port_file = os.path.join(work, name + ".port")
    process = subprocess.Popen(command + ["--port", "0", "--port-file", port_file],
                               stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, name + ".log"), "w"))
    for _ in range(200):
        if os.path.exists(port_file):
            return process, "http://127.0.0.1:" + pathlib.Path(port_file).read_text().strip()
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{name} did not start: {pathlib.Path(work, name + '.log').read_text()}")


def sim(binary, *arguments):
    return subprocess.run([binary, *arguments], capture_output=True, text=True, timeout=300, check=False)


def main(arguments):
    if len(arguments) != 3:
        print(__doc__)
        return 2
    simulator, server_binary, broken_binary = arguments
    problems = []

    def expect(condition, what, result=None):
        if not condition:
            detail = f"\n  stdout: {result.stdout.strip()[:800]}\n  stderr: {result.stderr.strip()[:400]}" if result else ""
            problems.append(what + detail)

    with tempfile.TemporaryDirectory(prefix="opsync-external-") as work:
        server, url = start([server_binary, "--data-dir", os.path.join(work, "data"), "--durability", "process",
                             "--log-format", "none"], work, "server")
        broken, broken_url = start([broken_binary, "--defect", "no-dedupe"], work, "broken")
        try:
            for seed in ("3", "4"):
                r = sim(simulator, "run", "--seed", seed, "--devices", "3", "--ops", "40", "--chaos-ms", "40000",
                        "--faults", "everything", "--server", url, "--out", work, "--json")
                expect(r.returncode == 0, f"seed {seed} with every client-side fault fails against opsync-server", r)
                if r.returncode in (0, 1):
                    verdict = json.loads(r.stdout)
                    expect(verdict["server"] == url and verdict["figures"]["requests"] > 50,
                           f"seed {seed} did not drive the server: {verdict['figures']}")
            r = sim(simulator, "run", "--config", str(SCENARIO), "--variant", "none", "--server", url, "--out", work)
            expect(r.returncode == 0, "the resend scenario fails against opsync-server", r)

            r = sim(simulator, "run", "--config", str(SCENARIO), "--variant", "none", "--server", broken_url,
                    "--out", work)
            expect(r.returncode == 1 and "log_integrity" in r.stdout,
                   "the no-dedupe server is not caught by log_integrity", r)
            bug = os.path.join(work, "bug-seed-1-server.json")
            expect(os.path.exists(bug), "no bug file was written for the broken server", r)
            if os.path.exists(bug):
                recorded = json.loads(pathlib.Path(bug).read_text())
                expect(recorded.get("server", {}).get("url") == broken_url and len(recorded["server"]["answers"]) > 10,
                       "the bug file does not hold the server's answers")
                expect(recorded["checker"] == "log_integrity", f"the bug file names {recorded['checker']}")
                v = subprocess.run([sys.executable, str(HERE / "check_bug_files.py"), bug], capture_output=True,
                                   text=True, check=False)
                expect(v.returncode == 0, "the bug file does not match the schema", v)
                broken.terminate()  # the replay needs no server: the answers are in the file
                broken.wait(timeout=30)
                r = sim(simulator, "replay", bug)
                expect(r.returncode == 0 and r.stdout.startswith("reproduced") and "log_integrity" in r.stdout,
                       "the bug file does not replay from its recorded answers", r)
                r = sim(simulator, "render", bug, "-o", os.path.join(work, "trace.html"))
                expect(r.returncode == 0 and os.path.getsize(os.path.join(work, "trace.html")) > 10000,
                       "the bug file does not render", r)
                r = sim(simulator, "replay", bug, "--server", url)
                expect(r.returncode == 1 and r.stdout.startswith("another verdict") and "every checker held" in r.stdout,
                       "the same schedule against opsync-server should pass", r)
        finally:
            for process in (server, broken):
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=30)
    for problem in problems:
        print(problem)
    print("opsync-sim --server against opsync-server and a no-dedupe build: " + ("ok" if not problems else "FAILED"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
