"""Hybrid logical clocks (spec 8.1, HLC-003, HLC-005)."""

from dataclasses import dataclass

WALL_MS_MAX = 2**48 - 1
COUNTER_MAX = 2**32 - 1


@dataclass(frozen=True, order=True)
class Timestamp:
    wall_ms: int
    counter: int

    def valid(self) -> bool:
        return 0 <= self.wall_ms <= WALL_MS_MAX and 0 <= self.counter <= COUNTER_MAX


TOP = Timestamp(WALL_MS_MAX, COUNTER_MAX)


def _clamp_physical(pt):
    return min(max(pt, 0), WALL_MS_MAX)


def _carry(wall, counter):
    """A counter past its maximum moves to the next millisecond; the top stays the top."""
    if counter > COUNTER_MAX:
        wall, counter = wall + 1, 0
    if wall > WALL_MS_MAX:
        return TOP
    return Timestamp(wall, counter)


def stamp(clock: Timestamp, physical_ms: int) -> Timestamp:
    """The send rule: the stamp of a local operation, which is also the new clock."""
    if clock == TOP:
        return TOP  # HLC-005: the clock stays at the largest timestamp.
    pt = _clamp_physical(physical_ms)
    if pt > clock.wall_ms:
        return Timestamp(pt, 0)
    return _carry(clock.wall_ms, clock.counter + 1)


def observe(clock: Timestamp, remote: Timestamp, physical_ms: int) -> Timestamp:
    """The receive rule: the clock after taking in a remote timestamp."""
    if clock == TOP:
        return TOP
    pt = _clamp_physical(physical_ms)
    wall = max(clock.wall_ms, remote.wall_ms, pt)
    if wall == clock.wall_ms and wall == remote.wall_ms:
        counter = max(clock.counter, remote.counter) + 1
    elif wall == clock.wall_ms:
        counter = clock.counter + 1
    elif wall == remote.wall_ms:
        counter = remote.counter + 1
    else:
        counter = 0
    return _carry(wall, counter)


def server_accepts(stamp_ts: Timestamp, server_now_ms: int, max_skew_ms: int) -> bool:
    """LOG-006, as a client can predict it."""
    return stamp_ts.wall_ms <= server_now_ms + max_skew_ms
