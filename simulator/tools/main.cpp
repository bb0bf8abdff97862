#include <chrono>
#include <iostream>

#include "opsync/simulator/run.h"

using namespace opsync::simulator;

int main(int argc, char** argv) {
  uint64_t seed = argc > 1 ? std::stoull(argv[1]) : 1;
  Config config = default_config(seed);
  if (argc > 2) config.faults = *named_profile(argv[2]);
  if (argc > 3) config.ops = std::stoul(argv[3]);
  const auto start = std::chrono::steady_clock::now();
  RunOptions options;
  options.keep_events = getenv("TRACE") != nullptr;
  RunResult result = run(config, options);
  for (const TraceEvent& e : result.events)
    std::cout << e.time_ms - 1764000000000 << " " << e.node << " [" << e.clock_ms << "] " << e.kind << " #" << e.exchange << " " << e.detail << "\n";
  const auto wall = std::chrono::steady_clock::now() - start;
  std::cout << "verdict " << (result.passed() ? "pass" : "FAIL") << " hash " << hash_hex(result.trace_hash) << "\n";
  for (const Violation& v : result.violations) std::cout << "  " << v.checker << ": " << v.message << "\n";
  const Figures& f = result.figures;
  std::cout << "events " << f.events << " edits " << f.edits << " log " << f.ops_in_log << " syncs " << f.syncs
            << " failed " << f.syncs_failed << " requests " << f.requests << " crashes " << f.device_crashes
            << " restores " << f.restores << " heal rounds " << f.heal_rounds << " sim " << f.simulated_ms << " ms wall "
            << std::chrono::duration_cast<std::chrono::milliseconds>(wall).count() << " ms\n";
  return result.passed() ? 0 : 1;
}
