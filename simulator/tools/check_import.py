#!/usr/bin/python3
"""opsync-client --trace and opsync-sim import: the README's two-device walk, recorded and replayed.

    check_import.py OPSYNC_SIM OPSYNC_CLIENT OPSYNC_SERVER OPSYNC_BROKEN_SERVER [--keep DIR]

1. Runs the walk of the README ("Two devices on one machine") against opsync-server with
   --trace on every command of both devices. No secret (tokens, the password, the passphrase)
   is in either trace.
2. opsync-sim import turns the two traces into a bug file that matches the schema; the reference
   core answers every request as the server did (exit 0); the file replays to its trace hash
   and renders.
3. The same walk against opsync-broken-server --defect flaky-writes (503 on every third write):
   the import fails field_answers, naming a request the reference core answers.
4. A trace of another format, or a damaged line, is refused with one line naming the file and
   the line.
5. A device traced only from some command after its init (the README: any command with --dir):
   the import passes, saying how many answers it could not compare, and replays.
--keep DIR keeps the two bug files there (how simulator/scenarios/imported-*.json were made).
Exits 0 when all of this holds, 1 otherwise.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
PASSWORD = "choose one"


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


def walk(client, url, work):
    """The README's walk, every command traced. Returns the secrets it saw and the trace files."""
    env = dict(os.environ, OPSYNC_PASSWORD=PASSWORD)
    laptop, phone = os.path.join(work, "laptop"), os.path.join(work, "phone")
    traces = {laptop: os.path.join(work, "laptop.trace"), phone: os.path.join(work, "phone.trace")}

    def c(*arguments, device, extra_env=None):
        command = [client, *arguments, "--dir", device, "--trace", traces[device]]
        return subprocess.run(command, capture_output=True, text=True, env=dict(env, **(extra_env or {})),
                              timeout=120, check=False)

    secrets = [PASSWORD]
    created = c("init", "--server", url, "--new-workspace", "--json", device=laptop)
    if created.returncode != 0:
        return secrets, list(traces.values()), f"init failed: {created.stderr}"
    passphrase = json.loads(created.stdout)["passphrase"]
    secrets.append(passphrase)
    invited = c("invite", "--json", device=laptop)
    if invited.returncode != 0:  # a flaky server may refuse once; the user asks again
        invited = c("invite", "--json", device=laptop)
    if invited.returncode != 0:
        return secrets, list(traces.values()), f"invite failed: {invited.stderr}"
    invitation = json.loads(invited.stdout)
    secrets.append(invitation["token"])
    joined = c("init", "--server", url, "--workspace", invitation["workspace_id"], "--token", invitation["token"],
               device=phone, extra_env={"OPSYNC_PASSPHRASE": passphrase})
    if joined.returncode != 0:
        joined = c("init", "--server", url, "--workspace", invitation["workspace_id"], "--token",
                   invitation["token"], device=phone, extra_env={"OPSYNC_PASSPHRASE": passphrase})
    photo = os.path.join(work, "photo.jpg")
    pathlib.Path(photo).write_bytes(bytes(range(256)) * 12)
    c("put", "greeting", "hello", device=laptop)
    c("attach", "greeting", photo, device=laptop)
    c("sync", device=laptop)
    c("sync", device=phone)
    c("get", "greeting", device=phone)
    c("export", "greeting", os.path.join(work, "received"), device=phone)
    c("put", "greeting", "from the laptop", device=laptop)
    c("put", "greeting", "from the phone", device=phone)
    for device in (laptop, phone, laptop):
        c("sync", device=device)
    c("conflicts", device=phone)
    c("status", device=phone)
    # The devices' own secret files hold what must not travel.
    for device in (laptop, phone):
        state = pathlib.Path(device, "device.json")
        if state.exists():
            for value in json.loads(state.read_text()).values():
                if isinstance(value, str) and len(value) >= 16:
                    secrets.append(value)
    return secrets, list(traces.values()), None


def sim(binary, *arguments):
    return subprocess.run([binary, *arguments], capture_output=True, text=True, timeout=300, check=False)


