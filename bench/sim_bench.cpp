// Figures for the simulator: how much faster than real time the default scenario runs, events and
// operations per second of wall time, and how many swarm seeds (each run twice) an hour of CPU
// gets through with the devices' stores as files and in memory, the same seeds in one run. Wall
// time is the process's own CPU time too (getrusage), so a busy machine shows in the gap between
// the two.
//
//   build/release/bench/sim_bench [--runs N] [--swarm-seeds M]
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

#include "opsync/simulator/run.h"

using namespace opsync::simulator;

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double wall_seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sim_bench: the simulator's speed on the default scenario and on swarm seeds"};
  uint32_t runs = 5;
  uint32_t swarm_seeds = 40;
  app.add_option("--runs", runs, "Runs of the default scenario (seeds 1..N)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--swarm-seeds", swarm_seeds, "Swarm seeds, each run twice")
      ->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);

  const Config example = default_config(1);
  std::printf(
      "default scenario: %u devices, %u edits, %llu s of chaos, faults %s, files up to %u chunks\n",
      example.devices, example.ops, static_cast<unsigned long long>(example.chaos_ms / 1000),
      example.faults.name.c_str(), example.file_chunks_max);
  std::printf("%6s %8s %6s %7s %6s %9s %9s %9s %11s %10s\n", "seed", "events", "edits", "syncs",
              "files", "wall ms", "cpu ms", "chaos/wall", "events/s", "edits/s");
  double total_wall = 0, total_cpu = 0;
  uint64_t total_events = 0, total_edits = 0, total_chaos_ms = 0, total_simulated_ms = 0;
  for (uint32_t seed = 1; seed <= runs; ++seed) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    const RunResult result = run(default_config(seed));
    const double wall = wall_seconds(start), cpu = cpu_seconds() - cpu_start;
    const Figures& f = result.figures;
    total_wall += wall;
    total_cpu += cpu;
    total_events += f.events;
    total_edits += f.edits;
    total_chaos_ms += f.chaos_ms;
    total_simulated_ms += f.simulated_ms;
    std::printf("%6u %8llu %6llu %7llu %6llu %9.0f %9.0f %9.0fx %11.0f %10.0f %s\n", seed,
                static_cast<unsigned long long>(f.events), static_cast<unsigned long long>(f.edits),
                static_cast<unsigned long long>(f.syncs),
                static_cast<unsigned long long>(f.files_attached), wall * 1000, cpu * 1000,
                static_cast<double>(f.chaos_ms) / 1000 / wall, static_cast<double>(f.events) / wall,
                static_cast<double>(f.edits) / wall, result.passed() ? "" : "FAILED");
  }
  std::printf(
      "mean: %.0f ms wall, %.0f ms cpu per run; chaos %.0fx real time (all %.0f s simulated, heal "
      "and "
      "collection included: %.0fx); %.0f events/s, %.0f edits/s of cpu\n",
      total_wall * 1000 / runs, total_cpu * 1000 / runs, total_chaos_ms / 1000.0 / total_wall,
      total_simulated_ms / 1000.0 / runs, total_simulated_ms / 1000.0 / total_wall,
      static_cast<double>(total_events) / total_cpu, static_cast<double>(total_edits) / total_cpu);

  // The swarm's seeds, run twice each, once with the devices' stores as files (in /dev/shm, as
  // the shipping client keeps them) and once in memory (SQLite's memdb VFS, the simulator's
  // default): the same seeds, the same traces, in one run of this program.
  const FaultProfile everything = *named_profile("everything");
  struct Pass {
    const char* name;
    RunOptions::DeviceStores stores;
    double wall = 0, cpu = 0;
    uint64_t failed = 0;
  };
  Pass passes[] = {{"files in /dev/shm", RunOptions::DeviceStores::kFiles},
                   {"memory (memdb)", RunOptions::DeviceStores::kMemory}};
  std::vector<opsync::Hash> hashes[2];
  for (int p = 0; p < 2; ++p) {
    Pass& pass = passes[p];
    RunOptions options;
    options.device_stores = pass.stores;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    for (uint32_t seed = 1; seed <= swarm_seeds; ++seed) {
      const Config config = swarm_config(seed, everything, Protocol::kOpsyncV1);
      const RunResult once = run(config, options);
      const RunResult twice = run(config, options);
      pass.failed += !once.passed() || once.trace_hash != twice.trace_hash;
      hashes[p].push_back(once.trace_hash);
    }
    pass.wall = wall_seconds(start);
    pass.cpu = cpu_seconds() - cpu_start;
    std::printf(
        "swarm, stores as %s: %u seeds (each twice) in %.1f s wall, %.1f s cpu: %.0f ms cpu per "
        "seed, "
        "%.0f seeds per cpu hour (%.0f an hour on two cores), 10,000 seeds in %.1f minutes on two "
        "cores%s\n",
        pass.name, swarm_seeds, pass.wall, pass.cpu, pass.cpu * 1000 / swarm_seeds,
        3600 / (pass.cpu / swarm_seeds), 2 * 3600 / (pass.cpu / swarm_seeds),
        10000 * (pass.cpu / swarm_seeds) / 2 / 60, pass.failed ? " (SOME FAILED)" : "");
  }
  const bool same_traces = hashes[0] == hashes[1];
  std::printf("memory over files: %.2fx the seeds per cpu hour; the same %u traces: %s\n",
              passes[0].cpu / passes[1].cpu, swarm_seeds, same_traces ? "yes" : "NO");
  return passes[0].failed == 0 && passes[1].failed == 0 && same_traces ? 0 : 1;
}
