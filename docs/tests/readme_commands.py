#!/usr/bin/python3
"""Every command block of the READMEs, run as written in a scratch directory.

    readme_commands.py SOURCE_DIR BUILD_DIR WORK_DIR

A walk-through that no test runs rots: a renamed flag, a file nothing creates, an exit code the
text gets wrong. This test reads every ```sh block of the READMEs below, in order, and runs each
command in a scratch directory that looks like the source tree to it (`scripts/` and `build/`
lead to the real ones), one README per scratch directory, as a user would type them one after
another: variables set by one line hold for the next, servers started by one block serve the
next.

What cannot be typed as written is said here, per command, and nowhere else:
- the values a walk-through prints and a later line shows shortened (`GJx2...`, `opsync_...`)
  are taken from what the earlier command printed, and put in the line before it runs;
- a command that runs until stopped (`scripts/run`, the server) runs in the background until
  its README is done, then gets SIGTERM and must exit 0;
- a command that needs root, systemd or a machine of its own is not run, with the reason; the
  count of such commands is printed.
Every command's exit code must be the one the table below gives (0 unless it says otherwise,
as the README's text does), and some outputs are checked against what the README says they are.
Every block must be in the table, in order, and every table entry must match its block's first
command: a changed walk-through fails until this file says how to run it. Finally, everything
the walk-throughs left in their scratch directories must be ignored by the repository's
.gitignore.

Exits 0 when every command ran as the README says, 1 otherwise.
"""

import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

TIMEOUT_S = 900  # a command: the shrink and the package are the slowest


