#!/usr/bin/python3
"""Tests of `opsync-sim certify-client` that need processes or a browser.

    check_certify.py OPSYNC_SIM ADAPTER MODE

ADAPTER is the path of opsync-client-adapter. MODE:

    reports            the reference client passes the whole certification; the JUnit report
                       validates against conformance/schema/junit.xsd, the JSON report against
                       conformance/schema/report.schema.json, and the HTML page opens in headless
                       Chromium with every case in its DOM (screenshot in OUT_DIR, default a
                       temporary directory: docs/certify-client-report.png is one)
    variants           every broken variant of the reference client fails a MUST case that its
                       row below names, and the clean client passes those cases; one failure's bug
                       file names the adapter, replays against it, shrinks and renders
    adapter-errors     adapters that break the adapter protocol in each way end their case in
                       `error` with the rule and their last standard-error lines; never a pass,
                       never a crash
    versus-in-process  a swarm through the adapter gives the in-process devices' verdict and
                       trace hash seed for seed (the swarm runs each seed twice and fails one whose
                       twin's trace differs); OPSYNC_CERTIFY_COMPARE_SEEDS seeds, 12 by default
                       (under a minute; 200 compared equal in 10 minutes on 2 cores)
    coverage           every client-side MUST has a case or a reason (the coverage check passes)

Exits 0 on success, 1 with the reason otherwise, 77 (skipped) when Chromium is missing.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

SOURCE = pathlib.Path(__file__).resolve().parents[2]
FAULTY = SOURCE / "simulator" / "tools" / "faulty_adapter.py"
sys.path.insert(0, str(SOURCE / "conformance" / "tests"))
import self_test as report_checks  # noqa: E402  (the server suite's report checks)

# Each variant, the MUST cases that catch it (a subset is enough: at least one must fail).
VARIANT_CASES = {
    "no-dedupe": ["client-006", "client-007"],
    "wall-clock": ["client-003", "client-004", "client-005"],
    "forget-lost-uploads": ["client-006"],
    "plaintext": ["client-008"],
    "no-file-delete": ["client-019"],
    "no-copy-retention": ["client-016"],
    "no-copy-expiry": ["client-019", "client-022"],
    "wall-clock-waits": ["client-013"],
}


def fail(message):
    print(f"check_certify.py: {message}", file=sys.stderr)
    sys.exit(1)


def certify(sim, adapter_cmd, *args, out=None, timeout=900):
    command = [sim, "certify-client", "--adapter", adapter_cmd, *args]
    if out is not None:
        command += ["--out", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if run.returncode not in (0, 1):
        fail(f"{' '.join(command)} exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return run


def read_report(path):
    report = json.loads(pathlib.Path(path).read_text())
    if "client" not in report or "server" in report:
        fail(f"{path}: a client's report names its subject as client, and has no server member")
    return report


def failed_must_cases(report):
    return [c["id"] for c in report["cases"] if c["level"] == "MUST" and c["outcome"] == "fail"]


def check_reports(sim, adapter, out):
    if not shutil.which("chromium"):
        print("check_certify.py: chromium is not installed (Debian package chromium); skipped")
        sys.exit(77)
    run = certify(sim, adapter, "--json", f"{out}/report.json", "--junit", f"{out}/junit.xml",
                  "--html", f"{out}/report.html", out=out / "failures")
    if run.returncode != 0:
        fail("the reference client fails its certification:\n" + run.stdout[-4000:])
    read_report(out / "report.json")  # names a client, not a server
    # The checks of the server suite's reports, shared: one format for both.
    report, shown = report_checks.check_report_files(out, page_must_show=("Client under test",))
    schema = json.loads((SOURCE / "conformance" / "schema" / "report.schema.json").read_text())
    import jsonschema
    for broken in ({k: v for k, v in report.items() if k != "client"},
                   dict(report, server={"url": "x", "name": "x", "version": "x", "capabilities": []})):
        if not list(jsonschema.Draft202012Validator(schema).iter_errors(broken)):
            fail("the report schema accepts a report without exactly one subject")
    ids = [c["id"] for c in report["cases"]]
    if len(ids) < 25 or "swarm-001" not in ids or any(c["outcome"] != "pass" for c in report["cases"]):
        fail(f"expected every case to pass, swarm-001 included: {[(c['id'], c['outcome']) for c in report['cases']]}")
    print(f"check_certify.py: {len(ids)} cases passed; report.json, junit.xml and report.html valid; "
          f"{shown} cases in Chromium's DOM; screenshot {out / 'report.png'}")


def check_variants(sim, adapter, out):
    cases = sorted({c for ids in VARIANT_CASES.values() for c in ids})
    filters = [arg for c in cases for arg in ("--filter", c)]
    clean = certify(sim, adapter, *filters, "--json", f"{out}/clean.json", out=out / "clean")
    if clean.returncode != 0 or failed_must_cases(read_report(out / "clean.json")):
        fail("the clean reference client fails the variants' cases:\n" + clean.stdout[-3000:])
    for variant, ids in VARIANT_CASES.items():
        report_path = out / f"{variant}.json"
        run = certify(sim, f"{adapter} --variant {variant}", *[a for c in ids for a in ("--filter", c)],
                      "--json", str(report_path), out=out / variant)
        caught = failed_must_cases(read_report(report_path))
        if run.returncode != 1 or not caught:
            fail(f"variant {variant} passes {ids} (exit {run.returncode}):\n{run.stdout[-3000:]}")
        print(f"check_certify.py: {variant} fails {', '.join(caught)}")
    # A failure through an adapter is a bug file that names the adapter, replays against it to the
    # same trace, shrinks, and renders.
    bug = out / "no-dedupe" / "client-006.json"
    named = json.loads(bug.read_text()).get("client", {}).get("adapter", "")
    if "--variant no-dedupe" not in named:
        fail(f"{bug} does not name the adapter it ran: {named!r}")
    for step in (["replay", str(bug)], ["shrink", str(bug), "-o", str(out / "small.json"), "--tries", "60"],
                 ["replay", str(out / "small.json")], ["render", str(out / "small.json"), "-o", str(out / "page.html")]):
        run = subprocess.run([sim, *step], capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            fail(f"opsync-sim {' '.join(step)} exited {run.returncode}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    page = (out / "page.html").read_text() if (out / "page.html").exists() else ""
    if 'id="diagram"' not in page or 'id="trace-data"' not in page:  # drawn in a browser by check_render.py
        fail("render wrote no page with a diagram and its trace")
    before, after = (json.loads(path.read_text())["event_count"] for path in (bug, out / "small.json"))
    print(f"check_certify.py: the no-dedupe bug file replays against its adapter, shrinks from {before} to "
          f"{after} events, replays again and renders")


def check_adapter_errors(sim, adapter, out):
    # The adapter does not start as the protocol says: one line, exit 2, no case runs.
    run = subprocess.run([sim, "certify-client", "--adapter", f"python3 {FAULTY} preflight {adapter}",
                          "--out", str(out / "preflight")], capture_output=True, text=True, timeout=120)
    if run.returncode != 2 or "ADP-020" not in run.stderr or "faulty adapter: preflight" not in run.stderr:
        fail(f"an adapter that answers start without ready: exit {run.returncode}, {run.stderr[-1500:]}")
    expected_rule = {"malformed": "ADP-080", "unknown-type": "ADP-080", "exit": "ADP-080",
                     "hang": "ADP-011", "second-yield": "ADP-010"}
    for fault, rule in expected_rule.items():
        report_path = out / f"{fault}.json"
        run = certify(sim, f"python3 {FAULTY} {fault} {adapter}", "--filter", "client-006",
                      "--turn-timeout-ms", "2000", "--json", str(report_path), out=out / fault, timeout=300)
        report = read_report(report_path)
        case = report["cases"][0]
        if run.returncode != 1 or case["outcome"] != "error":
            fail(f"fault {fault}: exit {run.returncode}, outcome {case['outcome']} (expected 1, error)")
        if rule not in case["note"] or f"faulty adapter: {fault}" not in case["note"]:
            fail(f"fault {fault}: the note does not name {rule} and show the adapter's standard error:\n{case['note']}")
        print(f"check_certify.py: {fault}: error, {case['note'].splitlines()[0][:150]}")


def swarm_verdicts(sim, seeds, out, *adapter_args):
    path = out / "verdicts.jsonl"
    run = subprocess.run([sim, "swarm", "--seeds", str(seeds), "--jobs", "2", "--out", str(out),
                          "--verdicts", str(path), *adapter_args], capture_output=True, text=True, timeout=1800)
    if run.returncode not in (0, 1):
        fail(f"swarm {' '.join(adapter_args)} exited {run.returncode}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    verdicts = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        verdicts[entry["seed"]] = (entry["verdict"], entry["hash"])
    if len(verdicts) != seeds:
        fail(f"the swarm wrote {len(verdicts)} verdicts for {seeds} seeds")
    return verdicts


def check_versus_in_process(sim, adapter, out, seeds):
    in_process = swarm_verdicts(sim, seeds, out / "in-process")
    # The swarm runs every seed twice and fails a seed whose twin differs in trace hash, so equal
    # verdicts also say that the adapter's traces are stable run to run.
    through = swarm_verdicts(sim, seeds, out / "adapter", "--adapter", adapter)
    differ = [s for s in in_process if in_process[s] != through[s]]
    if differ:
        fail(f"{len(differ)} of {seeds} seeds differ between in-process devices and the adapter, "
             f"first {differ[0]}: {in_process[differ[0]]} vs {through[differ[0]]}")
    failed = sum(1 for v, _ in in_process.values() if v != "pass")
    print(f"check_certify.py: {seeds} seeds, same verdict and trace hash in-process and through the adapter "
          f"({failed} failing seeds among them), each run twice")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sim, adapter, mode = sys.argv[1:4]
    keep = pathlib.Path(sys.argv[4]) if len(sys.argv) > 4 else None
    with tempfile.TemporaryDirectory() as scratch:
        out = keep or pathlib.Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        if mode == "reports":
            check_reports(sim, adapter, out)
        elif mode == "variants":
            check_variants(sim, adapter, out)
        elif mode == "adapter-errors":
            check_adapter_errors(sim, adapter, out)
        elif mode == "versus-in-process":
            check_versus_in_process(sim, adapter, out, int(os.environ.get("OPSYNC_CERTIFY_COMPARE_SEEDS", "12")))
        elif mode == "coverage":
            run = subprocess.run([sim, "certify-client", "--coverage", "--coverage-json", str(out / "coverage.json")],
                                 capture_output=True, text=True, timeout=60)
            problems = json.loads((out / "coverage.json").read_text())["problems"]
            if run.returncode != 0 or problems:
                fail(f"coverage problems: {problems}\n{run.stdout[-2000:]}")
            print("check_certify.py: " + run.stdout.strip().splitlines()[-1])
        else:
            sys.exit(__doc__)


if __name__ == "__main__":
    main()
