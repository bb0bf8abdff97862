"""The Python client and the reference client (opsync-client) on one workspace, through a real
opsync-server, both driven by their command lines: each creates the workspace once while the
other joins it, both write (the same keys concurrently, files on both sides), both sync, and
both end with the same values, conflicts and file contents."""

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import shutil
import unittest

from support import HERE, PASSWORD, ServerProcess, client_binary

from opsync.client import Client

PYTHON_CLI = [sys.executable, os.path.join(HERE, "..", "opsync_client.py")]
COMMAND_TIMEOUT_S = 60
KILLS_MAX = 20


class Cli:
    """One device driven through a command line."""

    def __init__(self, name, argv, directory, env):
        self.name = name
        self.argv = argv
        self.directory = directory
        self.env = env

    def run(self, *args, expect=0, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        done = subprocess.run([*self.argv, args[0], "--dir", self.directory, *args[1:]], env=env,
                              capture_output=True, timeout=COMMAND_TIMEOUT_S)
        if expect is not None and done.returncode != expect:
            raise AssertionError(f"{self.name} {' '.join(args)}: exit {done.returncode}, expected {expect}\n"
                                 f"stdout: {done.stdout.decode()}\nstderr: {done.stderr.decode()}")
        return done

    def json(self, *args, expect=0):
        return json.loads(self.run(*args, "--json", expect=expect).stdout)

    def sync(self):
        return self.json("sync")

    def state(self):
        """Every present key as (value, file ids) and every conflicted key's losing sides as
        {op id: (type, value)}: what both clients must agree on, in one form."""
        if self.argv == PYTHON_CLI:
            dump = json.loads(self.run("dump").stdout)["keys"]
            present = {key: (b64decode(entry["value"]), sorted(entry["files"]))
                       for key, entry in dump.items() if entry["present"]}
            conflicts = {key: {side["id"]: (side["type"], b64decode(side["value"]) if side["value"] is not None
                                            else None) for side in entry["conflicts"]}
                         for key, entry in dump.items() if entry["conflicts"]}
            return present, conflicts
        present = {}
        for key in self.json("list"):
            got = self.json("get", key)
            present[key] = (got["value"].encode("utf-8"), sorted(f["id"] for f in got["files"]))
        # `conflicts` exits 1 when there are any, 0 when there are none (opsync-client --help).
        listed = self.run("conflicts", "--json", expect=None)
        entries = json.loads(listed.stdout)
        if listed.returncode != (1 if entries else 0):
            raise AssertionError(f"{self.name} conflicts: exit {listed.returncode} with {len(entries)} conflicted keys")
        conflicts = {entry["key"]: {side["op_id"]: (side["type"], side["value"].encode("utf-8")
                                                    if side["type"] == "put" else None)
                                    for side in entry["conflicts"]}
                     for entry in entries}
        return present, conflicts


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(block_size=4)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="opsync-py-interop-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.env = dict(os.environ, OPSYNC_PASSWORD=PASSWORD)
        self.env.pop("OPSYNC_PY_DEFECT", None)

    def device(self, kind, name):
        argv = PYTHON_CLI if kind == "python" else [client_binary()]
        return Cli(f"{kind}:{name}", argv, os.path.join(self.root, name), self.env)

    def file(self, name, size):
        path = os.path.join(self.root, name)
        with open(path, "wb") as handle:
            handle.write(os.urandom(size))
        return path

    def pair(self, creator_kind, joiner_kind):
        creator = self.device(creator_kind, "creator")
        joiner = self.device(joiner_kind, "joiner")
        created = creator.json("init", "--server", self.server.url, "--new-workspace")
        invitation = creator.json("invite")
        self.assertEqual(invitation["workspace_id"], created["workspace_id"])
        joiner.run("init", "--server", self.server.url, "--workspace", invitation["workspace_id"],
                   "--token", invitation["token"], "--json",
                   extra_env={"OPSYNC_PASSPHRASE": created["passphrase"]})
        return creator, joiner

    def exercise(self, creator, joiner):
        creator.run("put", "greeting", "hello from the creator")
        big = self.file("big.bin", 1_300_000)  # more than one chunk at the server's 1 MiB
        creator.run("attach", "greeting", big, "--json")
        creator.run("put", "doomed", "v1")
        self.assertTrue(creator.sync()["ok"])
        report = joiner.sync()
        self.assertTrue(report["ok"])
        self.assertEqual(report["files_down"], 1)
        # Concurrent writes to one key, a delete concurrent with a put, files on both sides.
        creator.run("put", "shared", "creator's edit")
        joiner.run("put", "shared", "joiner's edit")
        small = self.file("small.txt", 10)
        joiner.run("attach", "shared", small, "--json")  # still without seeing the creator's edit
        joiner.run("delete", "doomed")
        creator.run("put", "doomed", "v2, concurrent with the delete")
        empty = self.file("empty.txt", 0)
        creator.run("attach", "greeting", empty, "--json")
        for device in (joiner, creator, joiner):
            self.assertTrue(device.sync()["ok"])
        present, conflicts = creator.state()
        self.assertEqual((present, conflicts), joiner.state())
        self.assertEqual(sorted(present), ["doomed", "greeting", "shared"])
        self.assertEqual(present["doomed"][0], b"v2, concurrent with the delete")
        self.assertEqual(len(present["greeting"][1]), 2)
        self.assertEqual(sorted(conflicts), ["doomed", "shared"], "the losing sides stay visible")
        self.assertEqual([side[0] for side in conflicts["doomed"].values()], ["delete"])
        # A later write resolves the conflict, on both.
        joiner.run("put", "shared", "resolved")
        self.assertTrue(joiner.sync()["ok"])
        self.assertTrue(creator.sync()["ok"])
        present, conflicts = creator.state()
        self.assertEqual((present, conflicts), joiner.state())
        self.assertEqual(present["shared"][0], b"resolved")
        self.assertNotIn("shared", conflicts)
        # Files, byte for byte, on both sides.
        for device in (creator, joiner):
            for key, sources in (("greeting", [big, empty]), ("shared", [small])):
                out = os.path.join(self.root, f"out-{device.name}-{key}")
                device.run("export", key, out)
                for source in sources:
                    with open(source, "rb") as want, open(os.path.join(out, os.path.basename(source)), "rb") as got:
                        self.assertEqual(got.read(), want.read(), f"{device.name} {key} {source}")

    def test_reference_creates_python_joins(self):
        creator, joiner = self.pair("reference", "python")
        self.exercise(creator, joiner)
        self.check_exit_codes(creator, joiner)

    def test_python_creates_reference_joins(self):
        self.exercise(*self.pair("python", "reference"))

    def test_kill_9_during_sync_resumes(self):
        """The Python CLI's sync killed with SIGKILL at several moments, then run to the end:
        the reference client then sees every write and the file, byte for byte (SYNC-012)."""
        creator, joiner = self.pair("reference", "python")
        client = Client.open(joiner.directory)
        for i in range(40):
            client.put(f"note/{i}", f"value {i}".encode())
        big = self.file("big.bin", 8_000_000)
        client.attach("note/0", big)
        client.close()
        # Kills later and later, until a sync finishes on its own: whatever the machine's speed,
        # the first ones land before the end (the interpreter alone takes a third of a second).
        killed = 0
        for attempt in range(KILLS_MAX):
            delay_s = 0.2 * 1.25 ** attempt
            process = subprocess.Popen([*PYTHON_CLI, "sync", "--dir", joiner.directory], env=self.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                process.wait(delay_s)
                break
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                killed += 1
        self.assertGreater(killed, 0, "no sync was interrupted: the test did not test")
        self.assertTrue(joiner.sync()["ok"])
        self.assertEqual(joiner.json("status")["unsynced_ops"], 0)
        self.assertTrue(creator.sync()["ok"])
        present, conflicts = creator.state()
        self.assertEqual((present, conflicts), joiner.state())
        self.assertEqual(len(present), 40)
        self.assertEqual(conflicts, {})
        out = os.path.join(self.root, "out")
        creator.run("export", "note/0", out)
        with open(big, "rb") as want, open(os.path.join(out, "big.bin"), "rb") as got:
            self.assertEqual(got.read(), want.read())

    def check_exit_codes(self, creator, joiner):
        """The Python CLI's exit codes: 1 not found, 2 usage, 3 network, 4 authentication."""
        self.assertEqual(joiner.run("get", "nothing", expect=None).returncode, 1)
        self.assertEqual(joiner.run("put", "", "empty key", expect=None).returncode, 2)
        wrong = self.device("python", "wrong-password")
        invitation = creator.json("invite")
        done = wrong.run("init", "--server", self.server.url, "--workspace", invitation["workspace_id"],
                         "--token", invitation["token"], expect=None,
                         extra_env={"OPSYNC_PASSPHRASE": "not the passphrase"})
        self.assertEqual(done.returncode, 4, done.stderr)
        self.assertIn(b"wrong_password", done.stderr)
        revoked = self.device("python", "bad-token")
        done = revoked.run("init", "--server", self.server.url, "--workspace", invitation["workspace_id"],
                           "--token", "opsync_not-a-token", expect=None,
                           extra_env={"OPSYNC_PASSPHRASE": "x"})
        self.assertEqual(done.returncode, 4, done.stderr)
        offline = self.device("python", "offline")
        done = offline.run("init", "--server", "http://127.0.0.1:9", "--new-workspace", "--attempts", "1",
                           expect=None)
        self.assertEqual(done.returncode, 3, done.stderr)


if __name__ == "__main__":
    unittest.main()
