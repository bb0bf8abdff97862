// What a node may ask of the world it runs in: time and randomness, the network, the checkers'
// bookkeeping, the owner's arrangements and the workspace's secrets. World (world.h) is the one
// implementation; the nodes (client_node.cpp, client_driver.cpp, dataans.cpp, opsync_nodes.cpp,
// external.cpp) hold a NodeHost and see nothing else of the world.
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "membership.h"
#include "nodes.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/random.h"
#include "opsync/simulator/config.h"
#include "opsync/simulator/decisions.h"
#include "opsync/simulator/run.h"
#include "records.h"

namespace opsync::simulator {

class NodeHost {
 public:
  // ---- time, randomness, the run ----
  virtual uint64_t now() const = 0;
  virtual const Config& config() const = 0;
  virtual const RunOptions& options() const = 0;
  virtual const std::filesystem::path& work_dir() const = 0;
  virtual Stream& stream(const std::string& name) = 0;
  virtual std::unique_ptr<SeededRandom> node_random(const std::string& node) const = 0;
  virtual void schedule(uint64_t at_ms, std::function<void()> action) = 0;
  // An event of the trace, at `node` (its clock read now), about `exchange` when not 0.
  void event(const std::string& node, const std::string& kind, const std::string& detail,
             ByteView bytes = {}, uint64_t exchange = 0) {
    add_event(node, kind, detail, bytes, exchange);
  }

  // ---- the network and the other nodes ----
  // Sends a request from `device` for its task `task`; the answer or the failure comes back
  // through DeviceNode::on_answer / on_failure, unless the device crashed meanwhile.
  virtual void send(DeviceNode& device, uint64_t task, HttpRequest request, std::string token) = 0;
  virtual DeviceNode& device(uint32_t index) = 0;
  virtual ServerNode& server() = 0;

  // ---- bookkeeping the nodes report ----
  virtual void record_edit(EditRecord edit) = 0;
  virtual std::optional<OpId> last_edit_of(uint32_t device) const = 0;
  virtual void finish_sync(DeviceNode& device, SyncRecord record) = 0;
  virtual void violation(const std::string& checker, std::vector<std::string> nodes,
                         std::vector<std::string> ops, const std::string& message) = 0;
  // Text that must never reach the server in the clear (SEC-001), and what it is.
  virtual void add_plaintext(ByteView text, const std::string& what) = 0;
  virtual void add_plaintext_file(const FileId& id, ByteView content, uint32_t device) = 0;
  // Bytes of content for a new attached file (not a decision: drawn from the run's content
  // stream).
  virtual Bytes file_content_bytes(uint64_t size) = 0;
  virtual std::vector<FileId> known_files() const = 0;
  // Positions served by the server (LOG-012): the operation at each position of a page.
  virtual void observe_position(uint64_t position, const OpId& id, const std::string& to) = 0;
  virtual void observe_block(uint64_t index, const Hash& hash, const std::string& to) = 0;
  // An operation's timestamp as it was last uploaded (a re-stamp after clock_skew changes it).
  virtual void note_uploaded_hlc(const OpId& id, const Hlc& hlc) = 0;
  virtual uint64_t restores() const = 0;
  virtual void note_device_crash() = 0;
  // A client said it draws randomness of its own (its ready lacks `random`): a replay then gives
  // the same verdict, not the same trace (ADP-081).
  virtual void note_client_draws_own_randomness() = 0;

  // ---- the owner's arrangements (opsync: invitations through the network; membership.h) ----
  virtual void invitation_ready(uint32_t for_device, Invitation invitation) = 0;
  virtual std::optional<Invitation> invitation_for(uint32_t device) const = 0;
  virtual bool revocation_intended(uint32_t device) const = 0;

  // ---- the workspace ----
  // The workspace, once the owner created it (opsync), and what the devices join it with.
  virtual const std::optional<WorkspaceId>& workspace() const = 0;
  virtual const std::string& owner_token() const = 0;
  virtual const std::string& passphrase() const = 0;
  virtual const std::string& password() const = 0;
  virtual void workspace_created(std::optional<WorkspaceId> workspace, std::string passphrase,
                                 std::string owner_token) = 0;
  // Decrypts an operation of the server's log, once the owner's key record was seen (opsync).
  virtual void learn_keys(std::function<std::optional<ObjectOp>(const WireOp&)> decrypt_op) = 0;
  virtual std::optional<ObjectOp> decrypt(const WireOp& op) const = 0;
  // Dataans: the one key every device encrypts with (its model has no key records).
  virtual const SecretKey& shared_key() const = 0;
  virtual void set_shared_key(const SecretKey& key) = 0;

 protected:
  ~NodeHost() = default;
  virtual void add_event(const std::string& node, const std::string& kind,
                         const std::string& detail, ByteView bytes, uint64_t exchange) = 0;
};

}  // namespace opsync::simulator
