"""Files (spec 11): transfer, reconciliation by server state, deletion of files no head
references (FILE-022), copies kept for the retention time on the server's clock (FILE-040),
DELETEs sent again after a restore, and copies that do not match their reference (FILE-023)."""

import os
import unittest

from support import Devices, ServerProcess, rewrite_json

from opsync import b64
from opsync.transport import Response
from test_sync import BLOCK_SIZE

DAY_MS = 86_400_000
RETENTION_MS = 3_600_000  # the server's --file-retention-ms: its floor, an hour


def shift_server_time(delta_ms):
    """An answer rewriter: the server's clock (OpSync-Server-Time-Ms) reads delta_ms later."""
    def rewrite(response):
        headers = dict(response.headers)
        headers["opsync-server-time-ms"] = str(int(headers["opsync-server-time-ms"]) + delta_ms)
        body = response.body
        if b'"server_time_ms"' in body:
            return rewrite_json(lambda b: b.update(server_time_ms=b["server_time_ms"] + delta_ms))(
                Response(response.status, headers, body))
        return Response(response.status, headers, body)
    return rewrite


class FilesTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(block_size=BLOCK_SIZE, extra=("--file-retention-ms", str(RETENTION_MS)))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.devices = Devices(self.server)
        self.addCleanup(self.devices.close)
        self.a = self.devices.create("a")
        self.b = self.devices.join("b", self.a)
        self.path = os.path.join(self.devices.root, "photo.jpg")
        with open(self.path, "wb") as handle:
            handle.write(os.urandom(150_000))
        self.ref = self.a.attach("note", self.path)
        self.sync_ok(self.a)
        self.sync_ok(self.b)

    def sync_ok(self, client):
        report = client.sync()
        self.assertTrue(report.ok, report.error)
        client.store.check_invariants(BLOCK_SIZE)
        return report

    def server_state(self):
        return self.a.workspace_api().file_status([b64.encode(self.ref["id"])])["files"][0]["state"]


class TransferTest(FilesTestCase):
    def test_attached_file_arrives_byte_for_byte(self):
        self.assertEqual(self.server_state(), "committed")
        written = self.b.export("note", os.path.join(self.devices.root, "out"))
        with open(written[0][1], "rb") as got, open(self.path, "rb") as want:
            self.assertEqual(got.read(), want.read())

    def test_file_is_committed_before_the_operation_that_references_it(self):
        """FILE-021: no device may read a reference to a file the server does not have."""
        transport = self.devices.transports["a"]
        transport.log.clear()
        self.a.attach("second", self.path)
        self.sync_ok(self.a)
        requests = [(m, t.rsplit("/", 1)[-1]) for m, t, _, _ in transport.log]
        self.assertLess(requests.index(("POST", "commit")), requests.index(("POST", "ops")))

    def test_server_that_lost_the_file_gets_it_again(self):
        """FILE-030: the server's state decides, never the upload flag alone."""
        self.a.workspace_api().delete_file(b64.encode(self.ref["id"]))
        self.assertEqual(self.server_state(), "deleted")
        report = self.sync_ok(self.b)  # b holds a copy and a head references the file: restore
        self.assertEqual(self.server_state(), "committed")
        self.assertEqual(report.files_pending, [])

    def test_copy_that_does_not_match_its_reference_is_discarded(self):
        """FILE-023: content whose SHA-256 differs from the reference is not kept."""
        c = self.devices.join("c", self.a)

        def corrupt_reference(point):
            # Right after the page that references the file is applied, its reference is made
            # to name other content (as a buggy or hostile writer's reference would).
            if point == "after-page":
                c.store.db.execute("UPDATE files SET sha256 = ? WHERE file_id = ?", (bytes(32), self.ref["id"]))
        c.store.fault_point = corrupt_reference
        report = self.sync_ok(c)
        self.assertIn({"id": b64.encode(self.ref["id"]), "reason": "sha256_mismatch"}, report.files_pending)
        self.assertFalse(c.has_copy(self.ref["id"]))
        self.assertFalse(os.path.exists(c.store.partial_path(self.ref["id"])))


