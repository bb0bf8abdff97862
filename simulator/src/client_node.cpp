// A device of the simulated world whose client speaks opsync-client-adapter/1: the reference
// client in this process (its stores in memory), or any client behind an adapter process
// (certify-client). Everything the checkers learn of the client comes from the protocol: its
// commits, its requests and the answers it got, its waits, its state dumps. What the world asks
// of a device (edits, syncs, invitations, revocations, crashes) becomes commands, one at a time,
// which ClientDriver (client_driver.h) runs through the adapter protocol.
#include <deque>

#include "client_driver.h"
#include "client_state.h"
#include "opsync/protocol/check.h"
#include "world.h"

namespace opsync::simulator {
namespace {

using adapter::Command;
using adapter::CommandResult;

constexpr uint32_t kJoinAttemptsMax = 50;
constexpr uint64_t kCallRetryMs =
    5000;  // an owner's invitation or revocation that failed goes again
constexpr uint64_t kJoinRetryMs = 5000;
constexpr uint32_t kDetachPickBound = 1u << 16;
constexpr const char* kServerUrl = "sim://server";

Command named(std::string name) { return named_command(std::move(name)); }

// An edit the world asked for, waiting for the device to be idle.
struct PendingEdit {
  std::string kind;
  std::string key;
  Bytes value;
  uint64_t file_bytes = 0;
};

// What the edit in progress carried, for the checkers once it commits.
struct EditInProgress {
  PendingEdit edit;
  Bytes content;  // attach
  std::string file_name;
};

// A new attached file's name, drawn from the device's workload stream.
std::string random_file_name(Stream& s) {
  std::string file_name = "file-";
  for (int i = 0; i < 12; ++i) file_name.push_back("abcdefghijklmnopqrstuvwxyz234567"[s.draw(32)]);
  return file_name + ".bin";
}

// ---- the device ---------------------------------------------------------------------------------

class ClientNode final : public ClientDriver {
 public:
  ClientNode(NodeHost& world, uint32_t device_index)
      : ClientDriver(world, device_index), world_(world) {}

  // ---- setup and membership ----

  void start_setup(bool owner) override {
    life = Life::kJoining;
    owner_ = owner;
    if (!running() && !launch(false)) return;
    if (owner) {
      Command c = named("create");
      c.server_url = kServerUrl;
      c.password = world_.password();
      begin(Activity::kSetup, c);
    } else {
      std::optional<Invitation> invitation = world_.invitation_for(index);
      OPSYNC_CHECK_MSG(invitation.has_value(), "a device joins without an invitation");
      Command c = named("join");
      c.server_url = kServerUrl;
      c.workspace_id = world_.workspace();
      c.token = invitation->token;
      c.password = world_.password();
      c.passphrase = world_.passphrase();
      begin(Activity::kSetup, c);
    }
    world_.event(name, owner ? "create" : "join-call",
                 owner ? "creates the workspace" : "joins with an invitation", to_bytes(name));
  }

  void invite(uint32_t for_device) override {
    invites_wanted_.push_back(for_device);
    if (life == Life::kUp && !busy()) run_next();
  }

  void revoke_member(uint32_t for_device) override {
    revokes_wanted_.push_back(for_device);
    if (life == Life::kUp && !busy()) run_next();
  }

  // A new token from the owner (its invitation, handed over out of band): taken as soon as the
  // device is idle, or when it comes back if it is down.
  void replace_token(const std::string& token) override {
    pending_token_ = token;
    if (life == Life::kUp && !busy()) run_next();
  }

  // ---- edits ----

  void edit(const std::string& kind, const std::string& key, const Bytes& value,
            uint64_t file_bytes) override {
    if (life != Life::kUp) {
      world_.event(name, "edit-skipped", kind + " " + key + ": the device is not running",
                   to_bytes(kind));
      return;
    }
    if (busy()) {
      if (edits_.size() < kEditQueueMax)
        edits_.push_back(PendingEdit{kind, key, value, file_bytes});
      return;
    }
    do_edit(PendingEdit{kind, key, value, file_bytes});
  }

