// A RapidCheck property over small generated scenarios: any devices, workload and faults, and
// under opsync-v1 every checker holds (convergence above all). Its companion runs the same
// property with a client that forgets an operation whose upload went unanswered, and requires
// RapidCheck to find the scenario that shows it. A failing case prints its configuration as JSON:
// `opsync-sim run --config` replays it.
//
// This replaces the client suite's two- or three-device convergence property, which drove the
// same code by hand with one random source for every node.
#include <rapidcheck.h>
#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>

#include "opsync/simulator/run.h"
#include "property_support.h"

using namespace opsync::simulator;

namespace {

// The sanitizer build runs the property on shorter scenarios: the same kinds, less of each.
#if OPSYNC_SIM_SMALL
constexpr uint32_t kOpsMax = 20;
constexpr uint64_t kChaosMsMax = 40000;
#else
constexpr uint32_t kOpsMax = 40;
constexpr uint64_t kChaosMsMax = 90000;
#endif

Config small_scenario() {
  Config c;
  c.seed = *rc::gen::arbitrary<uint64_t>();
  c.devices = *rc::gen::inRange<uint32_t>(1, 5);
  c.ops = *rc::gen::inRange<uint32_t>(0, kOpsMax);
  c.chaos_ms = *rc::gen::inRange<uint64_t>(10000, kChaosMsMax);
  c.keys = *rc::gen::inRange<uint32_t>(1, 8);
  c.hot_keys = *rc::gen::inRange<uint32_t>(0, c.keys + 1);
  c.attach_percent = *rc::gen::inRange<uint32_t>(0, 30);
  c.delete_percent = *rc::gen::inRange<uint32_t>(0, 30);
  c.detach_percent = *rc::gen::inRange<uint32_t>(0, 20);
  c.sync_interval_ms_max = *rc::gen::inRange<uint32_t>(1000, 20000);
  FaultProfile& f = c.faults;
  f.name = "generated";
  f.latency_ms_max = *rc::gen::inRange<uint32_t>(1, 500);
  f.latency_spike_ppm = *rc::gen::inRange<uint32_t>(0, 50000);
  f.latency_spike_ms_max = *rc::gen::inRange<uint32_t>(0, 30000);
  f.request_loss_ppm = *rc::gen::inRange<uint32_t>(0, 150000);
  f.response_loss_ppm = *rc::gen::inRange<uint32_t>(0, 150000);
  f.duplicate_ppm = *rc::gen::inRange<uint32_t>(0, 100000);
  f.reset_ppm = *rc::gen::inRange<uint32_t>(0, 150000);
  f.partitions_per_hour = *rc::gen::inRange<uint32_t>(0, 200);
  f.clock_offset_ms_max = *rc::gen::inRange<uint64_t>(0, 7ull * 24 * 3600 * 1000);
  f.drift_ppm_max = *rc::gen::inRange<uint32_t>(0, 501);
  f.clock_steps_per_hour = *rc::gen::inRange<uint32_t>(0, 120);
  f.clock_step_ms_max = *rc::gen::inRange<uint64_t>(0, 2 * 3600 * 1000);
  f.clock_freezes_per_hour = *rc::gen::inRange<uint32_t>(0, 60);
  f.clock_freeze_ms_max = *rc::gen::inRange<uint32_t>(0, 60000);
  f.device_crashes_per_hour = *rc::gen::inRange<uint32_t>(0, 60);
  f.server_crashes_per_hour = *rc::gen::inRange<uint32_t>(0, 30);
  f.backups_per_hour = *rc::gen::inRange<uint32_t>(0, 60);
  f.restores_per_hour = *rc::gen::inRange<uint32_t>(0, 20);
  f.joins = *rc::gen::inRange<uint32_t>(0, 2);
  f.revocations = c.devices + f.joins > 1 ? *rc::gen::inRange<uint32_t>(0, 2) : 0;
  return c;
}

void converges(std::optional<Variant> variant) {
  Config config = small_scenario();
  if (variant) {
    config.variant = *variant;
    config.faults.request_loss_ppm = std::max<uint32_t>(config.faults.request_loss_ppm, 100000);
    config.ops = std::max<uint32_t>(config.ops, 10);
  }
  RC_ASSERT(validate(config).ok());
  const RunResult result = run(config);
  if (!result.passed()) {
    std::string message =
        "replay: opsync-sim run --config (this configuration)\n" + to_json(config).dump();
    for (const Violation& v : result.violations) message += "\n" + v.checker + ": " + v.message;
    RC_FAIL(message);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(property)

RC_BOOST_PROP(generated_scenarios_converge_and_pass_every_checker, ()) { converges(std::nullopt); }

BOOST_AUTO_TEST_CASE(the_property_catches_a_client_that_forgets_unanswered_uploads) {
  BOOST_TEST(opsync::testing::finds_counterexample(
      "a client that forgets operations whose upload went unanswered",
      [] { converges(Variant::kForgetLostUploads); }));
}

BOOST_AUTO_TEST_SUITE_END()
