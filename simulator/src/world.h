// The simulated world: one scheduler on virtual time (scheduler.h), a network between the devices
// and the server (network.h), the fault plan (fault_plan.h), the workload (workload.h), the
// owner's invitations and revocations (membership.h), and what the checkers need to know about
// the run (ground_truth.h); the run's phases (phases.h), the server's life (server_life.h) and
// the verdict: the violations, the checks at the end and the run's result (verdict.h).
//
// The world owns the nodes (one server, up to 64 devices) through two small interfaces (nodes.h),
// so that the same world runs the reference code (opsync_nodes.cpp) and the Dataans model
// (dataans.cpp). The nodes talk to the world through NodeHost (node_host.h) only; the rest of
// its public methods are for its parts and the checkers. Nodes never read time or randomness
// except through the world: now(), their clock, and streams.
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "clock.h"
#include "fault_plan.h"
#include "ground_truth.h"
#include "membership.h"
#include "network.h"
#include "node_host.h"
#include "nodes.h"
#include "opsync/client/http.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/lww.h"
#include "opsync/protocol/op.h"
#include "opsync/simulator/config.h"
#include "opsync/simulator/decisions.h"
#include "opsync/simulator/run.h"
#include "opsync/simulator/trace.h"
#include "phases.h"
#include "plaintext.h"
#include "records.h"
#include "scheduler.h"
#include "server_life.h"
#include "verdict.h"
#include "workload.h"

namespace opsync::simulator {

// True time 0 of every run: 2025-11-24 16:00 UTC, in milliseconds since the epoch.
inline constexpr uint64_t kStartMs = 1'764'000'000'000;
inline constexpr uint32_t kDevicesMax = 64;
inline constexpr size_t kEditQueueMax = 256;  // edits waiting for a busy device; more are dropped

// ---- the world ---------------------------------------------------------------------------------

class World final : public NodeHost {
 public:
  World(const Config& config, const RunOptions& options);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  RunResult run();

  // ---- NodeHost: what the nodes may ask (node_host.h) ----
  uint64_t now() const override { return scheduler_.now(); }
  const Config& config() const override { return config_; }
  const RunOptions& options() const override { return options_; }
  const std::filesystem::path& work_dir() const override { return work_dir_; }
  Stream& stream(const std::string& name) override { return decisions_->stream(name); }
  std::unique_ptr<SeededRandom> node_random(const std::string& node) const override {
    return decisions_->node_random(node);
  }
  void schedule(uint64_t at_ms, std::function<void()> action) override;
  void send(DeviceNode& device, uint64_t task, HttpRequest request, std::string token) override;
  DeviceNode& device(uint32_t index) override { return *devices_.at(index); }
  ServerNode& server() override { return *server_; }
  void record_edit(EditRecord edit) override;
  std::optional<OpId> last_edit_of(uint32_t device) const override {
    return truth_.last_edit_of(device);
  }
  void finish_sync(DeviceNode& device, SyncRecord record) override;
  void violation(const std::string& checker, std::vector<std::string> nodes,
                 std::vector<std::string> ops, const std::string& message) override {
    verdict_.violation(checker, std::move(nodes), std::move(ops), message);
  }
  void add_plaintext(ByteView text, const std::string& what) override {
    scanner_.add_text(text, what);
  }
  void add_plaintext_file(const FileId& id, ByteView content, uint32_t device) override;
  Bytes file_content_bytes(uint64_t size) override { return workload_.file_content_bytes(size); }
  std::vector<FileId> known_files() const override { return truth_.known_files(); }
  void observe_position(uint64_t position, const OpId& id, const std::string& to) override;
  void observe_block(uint64_t index, const Hash& hash, const std::string& to) override;
  void note_uploaded_hlc(const OpId& id, const Hlc& hlc) override {
    truth_.note_uploaded_hlc(id, hlc);
  }
  uint64_t restores() const override { return figures_.restores; }
  void note_device_crash() override { figures_.device_crashes += 1; }
  void note_client_draws_own_randomness() override { trace_replayable_ = false; }
  void invitation_ready(uint32_t for_device, Invitation invitation) override {
    membership_.invitation_ready(for_device, std::move(invitation));
  }
  std::optional<Invitation> invitation_for(uint32_t device) const override {
    return membership_.invitation_for(device);
  }
  bool revocation_intended(uint32_t device) const override {
    return membership_.revocation_intended(device);
  }
  const std::optional<WorkspaceId>& workspace() const override { return workspace_; }
  const std::string& owner_token() const override { return owner_token_; }
  const std::string& passphrase() const override { return passphrase_; }
  const std::string& password() const override { return password_; }
  void workspace_created(std::optional<WorkspaceId> workspace, std::string passphrase,
                         std::string owner_token) override;
  void learn_keys(std::function<std::optional<ObjectOp>(const WireOp&)> decrypt_op) override {
    decrypt_op_ = std::move(decrypt_op);
  }
  std::optional<ObjectOp> decrypt(const WireOp& op) const override {
    return decrypt_op_ ? decrypt_op_(op) : std::nullopt;
  }
  const SecretKey& shared_key() const override { return shared_key_; }
  void set_shared_key(const SecretKey& key) override { shared_key_ = key; }

