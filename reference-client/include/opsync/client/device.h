// A device: one directory holding a device's copy of one workspace (DIR/state.sqlite3, its data
// key, its attached files), and the user-level operations on it: create or join a workspace, write
// and read objects, attach and export files, invite other devices, change the password.
//
// Keys (spec section 5): the first device generates the data key and a passphrase (shown once);
// the server stores the data key only wrapped under a key derived from the password and the
// passphrase. A joining device needs both to unwrap it. Each device then keeps the unwrapped data
// key in DIR/data.key (mode 0600), like an SSH private key, so that everyday commands need no
// password; whoever can read the directory can read the workspace, exactly as with the plaintext
// objects the directory holds anyway.
//
// Nothing here reads the clock or draws global randomness: time and randomness are parameters, and
// the few calls that talk to the server go through a Transport.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "opsync/client/engine.h"
#include "opsync/client/http.h"
#include "opsync/client/store.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/random.h"

namespace opsync::client {

struct NewWorkspace {
  WorkspaceId workspace_id;
  std::string passphrase;  // shown to the user once; never stored
};

struct JoinRequest {
  std::string server_url;
  WorkspaceId workspace_id;
  std::string token;
  std::string password;
  std::string
      passphrase;  // empty when the user has none: allowed only for the workspace's first device
  uint32_t kdf_iterations =
      kKdfIterationsForNewRecords;  // for the first key record, if this device puts it
};

// How a join went.
struct Joined {
  // Set when the workspace had no key record yet (one its server's operator created, AUTH-006), so
  // this device made the data key and the passphrase and put the first record: the passphrase, to
  // show the user once, exactly as for a new workspace.
  std::optional<std::string> new_passphrase;
};

// A call to the server outside a sync (creating or joining a workspace, inviting a device,
// changing the password), as a state machine that owns no socket, like SyncEngine: next() gives
// the request to send and the token to send it with, and the driver answers it with on_response()
// or on_transport_failure(), until done(). Device's synchronous calls drive one over a Transport
// (run_call); the simulator drives them over its network, between other events. A call does
// nothing locally before its last answer, so one that fails leaves no trace on the device.
class ServerCall {
 public:
  struct Outgoing {
    HttpRequest request;
    std::string token;  // empty for unauthorized requests
  };
  virtual ~ServerCall() = default;
  ServerCall(const ServerCall&) = delete;
  ServerCall& operator=(const ServerCall&) = delete;

  // The request to send, or nullopt once the call is over.
  const std::optional<Outgoing>& next() const { return outgoing_; }
  void on_response(const HttpResponse& response);
  // No answer: the call ends with kTransport. One-shot calls are not retried; whoever started
  // one may start it again (creating a workspace twice makes two workspaces).
  void on_transport_failure(const std::string& what);
  bool done() const { return status_.has_value(); }
  // How the call ended. REQUIRES: done().
  const Status& status() const;

 protected:
  ServerCall() = default;
  // Sends `request`; a 2xx answer parsed as M goes to `then`, which sends the next request or
  // finishes; any other answer finishes the call with the server's error.
  template <typename M>
  void expect(HttpRequest request, std::string token, std::function<void(M)> then);
  void finish(Status status);

 private:
  std::optional<Outgoing> outgoing_;
  std::function<void(const HttpResponse&)> handler_;
  std::optional<Status> status_;
};

// Drives `call` to its end over `transport`, one exchange at a time, and returns its status.
Status run_call(ServerCall& call, Transport& transport);

// Device::create_workspace as a call: GET /v1/info, POST /v1/workspaces, PUT /keys/1, then DIR.
class CreateWorkspaceCall final : public ServerCall {
 public:
  CreateWorkspaceCall(std::filesystem::path dir, std::string server_url, std::string password,
                      RandomSource& random, uint32_t kdf_iterations = kKdfIterationsForNewRecords,
                      StoreOptions store_options = {});
  // REQUIRES: done() and status().ok().
  const NewWorkspace& result() const;

 private:
  std::filesystem::path dir_;
  std::string server_url_;
  std::string password_;
  RandomSource& random_;
  uint32_t kdf_iterations_;
  StoreOptions store_options_;
  InfoResponse info_;
  CreateWorkspaceResponse created_;
  SecretKey data_key_;
  NewWorkspace result_;
};

// Device::join as a call: GET /v1/info, GET /keys, GET /blocks, then DIR. A workspace without key
// records gets its first one from this device (PUT /keys/1 with expected_version 0, so that of two
// devices racing to be first, one wins and the other is told so) before GET /blocks.
class JoinCall final : public ServerCall {
 public:
  JoinCall(std::filesystem::path dir, JoinRequest request, RandomSource& random,
           StoreOptions store_options = {});
  // REQUIRES: done() and status().ok().
  const Joined& result() const;

 private:
  void put_first_key_record(const std::string& workspace);
  void read_block_size_and_finish(const std::string& workspace);

