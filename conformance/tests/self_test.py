#!/usr/bin/python3
"""The conformance suite tested against real servers (run by CTest from the build tree).

    self_test.py defects    BUILD_DIR OUT_DIR   every defect switch caught by a MUST case, none by the clean server
    self_test.py reports    BUILD_DIR OUT_DIR   JSON, JUnit and HTML reports valid; the page checked in Chromium
    self_test.py recovery   BUILD_DIR OUT_DIR   --restart-cmd and --restore-cmd against the real server
    self_test.py runner     BUILD_DIR OUT_DIR   bad commands, --wait-for-server, known-failures files, wrong schemes
    self_test.py front      BUILD_DIR OUT_DIR   the whole suite through deploy/nginx
    self_test.py package    BUILD_DIR OUT_DIR   the Debian package installs and its programs certify each other

Servers listen on 127.0.0.1 only, each in a fresh data directory, and are stopped at the end.
"""

import json
import os
import pathlib
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SOURCE = pathlib.Path(__file__).resolve().parents[2]


def fail(message):
    print(f"self_test.py: {message}", file=sys.stderr)
    sys.exit(1)


# How long a condition may take before a test gives up on it: generous, so that only a real fault
# reaches it on a loaded machine. Tests wait for conditions, never for a fixed time.
CONDITION_DEADLINE_S = 60


