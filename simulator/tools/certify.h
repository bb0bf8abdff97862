// opsync-sim certify-client: a client conformance run. Any client, behind an adapter that speaks
// opsync-client-adapter/1 (spec/client-adapter.md), runs on the simulated devices through the
// certification's cases (simulator/certification/cases.json: scripted runs with permanent ids,
// each citing the client requirements its checkers judge) and a swarm of drawn seeds; the reports
// are opsync-conformance's (summary, JUnit, JSON, HTML), with the same outcomes, levels and
// known-failures file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace opsync::simulator::tool {

inline constexpr uint64_t kCertifySwarmSeedsDefault = 16;

struct CertifyFlags {
  std::string adapter;
  std::string level = "should";      // must: MUST cases only; should: every case
  std::vector<std::string> filters;  // globs over case ids
  bool list = false;                 // print the cases and run nothing
  bool coverage = false;             // print the client-side requirements' coverage and run nothing
  std::string coverage_json;         // ... or write it as JSON to this file
  uint64_t seed = 1;                 // the cases' seed and the swarm's first seed
  uint64_t swarm_seeds = kCertifySwarmSeedsDefault;
  uint32_t jobs = 2;
  std::string known_failures;
  std::string junit_path;
  std::string json_path;
  std::string html_path;
  std::string out_dir = "opsync-certify";  // bug files and pages of the failures
  uint64_t turn_timeout_ms = 10'000;
  uint32_t run_timeout_s = 600;
  std::string program;  // how opsync-sim was started, for the replay hints
};

int certify_client_command(const CertifyFlags& flags);

}  // namespace opsync::simulator::tool