def main(arguments):
    keep = None
    if "--keep" in arguments:
        at = arguments.index("--keep")
        keep = arguments[at + 1]
        arguments = arguments[:at] + arguments[at + 2:]
    if len(arguments) != 4:
        print(__doc__)
        return 2
    simulator, client, server_binary, broken_binary = arguments
    problems = []

    def expect(condition, what, result=None):
        if not condition:
            detail = f"\n  stdout: {result.stdout.strip()[:800]}\n  stderr: {result.stderr.strip()[:400]}" if result else ""
            problems.append(what + detail)

    with tempfile.TemporaryDirectory(prefix="opsync-import-") as work:
        for name, command, passes in (
                ("server", [server_binary, "--data-dir", os.path.join(work, "data"), "--durability", "process",
                            "--log-format", "none"], True),
                ("flaky", [broken_binary, "--defect", "flaky-writes"], False)):
            run_dir = os.path.join(work, name)
            os.mkdir(run_dir)
            process, url = start(command, work, name)
            try:
                secrets, traces, failed = walk(client, url, run_dir)
            finally:
                process.terminate()
                process.wait(timeout=30)
            expect(failed is None, f"the walk against {name}: {failed}")
            texts = [pathlib.Path(t).read_text() for t in traces if os.path.exists(t)]
            expect(len(texts) == 2 and all(t.count("\n") > 5 for t in texts), f"{name}: the traces are missing or short")
            for secret in secrets:
                expect(not any(secret in t for t in texts), f"{name}: a secret is in a trace: {secret[:6]}...")
            bug = os.path.join(run_dir, "walk.json")
            r = sim(simulator, "import", *traces, "-o", bug)
            if passes:
                expect(r.returncode == 0 and "answers every request as the field server did" in r.stdout,
                       "the walk against opsync-server does not import as answered alike", r)
            else:
                expect(r.returncode == 1 and "field_answers" in r.stdout and "503" in r.stdout,
                       "the walk against the flaky server does not fail field_answers", r)
            if not os.path.exists(bug):
                continue
            v = subprocess.run([sys.executable, str(HERE / "check_bug_files.py"), bug], capture_output=True,
                               text=True, check=False)
            expect(v.returncode == 0, f"{name}: the imported bug file does not match the schema", v)
            r = sim(simulator, "replay", bug)
            expect(r.returncode == 0 and r.stdout.startswith("reproduced"), f"{name}: the import does not replay", r)
            r = sim(simulator, "render", bug, "-o", os.path.join(run_dir, "walk.html"))
            expect(r.returncode == 0, f"{name}: the import does not render", r)
            r = sim(simulator, "shrink", bug, "-o", os.path.join(run_dir, "small.json"))
            expect(r.returncode == 2, f"{name}: shrink should refuse imported traces", r)
            if keep:
                os.makedirs(keep, exist_ok=True)
                shutil.copyfile(bug, os.path.join(keep, f"walk-{name}.json"))

        # A device traced from after its init: its token was issued before the trace begins.
        mid = os.path.join(work, "mid")
        os.mkdir(mid)
        process, url = start([server_binary, "--data-dir", os.path.join(work, "mid-data"), "--durability", "process",
                              "--log-format", "none"], work, "mid-server")
        try:
            env = dict(os.environ, OPSYNC_PASSWORD=PASSWORD)
            laptop, trace = os.path.join(mid, "laptop"), os.path.join(mid, "laptop.trace")
            steps = [["init", "--dir", laptop, "--server", url, "--new-workspace"],
                     ["put", "--dir", laptop, "greeting", "hello"],
                     ["sync", "--dir", laptop, "--trace", trace],
                     ["put", "--dir", laptop, "greeting", "again", "--trace", trace],
                     ["sync", "--dir", laptop, "--trace", trace]]
            for step in steps:
                done = subprocess.run([client, *step], capture_output=True, text=True, env=env, timeout=120, check=False)
                expect(done.returncode == 0, f"the mid-life walk: {' '.join(step[:1])} failed", done)
        finally:
            process.terminate()
            process.wait(timeout=30)
        bug = os.path.join(mid, "mid.json")
        r = sim(simulator, "import", trace, "-o", bug)
        expect(r.returncode == 0 and "answers not compared" in r.stdout and "field_answers" not in r.stdout,
               "a trace that starts after init should import without a false failure", r)
        if os.path.exists(bug):
            r = sim(simulator, "replay", bug)
            expect(r.returncode == 0 and r.stdout.startswith("reproduced"), "the mid-life import does not replay", r)

        # Damaged and foreign traces.
        good = pathlib.Path(work, "server", "laptop.trace").read_text().splitlines()
        cases = {
            "format.trace": ([good[0].replace("opsync-client-trace/1", "opsync-client-trace/9")] + good[1:],
                             "opsync-client-trace/9"),
            "cut.trace": (good[:3] + [good[3][:40]] + good[4:], "line 4"),
            "headless.trace": (good[1:], "line 1"),
        }
        for file, (lines, named) in cases.items():
            path = os.path.join(work, file)
            pathlib.Path(path).write_text("\n".join(lines) + "\n")
            r = sim(simulator, "import", path, "-o", os.path.join(work, "x.json"))
            expect(r.returncode == 2 and r.stderr.count("\n") == 1 and named in r.stderr and file in r.stderr,
                   f"import of {file} should fail naming {named}", r)
    for problem in problems:
        print(problem)
    print("opsync-client --trace and opsync-sim import of the two-device walk: " + ("ok" if not problems else "FAILED"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
