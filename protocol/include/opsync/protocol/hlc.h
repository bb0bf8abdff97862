// Hybrid logical clocks (spec section 8).
//
// A device's clock stays close to (corrected) physical time, never goes backwards, and is always
// above every timestamp the device has taken in, so a write made after seeing another carries a
// larger timestamp whatever the physical clocks say. The physical time is a parameter: this class
// never reads a clock.
#pragma once

#include <cstdint>

#include "opsync/protocol/op.h"

namespace opsync {

class HlcClock {
 public:
  explicit HlcClock(Hlc last = {});

  // Stamps a local operation at physical time `physical_ms` (send rule, HLC-001).
  // A physical time of 2^48 or more counts as 2^48 - 1; at the largest timestamp the clock stays
  // where it is (HLC-005).
  Hlc stamp(uint64_t physical_ms);

  // Takes in the timestamp of an operation applied from the server (receive rule, HLC-002).
  // REQUIRES: remote.wall_ms < 2^48 (checked; parsing rejects larger ones). physical_ms is taken
  // as in stamp().
  void observe(const Hlc& remote, uint64_t physical_ms);

  // Re-stamping after a clock_skew rejection (HLC-020): the clock restarts from `floor`, the
  // largest timestamp among the operations the server has accepted.
  void reset(const Hlc& floor) { last_ = floor; }

  const Hlc& last() const { return last_; }

 private:
  Hlc last_;
};

// The server's acceptance test of LOG-006: wall_ms no further ahead than the maximum skew.
inline bool within_clock_skew(const Hlc& stamp, uint64_t server_now_ms, uint64_t max_skew_ms) {
  return stamp.wall_ms <= server_now_ms + max_skew_ms;
}

// HLC-010: offset = server_time - midpoint of the local send and receive readings (the receive
// reading alone if the local clock stepped back in between).
int64_t estimate_clock_offset_ms(uint64_t local_send_ms, uint64_t local_receive_ms,
                                 uint64_t server_time_ms);

}  // namespace opsync
