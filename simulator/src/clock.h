// A node's clock: what the node reads at each true virtual time. It starts at an offset from
// true time, drifts (parts per million), can step forward or backward, and can stand still for a
// while. Changes apply at the true time they are made, which never goes backwards (the scheduler
// runs events in time order), so the clock is a small state rebased at each change.
#pragma once

#include <cstdint>
#include <optional>

namespace opsync::simulator {

class NodeClock {
 public:
  NodeClock() = default;
  NodeClock(uint64_t true_ms, int64_t offset_ms, int32_t drift_ppm);

  // The reading at true time `true_ms`. REQUIRES: true_ms at or after the last change.
  uint64_t read(uint64_t true_ms) const;
  // The reading jumps by `delta_ms` at `true_ms` (forward or backward).
  void step(uint64_t true_ms, int64_t delta_ms);
  // The clock stands still from `true_ms` until unfreeze().
  void freeze(uint64_t true_ms);
  void unfreeze(uint64_t true_ms);
  // The reading becomes true time plus `offset_ms` at `true_ms` (no drift), standing still or not.
  void set(uint64_t true_ms, int64_t offset_ms, bool frozen);
  bool frozen() const { return frozen_; }
  int32_t drift_ppm() const { return drift_ppm_; }
  // The earliest true time from `true_ms` on at which the clock reads at least `reading`, if no
  // change intervenes; nullopt while it stands still below it.
  std::optional<uint64_t> true_time_reaching(uint64_t reading, uint64_t true_ms) const;

 private:
  void rebase(uint64_t true_ms);

  uint64_t base_true_ms_ = 0;
  int64_t base_reading_ms_ = 0;
  int32_t drift_ppm_ = 0;
  bool frozen_ = false;
};

}  // namespace opsync::simulator
