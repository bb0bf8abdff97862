// The simulated world's clock and event queue: virtual time (true time, in milliseconds since the
// epoch) and the actions scheduled on it, run in time order, ties in the order they were
// scheduled.
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <vector>

#include "opsync/simulator/run.h"

namespace opsync::simulator {

class Scheduler {
 public:
  // `start_ms`: true time when the run begins. The options bound the events a run may take.
  Scheduler(uint64_t start_ms, const RunOptions& options)
      : now_(start_ms), events_max_(options.events_max), give_up_(options.give_up) {}

  uint64_t now() const { return now_; }
  // Runs `action` at true time `at_ms`, which must not be in the past.
  void schedule(uint64_t at_ms, std::function<void()> action);
  // Runs every event due at or before until_ms; time stops at the last one run. Throws
  // RunAbandoned past the events bound or once give_up answers true.
  void run_events(uint64_t until_ms);
  // The same, then time moves on to until_ms.
  void run_until(uint64_t until_ms);

 private:
  struct Scheduled {
    uint64_t at_ms;
    uint64_t sequence;
    bool operator>(const Scheduled& other) const {
      return at_ms != other.at_ms ? at_ms > other.at_ms : sequence > other.sequence;
    }
  };

  uint64_t now_;
  uint64_t events_max_;
  std::function<bool()> give_up_;
  uint64_t sequence_ = 0;
  uint64_t events_run_ = 0;  // scheduled actions run, for RunOptions::events_max
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> queue_;
  std::map<uint64_t, std::function<void()>> actions_;  // by sequence
};

}  // namespace opsync::simulator
