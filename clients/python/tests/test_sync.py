"""The sync procedure against a real opsync-server: convergence, paging, lost answers and
retries, re-stamping after clock_skew, bad answers refused with the spec's codes, and files."""

import os
import unittest

from support import Devices, ServerProcess, SimulatedTime, once, rewrite_json, wire_ids

from opsync import b64, hlc
from opsync.strictjson import dumps
from opsync.transport import Response

BLOCK_SIZE = 4


def server_log(client):
    """The server's whole log as (seq, id) through the client's own API (no tampering)."""
    api = client.workspace_api()
    out = []
    after = 0
    while True:
        page, _ = api.get_ops(after)
        out.extend((op["seq"], op["id"]) for op in page["ops"])
        if page["next_after_seq"] is None:
            return out
        after = page["next_after_seq"]


class SyncTestCase(unittest.TestCase):
    max_skew_ms = 60_000

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(block_size=BLOCK_SIZE, max_skew_ms=cls.max_skew_ms)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.devices = Devices(self.server)
        self.addCleanup(self.devices.close)

    def sync_ok(self, client):
        report = client.sync()
        self.assertTrue(report.ok, report.error)
        client.store.check_invariants(BLOCK_SIZE)
        return report

    def assert_converged(self, *clients):
        dumps_ = [c.state_dump()["keys"] for c in clients]
        for other in dumps_[1:]:
            self.assertEqual(dumps_[0], other)


class ConvergenceTest(SyncTestCase):
    def test_two_devices_converge_with_conflicts_deletes_and_paging(self):
        a = self.devices.create("a")
        b = self.devices.join("b", a)
        a.page_limit = b.page_limit = 3  # many pages on a short log
        for i in range(10):
            a.put(f"k{i}", f"a{i}".encode())
        self.sync_ok(a)
        report = self.sync_ok(b)
        self.assertEqual(report.ops_down, 10)
        b.put("k1", b"b1")
        a.put("k1", b"a1 again")  # concurrent with b's write: a conflict on both sides
        b.delete("k2")
        self.sync_ok(a)
        self.sync_ok(b)
        self.sync_ok(a)
        self.assert_converged(a, b)
        view = a.get("k1")
        self.assertEqual(len(view.conflicts), 1, "the losing side stays visible (LWW-014)")
        self.assertFalse(a.get("k2").present)
        # A later write names both heads in its bases and resolves the conflict (LWW-011).
        a.put("k1", b"resolved")
        self.sync_ok(a)
        self.sync_ok(b)
        self.assertEqual(b.get("k1").value, b"resolved")
        self.assertEqual(b.get("k1").conflicts, [])
        log = server_log(a)
        self.assertEqual(len(log), len({op_id for _, op_id in log}), "an operation uploaded twice")
        self.assertEqual(a.store.mirror_length(), len(log))

    def test_nothing_to_do_costs_one_read_after_info(self):
        a = self.devices.create("a")
        a.put("x", b"1")
        self.sync_ok(a)
        transport = self.devices.transports["a"]
        transport.log.clear()
        self.sync_ok(a)
        self.assertEqual([(m, t.split("?")[0].rsplit("/", 1)[-1]) for m, t, _, _ in transport.log],
                         [("GET", "info"), ("GET", "ops")])


