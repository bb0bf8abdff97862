// opsync-sim swarm and merge: many seeds, each run in a process of its own, and the summaries of a
// swarm split into shards.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "opsync/simulator/config.h"
#include "opsync/simulator/run.h"

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
  std::string verdicts_path;  // one JSON line per seed: its verdict and trace hash
  std::string out_dir = ".";
  std::optional<uint64_t> show;       // print this seed's configuration instead of running
  uint32_t seed_timeout_s = 600;      // a seed without a verdict by then has hung: killed, an error
  std::string program;                // how this program was started, for the replay hints
  std::string adapter;                // a client under test: every device runs this adapter command
  uint64_t turn_timeout_ms = 10'000;  // its turns' bound of wall time (ADP-011)
};

// One run of the swarm's engine: a configuration, the devices that run the reference client when
// a client under test runs the others, and a name for its bug file (empty: by its seed).
struct SeedJob {
  Config config;
  std::set<uint32_t> reference_devices;
  std::string name;
};

struct SeedRunFlags {
  uint32_t jobs = 1;
  uint32_t seed_timeout_s = 600;
  std::string out_dir = ".";
  std::string adapter;  // empty: the reference client in the run's process
  uint64_t turn_timeout_ms = 10'000;
  bool twice = true;    // run each job twice and compare (traces, or verdicts for a client that
                        // draws randomness of its own)
  bool quiet = false;   // no line per failure on standard error (the caller reports them)
  std::string program;  // for the replay hints
  std::string label = "swarm";  // the progress line's
  std::string unit = "seeds";
};

// How one job ended, as its child reports it on one line.
struct SeedOutcome {
  uint64_t seed = 0;
  std::string name;
  bool passed = true;
  bool deterministic = true;
  bool error =
      false;  // no verdict: the child crashed, aborted or hung, or the adapter broke the protocol
  std::string hash;
  uint64_t events = 0;
  std::vector<std::string> checkers;
  std::string first_message;
  std::vector<std::pair<std::string, std::string>>
      violations;        // every checker that failed, and its message
  uint64_t wall_ms = 0;  // of the run (the first, when twice)
  std::string file;      // the bug file
  std::string page;      // the rendered page, when there is a trace to draw
};

// Runs every job in a child process of its own, `jobs` at a time, with a progress line on
// standard error; the outcomes in the jobs' order. Failures leave bug files (and pages) in out_dir.
std::vector<SeedOutcome> run_jobs(const std::vector<SeedJob>& jobs, const SeedRunFlags& flags);

int swarm_command(const SwarmFlags& flags);
int merge_command(const std::vector<std::string>& paths, const std::string& json_path);

// How a run in a process of its own ended, when it did not end with a verdict.
struct IsolatedRun {
  bool completed = false;  // the run ended with a verdict (`passed`)
  bool passed = false;
  std::string error;  // otherwise: how the process ended, and the last lines it wrote
};
// Runs `config` (twice when `twice`, comparing the trace hashes) in a child process, so that a
// crash, an abort or a hang of the code under test ends the child, not this program.
// `channels`: a client under test's (common.h, client_channels).
IsolatedRun run_isolated(const Config& config, uint32_t timeout_s,
                         const RunOptions* channels = nullptr);

}  // namespace opsync::simulator::tool