  // ---- for the world's parts (network.h to verdict.h) and the checkers ----
  size_t device_count() const { return devices_.size(); }
  uint64_t chaos_start_ms() const { return phases_.chaos_start_ms(); }
  int64_t server_clock_offset_ms() const { return phases_.server_clock_offset_ms(); }
  // Faults strike messages in the chaos phase only.
  bool in_chaos() const { return phases_.in_chaos(); }
  void note_fault_for(uint32_t device);  // something went wrong for this device's current sync
  // The server acts on a request: the plaintext scan, the revocation checker, the trace.
  HttpResponse serve(uint32_t device, uint64_t exchange, const HttpRequest& request,
                     const std::string& token, const std::string& kind) {
    return server_life_.serve(device, exchange, request, token, kind);
  }
  // The server's life (server_life.h): every kill, restart and restore goes through it.
  void kill_server(uint64_t down_ms) { server_life_.kill(down_ms); }
  void restore_server(uint32_t pick) { server_life_.restore(pick); }
  // The run drives a real server or replays one's recorded answers.
  bool external_server() const {
    return !options_.server_url.empty() || options_.recording != nullptr;
  }
  void request_revocation(uint32_t device) { membership_.request_revocation(device); }
  const std::vector<std::string>& keys() const { return workload_.keys(); }

 private:
  void add_event(const std::string& node, const std::string& kind, const std::string& detail,
                 ByteView bytes, uint64_t exchange) override;
  uint64_t clock_of(const std::string& node) const;

  Config config_;
  RunOptions options_;
  Trace trace_;
  Scheduler scheduler_;
  std::unique_ptr<Decisions> decisions_;
  std::filesystem::path work_dir_;
  bool owns_work_dir_ = false;
  std::unique_ptr<ServerNode> server_;
  std::vector<std::unique_ptr<DeviceNode>> devices_;
  GroundTruth truth_;
  PlaintextScanner scanner_;
  Workload workload_;
  Figures figures_;
  // False once a client said it draws randomness of its own.
  bool trace_replayable_ = true;
  std::optional<WorkspaceId> workspace_;
  std::string owner_token_;
  std::string passphrase_;
  const std::string password_ = "simulated password, never sent";
  std::function<std::optional<ObjectOp>(const WireOp&)> decrypt_op_;
  SecretKey shared_key_;
  Network network_;
  FaultPlan fault_plan_;
  Membership membership_;
  ServerLife server_life_;
  Phases phases_;
  Verdict verdict_;
};

std::unique_ptr<ServerNode> make_opsync_server(NodeHost& world);
// A device whose client speaks opsync-client-adapter/1: the reference client in this process, or
// the client behind RunOptions::clients.
std::unique_ptr<DeviceNode> make_client_device(NodeHost& world, uint32_t index);
std::unique_ptr<ServerNode> make_dataans_server(NodeHost& world);
// A real server over HTTP at `url`, or the answers of one as `replay` recorded them.
std::unique_ptr<ServerNode> make_external_server(NodeHost& world, const std::string& url,
                                                 const ServerRecording* replay);
// What an opsync server answered, for the position and page checkers (LOG-011, LOG-012).
void observe_server_answer(NodeHost& world, const HttpRequest& request,
                           const HttpResponse& response);
std::unique_ptr<DeviceNode> make_dataans_device(NodeHost& world, uint32_t index);

// The checkers that run at the end, over the reports and the ground truth.
struct EndState {
  const Config& config;
  const std::vector<EditRecord>& edits;
  const std::map<OpId, size_t>& edit_by_op;
  const std::vector<SyncRecord>& syncs;
  const std::map<FileId, Bytes>& file_contents;
  const std::map<FileId, uint32_t>& file_attached_by;
  const std::map<FileId, std::set<uint32_t>>& file_chunks_received_by;
  const std::map<FileId, std::map<uint32_t, uint64_t>>& file_delete_answered_ms;
  const std::vector<uint64_t>& log_position_filled_ms;
  const std::map<OpId, Hlc>& uploaded_hlc;
  const std::vector<DeviceReport>& devices;
  const ServerReport& server;
  bool healed = false;  // the heal phase ended quiet within its budget
  uint64_t heal_rounds = 0;
  // Against an external server (or its recording): its retention time is its own, so copies
  // devices keep for it (FILE-040) may still be kept at the end.
  bool external_server = false;
  // The workspace's keys are known (the owner's key record was seen): the log's operations can
  // be opened, and one that cannot is the writer's fault.
  bool keys_known = false;
};
void run_end_checkers(World& world, const EndState& state);
// The `files` checker's one exception: a file nobody can bring back by design (its attacher was
// revoked, no other live device ever received a chunk of it, the server does not hold it).
bool file_lost_with_its_revoked_holder(const EndState& state, const FileId& id);
// The other exception: every copy of the file was on devices that sent DELETE for it and kept
// their copy for the retention time (FILE-040), all of which ended before the first operation of
// the log that references the file reached the server.
bool file_outlived_its_retention(const EndState& state, const FileId& id);

// Hex of a hash's first bytes, and base64url ids, for messages.
std::string short_id(const Id& id);

}  // namespace opsync::simulator
