// What the subcommands of opsync-sim share: exit codes, usage errors, JSON and bug files on disk.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
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
// `name` (without .json) replaces the seed's name: a certification case's file is named by its id.
std::string save_bug(const BugFile& bug, const std::string& dir, const std::string& name = "");
// A failure's bug file: the run again (through `channels` for a client under test), keeping its
// decisions and its fault schedule.
std::string save_failure(const Config& config, const std::string& dir,
                         const RunOptions* channels = nullptr, const std::string& name = "");
// The options of a run whose devices run `adapter` (spec/client-adapter.md) in processes of their
// own, but `reference_devices`, which run the reference client; no adapter: the reference client.
RunOptions client_channels(const std::string& adapter, uint64_t turn_timeout_ms,
                           std::set<uint32_t> reference_devices = {});
// What a bug file replays through: for a client under test, its adapter again (or `adapter`, a
// newer build of it, when given); otherwise nothing but the reference client.
RunOptions replay_channels(const BugFile& bug, const std::string& adapter = "");

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
