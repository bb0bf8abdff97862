// opsync-sim swarm and merge: many seeds, each run in a process of its own, and the summaries of a
// swarm split into shards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "opsync/simulator/config.h"

namespace opsync::simulator::tool {

struct SwarmFlags {
  uint64_t seeds = 100;
  uint64_t first_seed = 1;
  uint32_t jobs = 1;
  std::string shard = "1/1";
  std::string faults = "everything";
  std::string protocol = "opsync-v1";
  std::string variant = "none";
  std::string json_path;
  std::string out_dir = ".";
  std::optional<uint64_t> show;      // print this seed's configuration instead of running
  uint32_t seed_timeout_s = 600;     // a seed without a verdict by then has hung: killed, an error
  std::string program;               // how this program was started, for the replay hints
};

int swarm_command(const SwarmFlags& flags);
int merge_command(const std::vector<std::string>& paths, const std::string& json_path);

// How a run in a process of its own ended, when it did not end with a verdict.
struct IsolatedRun {
  bool completed = false;      // the run ended with a verdict (`passed`)
  bool passed = false;
  std::string error;           // otherwise: how the process ended, and the last lines it wrote
};
// Runs `config` (twice when `twice`, comparing the trace hashes) in a child process, so that a
// crash, an abort or a hang of the code under test ends the child, not this program.
IsolatedRun run_isolated(const Config& config, uint32_t timeout_s);

}  // namespace opsync::simulator::tool