def wait_until(condition, what, deadline_s=CONDITION_DEADLINE_S, poll_s=0.02):
    """Polls condition() until it is true; fails the test, saying what never happened, at the deadline."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() >= end:
            fail(f"waited {deadline_s} s for {what}; it never happened")
        time.sleep(poll_s)


def accepts_connections(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real opsync-server (or opsync-server-defective) on 127.0.0.1, stopped on exit."""

    def __init__(self, binary, data_dir, port=None, args=()):
        self.binary, self.data_dir, self.args = str(binary), pathlib.Path(data_dir), list(args)
        self.port = port or free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--data-dir", str(self.data_dir), "--port", str(self.port), "--log-format", "none",
             "--durability", "process", *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: accepts_connections(self.port), f"{self.binary} to listen on {self.port}")
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class OneAtATime:
    """A TCP front on 127.0.0.1 that relays one client connection at a time to a server: while a
    client holds its connection open, idle or not, every other waits to be accepted."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        self.listener.settimeout(0.2)
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            with client, socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                self.relay(client, upstream)

    def relay(self, client, upstream):
        ends = {client: upstream, upstream: client}
        while not self.stopping:
            ready, _, _ = select.select(list(ends), [], [], 0.2)
            for end in ready:
                data = end.recv(65536)
                if not data:
                    return
                ends[end].sendall(data)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join(timeout=5)
        self.listener.close()


def suite(build, url, *args, timeout=300, binary=None):
    command = [str(binary or build / "conformance" / "opsync-conformance"), "--server", url, *args]
    return subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=timeout)


def failing_cases(report_path):
    report = json.loads(pathlib.Path(report_path).read_text())
    return [c["id"] for c in report["cases"] if c["outcome"] in ("fail", "error") and c["level"] == "MUST"]


def outcome_of(report_path, case_id):
    if not os.path.exists(report_path):
        return None
    report = json.loads(pathlib.Path(report_path).read_text())
    return next((c["outcome"] for c in report["cases"] if c["id"] == case_id), None)


def defects(build, out):
    """Each defect switch breaks one rule; at least one MUST case must fail for each."""
    defective = build / "reference-server" / "opsync-server-defective"
    names = [line.split()[0] for line in subprocess.run([str(defective), "--list-defects"], capture_output=True,
                                                         text=True, check=True).stdout.splitlines()]
    if len(names) < 20:
        fail(f"only {len(names)} defect switches")
    rows, problems = [], []
    with tempfile.TemporaryDirectory() as scratch:
        with Server(defective, pathlib.Path(scratch) / "clean") as server:
            clean = suite(build, server.url, "--json", f"{scratch}/clean.json")
        if clean.returncode != 0:
            problems.append("the server without defects fails the suite:\n" + clean.stdout[-3000:])
        elif outcome_of(f"{scratch}/clean.json", "transport-007") != "pass":
            problems.append("the server without defects is slow under idle and slow connections (transport-007)")
        # The SHOULD on liveness (TRN-059) warns against a server that idle connections starve:
        # the reference server behind a front that serves one connection at a time, as a server
        # with a thread per connection does once its threads are taken.
        with Server(defective, pathlib.Path(scratch) / "starved") as server, OneAtATime(server.port) as front:
            suite(build, front.url, "--filter", "transport-007", "--timeout-ms", "3000",
                  "--json", f"{scratch}/starved.json")
        if outcome_of(f"{scratch}/starved.json", "transport-007") != "warn":
            problems.append("transport-007 did not warn against a server that slow clients starve")
        for name in names:
            report = f"{scratch}/{name}.json"
            if name in RESTORE_DEFECTS:
                directory = pathlib.Path(scratch) / name
                directory.mkdir()
                with ScriptedServer(defective, directory, args=["--defect", name]) as server:
                    run = suite(build, server.url, "--level", "must", "--filter", "durability-*", "--restore-cmd",
                                str(server.restore), "--json", report)
            else:
                with Server(defective, pathlib.Path(scratch) / name, args=["--defect", name]) as server:
                    run = suite(build, server.url, "--level", "must", "--json", report)
            caught = failing_cases(report) if os.path.exists(report) else []
            requirements = next(line.split(None, 1)[1] for line in subprocess.run(
                [str(defective), "--list-defects"], capture_output=True, text=True).stdout.splitlines()
                if line.split()[0] == name)
            rows.append((name, requirements.strip(), caught))
            if run.returncode != 1 or not caught:
                problems.append(f"the defect {name} was not caught (exit {run.returncode})")
    table = ["| defect switch | breaks | MUST cases that catch it |", "|---|---|---|"]
    for name, requirements, caught in rows:
        shown = ", ".join(caught[:8]) + (f" and {len(caught) - 8} more" if len(caught) > 8 else "")
        table.append(f"| `{name}` | {requirements} | {shown} |")
    (out / "defect-table.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        fail(f"{len(problems)} problems")
    print(f"self_test.py: all {len(names)} defect switches caught; the clean server passes")


def png_size(path):
    data = pathlib.Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    return struct.unpack(">II", data[16:24])


def chromium(*args):
    browser = shutil.which("chromium")
    if not browser:
        fail("chromium is not installed (Debian package chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)


def check_report_files(out, page_must_show=()):
    """The three report files of one run in `out` (report.json, junit.xml, report.html): each valid
    against its schema, the schema able to refuse a broken report, and the page, self-contained,
    read in headless Chromium (every case in its DOM, a PASSED verdict, `page_must_show` texts) with
    a screenshot, report.png. Shared with simulator/tools/check_certify.py (a client's reports are
    the same format). Returns the report and how many cases the DOM shows."""
    import jsonschema
    report = json.loads((out / "report.json").read_text())
    schema = json.loads((SOURCE / "conformance" / "schema" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(report))
    if errors:
        fail(f"report.json breaks its schema: {errors[0].message[:300]}")
    broken = dict(report, cases=[dict(report["cases"][0], outcome="fail", failures=[])])
    if not list(jsonschema.Draft202012Validator(schema).iter_errors(broken)):
        fail("the report schema accepts a failed case without failures")
    xsd = subprocess.run(["xmllint", "--noout", "--schema", str(SOURCE / "conformance" / "schema" / "junit.xsd"),
                          str(out / "junit.xml")], capture_output=True, text=True)
    if xsd.returncode != 0:
        fail("junit.xml breaks the JUnit schema: " + xsd.stderr[-1000:])
    page = (out / "report.html").read_text()
    for fetch in ('src="http', "src='http", 'href="http', "href='http", "@import", "url(http"):
        if fetch in page:
            fail(f"report.html fetches from the network ({fetch}): it must be self-contained")
    dom = chromium("--dump-dom", (out / "report.html").as_uri()).stdout
    cases = dom.count('<details class="case ')
    if cases != len(report["cases"]) or 'id="verdict" class="passed"' not in dom:
        fail(f"Chromium's DOM shows {cases} cases of {len(report['cases'])}, or no PASSED verdict")
    for case in report["cases"]:
        if f'id="case-{case["id"]}"' not in dom:
            fail(f"the page lacks {case['id']}")
    for text in page_must_show:
        if text not in dom:
            fail(f"the page does not show {text!r}")
    shot = chromium("--window-size=1280,900", "--hide-scrollbars", f"--screenshot={out / 'report.png'}",
                    (out / "report.html").as_uri())
    if not (out / "report.png").exists():
        fail("Chromium wrote no screenshot: " + shot.stderr[-500:])
    width, height = png_size(out / "report.png")
    if (width, height) != (1280, 900) or (out / "report.png").stat().st_size < 20000:
        fail(f"the screenshot is {width}x{height}, {(out / 'report.png').stat().st_size} bytes: a blank page?")
    return report, cases


def reports(build, out):
    """The three report files of one run: each valid, and the page readable in a real browser."""
    with tempfile.TemporaryDirectory() as scratch:
        with Server(build / "reference-server" / "opsync-server", pathlib.Path(scratch) / "data") as server:
            run = suite(build, server.url, "--json", f"{out}/report.json", "--junit", f"{out}/junit.xml",
                        "--html", f"{out}/report.html")
    if run.returncode != 0:
        fail("the reference server fails the suite:\n" + run.stdout[-3000:])
    report, cases = check_report_files(out, page_must_show=("Server",))
    if "server" not in report or "client" in report:
        fail("a server's report names its subject as server, and has no client member")
    print(f"self_test.py: report.json, junit.xml and report.html valid; {cases} cases in Chromium's DOM; "
          f"screenshot {out / 'report.png'}")
    # coverage --report: the checks that run made per requirement, many on the order of checks.
    shown = subprocess.run([str(build / "conformance" / "opsync-conformance"), "coverage", "--report",
                            str(out / "report.json"), "--json"], capture_output=True, text=True)
    rows = {r["id"]: r for r in json.loads(shown.stdout)["requirements"]}
    if rows["ERR-013"].get("checks", 0) < 100 or any(r.get("checks", 0) and not r["cases"] for r in rows.values()):
        fail(f"coverage --report counts {rows['ERR-013'].get('checks')} checks of ERR-013, or checks without a case")
    failure_reports(build, out / "failures")


def failure_reports(build, out):
    """Failures point at the request that broke the rule: every failure names the request line and
    the exchange, the page lists failed cases first with that exchange open and marked, and
    --rerun-failed runs only the failures of an earlier report."""
    out.mkdir(parents=True, exist_ok=True)
    defective = build / "reference-server" / "opsync-server-defective"
    with tempfile.TemporaryDirectory() as scratch:
        with Server(defective, pathlib.Path(scratch) / "data", args=["--defect", "no-allow-header"]) as server:
            suite(build, server.url, "--filter", "discovery-*", "--filter", "errors-001",
                  "--json", str(out / "report.json"), "--html", str(out / "report.html"))
            report = json.loads((out / "report.json").read_text())
            failed = [c for c in report["cases"] if c["outcome"] == "fail"]
            if not failed:
                fail("no case failed against the no-allow-header defect")
            for case in failed:
                for f in case["failures"]:
                    exchange = f.get("exchange")
                    if exchange is None or not f.get("request"):
                        fail(f"{case['id']}: a failure names no request: {f}")
                    if not case["transcript"][exchange]["request"].startswith(f["request"]):
                        fail(f"{case['id']}: the failure's request is not its exchange's: {f['request']!r}")
                    if f["request"].split(" ")[0] not in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"):
                        fail(f"{case['id']}: the request names no method: {f['request']!r}")
            dom = chromium("--dump-dom", (out / "report.html").as_uri()).stdout
            first_case = dom.index('<details class="case ')
            if not dom[first_case:].startswith('<details class="case fail'):
                fail("the page does not list the failed cases first")
            if '<details class="exchange failing" id="case-' not in dom or 'failing" id="case-' not in dom:
                fail("the page marks no failing exchange")
            marked = dom[dom.index('<details class="exchange failing"'):][:300]
            if " open" not in marked.split(">")[0]:
                fail("the failing exchange is not open: " + marked[:200])
            rerun = suite(build, server.url, "--rerun-failed", str(out / "report.json"),
                          "--json", str(out / "rerun.json"))
            ran = sorted(c["id"] for c in json.loads((out / "rerun.json").read_text())["cases"])
            if rerun.returncode != 1 or ran != sorted(c["id"] for c in failed):
                fail(f"--rerun-failed ran {ran}, not the failures {sorted(c['id'] for c in failed)}")
    print(f"self_test.py: {len(failed)} failed cases name their requests, listed first with the exchange open; "
          "--rerun-failed runs exactly them")


# Defect switches that only a case with --restore-cmd can catch: their runs get one.
RESTORE_DEFECTS = {"revocations-not-journaled"}


class ScriptedServer:
    """A server started and controlled by shell commands, as an operator's --restart-cmd and
    --restore-cmd would: restart kills it with SIGKILL; restore stops it, and saves or restores its
    database the way deploy/README.md says (opsync.db only, never revocations.journal)."""

    def __init__(self, binary, scratch, args=()):
        self.port = free_port()
        data, backup, self.pid_file = scratch / "data", scratch / "backup.db", scratch / "pid"
        extra = " ".join(args)
        self.start_cmd = (f"{binary} --data-dir {data} --port {self.port} --log-format none --durability full "
                          f"{extra} >/dev/null 2>&1 & echo $! > {self.pid_file}")
        self.wait_gone = f"while kill -0 $(cat {self.pid_file}) 2>/dev/null; do sleep 0.05; done"
        self.restart = scratch / "restart.sh"
        self.restart.write_text(f"#!/bin/sh\nkill -9 $(cat {self.pid_file})\n{self.wait_gone}\n{self.start_cmd}\n")
        self.restore = scratch / "restore.sh"
        self.restore.write_text(
            "#!/bin/sh\n"
            f"kill -TERM $(cat {self.pid_file})\n{self.wait_gone}\n"
            f'if [ "$1" = save ]; then cp {data}/opsync.db {backup}; '
            f"else rm -f {data}/opsync.db-wal {data}/opsync.db-shm && cp {backup} {data}/opsync.db; fi\n"
            f"{self.start_cmd}\n")
        self.restart.chmod(0o755)
        self.restore.chmod(0o755)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        subprocess.run(["sh", "-c", self.start_cmd], check=True)
        wait_until(lambda: accepts_connections(self.port), f"the server on {self.port} to start")
        return self

    def __exit__(self, *exc):
        subprocess.run(["sh", "-c", f"kill $(cat {self.pid_file}) 2>/dev/null; {self.wait_gone}"])


def recovery(build, out):
    """The durability and restore cases, with real commands that kill, restart and restore a server."""
    with tempfile.TemporaryDirectory() as scratch:
        with ScriptedServer(build / "reference-server" / "opsync-server", pathlib.Path(scratch)) as server:
            run = suite(build, server.url, "--filter", "durability-*", "--restart-cmd", str(server.restart),
                        "--restore-cmd", str(server.restore), "--json", f"{out}/recovery.json")
    report = json.loads((out / "recovery.json").read_text())
    outcomes = {c["id"]: c["outcome"] for c in report["cases"]}
    if run.returncode != 0 or set(outcomes.values()) != {"pass"} or len(outcomes) < 3:
        fail(f"the recovery cases did not all pass: {outcomes}\n{run.stdout[-3000:]}")
    print(f"self_test.py: recovery cases pass with real restarts and restores: {sorted(outcomes)}")


def runner(build, out):
    """The runner never aborts: every bad --restart-cmd / --restore-cmd gives outcome error (or a
    failure, for a restart that restarts nothing), exit 1 and every report written; and the
    options CI recipes lean on (--wait-for-server, --strict-known-failures, known-failures files
    with a byte order mark or a repeated id, a URL of the wrong scheme)."""
    problems = []

    def expect(name, run, code, outcomes, reports_dir):
        if run.returncode != code:
            problems.append(f"{name}: exit {run.returncode}, not {code}\n{run.stdout[-1500:]}{run.stderr[-1500:]}")
        for kind in ("junit.xml", "report.json", "report.html"):
            if not (reports_dir / kind).exists():
                problems.append(f"{name}: {kind} not written")
        for case_id, wanted in outcomes.items():
            got = outcome_of(reports_dir / "report.json", case_id)
            if got != wanted:
                problems.append(f"{name}: {case_id} is {got}, not {wanted}")

    def reports(directory):
        directory.mkdir(parents=True, exist_ok=True)
        return ["--junit", str(directory / "junit.xml"), "--json", str(directory / "report.json"),
                "--html", str(directory / "report.html")]

    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        # Commands that fail, restart nothing, or leave no server behind.
        bad_commands = [
            ("restart-fails", ["--filter", "durability-001", "--restart-cmd", "false"], {"durability-001": "error"}),
            ("restart-restarts-nothing", ["--filter", "durability-001", "--restart-cmd", "true"],
             {"durability-001": "fail"}),
            ("restore-fails", ["--filter", "durability-002", "--filter", "durability-003", "--restore-cmd", "false"],
             {"durability-002": "error", "durability-003": "error"}),
        ]
        for name, args, outcomes in bad_commands:
            with Server(build / "reference-server" / "opsync-server", scratch / name) as server:
                run = suite(build, server.url, *args, *reports(scratch / name / "reports"))
            expect(name, run, 1, outcomes, scratch / name / "reports")
        (scratch / "gone").mkdir()
        with ScriptedServer(build / "reference-server" / "opsync-server", scratch / "gone") as server:
            leaves_none = scratch / "gone" / "kill.sh"
            leaves_none.write_text(f"#!/bin/sh\nkill -9 $(cat {server.pid_file})\n{server.wait_gone}\n")
            leaves_none.chmod(0o755)
            run = suite(build, server.url, "--filter", "durability-001", "--restart-cmd", str(leaves_none),
                        *reports(scratch / "gone" / "reports"))
        expect("restart-leaves-no-server", run, 1, {"durability-001": "error"}, scratch / "gone" / "reports")

        # --wait-for-server: the suite starts first, the server once the suite has found none. The
        # port is held meanwhile by a listener that closes the suite's first connection unanswered:
        # once it has, the suite is waiting; its next tries are refused until the server listens.
        holder = socket.create_server(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        waiting = subprocess.Popen([str(build / "conformance" / "opsync-conformance"), "--server",
                                    f"http://127.0.0.1:{port}", "--filter", "discovery-*", "--wait-for-server", "60",
                                    "--junit", str(scratch / "waited.xml")],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        holder.settimeout(CONDITION_DEADLINE_S)
        try:
            first_try, _ = holder.accept()
            first_try.close()
        except socket.timeout:
            problems.append("--wait-for-server: the suite never tried to connect")
        holder.close()
        with Server(build / "reference-server" / "opsync-server", scratch / "late", port=port):
            output, _ = waiting.communicate(timeout=120)
        if waiting.returncode != 0 or not (scratch / "waited.xml").exists():
            problems.append(f"--wait-for-server: exit {waiting.returncode}\n{output[-1500:]}")

        with Server(build / "reference-server" / "opsync-server", scratch / "lists") as server:
            # A byte order mark before the first id is no part of it.
            bom = scratch / "bom.txt"
            bom.write_bytes(b"\xef\xbb\xbfdiscovery-001  listed with a byte order mark\n")
            run = suite(build, server.url, "--filter", "discovery-001", "--known-failures", str(bom))
            if run.returncode != 0:
                problems.append(f"a known-failures file with a byte order mark: exit {run.returncode}\n{run.stderr}")
            # --strict-known-failures: a listed case that passes fails the run.
            strict = suite(build, server.url, "--filter", "discovery-001", "--known-failures", str(bom),
                           "--strict-known-failures")
            if strict.returncode != 1:
                problems.append(f"--strict-known-failures with a fixed case: exit {strict.returncode}")
            twice = scratch / "twice.txt"
            twice.write_text("discovery-001  one reason\ndiscovery-001  another\n")
            run = suite(build, server.url, "--filter", "discovery-001", "--known-failures", str(twice))
            if run.returncode != 2 or "twice" not in run.stderr:
                problems.append(f"an id listed twice: exit {run.returncode}, {run.stderr.strip()}")
            # Skipped cases are listed in the terminal with their reasons.
            run = suite(build, server.url, "--filter", "durability-001")
            if "skipped durability-001:" not in run.stdout:
                problems.append("the terminal does not list skipped cases:\n" + run.stdout[-1000:])
            # https:// against a plain HTTP port says so.
            run = suite(build, server.url.replace("http://", "https://"), "--filter", "discovery-001")
            if run.returncode != 2 or "plain HTTP" not in run.stderr:
                problems.append(f"https:// against plain HTTP: exit {run.returncode}, {run.stderr.strip()}")
        # http:// against a TLS port says so.
        cert, key = scratch / "cert.pem", scratch / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                        "-days", "1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        with Server(build / "reference-server" / "opsync-server", scratch / "tls",
                    args=["--tls-cert", str(cert), "--tls-key", str(key)]) as server:
            run = suite(build, server.url, "--filter", "discovery-001")
        if run.returncode != 2 or "TLS" not in run.stderr:
            problems.append(f"http:// against TLS: exit {run.returncode}, {run.stderr.strip()}")

        # ERR-026 needs a server with a creation limit: errors-013 runs instead of skipping.
        with Server(build / "reference-server" / "opsync-server", scratch / "limited",
                    args=["--workspace-creations-per-minute", "5"]) as server:
            run = suite(build, server.url, "--filter", "errors-013", "--json", str(scratch / "limited.json"))
        if outcome_of(scratch / "limited.json", "errors-013") != "pass":
            problems.append(f"errors-013 against a creation limit: {outcome_of(scratch / 'limited.json', 'errors-013')}"
                            f"\n{run.stdout[-1500:]}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        fail(f"{len(problems)} problems")
    print("self_test.py: bad commands end in error with every report written; the run options hold")


class NginxFront:
    """Real nginx in front of a server, configured with the files of deploy/nginx as production
    uses them: only the listening port, the certificate and the backend's port are the test's."""

    def __init__(self, scratch, backend_port):
        self.prefix = pathlib.Path(scratch)
        self.port = free_port()
        deploy = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "nginx"
        (self.prefix / "tmp").mkdir(parents=True, exist_ok=True)
        http = (deploy / "opsync-http.conf").read_text()
        if "server 127.0.0.1:8420;" not in http:
            fail("deploy/nginx/opsync-http.conf names no backend on port 8420")
        (self.prefix / "opsync-http.conf").write_text(
            http.replace("server 127.0.0.1:8420;", f"server 127.0.0.1:{backend_port};"))
        cert, key = self.prefix / "cert.pem", self.prefix / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        p = str(self.prefix)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (self.prefix / "nginx.conf").write_text(
            f"{user}worker_processes 1;\ndaemon off;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n  access_log {p}/access.log;\n"
            f"  client_body_temp_path {p}/tmp/body;\n  proxy_temp_path {p}/tmp/proxy;\n"
            f"  fastcgi_temp_path {p}/tmp/fastcgi;\n  uwsgi_temp_path {p}/tmp/uwsgi;\n  scgi_temp_path {p}/tmp/scgi;\n"
            f"  include {p}/opsync-http.conf;\n"
            f"  server {{\n    listen 127.0.0.1:{self.port} ssl;\n    ssl_certificate {cert};\n"
            f"    ssl_certificate_key {key};\n    include {deploy / 'opsync-proxy.conf'};\n  }}\n}}\n")
        self.process = None

    def __enter__(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        p = str(self.prefix)
        self.process = subprocess.Popen([nginx, "-p", p, "-c", f"{p}/nginx.conf", "-e", f"{p}/error.log"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: accepts_connections(self.port), f"nginx to listen (see {p}/error.log)")
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"


def front(build, out):
    """The whole suite through deploy/nginx in front of the reference server (deploy/README.md
    says what the front must do for it to pass)."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        # As deploy/systemd runs it: the address nginx adds is the client's (TRN-073).
        with Server(build / "reference-server" / "opsync-server", scratch / "data",
                    args=["--client-address-header", "X-Real-IP"]) as server, \
                NginxFront(scratch / "nginx", server.port) as nginx:
            run = suite(build, nginx.url, "--insecure", "--json", str(out / "front.json"),
                        "--junit", str(out / "front.xml"))
    if run.returncode != 0:
        fail("the suite fails the reference server behind deploy/nginx:\n" + run.stdout[-6000:])
    print("self_test.py: the suite passes the reference server behind deploy/nginx")