class RetryTest(SyncTestCase):
    def test_lost_upload_answer_is_resent_with_the_same_ids(self):
        a = self.devices.create("a")
        a.put("x", b"1")
        a.put("y", b"2")
        transport = self.devices.transports["a"]
        transport.plan.append(once(lambda r: r.method == "POST" and r.target.endswith("/ops"), "lose-answer"))
        report = self.sync_ok(a)
        uploads = [body for m, t, body, _ in transport.log if m == "POST" and t.endswith("/ops")]
        self.assertEqual(len(uploads), 2)
        self.assertEqual(wire_ids(uploads[0]), wire_ids(uploads[1]), "SYNC-008: the same request again")
        self.assertEqual(uploads[0], uploads[1])
        self.assertEqual(a.env.waits_ms, [1000], "SYNC-010: 2^0 s before the first retry")
        self.assertEqual(report.ops_up, 2)
        self.assertEqual(len(server_log(a)), 2)

    def test_backoff_doubles_and_gives_up_bounded(self):
        a = self.devices.create("a", attempts_max=5)
        transport = self.devices.transports["a"]
        transport.plan.append(lambda r: "lose-request")
        report = a.sync()
        self.assertFalse(report.ok)
        self.assertEqual(report.error_code, "transport")
        self.assertEqual(a.env.waits_ms, [1000, 2000, 4000, 8000])
        self.assertEqual(sum(self.devices.time.slept_ms), 15_000)

    def test_backoff_is_measured_on_the_monotonic_clock(self):
        """SYNC-020: a wall clock set back ten minutes during a wait does not lengthen it."""
        for defect, expect_longer in ((), False), (("backoff-wall-clock",), True):
            with self.subTest(defects=defect):
                time_source = SimulatedTime()
                devices = Devices(self.server, time_source, defects=defect)
                self.addCleanup(devices.close)
                a = devices.create("a")
                a.put("x", b"1")
                stepped = {"done": False}

                def step_back(ms):
                    if not stepped["done"]:
                        stepped["done"] = True
                        time_source.wall -= 600_000
                time_source.during_sleep = step_back
                devices.transports["a"].plan.append(
                    once(lambda r: r.method == "POST" and r.target.endswith("/ops"), "lose-request"))
                self.assertTrue(a.sync().ok)
                waited = sum(time_source.slept_ms)
                if expect_longer:
                    self.assertGreater(waited, 600_000)
                else:
                    self.assertEqual(waited, 1000)

    def test_unavailable_waits_retry_after(self):
        a = self.devices.create("a")
        transport = self.devices.transports["a"]

        def unavailable(response):
            return Response(503, {"content-type": "application/json", "retry-after": "5",
                                  "opsync-server-time-ms": response.header("opsync-server-time-ms")},
                            b'{"error":{"code":"unavailable","message":"busy"}}')
        transport.plan.append(once(lambda r: r.target.startswith("/v1/info"), unavailable))
        self.sync_ok(a)
        self.assertEqual(a.env.waits_ms, [5000], "ERR-020: at least Retry-After")


class ClockSkewTest(SyncTestCase):
    max_skew_ms = 1000

    def test_operations_stamped_ahead_are_restamped_and_accepted(self):
        time_source = SimulatedTime()
        devices = Devices(self.server, time_source)
        self.addCleanup(devices.close)
        a = devices.create("a")
        time_source.wall += 3_600_000  # the device's clock runs an hour fast while offline
        a.store.db.execute("UPDATE meta SET value = 0 WHERE name = 'clock_offset_ms'")
        op_id = a.put("x", b"offline")
        stamped = a.get("x").winner
        self.assertGreater(stamped.wall_ms, time_source.wall - 10)
        report = self.sync_ok(a)
        self.assertEqual(report.ops_restamped, 1)
        self.assertEqual(report.ops_up, 1)
        log = server_log(a)
        self.assertEqual([op_id for _, op_id in log], [op_id], "HLC-021: the id is kept")
        restamped = a.get("x").winner
        self.assertLess(restamped.wall_ms, stamped.wall_ms - 3_000_000)
        self.assertEqual(a.get("x").value, b"offline")
        # HLC-004: the next stamp is above everything accepted.
        a.put("y", b"after")
        self.assertGreater((a.get("y").winner.wall_ms, a.get("y").winner.counter),
                           (restamped.wall_ms, restamped.counter))
        self.sync_ok(a)


    def test_an_outbox_of_many_batches_is_restamped_batch_by_batch(self):
        # Every batch of an outbox written an hour ahead is rejected once and accepted after its
        # re-stamp: the bound on re-stamps (HLC-030) is per operation, not per sync.
        time_source = SimulatedTime()
        devices = Devices(self.server, time_source)
        self.addCleanup(devices.close)
        a = devices.create("a")
        time_source.wall += 3_600_000
        a.store.db.execute("UPDATE meta SET value = 0 WHERE name = 'clock_offset_ms'")
        count = 4 * a.limits()["batch_ops_max"] + 1
        for i in range(count):
            a.put(f"k{i}", b"offline")
        report = self.sync_ok(a)
        self.assertEqual((report.ops_restamped, report.ops_up), (count, count))
        self.assertEqual(len(server_log(a)), count)