def wait_for(url, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except Exception:  # not listening yet
            time.sleep(0.2)
    return False


# What each README's blocks need. A block is (its first command, {command prefix: rule}); a rule
# is a dict with any of:
#   exit: the exit code the README's text gives (default 0)
#   background: the URL that answers once the command is up (it runs until the README is done)
#   skip: why the command is not run here
#   capture: {name: regular expression on its stdout, group 1} for later substitutions
#   replace: {text in the line: "{name}" of a capture} applied before it runs
#   stdout: texts its output (standard output or error) must contain
#   then: a shell check run after it in the same directory, which must exit 0
ROOT_ONLY = "installs into /usr and /etc and starts services as root (deploy.package and deploy.files run its parts)"

README = [
    ("scripts/run", {
        "scripts/run        #": {"background": "http://127.0.0.1:8420/v1/info"},
        "scripts/test": {"skip": "runs every test, this one among them (13 minutes)"},
        "scripts/run client": {"stdout": ["opsync-client"]},
        "scripts/run demo": {},
        "scripts/run sim run --seed 7": {"stdout": ["PASS  seed 7"]},
        "scripts/run conformance": {"stdout": ["PASSED"]},
        "scripts/package": {"stdout": ["opsync_"]},
    }),
    ("curl -s http://127.0.0.1:8420/v1/info", {
        "curl -s http://127.0.0.1:8420/v1/info": {"stdout": ['"protocol":"opsync"']},
        "curl -s -X POST": {"capture": {"WS": r'"workspace_id":"([^"]+)"', "TOKEN": r'"owner_token":"([^"]+)"'}},
        "WS=": {"replace": {"UN_t4AEihi8j6D2TJ-3qhw": "{WS}", "opsync_fHxD...": "{TOKEN}"}},
        'curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8420/v1/workspaces/$WS/tokens/self':
            {"stdout": ['"scope":"owner"']},
        'curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8420/v1/workspaces/$WS/ops':
            {"stdout": ['"head_seq":0', '"ops":[]']},
    }),
    ("scripts/package && apt-get install", {"": {"skip": ROOT_ONLY}}),
    ("scripts/run client --help", {
        "scripts/run client --help": {"stdout": ["init", "sync", "conflicts"]},
        "$C init --dir laptop": {"capture": {"WORKSPACE": r"Created workspace (\S+)",
                                             "PASSPHRASE": r"\n    (\S+)\n"}},
        "$C invite --dir laptop": {"capture": {"INVITED": r"token: (\S+)"}},
        "OPSYNC_PASSPHRASE=": {"replace": {"7KQ2-M9XD-...": "{PASSPHRASE}", "GJx2...": "{WORKSPACE}",
                                           "opsync_...": "{INVITED}"}},
        "$C sync --dir laptop  ": {"stdout": ["2 ops up", "1 files up"]},
        "$C sync --dir phone  ": {"stdout": ["2 down", "1 down"]},
        "$C get --dir phone greeting": {"stdout": ["hello"]},
        "$C export --dir phone": {"then": "cmp photo.jpg received/photo.jpg"},
        "$C conflicts --dir phone": {"exit": 1, "stdout": ["winner", "conflict"]},
    }),
    ("scripts/run sim swarm --seeds 20", {
        "scripts/run sim swarm": {"exit": 1, "stdout": ["seed 18 FAILED", "1 failed", "convergence: 1",
                                                        "nothing_lost: 1"],
                                  "then": "test -s failures/bug-seed-18-forget-lost-uploads.json && "
                                          "test -s failures/swarm.json"},
    }),
    ("build/release/simulator/opsync-sim replay failures/bug-seed-18-forget-lost-uploads.json", {
        "": {"stdout": ["reproduced: the same 17162 events, trace 89856c6a", "convergence", "nothing_lost"]},
    }),
    ("build/release/simulator/opsync-sim shrink", {"": {"stdout": ["small-18.json still fails convergence"]}}),
    ("build/release/simulator/opsync-sim render small-18.json", {"": {"then": "grep -q 'trace-data' trace.html"}}),
    ("build/release/simulator/opsync-sim run --server", {
        "build/release/simulator/opsync-sim import": {"stdout": ["answers every request"]},
        "build/release/simulator/opsync-sim replay field.json": {"then": "test -s field.html"},
    }),
    ("cmake -S . -B build/release", {
        "cmake -S . -B build/release": {"in_source": True},
        "build/release/protocol/protocol_tests": {"in_source": True, "stdout": ["No errors detected"]},
    }),
]

CONFORMANCE = [
    ("scripts/run conformance --help", {
        "": {"before": "opsync-server --port 8080 --data-dir server-8080 --log-format none"},
        "scripts/run conformance --help": {"stdout": ["--server"]},
        "opsync-conformance --server http://127.0.0.1:8080": {"stdout": ["PASSED"]},
        "opsync-conformance --server https://sync.example.com": {
            "skip": "needs your own server's name and the CA that signed its certificate"},
    }),
]

SIMULATOR = [
    ("scripts/run sim run --seed 7", {
        "": {"before": "opsync-server --port 8420 --data-dir server-8420 --log-format none"},
        "scripts/run sim run --seed 7": {"stdout": ["PASS  seed 7"]},
        "scripts/run sim swarm --seeds 100": {},
        "scripts/run sim swarm --seeds 20": {"exit": 1, "then": "test -s failures/bug-seed-18-forget-lost-uploads.json"},
        "scripts/run sim replay": {"stdout": ["reproduced"]},
        "scripts/run sim shrink": {"then": "test -s small.json"},
        "scripts/run sim render": {"then": "test -s trace.html"},
        "scripts/run sim run --server": {},
        "scripts/run sim import": {"skip": "needs traces of real devices: README.md's walk makes and imports them"},
        "scripts/run sim certify-client": {
            "skip": "needs the source tree's clients/python (python_client.certify runs the same certification)"},
    }),
    ("kubectl wait", {"": {"skip": "needs a Kubernetes cluster running the Job above"}}),
    ("scripts/run sim certify-client --adapter build/release/reference-client/opsync-client-adapter", {
        "scripts/run sim certify-client --adapter build/": {"stdout": ["PASSED"]},
        "scripts/run sim certify-client --adapter \"python3": {
            "skip": "needs the source tree's clients/python (python_client.certify runs the same certification)"},
        "scripts/run sim certify-client --adapter ./my-adapter": {"skip": "needs an adapter of your own"},
        "scripts/run sim certify-client --list": {"stdout": ["client-001", "swarm-001"]},
        "scripts/run sim certify-client --coverage": {"stdout": ["every client-side MUST and MUST NOT requirement"]},
    }),
]

DEPLOY = [
    ("apt-get install ./build/package/opsync_*.deb", {"": {"skip": ROOT_ONLY}}),
    ("curl -s -X POST -H \"Authorization: Bearer $(cat /etc/opsync/registration-credential)\"",
     {"": {"skip": "reads the credential of an installed service from /etc (deploy.files runs the same request "
                   "against the unit's command line)"}}),
    ("opsync-client init --dir laptop --server https://sync.example.com", {
        "": {"skip": "needs a server of your own behind its name (cli/closed_registration_first_device_through_init "
                     "runs the same join)"}}),
]

READMES = [("README.md", README), ("conformance/README.md", CONFORMANCE), ("simulator/README.md", SIMULATOR),
           ("deploy/README.md", DEPLOY), ("reference-client/README.md", [])]


def blocks_of(text):
    """The commands of each ```sh block: comment lines dropped, continuation lines joined."""
    blocks, current, inside = [], None, False
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append(current)
                inside = False
            elif line.strip() == "```sh":
                inside, current = True, []
            continue
        if not inside:
            continue
        if current and current[-1].endswith("\\"):
            current[-1] = current[-1][:-1].rstrip() + " " + line.strip()
        elif line.strip() and not line.lstrip().startswith("#"):
            current.append(line.strip())
    return blocks


def rule_for(rules, command):
    best = None
    for prefix, rule in rules.items():
        if command.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, rule)
    return best[1] if best else {}


