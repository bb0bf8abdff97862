// Bugs from real devices: the traces opsync-client --trace writes (format
// opsync-client-trace/1), turned into a run that replays the same exchanges against the
// reference server core, so that a report from the field runs in the simulator and renders.
//
// The replay takes every device's requests in the order the server would have seen them (each
// device's clock brought to the server's by the server times its /v1/info answers carried),
// replaces what the field server chose (workspace and token ids, issued tokens: secrets are only
// fingerprints in a trace) by what the reference core chose, and compares each answer's status
// with the field server's: a difference is a violation of the checker field_answers. The core's
// pages feed the same position checks as a simulated run (log_integrity).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "opsync/protocol/result.h"
#include "opsync/simulator/run.h"

namespace opsync::simulator {

inline constexpr const char* kClientTraceFormat = "opsync-client-trace/1";

struct TracedExchange {
  uint32_t device = 0;   // index into ImportedTrace::devices
  uint64_t sent_ms = 0;  // the device's clock
  uint64_t received_ms = 0;
  std::string method, target, content_type;
  std::string body;       // as the trace has it: secrets as "redacted:FINGERPRINT:LENGTH"
  std::string token;      // the fingerprint of the bearer token; empty: none
  bool answered = false;  // false: the transport failed (error says how)
  int status = 0;
  std::string response_type, response_body, error;
  std::optional<uint64_t> server_time_ms;  // OpSync-Server-Time-Ms of the answer, when it had one
  bool operator==(const TracedExchange&) const = default;
};

struct TracedCommit {
  uint32_t device = 0;
  uint64_t clock_ms = 0;
  std::string command;
  std::vector<std::string> ops;  // operation ids, base64url
  bool operator==(const TracedCommit&) const = default;
};

struct ImportedTrace {
  std::vector<std::string> devices;       // as the traces name them ("laptop", "phone")
  std::vector<TracedExchange> exchanges;  // per device in trace order, devices one after another
  std::vector<TracedCommit> commits;
  bool operator==(const ImportedTrace&) const = default;
};

// Reads the traces of one or more devices (one file each, or several devices in one file).
// Fails naming the file and line for anything that is not a line of opsync-client-trace/1.
Result<ImportedTrace> read_client_traces(const std::vector<std::string>& paths);

nlohmann::json to_json(const ImportedTrace& trace);
Result<ImportedTrace> imported_trace_from_json(const nlohmann::json& json);

// The configuration an imported run is filed under: one device per traced device, no faults.
Config imported_config(const ImportedTrace& trace, uint64_t seed);

// Replays the exchanges against a reference server core (seeded by config.seed), as a run.
RunResult replay_imported(const ImportedTrace& trace, const Config& config,
                          const RunOptions& options);

}  // namespace opsync::simulator
