// What a simulation runs: the protocol, the devices and their workload, the faults, the phases.
//
// A Config and a seed determine a run completely. Configs read from JSON (fault files, saved
// failing seeds, scenarios) are checked strictly: an unknown member, a wrong type or a value out
// of its range is an error naming the member, never a silent default. simulator/README.md lists
// every knob with its unit and range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "opsync/protocol/result.h"

namespace opsync::simulator {

enum class Protocol : uint8_t {
  kOpsyncV1,   // the reference server core and client engines: the code that ships
  kDataans03,  // a model of the Dataans v0.3.0 sync design (spec section 15), to prove checkers
               // fail
};

// Deliberately broken variants of opsync-v1, each the companion of a checker (simulator/README.md).
// Each changes one behaviour at the edge of the real code (the driver, the network, or a local
// edit made through the store's public interface); everything else is the shipping code.
enum class Variant : uint8_t {
  kNone,
  kNoDedupe,       // a client that re-does an edit whose upload answer was lost, as a new operation
  kHiddenRestore,  // a server that renumbers on restore and answers the prefix hashes devices
                   // expect
  kWallClock,      // a client that stamps edits with its wall clock, ignoring its HLC
  kForgetLostUploads,  // a client that drops operations whose upload answer was lost
  kPlaintext,          // a client that sends payloads unencrypted
  kNoFileDelete,       // a client that never deletes files no head references (FILE-022)
  kNoCopyRetention,  // a client that removes its copy of a file as soon as it deleted it (FILE-040)
  kNoCopyExpiry,    // a client whose kept copies of deleted files never reach the end of their time
                    // (FILE-040)
  kWallClockWaits,  // a client that measures its backoff waits on its wall clock (SYNC-020)
  kRestoreRevivesTokens,  // a server whose restore from a backup brings revoked tokens back
                          // (AUTH-030)
};

std::string_view protocol_name(Protocol protocol);
std::optional<Protocol> protocol_from_name(std::string_view name);
std::string_view variant_name(Variant variant);
std::optional<Variant> variant_from_name(std::string_view name);
std::vector<Variant> all_variants();

// The faults of a run. Rates are per hour of virtual time (per device where it says so), chances
// are parts per million per message, durations are milliseconds of true virtual time.
struct FaultProfile {
  std::string name = "none";

  // Network: each message's latency is uniform in [latency_ms_min, latency_ms_max], plus, with
  // latency_spike_ppm, an extra delay up to latency_spike_ms_max (which reorders messages).
  uint32_t latency_ms_min = 1;
  uint32_t latency_ms_max = 40;
  uint32_t latency_spike_ppm = 0;
  uint32_t latency_spike_ms_max = 0;
  uint32_t request_loss_ppm = 0;   // lost before the server: it never acts
  uint32_t response_loss_ppm = 0;  // lost after the server acted
  uint32_t duplicate_ppm = 0;      // the server receives the request twice
  uint32_t reset_ppm = 0;          // a chunk or file transfer whose connection resets midway
  uint32_t timeout_ms = 5000;      // how long a device waits for an answer that never comes
  // A slow request: the server gets it up to slow_ms_max after the device's timeout, and acts on
  // it then (perhaps after the device's retry); the answer finds no one waiting.
  uint32_t slow_ppm = 0;
  uint32_t slow_ms_max = 30000;

  // Partitions of a subset of devices from the server, symmetric or one-way.
  uint32_t partitions_per_hour = 0;
  uint32_t partition_ms_min = 1000;
  uint32_t partition_ms_max = 60000;
  uint32_t one_way_percent = 50;
  uint32_t partition_devices_max = 64;

  // Clocks, per device (offsets also for the server, up to server_clock_offset_ms_max).
  uint64_t clock_offset_ms_max = 0;  // each device's offset, uniform in [-max, +max]
  uint32_t drift_ppm_max = 0;        // each device's drift, uniform in [-max, +max]
  uint32_t clock_steps_per_hour = 0;
  uint64_t clock_step_ms_max = 0;  // forward or backward
  uint32_t clock_freezes_per_hour = 0;
  uint32_t clock_freeze_ms_max = 0;  // the clock stands still this long
  uint64_t server_clock_offset_ms_max = 0;
  uint32_t server_clock_steps_per_hour = 0;  // the server's clock jumps, forward or back
  uint64_t server_clock_step_ms_max = 0;