  Joined result_;
  std::filesystem::path dir_;
  JoinRequest request_;
  RandomSource& random_;
  StoreOptions store_options_;
  InfoResponse info_;
  std::vector<KeyRecord> records_;
  SecretKey data_key_;
};

class Device {
 public:
  // Creates a workspace on the server (POST /v1/workspaces), a data key and a passphrase, puts the
  // wrapped key record (PUT /keys/1, expected_version 0) and creates DIR bound to it. Fails if DIR
  // already holds a device.
  static Result<NewWorkspace> create_workspace(
      const std::filesystem::path& dir, const std::string& server_url, const std::string& password,
      Transport& transport, RandomSource& random,
      uint32_t kdf_iterations = kKdfIterationsForNewRecords,
      const StoreOptions& store_options = {});
  // Joins an existing workspace with a token another device issued: reads the key records and
  // unwraps the data key (kWrongPassword when the password or passphrase is wrong, and DIR is then
  // left as it was), then creates DIR.
  static Status join(const std::filesystem::path& dir, const JoinRequest& request,
                     Transport& transport, RandomSource& random,
                     const StoreOptions& store_options = {});
  // The same, telling whether this device put the workspace's first key record (Joined).
  static Result<Joined> join_workspace(const std::filesystem::path& dir, const JoinRequest& request,
                                       Transport& transport, RandomSource& random,
                                       const StoreOptions& store_options = {});
  // `store_options`: tests trade durability against power loss for speed (Durability::kProcess).
  static Result<std::unique_ptr<Device>> open(const std::filesystem::path& dir,
                                              const StoreOptions& store_options = {});

  // ---- local edits: each one transaction (op, effect, file refs, clock) -----------------------

  // Sets the key's value, keeping the files attached to its current winner.
  Status put(const std::string& key, ByteView value, uint64_t now_ms, RandomSource& random);
  // Makes the key absent (a tombstone that other devices' older writes do not undo).
  Status remove(const std::string& key, uint64_t now_ms, RandomSource& random);
  // Copies the file at `path` into the device (a fresh file id, FILE-020) and references it from
  // the key, keeping its value and other files. The file streams in; it is never held whole.
  Result<FileRef> attach(const std::string& key, const std::filesystem::path& path, uint64_t now_ms,
                         RandomSource& random);
  // The same from a stream, under the file name `name` (LWW-002).
  Result<FileRef> attach(const std::string& key, const std::string& name, std::istream& content,
                         uint64_t now_ms, RandomSource& random);
  // Removes one file from the key, keeping its value and other files (a put). The device drops
  // its copy once no head references the file any more (FILE-022). kNotFound when the key's
  // winner has no such file.
  Status detach(const std::string& key, const FileId& file, uint64_t now_ms, RandomSource& random);

  // ---- reading -------------------------------------------------------------------------------

  Result<ObjectView> get(const std::string& key) { return store_->get(key); }
  Result<std::vector<std::string>> list() { return store_->list(); }
  Result<std::vector<std::string>> conflicted_keys() { return store_->conflicted_keys(); }
  // Copies the files of the key's winner into `output_dir` under their names. Files the device
  // has no copy of yet are listed in the result (not an error: they are pending, FILE-033).
  Result<std::vector<FileRef>> export_files(const std::string& key,
                                            const std::filesystem::path& output_dir);

  // ---- talking to the server outside a sync -----------------------------------------------------

  // POST /tokens: a token for another device (AUTH-010).
  Result<TokenIssued> invite(Scope scope, std::optional<uint64_t> expires_in_ms,
                             Transport& transport);
  // The same as a call; the device must outlive it.
  class InviteCall;
  std::unique_ptr<InviteCall> start_invite(Scope scope, std::optional<uint64_t> expires_in_ms);
  // DELETE /tokens/{id} with this device's (owner) token: the token can no longer be used, also
  // after the server is restored from an older backup (AUTH-016, AUTH-030). A token the server
  // does not know (404 token_not_found) ends the call with that error.
  class RevokeCall;
  std::unique_ptr<RevokeCall> start_revoke(const TokenId& token_id);
  // Re-wraps the data key under a new password (PUT /keys/{id} with the record's version, so a
  // concurrent change is detected, KEY-004). The old password and the passphrase prove the caller
  // may: they must unwrap the current record.
  Status change_password(const std::string& old_password, const std::string& new_password,
                         const std::string& passphrase, Transport& transport, RandomSource& random,
                         uint32_t kdf_iterations = kKdfIterationsForNewRecords);

  // The same as a call; the device must outlive it.
  class ChangePasswordCall;
  std::unique_ptr<ChangePasswordCall> start_change_password(
      const std::string& old_password, const std::string& new_password,
      const std::string& passphrase, RandomSource& random,
      uint32_t kdf_iterations = kKdfIterationsForNewRecords);

  LocalStore& store() { return *store_; }
  const Keyring& keys() const { return keys_; }
  std::string token();

 private:
  Device(std::unique_ptr<LocalStore> store, Keyring keys, uint64_t op_payload_bytes_max,
         uint32_t chunk_bytes);
  Status commit(ObjectPayload payload, std::vector<FileId> attached_here, uint64_t now_ms,
                RandomSource& random);

  std::unique_ptr<LocalStore> store_;
  Keyring keys_;
  uint64_t op_payload_bytes_max_;
  uint32_t chunk_bytes_;
};

class Device::InviteCall final : public ServerCall {
 public:
  InviteCall(Device& device, Scope scope, std::optional<uint64_t> expires_in_ms);
  // REQUIRES: done() and status().ok().
  const TokenIssued& result() const;

 private:
  TokenIssued issued_;
};

class Device::RevokeCall final : public ServerCall {
 public:
  RevokeCall(Device& device, const TokenId& token_id);
  // REQUIRES: done() and status().ok().
  const RevokeTokenResponse& result() const;

 private:
  RevokeTokenResponse revoked_;
};

class Device::ChangePasswordCall final : public ServerCall {
 public:
  ChangePasswordCall(Device& device, std::string old_password, std::string new_password,
                     std::string passphrase, RandomSource& random, uint32_t kdf_iterations);

 private:
  Device& device_;
  std::string old_password_;
  std::string new_password_;
  std::string passphrase_;
  RandomSource& random_;
  uint32_t kdf_iterations_;
};

}  // namespace opsync::client
