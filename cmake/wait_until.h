// Waiting in tests for something to happen: never a fixed sleep, which on a loaded machine (CI
// runs the suites side by side on two cores) is too short once in a while. A test waits for the
// condition itself, polling it, with a deadline generous enough that only a real fault reaches it.
//
//   poll_until(condition)              true once `condition()` holds, false at the deadline
//   wait_until(condition, "what")      the same, failing the test with what never happened
#pragma once

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <source_location>
#include <string>
#include <thread>

namespace opsync::testing {

// How long a condition may take before a test gives up on it.
inline constexpr std::chrono::milliseconds kConditionDeadline{30000};
// How often a condition is polled: its cost stays small beside the work it waits for.
inline constexpr std::chrono::milliseconds kConditionPoll{5};

// Polls `condition` until it holds or `deadline` has passed; whether it held. Safe on any thread.
template <typename Condition>
bool poll_until(Condition&& condition, std::chrono::milliseconds deadline = kConditionDeadline,
                std::chrono::milliseconds poll = kConditionPoll) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) return condition();  // one last look
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// Waits until `condition` holds; fails the test, saying where and what never happened, when it
// does not within `deadline`. On the test's thread only (Boost.Test's assertions).
template <typename Condition>
void wait_until(Condition&& condition, const std::string& what,
                std::chrono::milliseconds deadline = kConditionDeadline,
                std::chrono::milliseconds poll = kConditionPoll,
                std::source_location caller = std::source_location::current()) {
  BOOST_REQUIRE_MESSAGE(poll_until(condition, deadline, poll),
                        caller.file_name()
                            << ":" << caller.line() << ": waited " << deadline.count() << " ms for "
                            << what << "; it never happened");
}

}  // namespace opsync::testing
