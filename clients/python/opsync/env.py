"""What the client takes from its surroundings, each injectable: the wall clock, the monotonic
clock and waits, random bytes, and the deliberate defects certification switches on.

Nothing else in the package reads the time or draws randomness. A driver that owns time and
randomness (a test, a simulator's adapter) passes its own functions; the defaults are the real
ones (time.time, time.monotonic, time.sleep, os.urandom).
"""

import os
import time

# Deliberate defects, off unless asked for (constructor argument or OPSYNC_PY_DEFECT=a,b). Each
# breaks one requirement so that certification can show it catches a client that breaks it.
DEFECTS = {
    "lww-strict-less": "LWW-010: equal clocks keep whichever operation arrived first instead of "
                       "breaking the tie by op id (the Dataans strict '<')",
    "retry-fresh-ids": "SYNC-008, OP-004: an upload whose answer was lost is sent again under "
                       "fresh op ids, as if it had failed",
    "backoff-wall-clock": "SYNC-020: backoff waits are measured on the wall clock, so a clock "
                          "set back makes them last longer",
    "no-resume": "FILE-031: an interrupted file upload starts again from chunk 0 instead of "
                 "sending only the chunks the server lacks",
    "stamp-wall-clock": "HLC-001, HLC-004: local writes are stamped with the device's clock "
                        "alone, ignoring the HLC, so a clock set back stamps a later write below "
                        "an earlier one",
}


def defects_from_environment(environ=None):
    text = (environ if environ is not None else os.environ).get("OPSYNC_PY_DEFECT", "")
    return parse_defects(text)


def parse_defects(text_or_names):
    if isinstance(text_or_names, str):
        names = [name.strip() for name in text_or_names.split(",") if name.strip()]
    else:
        names = list(text_or_names or ())
    unknown = [name for name in names if name not in DEFECTS]
    if unknown:
        raise ValueError(f"unknown defect {', '.join(unknown)}; known: {', '.join(sorted(DEFECTS))}")
    return frozenset(names)


class Environment:
    """Clocks, waits and randomness. All times are integers in milliseconds.

    wall_ms()        -- the device's wall clock (may step, stand still or go back)
    monotonic_ms()   -- a clock that only moves forward at the rate of time (SYNC-020)
    sleep_ms(ms)     -- block for about ``ms`` (the driver's notion of time passing)
    random_bytes(n)  -- n bytes from a cryptographically secure source (CRY-022, OP-002)
    """

    # A wait is carried out in slices no longer than this, so that a clock that moved during a
    # slice is read again before the wait goes on.
    WAIT_SLICE_MS_MAX = 1_000

    def __init__(self, wall_ms=None, monotonic_ms=None, sleep_ms=None, random_bytes=None,
                 defects=None):
        self.wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self.monotonic_ms = monotonic_ms or (lambda: int(time.monotonic() * 1000))
        self.sleep_ms = sleep_ms or (lambda ms: time.sleep(ms / 1000))
        self.random_bytes = random_bytes or os.urandom
        self.defects = defects_from_environment() if defects is None else parse_defects(defects)
        self.waits_ms = []  # every wait asked for, in order (reports and tests read it)

    def has_defect(self, name):
        assert name in DEFECTS, name
        return name in self.defects

    def wait_ms(self, duration_ms):
        """Waits ``duration_ms`` measured on the monotonic clock (SYNC-020): a wall clock that is
        set back, steps forward or stands still neither lengthens nor shortens it."""
        self.waits_ms.append(duration_ms)
        clock = self.wall_ms if self.has_defect("backoff-wall-clock") else self.monotonic_ms
        deadline = clock() + duration_ms
        # Bounded: each slice sleeps at least 1 ms, and a monotonic deadline is at most
        # duration_ms away. (The wall-clock defect can wait longer: that is the point of it.)
        while True:
            left = deadline - clock()
            if left <= 0:
                return
            self.sleep_ms(min(left, self.WAIT_SLICE_MS_MAX))
