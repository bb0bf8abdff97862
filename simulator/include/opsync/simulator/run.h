// One simulation run: the world of a Config, run to its verdict.
//
// run() builds the world (a reference server core on in-memory storage and the devices, each a
// real client engine on its own SQLite store), drives it through the phases (setup, chaos, heal,
// collection) on virtual time, and runs the checkers. It reads no clock and no global randomness:
// the Config (with its seed) determines the result, trace hash included. Wall time is for the
// caller to measure.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "opsync/client/http.h"
#include "opsync/protocol/bytes.h"
#include "opsync/simulator/channel.h"
#include "opsync/simulator/config.h"
#include "opsync/simulator/decisions.h"
#include "opsync/simulator/trace.h"

namespace opsync::simulator {

// The first violation a checker found.
struct Violation {
  std::string checker;
  uint64_t time_ms = 0;            // true virtual time of the detection
  std::vector<std::string> nodes;  // "device-2", "server"
  std::vector<std::string>
      ops;  // operation ids, or file ids for the files checkers (base64url) involved
  std::string message;
};

// The checkers, in the order they are reported (simulator/README.md says what each checks).
std::vector<std::string> checker_names();

struct Figures {
  uint64_t events = 0;        // trace events
  uint64_t decisions = 0;     // random decisions drawn
  uint64_t simulated_ms = 0;  // virtual time from start to verdict
  uint64_t chaos_ms = 0;
  uint64_t edits = 0;       // local edits committed
  uint64_t ops_in_log = 0;  // operations in the server's log at the end
  uint64_t files_attached = 0;
  uint64_t syncs = 0;
  uint64_t syncs_failed = 0;
  uint64_t requests = 0;
  uint64_t bytes_to_server = 0;    // HTTP/1.1 request lines, headers and bodies as sent
  uint64_t bytes_from_server = 0;  // status lines, headers and bodies as sent
  uint64_t messages_lost = 0;
  uint64_t device_crashes = 0;
  uint64_t server_crashes = 0;
  uint64_t restores = 0;
  uint64_t partitions = 0;
  uint64_t heal_rounds = 0;
  // An import of traces that begin after a workspace was created: the answers to requests whose
  // token the traces never saw issued, replayed from the field and not compared with the core.
  uint64_t answers_not_compared = 0;
};

// A real server's answers, as a run against it received them (opsync-sim run --server URL): a
// replay takes them from here instead of asking the server again.
struct RecordedAnswer {
  std::string request;  // 16 hex digits: the first 8 bytes of SHA-256 over the request it answered
  int status = 0;
  std::string content_type;
  std::string body;
  bool operator==(const RecordedAnswer&) const = default;
};
struct ServerRecording {
  std::string url;
  std::vector<RecordedAnswer> answers;
  bool operator==(const ServerRecording&) const = default;
};

// A run against an external server fails with this when the server cannot be reached or
// answers what no server of the protocol would (a body that does not parse where one must).
struct ExternalServerError {
  std::string message;
};

struct RunResult {
  Config config;
  std::vector<Violation> violations;  // one per failed checker, in checker order
  Figures figures;
  Hash trace_hash;
  DecisionLog decisions;                     // when RunOptions::keep_decisions
  std::vector<TraceEvent> events;            // when RunOptions::keep_events
  std::vector<uint64_t> event_digests;       // when RunOptions::keep_decisions (for replays)
  std::optional<ServerRecording> recording;  // a run against an external server: its answers
  // Whether a replay gives this trace again: false when a client under test drew randomness of
  // its own (spec/client-adapter.md, ADP-081); its replays give the same verdict.
  bool trace_replayable = true;
  // A run of a client under test: the adapter command its channels ran (RunOptions), and the
  // devices that ran the reference client; empty for a run of the reference client alone.
  std::string adapter_command;
  std::set<uint32_t> reference_devices;

  bool passed() const { return violations.empty(); }
};

struct RunOptions {
  bool keep_events = false;             // the whole trace, for rendering
  bool keep_bodies = false;             // with message bodies
  bool keep_decisions = false;          // the decision log and per-event digests, for bug files
  const DecisionLog* replay = nullptr;  // replay this decision log instead of drawing
  // Drive a real server at this URL ("http://host:port") instead of the reference core, or
  // replay the answers such a run recorded. Either takes a configuration for_external_server
  // allows (the server's own faults cannot be caused from outside).
  std::string server_url;
  const ServerRecording* recording = nullptr;
  // Where the devices' directories live for the run (removed afterwards); empty: /dev/shm when
  // it exists, else the system's temporary directory.
  std::filesystem::path work_dir;
  // The devices' SQLite databases: in the process (SQLite's memdb VFS, the default), or files in
  // their directories as the shipping client keeps them. Either way a kill after a durable step
  // leaves exactly what was committed; the trace is the same (sim_bench compares the two).
  enum class DeviceStores { kMemory, kFiles };
  DeviceStores device_stores = DeviceStores::kMemory;
  // Bounds for a run that may never finish in reasonable time (a shrink's candidate, whose
  // zeroed decisions can crash a device every millisecond): past `events_max` events, or once
  // `give_up` answers true (asked every 4096 events; a wall-clock deadline, say), the run stops
  // and run() throws RunAbandoned. 0 and empty: no bound. The events bound is deterministic;
  // give_up, which reads a clock, only ever abandons a run, never changes its verdict.
  uint64_t events_max = 0;
  std::function<bool()> give_up;
  // The devices' clients: empty, the reference client in this process; otherwise a channel for
  // each device's client (opsync-sim certify-client: an adapter process, spec/client-adapter.md).
  // `adapter_command` is what the channels run, for the bug file.
  ChannelFactory clients;
  std::string adapter_command;
  // With `clients`: the devices that run the reference client in this process all the same, so
  // that a case can have the client under test read what the reference client wrote, and the
  // other way round (certify-client's interop cases).
  std::set<uint32_t> reference_devices;
  // Each turn's bound of wall time, told to adapters in their start event (ADP-011); the
  // channels enforce it.
  uint64_t turn_timeout_ms = adapter::kTurnTimeoutMsDefault;
};

// Thrown by run() when a bound of RunOptions stopped it.
struct RunAbandoned {
  std::string why;
};

// REQUIRES: validate(config) succeeded; with a server_url or a recording, also
// validate_for_external_server(config). Throws ExternalServerError when the server fails.
RunResult run(const Config& config, const RunOptions& options = {});

// How a run reaches a live server (`RunOptions::server_url`): a transport to the URL. The
// simulator library holds no socket code (docs/architecture.md), so a program that runs against
// live servers installs one once, before its first run (opsync-sim: the reference client's HTTP
// driver); without one, such a run throws ExternalServerError. Replays of recorded answers need
// none.
using ServerConnector =
    std::function<Result<std::unique_ptr<client::Transport>>(const std::string& url)>;
void set_server_connector(ServerConnector connector);

// The configuration as a run against an external server has it: the faults only the server
// could cause (its crashes, backups and restores, its clock, uploads cut mid-body) are off, and
// the server keeps its own configuration (block size, limits, retention).
Config for_external_server(Config config);
// Fails, naming the reason, for what cannot run against an external server: dataans-0.3 (a
// model, not a server), a server-side variant, server faults, scripted backups and restores.
Status validate_for_external_server(const Config& config);

// Hex of a trace hash, as printed and stored.
std::string hash_hex(const Hash& hash);

}  // namespace opsync::simulator