  // ---- syncs ----

  // A device whose token was revoked keeps syncing, as whoever holds a stolen token would: the
  // server must refuse it (AUTH-016, AUTH-030; the revocation checker watches).
  void sync(bool heal) override {
    if (life != Life::kUp) return;
    if (busy()) {  // SYNC-009: one sync at a time; another request waits for it
      sync_wanted_ = true;
      sync_wanted_heal_ = sync_wanted_heal_ || heal;
      return;
    }
    start_sync(heal);
  }

  // ---- crashes ----

  void restart() override {
    if (life != Life::kDown) return;
    if (!launch(true)) return;
    if (!holds_workspace()) {
      // It died before it held the workspace: it joins (or creates) again.
      life = Life::kNotJoined;
      world_.event(name, "restart", "restarts with no workspace: joins again", to_bytes("restart"));
      if (index == 0)
        start_setup(true);
      else if (world_.invitation_for(index))
        start_setup(false);
      return;
    }
    life = Life::kUp;
    world_.event(name, "restart", "restarts from what its store committed", to_bytes("restart"));
    run_next();
  }

  void prepare_for_heal() override {
    disarm_crash();
    if (life == Life::kDown) restart();
  }

  // ---- the end ----

  DeviceReport report() override {
    DeviceReport out;
    out.name = name;
    const bool revoked = world_.revocation_intended(index);
    out.live = life == Life::kUp && !revoked;
    if (!out.live)
      out.excepted_because = revoked                    ? "the owner revoked its token"
                             : life == Life::kNotJoined ? "it never joined"
                                                        : "it is not running";
    if (!running() || !holds_workspace()) return out;
    const std::optional<adapter::DeviceState> state = dump();
    if (!state) return out;
    add_state_to_report(*state, out);
    return out;
  }

 private:
  // ---- the client's notices ----

  void record_commit(const adapter::CommitNote& note) override {
    EditRecord record;
    record.device = index;
    record.time_ms = world_.now();
    record.clock_ms = clock.read(world_.now());
    record.kind = note.kind;
    record.key = note.key;
    record.op = note.op_id;
    record.hlc = note.hlc;
    record.seen = note.heads_before;
    record.previous_own = world_.last_edit_of(index);
    // A commit no edit command asked for: a client that makes operations of its own (a retry
    // that writes the edit again, under a new id) shows here.
    record.requested = activity() == Activity::kEdit && editing_ && editing_->edit.key == note.key;
    world_.record_edit(std::move(record));
    if (!editing_ || editing_->edit.key != note.key) return;
    if (note.kind == "put") {
      // The payload's value as JSON carries it in base64url: that text must never reach the server.
      world_.add_plaintext(to_bytes(to_base64url(editing_->edit.value)),
                           "the value of " + note.key);
    } else if (note.kind == "attach" && note.file_id) {
      world_.add_plaintext_file(*note.file_id, editing_->content, index);
    }
    editing_.reset();  // one commit per edit: a second one is a commit of the client's own
  }

  // ---- commands ----

  void do_edit(const PendingEdit& edit) {
    Command c = named(edit.kind);
    c.key = edit.key;
    EditInProgress in_progress{edit, {}, {}};
    if (edit.kind == "put") {
      c.value = edit.value;
    } else if (edit.kind == "attach") {
      in_progress.content = world_.file_content_bytes(edit.file_bytes);
      in_progress.file_name = random_file_name(world_.stream("workload/" + name));
      world_.add_plaintext(to_bytes("\"" + in_progress.file_name + "\""),
                           "the file name " + in_progress.file_name);
      c.value = in_progress.content;
      c.file_name = in_progress.file_name;
    } else if (edit.kind == "detach") {
      c.pick = world_.stream("workload/" + name).draw(kDetachPickBound);
    }
    editing_ = in_progress;
    begin(Activity::kEdit, c);
  }

  void start_sync(bool heal) {
    SyncRecord record;
    record.device = index;
    record.start_ms = world_.now();
    record.heal = heal;
    current_sync = record;
    traffic().start(last_mirror_length_.value_or(0));
    restores_at_start_ = world_.restores();
    world_.event(name, "sync-start", heal ? "heal" : "scheduled", to_bytes("sync"));
    begin(Activity::kSync, named("sync"));
  }

