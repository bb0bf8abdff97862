// The two interfaces through which the world owns its nodes: one server and up to 64 devices.
// The world calls them; they call the world (world.h) for time, randomness, the network and the
// checkers' bookkeeping.
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "clock.h"
#include "opsync/client/http.h"
#include "opsync/protocol/bytes.h"
#include "opsync/simulator/run.h"
#include "records.h"

namespace opsync::simulator {

using client::HttpRequest;
using client::HttpResponse;

// ---- nodes --------------------------------------------------------------------------------------

class ServerNode {
 public:
  virtual ~ServerNode() = default;
  // Handles a request that arrived whole at true time now (the server's own clock is the node's).
  virtual HttpResponse handle(const HttpRequest& request, const std::string& token) = 0;
  // A request whose body was cut after `received` bytes by a reset connection.
  virtual void handle_cut(const HttpRequest& request, const std::string& token,
                          size_t received) = 0;
  virtual void crash() = 0;
  virtual void restart() = 0;
  virtual bool up() const = 0;
  virtual void backup() = 0;
  // Restores backup `pick` counted from the newest (0). Returns false when there is none.
  virtual bool restore(uint32_t pick) = 0;
  virtual void collect_garbage() = 0;
  virtual uint64_t log_length() = 0;
  virtual ServerReport report() = 0;
  // The prefix hash of the server's log at `length`, for the mirror check (opsync only).
  virtual std::optional<Hash> prefix_hash(uint64_t length) = 0;
  // A real server's answers (external.cpp); nothing for the simulated servers.
  virtual std::optional<ServerRecording> recording() const { return std::nullopt; }
  NodeClock clock;
};

class DeviceNode {
 public:
  virtual ~DeviceNode() = default;

  enum class Life { kNotJoined, kJoining, kUp, kDown, kRevoked };

  // The first device creates the workspace; the others join it with an invitation
  // (World::invitation_for). Runs through the network.
  virtual void start_setup(bool owner) = 0;
  // The owner issues an invitation for device `for_device` (World::invitation_ready), when idle.
  virtual void invite(uint32_t for_device) = 0;
  // A new token replaces the device's (after a restore lost the old one).
  virtual void replace_token(const std::string& token) = 0;
  // The owner revokes device `for_device`'s token (World::request_revocation), through the
  // network, retrying until the server answered.
  virtual void revoke_member(uint32_t for_device) = 0;
  virtual void edit(const std::string& kind, const std::string& key, const Bytes& value,
                    uint64_t file_bytes) = 0;
  virtual void sync(bool heal) = 0;
  virtual void on_answer(uint64_t task, const HttpResponse& response) = 0;
  virtual void on_failure(uint64_t task, const std::string& what) = 0;
  // Dies after `steps` more durable steps (0: now), and restarts `down_ms` after dying.
  virtual void arm_crash(uint32_t steps, uint64_t down_ms) = 0;
  virtual void restart() = 0;
  // Before the heal phase: no crash pending, and a device that is down comes back.
  virtual void prepare_for_heal() = 0;
  virtual bool busy() const = 0;
  virtual DeviceReport report() = 0;
  // Something went wrong around the device's sync in progress (a lost message, a partition, the
  // server's death or restore): a failure of that sync has a cause.
  virtual void note_fault() {
    if (current_sync) current_sync->faults_seen += 1;
  }
  virtual void note_bytes(uint64_t sent, uint64_t received) {
    if (!current_sync) return;
    current_sync->bytes_sent += sent;
    current_sync->bytes_received += received;
  }

  Life life = Life::kNotJoined;
  uint32_t index = 0;
  std::string name;
  NodeClock clock;           // the wall clock: offset, drift, steps, stand-stills
  NodeClock monotonic;       // the monotonic clock: the same drift, never set, stepped or stopped
  uint64_t incarnation = 0;  // bumped by every crash: answers to an earlier one are dropped
  std::optional<SyncRecord> current_sync;
};

}  // namespace opsync::simulator
