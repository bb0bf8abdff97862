// Many seeds, each drawing its own devices, workload and mix of faults across the whole fault
// space (swarm testing): every checker holds under opsync-v1, and every seed runs twice to the same
// trace hash. CI runs a slice; `opsync-sim swarm --seeds 100000` runs the whole.
// A fixed set of seeds must also give the hashes committed in tests/trace_hashes.json, in every
// build configuration: the release and the sanitizer builds run this same test against the same
// file, so a hash that depends on the build fails one of them.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "opsync/simulator/run.h"

using namespace opsync::simulator;

namespace {

#ifndef OPSYNC_SIM_SWARM_SEEDS
#define OPSYNC_SIM_SWARM_SEEDS 100
#endif

constexpr const char* kHashesFile = "simulator/tests/trace_hashes.json";
constexpr uint64_t kHashSeeds[] = {11, 22, 33, 44, 55, 66};

std::string describe(const RunResult& result) {
  std::string out = to_json(result.config).dump();
  for (const Violation& v : result.violations) out += "\n  " + v.checker + ": " + v.message;
  return out;
}

// Seeds first, first + stride, ...: the two suites split one swarm between two CTest tests.
void swarm(uint64_t first, uint64_t stride) {
  const FaultProfile base = *named_profile("everything");
  for (uint64_t seed = first; seed <= OPSYNC_SIM_SWARM_SEEDS; seed += stride) {
    const Config config = swarm_config(seed, base, Protocol::kOpsyncV1);
    const RunResult once = run(config);
    const RunResult twice = run(config);
    BOOST_TEST(once.passed(), "seed " << seed << " failed: " << describe(once));
    BOOST_TEST(hash_hex(once.trace_hash) == hash_hex(twice.trace_hash),
               "seed " << seed << " ran to two trace hashes");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(swarm_odd)
BOOST_AUTO_TEST_CASE(odd_seeds_pass_and_replay) { swarm(1, 2); }
BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(swarm_even)
BOOST_AUTO_TEST_CASE(even_seeds_pass_and_replay) { swarm(2, 2); }
BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(trace_hashes)

BOOST_AUTO_TEST_CASE(fixed_seeds_give_the_committed_hashes_in_every_build) {
  const FaultProfile base = *named_profile("everything");
  nlohmann::json computed = nlohmann::json::object();
  for (uint64_t seed : kHashSeeds) {
    Config config = swarm_config(seed, base, Protocol::kOpsyncV1);
    // Small: the sanitizer build runs them too.
    config.ops = std::min<uint32_t>(config.ops, 80);
    config.chaos_ms = std::min<uint64_t>(config.chaos_ms, 120000);
    config.devices = std::min<uint32_t>(config.devices, 8);
    config.faults.joins = std::min<uint32_t>(config.faults.joins, 2);
    config.faults.revocations =
        std::min<uint32_t>(config.faults.revocations, config.devices + config.faults.joins - 1);
    const RunResult once = run(config);
    const RunResult twice = run(config);
    BOOST_TEST(hash_hex(once.trace_hash) == hash_hex(twice.trace_hash), "seed " << seed);
    computed[std::to_string(seed)] = hash_hex(once.trace_hash);
  }
  if (std::getenv("OPSYNC_SIM_WRITE_HASHES")) {
    std::ofstream out(kHashesFile);
    out << computed.dump(2) << "\n";
    BOOST_TEST_MESSAGE("wrote " << kHashesFile);
    return;
  }
  std::ifstream in(kHashesFile);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << kHashesFile);
  const nlohmann::json committed = nlohmann::json::parse(in);
  for (const auto& [seed, hash] : computed.items())
    BOOST_TEST(
        committed.value(seed, "") == hash.get<std::string>(),
        "seed " << seed << " now hashes to " << hash.get<std::string>()
                << ". If the run's behaviour changed on purpose (any byte on the wire counts), "
                   "rewrite the file: OPSYNC_SIM_WRITE_HASHES=1 "
                   "build/release/simulator/simulator_tests "
                   "--run_test=trace_hashes (from the repository root)");
}

BOOST_AUTO_TEST_SUITE_END()
