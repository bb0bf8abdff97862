// What the subcommands of opsync-sim share: exit codes, usage errors, JSON and bug files on disk.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "opsync/simulator/bugfile.h"
#include "opsync/simulator/run.h"

namespace opsync::simulator::tool {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;
constexpr uint32_t kJobsMax = 64;

// A usage error: one line naming the problem, exit code 2.
struct UsageError {
  std::string message;
};

uint64_t wall_ms_since(std::chrono::steady_clock::time_point start);
nlohmann::json read_json_file(const std::string& path);
nlohmann::json figures_json(const Figures& f);
nlohmann::json violation_json(const Violation& v);

// Writes `bug` into `dir` as bug-seed-N.json (with the variant's and -server's marks), or, when a
// file of that name holds another run, bug-seed-N-2.json and so on: one run never overwrites
// another's bug file. Returns the path.
std::string save_bug(const BugFile& bug, const std::string& dir);
// A failure's bug file: the run again, keeping its decisions and its fault schedule.
std::string save_failure(const Config& config, const std::string& dir);

// A configuration file: a bug file ({"format": "opsync-bug/1", "config": ...}), a scenario being
// written ({"config": ..., "description": ...}) or a bare configuration.
Config config_from_file(const std::string& path);
BugFile bug_from_file(const std::string& path);
// A seed in plain decimal from 0 to 2^64 - 1 (CLI11 would take "-1" as 2^64 - 1).
uint64_t parse_seed(const std::string& flag, const std::string& text);
// The deliberately broken variants --variant takes, comma-separated, from the catalog itself, so
// that help and errors never list a stale set.
std::string variant_list();
// The variant called `name`; a UsageError that lists the variants when there is none.
Variant variant_or_usage_error(const std::string& name);

}  // namespace opsync::simulator::tool