  // Crashes and restores.
  uint32_t device_crashes_per_hour = 0;  // per device
  uint32_t device_down_ms_max = 30000;
  uint32_t crash_steps_max = 40;  // a crash lands after up to this many further durable steps
  uint32_t server_crashes_per_hour = 0;
  uint32_t server_down_ms_max = 20000;
  uint32_t backups_per_hour = 0;
  uint32_t restores_per_hour = 0;  // from one of the last three backups

  // Membership.
  uint32_t joins = 0;        // devices joining mid-run with the owner's invitation
  uint32_t revocations = 0;  // devices whose token the owner revokes mid-run

  bool operator==(const FaultProfile&) const = default;
};

// The named profiles: none, lossy, partitions, skewed-clocks, crashes, restore, everything.
std::vector<std::string> profile_names();
std::optional<FaultProfile> named_profile(std::string_view name);

// One step of a scripted scenario (simulator/scenarios/). Times are milliseconds after the chaos
// phase starts; devices are indexes (0 is the owner).
struct ScriptStep {
  uint64_t at_ms = 0;
  uint32_t device = 0;
  // put, delete, attach, detach, sync, clock (the device's wall clock), offline, online, join,
  // reinvite (the owner sends the device a new token), revoke (the owner revokes the device's
  // token, through the network), drop (the device's next request matching `match` is lost),
  // drop-answer (its answer is lost after the server acted), reset (its upload resets after
  // `cut_percent` of the body), backup (of the server's storage), restore (the server from backup
  // `steps`, 0 the newest), server-crash (the server dies for `steps` ms), server-clock (the
  // server's clock, as clock does a device's), crash (the device dies after `steps` more durable
  // steps, 0 at once, and restarts 5 s later).
  std::string action;
  std::string key;              // put, delete, attach, detach
  std::string value;            // put
  uint64_t file_bytes = 0;      // attach
  int64_t clock_offset_ms = 0;  // clock, server-clock: the clock is set to true time plus this
  bool clock_frozen = false;    // clock, server-clock: and stands still
  std::string match;            // drop, drop-answer, reset: "METHOD path-fragment", METHOD may be *
  uint32_t cut_percent = 50;    // reset
  uint32_t steps = 0;           // crash, restore, server-crash

  bool operator==(const ScriptStep&) const = default;
};

struct Config {
  uint64_t seed = 0;
  Protocol protocol = Protocol::kOpsyncV1;
  Variant variant = Variant::kNone;

  // Devices and workload.
  uint32_t devices = 5;  // at the start, 1..64 (joins add more, at most 64 in all)
  uint32_t ops = 500;    // edits drawn over the chaos phase (a scripted run makes its own)
  uint64_t chaos_ms = 600000;
  uint32_t keys = 24;     // the key space
  uint32_t hot_keys = 3;  // keys that take half of the edits
  uint32_t delete_percent = 10;
  uint32_t attach_percent = 8;
  uint32_t detach_percent = 4;
  uint32_t file_chunks_max = 4;  // attached files are up to this many 64 KiB chunks
  uint32_t sync_interval_ms_min = 1000;
  uint32_t sync_interval_ms_max = 8000;
  uint32_t online_ms_min = 20000;  // a device alternates online stretches (syncing) ...
  uint32_t online_ms_max = 180000;
  uint32_t offline_ms_min = 5000;  // ... and offline ones (editing, not syncing)
  uint32_t offline_ms_max = 120000;
  uint32_t heal_rounds_max = 12;  // rounds of syncs after the chaos before liveness fails

  FaultProfile faults;
  std::vector<ScriptStep> script;  // non-empty: the workload and the fault schedule are these steps

  bool operator==(const Config&) const = default;
};

// The default scenario of the README and the bench: 5 devices, 500 edits, files, 10 virtual
// minutes of chaos under `everything`.
Config default_config(uint64_t seed);

// Checks every range; the error names the member (e.g. "faults.drift_ppm_max").
Status validate(const Config& config);

// JSON forms. Reading is strict (unknown or mistyped members are errors naming the member).
nlohmann::json to_json(const FaultProfile& profile);
Result<FaultProfile> fault_profile_from_json(const nlohmann::json& json,
                                             std::string_view path = "faults");
nlohmann::json to_json(const Config& config);
Result<Config> config_from_json(const nlohmann::json& json);
// A fault profile from a name or from a JSON file's path.
Result<FaultProfile> load_fault_profile(std::string_view name_or_path);

// Swarm testing: the configuration of one swarm seed, its devices, workload and faults drawn
// from the seed, each fault kind of `base` on or off and scaled.
Config swarm_config(uint64_t seed, const FaultProfile& base, Protocol protocol);

}  // namespace opsync::simulator
