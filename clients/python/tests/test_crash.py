"""A sync killed at every durable step resumes (SYNC-012): the store is reopened from disk, the
next sync finishes the work, nothing is lost and nothing is uploaded twice. Interrupted file
transfers resume with the chunks not yet done (FILE-031)."""

import os
import unittest

from support import Devices, ServerProcess, once

from opsync.store import FaultInjected
from test_sync import BLOCK_SIZE, server_log

CHUNK_BYTES = 65_536


def kill_at(name, occurrence):
    state = {"seen": 0}

    def point(current):
        if current == name:
            state["seen"] += 1
            if state["seen"] == occurrence:
                raise FaultInjected(f"killed at {name} #{occurrence}")
    point.state = state
    return point


class CrashTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(block_size=BLOCK_SIZE)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def make_file(self, devices, name, size):
        path = os.path.join(devices.root, name)
        with open(path, "wb") as handle:
            handle.write(os.urandom(size))
        return path

    def sync_ok(self, client):
        report = client.sync()
        self.assertTrue(report.ok, report.error)
        client.store.check_invariants(BLOCK_SIZE)
        return report


class KillAnywhereTest(CrashTestCase):
    POINTS = ["page-op", "after-page", "after-upload-answer", "after-upload-recorded", "after-catch-up",
              "after-chunk-upload", "after-chunk-download"]

    def scenario(self, point, occurrence):
        devices = Devices(self.server)
        self.addCleanup(devices.close)
        a = devices.create("a")
        b = devices.join("b", a)
        a.page_limit = b.page_limit = 3
        for i in range(7):
            a.put(f"a{i}", b"from a")
        a.attach("a0", self.make_file(devices, "one.bin", 3 * CHUNK_BYTES + 10))
        self.sync_ok(a)
        for i in range(5):
            b.put(f"b{i}", b"from b")
        b.attach("b0", self.make_file(devices, "two.bin", 2 * CHUNK_BYTES + 1))
        b.put("a1", b"b overwrote a1")
        # b syncs (downloads a's file, uploads its own and its operations) and is killed.
        b.store.fault_point = kill_at(point, occurrence)
        try:
            report = b.sync()
            killed = False
            self.assertTrue(report.ok, report.error)
        except FaultInjected:
            killed = True
        b = devices.reopen(b, "b")
        b.page_limit = 3
        self.sync_ok(b)
        self.sync_ok(a)
        self.sync_ok(b)
        self.assertEqual(a.state_dump()["keys"], b.state_dump()["keys"])
        log = server_log(a)
        self.assertEqual(len(log), 7 + 1 + 5 + 1 + 1, "every operation once on the server")
        self.assertEqual(len({op_id for _, op_id in log}), len(log))
        for client in (a, b):
            for file_id, entry in client.state_dump()["files"].items():
                self.assertTrue(entry["local_copy"], f"{file_id} not on the device")
        return killed

    def test_kill_at_every_step(self):
        killed_somewhere = 0
        for point in self.POINTS:
            for occurrence in (1, 2):
                with self.subTest(point=point, occurrence=occurrence):
                    killed_somewhere += self.scenario(point, occurrence)
        # Every point is reached at least once in this scenario: the test kills, not just syncs.
        self.assertGreaterEqual(killed_somewhere, len(self.POINTS))


class ResumeTest(CrashTestCase):
    def upload_interrupted_after(self, chunks_done, defects=()):
        devices = Devices(self.server, defects=defects)
        self.addCleanup(devices.close)
        a = devices.create("a")
        a.attach("photo", self.make_file(devices, "photo.bin", 5 * CHUNK_BYTES))
        a.store.fault_point = kill_at("after-chunk-upload", chunks_done)
        with self.assertRaises(FaultInjected):
            a.sync()
        a = devices.reopen(a, "a")
        transport = devices.transports["a"]
        transport.log.clear()
        self.sync_ok(a)
        return transport.count("PUT", "/chunks/")

    def test_interrupted_upload_sends_only_the_missing_chunks(self):
        self.assertEqual(self.upload_interrupted_after(2), 3)

    def test_no_resume_defect_is_caught(self):
        self.assertEqual(self.upload_interrupted_after(2, defects=("no-resume",)), 5)

    def test_interrupted_download_fetches_only_the_missing_chunks(self):
        devices = Devices(self.server)
        self.addCleanup(devices.close)
        a = devices.create("a")
        b = devices.join("b", a)
        path = self.make_file(devices, "photo.bin", 4 * CHUNK_BYTES + 3)
        a.attach("photo", path)
        self.sync_ok(a)
        b.store.fault_point = kill_at("after-chunk-download", 3)
        with self.assertRaises(FaultInjected):
            b.sync()
        b = devices.reopen(b, "b")
        transport = devices.transports["b"]
        transport.log.clear()
        self.sync_ok(b)
        self.assertEqual(transport.count("GET", "/chunks/"), 2)
        exported = b.export("photo", os.path.join(devices.root, "out"))
        with open(exported[0][1], "rb") as got, open(path, "rb") as want:
            self.assertEqual(got.read(), want.read())

    def test_lost_chunk_answer_is_resent(self):
        devices = Devices(self.server)
        self.addCleanup(devices.close)
        a = devices.create("a")
        a.attach("photo", self.make_file(devices, "photo.bin", 2 * CHUNK_BYTES))
        devices.transports["a"].plan.append(once(lambda r: "/chunks/1" in r.target, "lose-answer"))
        self.sync_ok(a)
        self.assertEqual(devices.transports["a"].count("PUT", "/chunks/1"), 2)


if __name__ == "__main__":
    unittest.main()
