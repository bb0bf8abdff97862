// A device killed after each of its durable steps in turn (every commit of its store and every
// change of a blob, StoreOptions::after_durable_step), restarted from what it had committed, and
// every checker still holds: edits, attaches, downloads, deletions of files, uploads re-stamped
// after clock_skew, a divergence after a restore. This is where the client's crash bugs the
// simulator found stay found: a copy promoted but not recorded, a copy removed before the store
// forgot it, an attach killed before its edit committed, re-stamping half done.
#include <boost/test/unit_test.hpp>

#include "opsync/simulator/run.h"

using namespace opsync::simulator;

namespace {

ScriptStep step(uint64_t at_ms, uint32_t device, std::string action) {
  ScriptStep s;
  s.at_ms = at_ms;
  s.device = device;
  s.action = std::move(action);
  return s;
}

ScriptStep edit(uint64_t at_ms, uint32_t device, std::string action, std::string key,
                std::string value = "", uint64_t file_bytes = 0) {
  ScriptStep s = step(at_ms, device, std::move(action));
  s.key = std::move(key);
  s.value = std::move(value);
  s.file_bytes = file_bytes;
  return s;
}

// Device `victim` dies after `steps` durable steps from the start of the chaos.
Config scenario(uint32_t victim, uint32_t steps) {
  Config c;
  c.seed = 7;
  c.devices = 2;
  c.ops = 0;
  c.chaos_ms = 60000;
  c.faults = *named_profile("none");
  ScriptStep clock = step(0, 0, "clock");
  clock.clock_offset_ms = 10 * 60 * 1000;  // ahead of the server's skew limit: re-stamping
  ScriptStep crash = step(100, victim, "crash");
  crash.steps = steps;
  ScriptStep restore = step(9000, 0, "restore");
  restore.steps = 0;
  c.script = {clock,
              crash,
              step(200, 0, "backup"),
              edit(500, 0, "put", "note-a", "the first value of a"),
              edit(600, 0, "attach", "album", "", 3 * 65536 + 100),
              edit(700, 1, "put", "note-b", "written by b"),
              edit(800, 0, "put", "note-a", "the second value of a"),
              step(1000, 0, "sync"),
              step(3000, 1, "sync"),
              edit(5000, 0, "detach", "album"),
              edit(5100, 0, "attach", "album", "", 1000),
              edit(5200, 1, "delete", "note-a"),
              step(6000, 0, "sync"),
              step(7000, 1, "sync"),
              restore,
              edit(10000, 1, "put", "note-c", "after the restore"),
              step(11000, 1, "sync"),
              step(12000, 0, "sync"),
              step(20000, 1, "sync"),
              step(21000, 0, "sync")};
  return c;
}

std::string describe(const RunResult& result) {
  std::string out;
  for (const Violation& v : result.violations) out += "\n  " + v.checker + ": " + v.message;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crashes)

BOOST_AUTO_TEST_CASE(a_device_killed_after_any_durable_step_restarts_and_the_checkers_hold) {
  const RunResult calm = run(scenario(0, 100000));  // armed too late to fire
  BOOST_REQUIRE_MESSAGE(calm.passed(), "the scenario fails without a crash:" << describe(calm));
  BOOST_TEST(calm.figures.device_crashes == 0u);
  // Every durable step of each device's run, up to the first count at which the device has
  // finished before the crash could fire.
  for (uint32_t victim : {0u, 1u})
    for (uint32_t steps = 1; steps <= 80; ++steps) {
      const RunResult result = run(scenario(victim, steps));
      if (result.figures.device_crashes == 0) {
        BOOST_TEST(steps > 30u,
                   "device-" << victim << " takes only " << steps - 1 << " durable steps");
        break;
      }
      BOOST_TEST(steps < 80u,
                 "device-" << victim << " still crashes after 80 steps: the scenario never ends");
      BOOST_TEST(result.passed(), "device-" << victim << " killed after " << steps
                                            << " durable steps:" << describe(result));
    }
}

BOOST_AUTO_TEST_SUITE_END()