class BadAnswerTest(SyncTestCase):
    """Answers that break the spec stop the sync with a clear code and record nothing of them."""

    def setUp(self):
        super().setUp()
        self.a = self.devices.create("a")
        self.b = self.devices.join("b", self.a)
        for i in range(6):
            self.a.put(f"k{i}", b"v")
        self.sync_ok(self.a)
        self.b.page_limit = 3

    def expect_refused(self, rule, code):
        transport = self.devices.transports["b"]
        before = (self.b.store.mirror_length(), self.b.state_dump())
        transport.plan.append(rule)
        report = self.b.sync()
        self.assertFalse(report.ok)
        self.assertEqual(report.error_code, code, report.error)
        self.b.store.check_invariants(BLOCK_SIZE)
        transport.plan.clear()
        return before

    def ops_page(self, function, after_seq=None):
        def matches(request):
            return request.method == "GET" and "/ops?" in request.target and \
                (after_seq is None or f"after_seq={after_seq}&" in request.target + "&")
        return once(matches, rewrite_json(function))

    def test_page_with_a_gap(self):
        def gap(body):
            body["ops"][1]["seq"] += 1
        before = self.expect_refused(self.ops_page(gap), "page_gap")
        self.assertEqual(self.b.store.mirror_length(), before[0], "nothing of the page recorded")
        self.sync_ok(self.b)
        self.assert_converged(self.a, self.b)

    def test_page_starting_after_the_wrong_position(self):
        def shifted(body):
            for op in body["ops"]:
                op["seq"] += 1
        self.expect_refused(self.ops_page(shifted), "page_gap")

    def test_broken_cursor(self):
        def cursor(body):
            body["next_after_seq"] = body["ops"][-1]["seq"] + 1
        self.expect_refused(self.ops_page(cursor), "protocol_error")

    def test_cursor_null_before_the_end(self):
        def cursor(body):
            body["next_after_seq"] = None
        self.expect_refused(self.ops_page(cursor), "protocol_error")

    def test_schema_violation(self):
        def missing(body):
            del body["head_seq"]
        self.expect_refused(self.ops_page(missing), "protocol_error")

    def test_unknown_operation_format(self):
        def v2(body):
            body["ops"][0]["v"] = 2
        before = self.expect_refused(self.ops_page(v2), "unsupported_format")
        self.assertEqual(self.b.state_dump(), before[1], "VER-008: nothing of the page applied")

    def test_one_operation_listed_twice(self):
        def twice(body):
            body["ops"][1] = dict(body["ops"][0], seq=body["ops"][1]["seq"])
        self.expect_refused(self.ops_page(twice), "protocol_error")

    def test_verified_prefix_listed_again_on_a_later_page(self):
        state = {"first": None}

        def remember(body):
            state["first"] = body["ops"][0]

        def replay(body):
            body["ops"][0] = dict(state["first"], seq=body["ops"][0]["seq"])
        transport = self.devices.transports["b"]
        transport.plan.append(self.ops_page(remember, after_seq=0))
        self.expect_refused(self.ops_page(replay, after_seq=3), "protocol_error")

    def test_operation_id_with_another_hash(self):
        self.sync_ok(self.b)
        self.b.put("mine", b"b")
        transport = self.devices.transports["b"]
        transport.plan.append(once(lambda r: r.method == "POST" and r.target.endswith("/ops"), "lose-answer"))
        transport.plan.append(once(lambda r: r.method == "POST" and r.target.endswith("/ops"), "lose-request"))
        # The upload reached the server; the next read lists it with its payload changed.
        self.b.attempts_max = 1
        report = self.b.sync()
        self.assertFalse(report.ok)

        def tamper(body):
            for op in body["ops"]:
                payload = bytearray(b64.decode(op["payload"]))
                payload[-1] ^= 1
                op["payload"] = b64.encode(bytes(payload))
        transport.plan.clear()
        transport.plan.append(self.ops_page(tamper))
        report = self.b.sync()
        self.assertFalse(report.ok)
        self.assertEqual(report.error_code, "op_id_conflict")

    def test_upload_results_that_do_not_match(self):
        self.sync_ok(self.b)
        self.b.put("mine", b"b")

        def swap(body):
            body["results"][0]["id"] = b64.encode(bytes(16))
        transport = self.devices.transports["b"]
        transport.plan.append(once(lambda r: r.method == "POST" and r.target.endswith("/ops"),
                                   rewrite_json(swap)))
        report = self.b.sync()
        self.assertEqual(report.error_code, "protocol_error")
        self.assertEqual(self.b.store.pending_counts(), {"pending": 1}, "the operation stays to upload")
        self.sync_ok(self.b)
        self.assertEqual(self.b.store.pending_counts(), {})

    def test_not_json(self):
        def garbage(response):
            return Response(200, response.headers, b"<html>proxy error</html>")
        self.expect_refused(once(lambda r: "/ops?" in r.target, garbage), "protocol_error")

    def test_error_body_without_its_details(self):
        def broken(response):
            return Response(409, {"content-type": "application/json", "opsync-server-time-ms": "1"},
                            b'{"error":{"code":"after_seq_beyond_head","message":"m"}}')
        self.expect_refused(once(lambda r: "/ops?" in r.target, broken), "protocol_error")

    def test_not_an_opsync_server(self):
        def other(body):
            body["versions"] = [2]
        self.expect_refused(once(lambda r: r.target == "/v1/info", rewrite_json(other)), "unsupported_server")