class DeleteTest(FilesTestCase):
    def test_unreferenced_file_is_deleted_and_its_copy_kept_for_the_retention_time(self):
        self.a.delete("note")
        report = self.sync_ok(self.a)
        self.assertEqual(report.files_deleted, 1)
        self.assertEqual(self.server_state(), "deleted")
        self.assertTrue(self.a.has_copy(self.ref["id"]), "FILE-040: the copy stays")
        # The device's own clock a month ahead changes nothing: the server's clock decides.
        self.devices.time.wall += 31 * DAY_MS
        report = self.sync_ok(self.a)
        self.assertEqual(report.files_expired, 0)
        self.assertTrue(self.a.has_copy(self.ref["id"]))
        self.devices.time.wall -= 31 * DAY_MS
        # The server's clock past the retention time: the next sync removes the copy.
        self.devices.transports["a"].plan.append(lambda r: shift_server_time(RETENTION_MS + 1000))
        report = self.sync_ok(self.a)
        self.assertEqual(report.files_expired, 1)
        self.assertFalse(self.a.has_copy(self.ref["id"]))

    def test_a_reference_made_meanwhile_restores_the_file(self):
        self.a.delete("note")
        self.sync_ok(self.a)
        self.assertEqual(self.server_state(), "deleted")
        # A write that references the file again, from a device that kept the copy.
        self.a.put("again", b"", files=[self.ref])
        self.sync_ok(self.a)
        self.assertEqual(self.server_state(), "committed")
        self.sync_ok(self.b)
        self.assertTrue(self.b.has_copy(self.ref["id"]))

    def test_deletes_are_sent_again_after_a_restore(self):
        backup = self.server.snapshot()  # the file committed, and referenced
        self.a.delete("note")
        self.sync_ok(self.a)
        self.sync_ok(self.b)
        self.assertEqual(self.server_state(), "deleted")
        self.server.restore(backup)
        self.assertEqual(self.server_state(), "committed")
        transport = self.devices.transports["a"]
        transport.log.clear()
        report = self.sync_ok(self.a)
        self.assertTrue(report.diverged)
        self.assertEqual(transport.count("DELETE", "/files/"), 1, "FILE-040: sent again after a restore")
        self.assertEqual(self.server_state(), "deleted")
        self.assertTrue(self.a.has_copy(self.ref["id"]))

    def test_an_unfinished_upload_is_deleted_once(self):
        # A file whose upload nobody finished, brought back by a restore and referenced by no
        # head: the server answers its DELETE with file_not_committed and lets it expire. The
        # client takes that as the answer and does not send the DELETE at every later sync.
        path = os.path.join(self.devices.root, "draft.bin")
        with open(path, "wb") as handle:
            handle.write(os.urandom(70_000))
        transport = self.devices.transports["a"]

        def lose_commits(request):
            return "lose-request" if request.method == "POST" and request.target.endswith("/commit") else None

        transport.plan.append(lose_commits)
        ref = self.a.attach("draft", path)
        self.assertFalse(self.a.sync().ok)
        transport.plan.remove(lose_commits)
        backup = self.server.snapshot()  # the file uploading, the operation that attaches it not in the log
        self.sync_ok(self.a)
        self.a.delete("draft")
        self.sync_ok(self.a)
        self.server.restore(backup)
        report = self.sync_ok(self.a)
        self.assertTrue(report.diverged)
        status = self.a.workspace_api().file_status([b64.encode(ref["id"])])["files"][0]["state"]
        self.assertEqual(status, "uploading")
        self.assertEqual(report.files_deleted, 1, "the DELETE was answered file_not_committed")
        transport.log.clear()
        self.sync_ok(self.a)
        self.assertEqual(transport.count("DELETE", "/files/"), 0, "not sent again")


class NoFilesCapabilityTest(FilesTestCase):
    def test_files_reported_pending_when_the_server_has_no_files(self):
        c = self.devices.join("c", self.a)
        transport = self.devices.transports["c"]
        transport.plan.append(lambda r: rewrite_json(lambda b: b.update(capabilities=[]))
                              if r.target == "/v1/info" else None)
        report = self.sync_ok(c)
        self.assertEqual(report.files_pending, [{"id": b64.encode(self.ref["id"]),
                                                 "reason": "server_without_files"}])
        self.assertEqual(transport.count("POST", "/file-status"), 0, "VER-004: no file requests")


if __name__ == "__main__":
    unittest.main()
