// Bug files: one JSON file per failure, which replays it bit for bit.
//
// A bug file ("format": "opsync-bug/1", schema in simulator/schema/) holds the whole
// configuration (seed included), the decision log (every random decision the run took, in order,
// per stream), the fault schedule as it happened, the checkers that failed with their first
// violations, the trace hash and one 8-byte digest per trace event. Replaying takes every decision
// from the log instead of the seed's generators, so the same code gives the same trace; when the
// code changed, the digests say at which event the two runs part.
//
// The committed scenarios (simulator/scenarios/) are bug files with a description and the
// checkers expected to fail, under the protocol they record and under opsync-v1.
//
// A bug found against an external server (opsync-sim run --server URL) also holds every answer
// the server gave ("server": {"url", "answers"}), so that it replays without that server.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "opsync/protocol/result.h"
#include "opsync/simulator/import.h"
#include "opsync/simulator/run.h"

namespace opsync::simulator {

inline constexpr const char* kBugFormat = "opsync-bug/1";

struct BugFile {
  std::string simulator_version;
  Config config;
  std::vector<Violation> violations;  // empty when the recorded run passed
  Hash trace_hash;
  std::vector<uint64_t> event_digests;  // one per event of the recorded run
  DecisionLog decisions;
  std::vector<TraceEvent> schedule;  // the faults as they happened: time, node, kind, detail
  // Scenario files: what they show, and the checkers expected to fail ("recorded" for the
  // recorded protocol or variant, "opsync-v1" for the reference on the same configuration).
  std::string description;
  std::optional<nlohmann::json> expect;
  // A run against an external server: every answer it gave, which a replay takes instead.
  std::optional<ServerRecording> server;
  // A bug from real devices (opsync-sim import): their traced exchanges, replayed against the
  // reference core instead of simulated devices.
  std::optional<ImportedTrace> imported;
  // A run that ended without a verdict (outcome `error`: the process crashed, aborted or hung):
  // how it ended and the last lines it wrote. Such a file holds the configuration only (no
  // decisions, trace or violations); `replay` runs it again from its seed, in a process of its own.
  std::optional<std::string> error;
  // A run of a client under test (opsync-sim certify-client, spec/client-adapter.md): the
  // command every device's adapter ran, the devices that ran the reference client instead, and
  // whether a replay gives the same trace (every adapter took its randomness from the
  // simulator) or only the same verdict (ADP-081). A replay needs the adapter again.
  struct ClientUnderTest {
    std::string adapter;
    std::set<uint32_t> reference_devices;
    bool trace_replayable = true;
    bool operator==(const ClientUnderTest&) const = default;
  };
  std::optional<ClientUnderTest> client;

  // The checker a shrink must keep failing: the first that failed.
  std::string checker() const { return violations.empty() ? "" : violations.front().checker; }
};

// The bug file of a run. REQUIRES: the run kept its decisions and events (RunOptions).
BugFile bug_file_of(const RunResult& result);
// The bug file of a run that ended without a verdict (BugFile::error).
BugFile error_bug_file(const Config& config, std::string error);

nlohmann::json to_json(const BugFile& bug);
// Strict: another format version, a missing or mistyped member, or a configuration out of range
// is an error naming the problem.
Result<BugFile> bug_file_from_json(const nlohmann::json& json);
Result<BugFile> load_bug_file(const std::string& path);
Status save_bug_file(const BugFile& bug, const std::string& path);

// What a replay found.
struct Replay {
  RunResult result;
  bool same_trace = false;
  bool same_verdict = false;        // the same checkers failed
  std::optional<size_t> parted_at;  // the first event whose digest differs, when not the same
};
// Replays the bug's configuration from its decision log, keeping events (for rendering or for
// reporting where the traces part) when asked. A bug found against an external server replays
// against its recorded answers, or against the live server at `server_url` when one is given
// (its answers then differ, and so does the trace; the verdict is what can be compared).
// Throws ExternalServerError when that server fails.
// `limits` (events_max, give_up) bound the run; it then throws RunAbandoned. A bug of a client
// under test (BugFile::client) replays through the channels `limits` gives (`clients`, which
// the caller makes for the adapter command; the library starts no process).
Replay replay(const BugFile& bug, bool keep_bodies = false, const std::string& server_url = "",
              const RunOptions* limits = nullptr);

}  // namespace opsync::simulator