class UnreadableTest(SyncTestCase):
    def test_unknown_payload_format_is_kept_not_applied(self):
        a = self.devices.create("a")
        b = self.devices.join("b", a)
        # An operation from a future client: payload format 2 (VER-007).
        plaintext = dumps({"v": 2, "type": "put", "key": "future", "value": "", "bases": [], "files": []})
        op = a.seal_op(os.urandom(16), 1, hlc.stamp(a.clock(), a.physical_ms()), plaintext)
        answer, _ = a.workspace_api().upload_ops([op.to_wire()])
        self.assertEqual(answer["results"][0]["status"], "accepted")
        b.put("now", b"1")
        report = self.sync_ok(b)
        self.assertEqual(report.unreadable, 1)
        self.assertNotIn("future", b.state_dump()["keys"])
        self.assertEqual([u["code"] for u in b.status()["unreadable_ops"]], ["unsupported_format"])
        self.assertEqual(b.store.mirror_length(), 2, "VER-007: kept in the log")
        self.sync_ok(b)


class KeyRotationTest(SyncTestCase):
    def test_operations_under_a_key_the_device_lacks_wait_for_unlock(self):
        from opsync import crypto
        from support import PASSWORD, TEST_KDF_ITERATIONS
        a = self.devices.create("a")
        b = self.devices.join("b", a)
        # a rotates: a second data key, wrapped under the same KEK (CRY-013), used from now on.
        data_key = os.urandom(32)
        kek = crypto.derive_kek(PASSWORD, self.devices.passphrase, TEST_KDF_ITERATIONS)
        wrapped = crypto.wrap_key(kek, data_key, a.workspace_id(), 2, os.urandom(12))
        a.workspace_api().put_key(2, 0, TEST_KDF_ITERATIONS, b64.encode(wrapped))
        with a.store.transaction():
            a.store.add_data_key(2, data_key)
        a._keyring = None
        a.put("secret", b"under key 2")
        self.sync_ok(a)
        report = self.sync_ok(b)
        self.assertEqual(report.unreadable, 1)
        self.assertEqual([u["code"] for u in b.status()["unreadable_ops"]], ["unknown_key"])
        self.assertFalse(b.get("secret").present)
        result = b.unlock(PASSWORD, self.devices.passphrase)
        self.assertEqual(result, {"keys_added": [2], "ops_applied": 1})
        self.assertEqual(b.get("secret").value, b"under key 2")
        self.assertEqual(b.status()["unreadable_ops"], [])
        b.put("reply", b"b writes under key 2 now")  # CRY-014: the highest key id
        self.sync_ok(b)
        self.sync_ok(a)
        self.assertEqual(a.get("reply").value, b"b writes under key 2 now")
        self.assert_converged(a, b)


class RestoreTest(SyncTestCase):
    """A server restored from a backup: the divergence search, candidates re-uploaded."""

    def test_restored_server_gets_lost_operations_back(self):
        a = self.devices.create("a")
        b = self.devices.join("b", a)
        for i in range(5):
            a.put(f"k{i}", b"v")
        self.sync_ok(a)
        backup = self.server.snapshot()
        for i in range(5, 11):
            a.put(f"k{i}", b"v")
        self.sync_ok(a)
        self.sync_ok(b)
        self.server.restore(backup)
        b.put("after-restore", b"b")
        report = self.sync_ok(b)
        self.assertTrue(report.diverged)
        self.assertEqual(report.verified_prefix, 4, "only complete matching blocks are verified")
        # b put the lost operations back in their former order, so a's mirror matches again.
        report = self.sync_ok(a)
        self.assertFalse(report.diverged)
        self.assertEqual(report.ops_down, 1)
        self.assert_converged(a, b)
        log = server_log(a)
        self.assertEqual(len(log), 12)
        self.assertEqual(len({op_id for _, op_id in log}), 12)


if __name__ == "__main__":
    unittest.main()