class Session:
    """One README's commands in one scratch directory, with the environment they build up."""

    def __init__(self, source, build, scratch, problems):
        self.source, self.build, self.scratch, self.problems = source, build, scratch, problems
        scratch.mkdir(parents=True)
        (scratch / "scripts").symlink_to(source / "scripts")
        (scratch / "build").symlink_to(build.parent)
        self.glue = {"scripts", "build", ".env"}
        programs = [build / "reference-server", build / "reference-client", build / "conformance", build / "simulator"]
        self.env = dict(os.environ, OPSYNC_BUILD_ROOT=str(build.parent),
                        PATH=os.pathsep.join(map(str, programs)) + os.pathsep + os.environ["PATH"])
        for name in list(self.env):
            if name.startswith("OPSYNC_") and name != "OPSYNC_BUILD_ROOT":
                del self.env[name]
        self.captured = {}
        self.background = []
        self.skipped = 0
        self.ran = 0

    def fail(self, where, what, result=None):
        detail = ""
        if result is not None:
            detail = f"\n    stdout: {result.stdout[-1500:]!r}\n    stderr: {result.stderr[-1500:]!r}"
        self.problems.append(f"{where}: {what}{detail}")

    def start(self, where, command, url):
        process = subprocess.Popen(["bash", "-c", "exec " + command], cwd=self.scratch, env=self.env,
                                   stdout=open(self.scratch / ".env.background.log", "a"), stderr=subprocess.STDOUT)
        self.background.append((where, process))
        if not wait_for(url, 600):
            self.fail(where, f"`{command}` did not come up at {url}")

    def run(self, where, command, rule):
        if "skip" in rule:
            print(f"  not run: {command[:90]}\n    ({rule['skip']})")
            self.skipped += 1
            return
        for text, name in rule.get("replace", {}).items():
            value = self.captured.get(name.strip("{}"))
            if value is None:
                return self.fail(where, f"nothing printed earlier gives {name} for `{command}`")
            command = command.replace(text, value)
        if "background" in rule:
            self.ran += 1
            return self.start(where, command, rule["background"])
        cwd = self.source if rule.get("in_source") else self.scratch
        env_file = self.scratch / ".env.after"
        # set -a: a line's plain assignments (C=..., WS=...) hold for the lines after it, as in a terminal.
        script = f"set -a\n{command}\nstatus=$?\nenv -0 > {shlex.quote(str(env_file))}\nexit $status\n"
        started_s = time.monotonic()
        result = subprocess.run(["bash", "-c", script], cwd=cwd, env=self.env, capture_output=True, text=True,
                                timeout=TIMEOUT_S)
        self.ran += 1
        print(f"  exit {result.returncode} in {time.monotonic() - started_s:5.1f} s: {command[:100]}")
        if env_file.exists():
            self.env = dict(item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
            env_file.unlink()
        expected = rule.get("exit", 0)
        if result.returncode != expected:
            return self.fail(where, f"`{command}` exited {result.returncode}, the README says {expected}", result)
        for text in rule.get("stdout", []):
            # Both streams: a swarm's seed lines and Boost.Test's verdict go to standard error.
            if text not in result.stdout + result.stderr:
                self.fail(where, f"`{command}` printed no {text!r}", result)
        for name, pattern in rule.get("capture", {}).items():
            found = re.search(pattern, result.stdout)
            if not found:
                self.fail(where, f"`{command}` printed nothing for {name} ({pattern})", result)
            else:
                self.captured[name] = found.group(1)
        if "then" in rule:
            check = subprocess.run(["bash", "-c", rule["then"]], cwd=self.scratch, env=self.env, capture_output=True,
                                   text=True, timeout=60)
            if check.returncode != 0:
                self.fail(where, f"after `{command}`: `{rule['then']}` does not hold", check)

    def close(self):
        for where, process in self.background:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                code = "none (killed after 60 s)"
            if code != 0:
                self.fail(where, f"the program started in the background exited {code} on SIGTERM")

    def check_ignored(self, readme):
        """Whatever the commands left here is ignored by the repository's .gitignore."""
        left = [p for p in self.scratch.iterdir() if p.name not in self.glue and not p.name.startswith(".env")]
        for path in left:
            name = path.name + ("/" if path.is_dir() else "")
            ignored = subprocess.run(["git", "-C", str(self.source), "check-ignore", "-q", "--no-index", name])
            if ignored.returncode != 0:
                self.problems.append(f"{readme}: the walk-through leaves {name}, which .gitignore does not ignore")


def main(arguments):
    if len(arguments) != 3:
        sys.exit(__doc__)
    source, build, work = (pathlib.Path(a).resolve() for a in arguments)
    if build.name != "release":
        sys.exit(f"the READMEs run build/release/...; {build} is not a directory called release")
    subprocess.run(["rm", "-rf", str(work)], check=True)
    problems, skipped, ran = [], 0, 0
    for readme, table in READMES:
        blocks = blocks_of((source / readme).read_text())
        print(f"{readme}: {len(blocks)} command blocks")
        if len(blocks) != len(table):
            problems.append(f"{readme} has {len(blocks)} command blocks and this test knows {len(table)}: "
                            "say in docs/tests/readme_commands.py how to run the new ones")
            continue
        session = Session(source, build, work / readme.replace("/", "_"), problems)
        try:
            for number, (commands, (first, rules)) in enumerate(zip(blocks, table), start=1):
                where = f"{readme}, block {number}"
                if not commands or not commands[0].startswith(first):
                    problems.append(f"{where} starts with {commands[:1]}, not {first!r}: the block changed")
                    continue
                block_rule = rules.get("", {})
                if "before" in block_rule:
                    port = re.search(r"--port (\d+)", block_rule["before"]).group(1)
                    session.glue.add(re.search(r"--data-dir (\S+)", block_rule["before"]).group(1))
                    session.start(where, block_rule["before"], f"http://127.0.0.1:{port}/v1/info")
                for command in commands:
                    session.run(where, command, {**{k: v for k, v in block_rule.items() if k != "before"},
                                                 **rule_for({k: v for k, v in rules.items() if k}, command)})
        finally:
            session.close()
        session.check_ignored(readme)
        skipped += session.skipped
        ran += session.ran
    for problem in problems:
        print(problem)
    print(f"README commands: {ran} run, {skipped} not run (each with its reason above): "
          + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
