#include "opsync/protocol/hlc.h"

#include <algorithm>

#include "opsync/protocol/check.h"
#include "opsync/protocol/limits.h"

namespace opsync {

namespace {

// (wall_ms + 1, 0), or the largest timestamp when there is no next millisecond (HLC-003). Only a
// remote timestamp at the very top of the range, which no server accepts (LOG-006), gets here.
Hlc next_millisecond(uint64_t wall_ms) {
  if (wall_ms + 1 >= kHlcWallMsLimit)
    return Hlc{kHlcWallMsLimit - 1, static_cast<uint32_t>(kHlcCounterMax)};
  return Hlc{wall_ms + 1, 0};
}

}  // namespace

HlcClock::HlcClock(Hlc last) : last_(last) { OPSYNC_CHECK(last.wall_ms < kHlcWallMsLimit); }

Hlc HlcClock::stamp(uint64_t physical_ms) {
  physical_ms = std::min(physical_ms, kHlcWallMsLimit - 1);  // HLC-005
  if (physical_ms > last_.wall_ms) {
    last_ = Hlc{physical_ms, 0};
  } else if (last_.counter < kHlcCounterMax) {
    ++last_.counter;
  } else {
    // The counter is exhausted within one millisecond: borrow the next millisecond.
    last_ = next_millisecond(last_.wall_ms);
  }
  return last_;
}

void HlcClock::observe(const Hlc& remote, uint64_t physical_ms) {
  OPSYNC_CHECK(remote.wall_ms < kHlcWallMsLimit);
  physical_ms = std::min(physical_ms, kHlcWallMsLimit - 1);  // HLC-005
  const uint64_t l = std::max({last_.wall_ms, remote.wall_ms, physical_ms});
  uint64_t c;  // 64 bits so the overflow below is visible
  if (l == last_.wall_ms && l == remote.wall_ms) {
    c = uint64_t{std::max(last_.counter, remote.counter)} + 1;
  } else if (l == last_.wall_ms) {
    c = uint64_t{last_.counter} + 1;
  } else if (l == remote.wall_ms) {
    c = uint64_t{remote.counter} + 1;
  } else {
    c = 0;
  }
  if (c > kHlcCounterMax) {
    last_ = next_millisecond(l);
  } else {
    last_ = Hlc{l, static_cast<uint32_t>(c)};
  }
}

int64_t estimate_clock_offset_ms(uint64_t local_send_ms, uint64_t local_receive_ms,
                                 uint64_t server_time_ms) {
  // A wall clock stepped back during the request leaves no midpoint; the receive time is the
  // better reading then.
  const uint64_t midpoint = local_receive_ms >= local_send_ms
                                ? local_send_ms + (local_receive_ms - local_send_ms) / 2
                                : local_receive_ms;
  return static_cast<int64_t>(server_time_ms) - static_cast<int64_t>(midpoint);
}

}  // namespace opsync