  // What waited for the device to be idle: a new token first, then edits, invitations and
  // revocations, then a sync.
  void run_next() {
    // Bounded: each pass starts one command and returns, or finds nothing to do.
    if (life != Life::kUp || busy() || !running()) return;
    if (pending_token_) {
      Command c = named("set_token");
      c.token = *pending_token_;
      pending_token_.reset();
      set_token(c.token);
      return begin(Activity::kToken, c);
    }
    if (!edits_.empty()) {
      const PendingEdit edit = std::move(edits_.front());
      edits_.pop_front();
      return do_edit(edit);
    }
    if (!revokes_wanted_.empty()) {
      member_ = revokes_wanted_.front();
      revokes_wanted_.pop_front();
      const std::optional<Invitation> invitation = world_.invitation_for(member_);
      if (!invitation) return run_next();  // never invited: it holds no token to revoke
      Command c = named("revoke");
      c.token_id = invitation->token_id;
      return begin(Activity::kRevoke, c);
    }
    if (!invites_wanted_.empty()) {
      member_ = invites_wanted_.front();
      invites_wanted_.pop_front();
      Command c = named("invite");
      c.scope = Scope::kReadWrite;
      return begin(Activity::kInvite, c);
    }
    if (sync_wanted_) {
      sync_wanted_ = false;
      const bool heal = sync_wanted_heal_;
      sync_wanted_heal_ = false;
      start_sync(heal);
    }
  }

  void finish(Activity done, const CommandResult& result) override {
    editing_.reset();
    switch (done) {
      case Activity::kSetup:
        return finish_setup(result);  // which goes on itself, or retries
      case Activity::kInvite:
        finish_invite(result);
        break;
      case Activity::kRevoke:
        finish_revoke(result);
        break;
      case Activity::kSync:
        finish_sync(result);
        break;
      case Activity::kEdit:
        if (!result.ok)
          world_.event(
              name, "edit-failed",
              command().name + " " + command().key + ": " + code_and_message(*result.error),
              to_bytes(command().name));
        break;
      default:
        break;
    }
    run_next();
  }

  void finish_setup(const CommandResult& result) {
    if (!result.ok) {
      world_.event(name, "join-failed", code_and_message(*result.error), to_bytes("join-failed"));
      life = Life::kNotJoined;
      if (++join_attempts_ < kJoinAttemptsMax)
        world_.schedule(world_.now() + kJoinRetryMs, [this] {
          if (life == Life::kNotJoined) start_setup(owner_);
        });
      return;
    }
    now_holds_workspace();
    life = Life::kUp;
    if (owner_) {
      world_.workspace_created(result.workspace_id, result.passphrase, result.token);
      set_token(result.token);
      world_.add_plaintext(to_bytes(world_.passphrase()), "the passphrase");
      learn_keys();
    }
    world_.event(name, "up", owner_ ? "created the workspace" : "joined the workspace",
                 to_bytes("up"));
    run_next();
  }

  // The simulator derives the workspace's keys as a device would, from the key record the owner
  // put and the password and passphrase (spec 5.2): to read the server's log for the checkers, and
  // to look for the keys in what the server receives (SEC-001).
  void learn_keys() {
    if (!key_record() || !world_.workspace()) return;
    std::optional<WorkspaceKeys> keys = derive_workspace_keys(
        *key_record(), world_.password(), world_.passphrase(), *world_.workspace());
    if (!keys) return;
    world_.learn_keys(std::move(keys->decrypt_op));
    world_.add_plaintext(keys->subkeys.op_key.view(), "the operation key");
    world_.add_plaintext(keys->subkeys.chunk_key.view(), "the chunk key");
  }

