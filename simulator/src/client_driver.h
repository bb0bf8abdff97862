// Drives one device's client through opsync-client-adapter/1, one turn at a time: starts its
// process (a channel), hands it a command or an event, and carries what it yields into the world
// (requests through the network, waits on the device's monotonic clock, the command's result).
// It answers the client's asks (randomness, durable steps: where a planned crash kills it) and
// watches its traffic. What the commands are for, and what follows their results, is the
// device's (client_node.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "client_traffic.h"
#include "in_process_client.h"
#include "node_host.h"
#include "opsync/adapter/messages.h"
#include "opsync/protocol/messages.h"
#include "opsync/simulator/channel.h"

namespace opsync::simulator {

// A command with only its name.
adapter::Command named_command(std::string name);
std::string code_and_message(const Error& error);

class ClientDriver : public DeviceNode, private adapter::TurnHost {
 public:
  ~ClientDriver() override;

  void on_answer(uint64_t task, const HttpResponse& response) override;
  void on_failure(uint64_t task, const std::string& what) override;
  void arm_crash(uint32_t steps, uint64_t down_ms) override;
  bool busy() const override { return activity_ != Activity::kIdle; }

 protected:
  enum class Activity { kIdle, kStarting, kSetup, kInvite, kRevoke, kToken, kEdit, kSync, kDump };

  ClientDriver(NodeHost& world, uint32_t device_index);

  // Starts the client's process (a new channel) and its start event; false when it broke.
  bool launch(bool restarted);
  bool running() const { return channel_ != nullptr; }
  // Hands the client a command; what it yields carries on until the command's result.
  void begin(Activity activity, const adapter::Command& command);
  // The client's state, between commands; nullopt when the device died meanwhile.
  std::optional<adapter::DeviceState> dump();

  // What the device does with a command's result (the driver is idle again), with an operation
  // the client committed, and what it forgets when its process dies (restart() follows).
  virtual void finish(Activity done, const adapter::CommandResult& result) = 0;
  virtual void record_commit(const adapter::CommitNote& note) = 0;
  virtual void forget_unsaved_work() = 0;

  Activity activity() const { return activity_; }
  const adapter::Command& command() const { return command_; }
  bool holds_workspace() const { return holds_workspace_; }
  void now_holds_workspace() { holds_workspace_ = true; }
  // The token the client last sent or was given.
  const std::string& token() const { return token_; }
  void set_token(std::string token) { token_ = std::move(token); }
  // The owner's first key record, as its client put it.
  const std::optional<PutKeyRequest>& key_record() const { return key_record_; }
  SyncTraffic& traffic() { return traffic_; }
  void disarm_crash() { crash_countdown_.reset(); }

 private:
  client::DeviceTime device_time() const;
  // One turn; nullopt when the device died in it (a kill) or its client broke the protocol.
  // A client that breaks the protocol ends the run in error (ChannelBroken out of run()).
  std::optional<adapter::Yield> run_turn(const adapter::Event& event);
  void turn(const adapter::Event& event);
  [[noreturn]] bool broken(const std::string& message);
  // What the client yielded.
  void take(const adapter::Yield& yield);
  void send_request(const adapter::SendHttp& send);
  void wait_until(uint64_t until_monotonic_ms);
  void observe_request(const client::HttpRequest& request);
  void die();

  // ---- TurnHost: the client's asks and notices ----
  void random(std::span<uint8_t> out) override { random_->fill(out); }
  void durable(std::string_view step) override;
  void committed(const adapter::CommitNote& note) override;

  NodeHost& world_;
  std::filesystem::path dir_;
  std::unique_ptr<SeededRandom> random_;
  adapter::StartOptions options_;
  std::unique_ptr<InProcessDisk> disk_;  // the reference client's, when it runs in this process
  ChannelFactory factory_;
  std::unique_ptr<AdapterChannel> channel_;
  Activity activity_ = Activity::kIdle;
  adapter::Command command_;
  bool holds_workspace_ = false;
  std::string token_;
  std::optional<PutKeyRequest> key_record_;
  uint64_t awaited_ = 0;
  uint64_t requests_ = 0;
  client::HttpRequest last_request_;
  SyncTraffic traffic_;
  ChunkUploads chunk_uploads_;
  BackoffWatch backoff_;
  std::optional<uint32_t> crash_countdown_;
  uint64_t down_ms_ = 0;
  uint64_t durable_steps_ = 0;
};

}  // namespace opsync::simulator