def package(build, out):
    """The Debian package: built by CPack, its dependencies declared, its programs run from it."""
    built = subprocess.run(["cpack", "-G", "DEB", "-B", str(out)], cwd=build, capture_output=True, text=True)
    debs = sorted(out.glob("*.deb"))
    if built.returncode != 0 or not debs:
        fail("cpack failed: " + built.stdout[-2000:] + built.stderr[-2000:])
    deb = debs[-1]
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True).stdout
    for library in ("libssl", "libsqlite3", "libcpp-httplib"):
        if library not in depends:
            fail(f"the package does not declare {library}: Depends: {depends}")
    contents = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    for program in ("opsync-conformance", "opsync-server", "opsync-client", "opsync-sim"):
        if f"./usr/bin/{program}" not in contents:
            fail(f"the package lacks /usr/bin/{program}")
    for never in ("opsync-server-defective", "opsync-broken-server"):
        if never in contents:
            fail(f"the package holds {never}, which must never ship")
    with tempfile.TemporaryDirectory() as root:
        root = pathlib.Path(root)
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        with Server(root / "usr" / "bin" / "opsync-server", root / "data") as server:
            run = suite(build, server.url, "--json", str(root / "report.json"),
                        binary=root / "usr" / "bin" / "opsync-conformance")
            # The installed simulator: a small run on its own core, and the same against the
            # installed server; every checker must hold in both.
            for where in ([], ["--server", server.url]):
                sim = subprocess.run([str(root / "usr" / "bin" / "opsync-sim"), "run", "--seed", "5", "--devices", "2",
                                      "--ops", "40", "--json", *where], capture_output=True, text=True, timeout=300)
                verdict = json.loads(sim.stdout).get("verdict") if sim.stdout.startswith("{") else None
                if sim.returncode != 0 or verdict != "pass":
                    fail(f"the installed opsync-sim run {' '.join(where)} failed (exit {sim.returncode}, "
                         f"verdict {verdict}): {sim.stdout[-1500:]}{sim.stderr[-1500:]}")
    if run.returncode != 0:
        fail("the installed opsync-conformance fails the installed opsync-server:\n" + run.stdout[-3000:])
    print(f"self_test.py: {deb.name} ({deb.stat().st_size // 1024} KiB), Depends: {depends.strip()}; "
          "the installed programs pass the suite and the simulator's checkers")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("defects", "reports", "recovery", "runner", "front", "package"):
        sys.exit(__doc__)
    build, out = pathlib.Path(sys.argv[2]).resolve(), pathlib.Path(sys.argv[3]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    globals()[sys.argv[1]](build, out)


if __name__ == "__main__":
    main()
