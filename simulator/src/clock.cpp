#include "clock.h"

#include <algorithm>

#include "opsync/protocol/check.h"

namespace opsync::simulator {
namespace {

constexpr int64_t kMillion = 1'000'000;

// Floor division that rounds toward negative infinity, so that a clock drifting slow never reads
// a value it would not reach.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

NodeClock::NodeClock(uint64_t true_ms, int64_t offset_ms, int32_t drift_ppm)
    : base_true_ms_(true_ms),
      base_reading_ms_(static_cast<int64_t>(true_ms) + offset_ms),
      drift_ppm_(drift_ppm) {
  OPSYNC_CHECK(drift_ppm > -kMillion && drift_ppm < kMillion);
}

uint64_t NodeClock::read(uint64_t true_ms) const {
  OPSYNC_CHECK_MSG(true_ms >= base_true_ms_, "a clock read before its last change");
  if (frozen_) return static_cast<uint64_t>(std::max<int64_t>(0, base_reading_ms_));
  const int64_t elapsed = static_cast<int64_t>(true_ms - base_true_ms_);
  const int64_t reading = base_reading_ms_ + elapsed + floor_div(elapsed * drift_ppm_, kMillion);
  return static_cast<uint64_t>(std::max<int64_t>(0, reading));
}

void NodeClock::rebase(uint64_t true_ms) {
  base_reading_ms_ = static_cast<int64_t>(read(true_ms));
  base_true_ms_ = true_ms;
}

void NodeClock::step(uint64_t true_ms, int64_t delta_ms) {
  rebase(true_ms);
  base_reading_ms_ = std::max<int64_t>(0, base_reading_ms_ + delta_ms);
}

void NodeClock::freeze(uint64_t true_ms) {
  rebase(true_ms);
  frozen_ = true;
}

void NodeClock::unfreeze(uint64_t true_ms) {
  rebase(true_ms);
  frozen_ = false;
}

void NodeClock::set(uint64_t true_ms, int64_t offset_ms, bool frozen) {
  rebase(true_ms);
  base_reading_ms_ = std::max<int64_t>(0, static_cast<int64_t>(true_ms) + offset_ms);
  drift_ppm_ = 0;
  frozen_ = frozen;
}

std::optional<uint64_t> NodeClock::true_time_reaching(uint64_t reading, uint64_t true_ms) const {
  const uint64_t now = read(true_ms);
  if (now >= reading) return true_ms;
  if (frozen_) return std::nullopt;
  // reading - now more milliseconds of clock take (reading - now) * 10^6 / (10^6 + drift) of true
  // time, rounded up, and at least one.
  const int64_t missing = static_cast<int64_t>(reading - now);
  const int64_t rate = kMillion + drift_ppm_;
  int64_t needed = (missing * kMillion + rate - 1) / rate;
  if (needed < 1) needed = 1;
  // Rounding in read() can leave the clock a millisecond short; step until it is not (bounded).
  uint64_t t = true_ms + static_cast<uint64_t>(needed);
  for (int i = 0; i < 4 && read(t) < reading; ++i) ++t;
  return t;
}

}  // namespace opsync::simulator
