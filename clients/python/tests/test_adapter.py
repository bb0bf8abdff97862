"""clients/python/adapter.py without the simulator: a small driver plays the simulator's side of
opsync-client-adapter/1 (spec/client-adapter.md) against a real opsync-server, and the adapter's
answers to lines that break the protocol. The certification itself is test_certify."""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

from support import PASSWORD, ServerProcess

from opsync import b64
from opsync.transport import HttpTransport, Request

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTER = os.path.abspath(os.path.join(HERE, "..", "adapter.py"))
PROTOCOL = "opsync-client-adapter/1"


def adapter_process(extra_env=None):
    env = dict(os.environ)
    env.pop("OPSYNC_PY_DEFECT", None)
    env.update(extra_env or {})
    return subprocess.Popen([sys.executable, ADAPTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


class Device:
    """One adapter process and the simulator's side of its turns, reduced: requests go to a real
    server, random bytes come from a seeded generator, durable steps and commits are answered
    ``continue``, a wait is woken at once with the monotonic clock moved to its end."""

    def __init__(self, directory, server, seed, restarted=False, dump_while_waiting=False):
        self.server = server
        self.random = random.Random(seed)
        self.wall_ms = 1_764_000_000_000
        self.monotonic_ms = 1_000
        self.http = HttpTransport(server.url, timeout_s=10)
        self.notices = []  # commit and durable notices, in order
        self.requests = []
        self.dump_while_waiting = dump_while_waiting
        self.dumps_while_waiting = []
        self.process = adapter_process()
        self.ready = self.turn({"type": "start", "protocol": PROTOCOL, "device": "device-x", "dir": directory,
                                "restarted": restarted, "options": {"page_ops_max": 2, "kdf_iterations": 1000},
                                "turn_timeout_ms": 10000})

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            pipe.close()
        self.http.close()

    def write(self, message):
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def read(self):
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the adapter ended: {self.process.stderr.read().decode()[-2000:]}")
        return json.loads(line)

    def send_event(self, event):
        self.wall_ms += 7
        self.monotonic_ms += 7
        event["now"] = {"wall_ms": self.wall_ms, "monotonic_ms": self.monotonic_ms}
        self.write(event)

    def turn(self, event):
        """Sends ``event`` and plays the turns it leads to; returns the yield that ends the
        command (ready, result or state)."""
        self.send_event(event)
        while True:
            line = self.read()
            kind = line["type"]
            if kind == "random":
                assert 1 <= line["bytes"] <= 65536
                self.write({"type": "random", "bytes_b64": b64.encode(self.random.randbytes(line["bytes"]))})
            elif kind in ("durable", "commit"):
                self.notices.append(line)
                self.write({"type": "continue"})
            elif kind == "log":
                pass
            elif kind == "request":
                self.requests.append(line)
                if self.dump_while_waiting:
                    self.send_event({"type": "command", "command": "dump"})
                    self.dumps_while_waiting.append(self.read())
                response = self.http.send(Request(line["method"], line["target"], dict(line["headers"]),
                                                  b64.decode(line["body_b64"]) or None))
                self.send_event({"type": "http_response", "status": response.status,
                                 "headers": [[n, v] for n, v in response.headers.items()],
                                 "body_b64": b64.encode(response.body)})
            elif kind == "wait":
                self.monotonic_ms = max(self.monotonic_ms, line["until_monotonic_ms"])
                self.send_event({"type": "wake"})
            else:
                return line

    def command(self, command, **members):
        return self.turn({"type": "command", "command": command, **members})


class AdapterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="opsync-py-adapter-")
        self.addCleanup(shutil.rmtree, self.root, True)

    def device(self, name, seed, **options):
        device = Device(os.path.join(self.root, name), self.server, seed, **options)
        self.addCleanup(device.close)
        return device

    def ok(self, result):
        self.assertEqual(result["type"], "result")
        self.assertTrue(result["ok"], result)
        return result

    def test_edits_syncs_dumps_and_a_kill(self):
        a = self.device("a", 1)
        self.assertEqual(a.ready["type"], "ready")
        self.assertNotIn("workspace_id", a.ready)
        self.assertIn("random", a.ready["supports"])
        created = self.ok(a.command("create", server_url=self.server.url, password=PASSWORD))
        self.assertEqual(len(b64.decode(created["workspace_id"])), 16)

        self.ok(a.command("put", key="note", value_b64=b64.encode(b"one")))
        self.ok(a.command("put", key="note", value_b64=b64.encode(b"two")))
        first, second = [n for n in a.notices if n["type"] == "commit"]
        self.assertEqual((first["kind"], first["heads_before"]), ("put", []))
        self.assertEqual(second["heads_before"], [first["op_id"]], "ADP-040: the heads just before")
        self.assertGreater(second["hlc"], first["hlc"])
        self.assertEqual(a.command("delete", key="absent"), {"type": "result", "ok": True, "committed": False})
        attached = self.ok(a.command("attach", key="note", name="a.bin", content_b64=b64.encode(b"\x01" * 1000)))
        self.assertEqual(a.notices[-1]["file_id"], attached["file_id"])
        self.assertEqual(a.command("dump")["pending"][0]["op_id"], first["op_id"])

        a.dump_while_waiting = True  # ADP-014: a dump between the turns of a command
        synced = self.ok(a.command("sync"))
        a.dump_while_waiting = False
        self.assertEqual(synced["mirror"]["length"], 3)
        self.assertTrue(a.dumps_while_waiting and all(d["type"] == "state" for d in a.dumps_while_waiting))
        self.assertIn("after-upload-answer", [n["step"] for n in a.notices if n["type"] == "durable"])
        state = a.command("dump")
        self.assertEqual(state["pending"], [])
        self.assertEqual(state["mirror"], synced["mirror"])
        [head] = state["objects"]["note"]
        self.assertEqual((head["value_b64"], head["files"], head["deleted"]),
                         (b64.encode(b"two"), [attached["file_id"]], False))
        self.assertEqual(state["files"][attached["file_id"]],
                         {"held": True, "kept_after_delete": False, "content_b64": b64.encode(b"\x01" * 1000)})

        # Another device joins with an invitation and shows the same objects.
        invitation = self.ok(a.command("invite", scope="read_write"))
        b = self.device("b", 2)
        self.ok(b.command("join", server_url=self.server.url, workspace_id=created["workspace_id"],
                          token=invitation["token"], password=PASSWORD, passphrase=created["passphrase"]))
        self.ok(b.command("sync"))
        self.assertEqual(b.command("dump")["objects"], state["objects"])

        # A kill: the next process opens what the last one committed (ADP-071).
        a.close()
        a = self.device("a", 3, restarted=True)
        self.assertEqual(a.ready["workspace_id"], created["workspace_id"])
        self.assertEqual(a.command("dump"), state)
        self.ok(a.command("detach", key="note", pick=5))
        self.ok(a.command("sync"))
        kept = a.command("dump")["files"][attached["file_id"]]
        self.assertEqual((kept["held"], kept["kept_after_delete"]), (True, True), "FILE-040: the copy is kept")
        self.assertEqual(a.command("detach", key="note", pick=0)["committed"], False)
        self.ok(a.command("revoke", token_id=invitation["token_id"]))
        refused = b.command("sync")
        self.assertEqual((refused["ok"], refused["error"]["code"]), (False, "token_revoked"))

    def test_same_randomness_same_bytes(self):
        # Everything random comes from the driver: two devices given the same bytes make the same
        # passphrase (and the same requests, up to the server's answers).
        one = self.device("one", 9)
        two = self.device("two", 9)
        first = self.ok(one.command("create", server_url=self.server.url, password=PASSWORD))
        second = self.ok(two.command("create", server_url=self.server.url, password=PASSWORD))
        self.assertEqual(first["passphrase"], second["passphrase"])


class ProtocolErrorTest(unittest.TestCase):
    """What breaks the protocol on standard input ends the adapter with a message on standard
    error and a status that is not 0."""

    def run_adapter(self, lines, extra_env=None):
        directory = tempfile.mkdtemp(prefix="opsync-py-adapter-")
        self.addCleanup(shutil.rmtree, directory, True)
        start = {"type": "start", "now": {"wall_ms": 1, "monotonic_ms": 1}, "protocol": PROTOCOL,
                 "device": "device-0", "dir": directory, "restarted": False, "options": {}}
        text = "".join(line + "\n" for line in [json.dumps(start), *lines])
        process = adapter_process(extra_env)
        out, err = process.communicate(text.encode(), timeout=30)
        return process.returncode, [json.loads(line) for line in out.decode().splitlines()], err.decode()

    def test_the_simulator_closing_the_pipe_ends_it_cleanly(self):
        code, out, _ = self.run_adapter(['{"type":"command","now":{"wall_ms":2,"monotonic_ms":2},"command":"dump"}'])
        self.assertEqual(code, 0)
        self.assertEqual([m["type"] for m in out], ["ready", "state"])

    def test_a_line_that_is_not_json(self):
        code, out, err = self.run_adapter(["{not json"])
        self.assertEqual(code, 3)
        self.assertIn("not JSON", err)

    def test_a_line_that_is_not_an_object(self):
        code, _, err = self.run_adapter(["[1, 2]"])
        self.assertEqual(code, 3)
        self.assertIn("not a JSON object", err)

    def test_an_event_out_of_place(self):
        code, _, err = self.run_adapter(['{"type":"wake","now":{"wall_ms":2,"monotonic_ms":2}}'])
        self.assertEqual(code, 3)
        self.assertIn("expected a command", err)

    def test_an_event_without_its_clocks(self):
        code, _, err = self.run_adapter(['{"type":"command","command":"dump"}'])
        self.assertEqual(code, 3)
        self.assertIn("now", err)

    def test_a_command_before_the_workspace_is_a_failed_result(self):
        code, out, _ = self.run_adapter(['{"type":"command","now":{"wall_ms":2,"monotonic_ms":2},'
                                         '"command":"put","key":"k","value_b64":""}'])
        self.assertEqual(code, 0)
        self.assertEqual(out[1]["ok"], False)

    def test_an_unknown_defect(self):
        code, out, err = self.run_adapter([], {"OPSYNC_PY_DEFECT": "no-such-defect"})
        self.assertEqual((code, out), (2, []))
        self.assertIn("unknown defect", err)


if __name__ == "__main__":
    unittest.main()
