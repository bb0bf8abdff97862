"""The deliberate defects (env.DEFECTS): off by default, selectable by name, and each one caught
by a test of this suite. Three of the catching tests live here; the others sit beside the
behaviour they check (backoff-wall-clock: test_sync.RetryTest; no-resume: test_crash.ResumeTest;
lww-strict-less also: test_vectors). test_certify checks that certification catches each."""

import unittest

from support import Devices, ServerProcess, once, wire_ids

from opsync.env import DEFECTS, Environment, defects_from_environment
from test_sync import BLOCK_SIZE, server_log


class SwitchTest(unittest.TestCase):
    def test_off_by_default_and_named_explicitly(self):
        self.assertEqual(Environment(defects=()).defects, frozenset())
        self.assertEqual(defects_from_environment({}), frozenset())
        self.assertEqual(defects_from_environment({"OPSYNC_PY_DEFECT": "no-resume, lww-strict-less"}),
                         {"no-resume", "lww-strict-less"})
        with self.assertRaises(ValueError):
            defects_from_environment({"OPSYNC_PY_DEFECT": "no-such-defect"})
        self.assertEqual(set(DEFECTS), {"lww-strict-less", "retry-fresh-ids", "backoff-wall-clock", "no-resume",
                                        "stamp-wall-clock"})


class DefectTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(block_size=BLOCK_SIZE)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class StrictLessTest(DefectTestCase):
    """Equal clocks on two devices: the op id breaks the tie, so both show the same winner."""

    def tie(self, defects):
        devices = Devices(self.server, defects=defects)
        self.addCleanup(devices.close)
        a = devices.create("a")
        b = devices.join("b", a)
        for client in (a, b):
            with client.store.transaction():
                client.store.set("clock_offset_ms", 0)
        a.put("k", b"from a")  # the same simulated wall clock and a fresh clock on each device
        b.put("k", b"from b")
        self.assertEqual((a.get("k").winner.wall_ms, a.get("k").winner.counter),
                         (b.get("k").winner.wall_ms, b.get("k").winner.counter), "not a tie")
        for client in (a, b, a):
            self.assertTrue(client.sync().ok)
        return a.get("k").value, b.get("k").value

    def test_clean_client_converges_on_a_tie(self):
        mine, theirs = self.tie(())
        self.assertEqual(mine, theirs)

    def test_strict_less_defect_is_caught(self):
        mine, theirs = self.tie(("lww-strict-less",))
        self.assertNotEqual(mine, theirs, "each device keeps its own value: LWW-010 broken")


class FreshIdsTest(DefectTestCase):
    def lost_answer(self, defects):
        devices = Devices(self.server, defects=defects)
        self.addCleanup(devices.close)
        a = devices.create("a")
        a.put("x", b"1")
        transport = devices.transports["a"]
        transport.plan.append(once(lambda r: r.method == "POST" and r.target.endswith("/ops"), "lose-answer"))
        self.assertTrue(a.sync().ok)
        uploads = [body for m, t, body, _ in transport.log if m == "POST" and t.endswith("/ops")]
        return [wire_ids(body) for body in uploads], server_log(a)

    def test_clean_client_resends_the_same_ids(self):
        ids, log = self.lost_answer(())
        self.assertEqual(ids[0], ids[1])
        self.assertEqual(len(log), 1)

    def test_fresh_ids_defect_is_caught(self):
        ids, log = self.lost_answer(("retry-fresh-ids",))
        self.assertNotEqual(ids[0], ids[1], "SYNC-008 broken: the retry carries other ids")
        self.assertEqual(len(log), 2, "the write is now twice in the log")


class WallClockStampTest(DefectTestCase):
    """The device's clock set back an hour between two writes to one key: the HLC stamps the
    second above the first all the same (HLC-001, HLC-004)."""

    def stamps(self, defects):
        devices = Devices(self.server, defects=defects)
        self.addCleanup(devices.close)
        a = devices.create("a")
        a.put("k", b"first")
        first = a.get("k").winner
        devices.time.wall -= 3_600_000
        a.put("k", b"second")
        second = a.get("k").winner
        self.assertEqual(second.value, b"second")  # it names the first as its base either way
        return (first.wall_ms, first.counter), (second.wall_ms, second.counter)

    def test_clean_client_stamps_above_what_it_wrote(self):
        first, second = self.stamps(())
        self.assertGreater(second, first)

    def test_stamp_wall_clock_defect_is_caught(self):
        first, second = self.stamps(("stamp-wall-clock",))
        self.assertLess(second, first, "HLC-004 broken: the later write is stamped an hour below")


if __name__ == "__main__":
    unittest.main()