  void finish_invite(const CommandResult& result) {
    const uint32_t for_device = member_;
    if (result.ok && result.token_id) {
      world_.event(name, "invited", "an invitation for device-" + std::to_string(for_device),
                   to_bytes("invite"));
      world_.invitation_ready(for_device, Invitation{result.token, *result.token_id});
    } else {
      world_.event(name, "invite-failed",
                   result.error ? code_and_message(*result.error) : "no token",
                   to_bytes("invite-failed"));
      world_.schedule(world_.now() + kCallRetryMs, [this, for_device] { invite(for_device); });
    }
  }

  void finish_revoke(const CommandResult& result) {
    const uint32_t for_device = member_;
    const std::string whose = "device-" + std::to_string(for_device);
    if (result.ok) {
      world_.event(name, "revoked-member", "the server revoked the token of " + whose,
                   to_bytes("revoked"));
    } else if (result.error->code == Code::kTokenNotFound) {
      // The server does not know the token (a restore lost it): nothing is left to revoke.
      world_.event(name, "revoked-member", "the server does not know the token of " + whose,
                   to_bytes("unknown"));
    } else {
      world_.event(name, "revoke-failed", code_and_message(*result.error),
                   to_bytes("revoke-failed"));
      world_.schedule(world_.now() + kCallRetryMs,
                      [this, for_device] { revoke_member(for_device); });
    }
  }

  void finish_sync(const CommandResult& result) {
    traffic().settle_received();
    last_mirror_length_ =
        result.mirror ? std::optional<uint64_t>(result.mirror->length) : std::nullopt;
    SyncRecord record = std::move(*current_sync);
    current_sync.reset();
    record.ok = result.ok;
    traffic().finish(record);
    if (!result.ok) {
      record.error = code_and_message(*result.error);
      // A token a restore lost, or one the owner revoked, explains an authorization failure.
      const Code code = result.error->code;
      const bool revoked = world_.revocation_intended(index);
      if ((code == Code::kTokenInvalid && (revoked || world_.restores() > 0)) ||
          (code == Code::kTokenRevoked && revoked))
        record.faults_seen += 1;
      // One ask per token: a new token that a later restore loses again is asked for again,
      // however it arrived (while the device ran, was down, or was killed taking it).
      if (code == Code::kTokenInvalid && !revoked && reinvite_asked_for_ != token()) {
        reinvite_asked_for_ = token();  // the owner sends a new token (replace_token)
        world_.device(0).invite(index);
      }
    } else if (result.mirror) {
      check_mirror(*result.mirror);
    }
    world_.finish_sync(*this, std::move(record));
  }

  // After a sync that completed, the device's copy of the log is a prefix of the server's log.
  void check_mirror(const adapter::Mirror& mirror) {
    if (world_.restores() != restores_at_start_) return;  // the log changed under the sync
    const std::optional<Hash> server = world_.server().prefix_hash(mirror.length);
    if (!server || *server != mirror.prefix_hash)
      world_.violation("log_integrity", {name, "server"}, {},
                       "after a sync, this device's " + std::to_string(mirror.length) +
                           " operations are not the first " + std::to_string(mirror.length) +
                           " of the server's log");
  }

  void forget_unsaved_work() override {
    editing_.reset();
    last_mirror_length_.reset();
    edits_.clear();  // the user's unsaved work goes with the process
    sync_wanted_ = false;
  }

  NodeHost& world_;
  std::optional<EditInProgress> editing_;
  bool owner_ = false;
  uint32_t member_ = 0;  // the device the owner's invitation or revocation in progress is for
  uint32_t join_attempts_ = 0;
  std::deque<PendingEdit> edits_;
  std::deque<uint32_t> invites_wanted_;
  std::deque<uint32_t> revokes_wanted_;
  std::optional<std::string> pending_token_;
  std::optional<std::string> reinvite_asked_for_;  // the token a re-invitation was asked for
  bool sync_wanted_ = false;
  bool sync_wanted_heal_ = false;
  uint64_t restores_at_start_ = 0;
  std::optional<uint64_t> last_mirror_length_;  // after the last sync that completed
};

}  // namespace

std::unique_ptr<DeviceNode> make_client_device(NodeHost& world, uint32_t index) {
  return std::make_unique<ClientNode>(world, index);
}

}  // namespace opsync::simulator
