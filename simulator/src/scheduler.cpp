#include "scheduler.h"

#include <algorithm>
#include <string>

#include "opsync/protocol/check.h"

namespace opsync::simulator {

void Scheduler::schedule(uint64_t at_ms, std::function<void()> action) {
  OPSYNC_CHECK_MSG(at_ms >= now_, "an event scheduled in the past");
  const uint64_t sequence = ++sequence_;
  actions_.emplace(sequence, std::move(action));
  queue_.push(Scheduled{at_ms, sequence});
}

void Scheduler::run_events(uint64_t until_ms) {
  // Bounded by the time limit: every event moves time forward or runs one of finitely many
  // actions scheduled at this time, and events scheduled in the past are refused.
  while (!queue_.empty() && queue_.top().at_ms <= until_ms) {
    ++events_run_;
    if (events_max_ && events_run_ > events_max_)
      throw RunAbandoned{"more than " + std::to_string(events_max_) + " events"};
    if (give_up_ && events_run_ % 4096 == 0 && give_up_()) throw RunAbandoned{"given up"};
    const Scheduled next = queue_.top();
    queue_.pop();
    now_ = next.at_ms;
    auto it = actions_.find(next.sequence);
    std::function<void()> action = std::move(it->second);
    actions_.erase(it);
    action();
  }
}

void Scheduler::run_until(uint64_t until_ms) {
  run_events(until_ms);
  now_ = std::max(now_, until_ms);
}

}  // namespace opsync::simulator
