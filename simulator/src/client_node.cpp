// A device of the simulated world whose client speaks opsync-client-adapter/1: the reference
// client in this process (its stores in memory), or any client behind an adapter process
// (certify-client). Everything the checkers learn of the client comes from the protocol: its
// commits, its requests and the answers it got, its waits, its state dumps. What the world asks
// of a device (edits, syncs, invitations, revocations, crashes) becomes commands, one at a time.
#include <sqlite3.h>
#include <stdlib.h>

#include <deque>
#include <mutex>
#include <set>

#include "opsync/adapter/reference_adapter.h"
#include "opsync/client/blobs.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "world.h"

namespace opsync::simulator {
namespace {

using adapter::Command;
using adapter::CommandResult;
using adapter::Yield;
using client::DeviceTime;

constexpr uint32_t kKdfIterations =
    1000;  // key derivation is not under test; 600,000 would cost 0.3 s
constexpr uint32_t kJoinAttemptsMax = 50;
constexpr uint64_t kCallRetryMs =
    5000;  // an owner's invitation or revocation that failed goes again
constexpr uint64_t kJoinRetryMs = 5000;
constexpr uint64_t kDriftPpmMax = 500;     // the largest drift a profile may give an oscillator
constexpr uint64_t kWaitSlackMs = 5;       // the rounding of a drifting clock's readings
constexpr uint64_t kBackoffCapMs = 64000;  // SYNC-010
constexpr uint32_t kDetachPickBound = 1u << 16;
constexpr const char* kServerUrl = "sim://server";

Command named(std::string name) {
  Command c;
  c.name = std::move(name);
  return c;
}

std::string code_and_message(const Error& error) {
  return std::string(code_name(error.code)) + ": " + error.message;
}

// ---- the reference client in this process -------------------------------------------------------

// The database of a store that has its schema and no binding yet, made once per process: a new
// device's database starts as a copy of its pages (SQLite's backup API) instead of running every
// migration's statements again, which took half of a 64-device run.
sqlite3* empty_store_template() {
  static sqlite3* holder = nullptr;
  static std::once_flag made;
  std::call_once(made, [] {
    const std::string uri = "file:/opsync-sim-store-template?vfs=memdb";
    OPSYNC_CHECK(sqlite3_open_v2(uri.c_str(), &holder,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                                 nullptr) == SQLITE_OK);
    std::string dir =
        (std::filesystem::temp_directory_path() / "opsync-sim-template-XXXXXX").string();
    OPSYNC_CHECK(mkdtemp(dir.data()) != nullptr);
    {
      client::StoreOptions options;
      options.durability = client::Durability::kProcess;
      options.blobs = std::make_shared<client::MemoryBlobStore>();
      options.database_uri = uri;
      const client::WorkspaceBinding binding{"sim://template", WorkspaceId{}, Id{}, kBlockSizeMin};
      Result<std::unique_ptr<client::LocalStore>> store =
          client::LocalStore::create(dir, binding, "template", options);
      OPSYNC_CHECK_MSG(store.ok(), "cannot make the simulator's empty store");
    }
    OPSYNC_CHECK(sqlite3_exec(holder, "DELETE FROM device", nullptr, nullptr, nullptr) ==
                 SQLITE_OK);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  return holder;
}

// A device's database in the process (SQLite's memdb VFS): this connection holds its pages the
// whole run, as a disk holds a file, while the client's own connection comes and goes with the
// device's process; closing that one (a kill) rolls back whatever it had not committed.
class MemoryDisk {
 public:
  explicit MemoryDisk(std::string uri) : uri_(std::move(uri)) { attach(); }
  ~MemoryDisk() { sqlite3_close(db_); }
  MemoryDisk(const MemoryDisk&) = delete;
  MemoryDisk& operator=(const MemoryDisk&) = delete;

  const std::string& uri() const { return uri_; }
  // The disk wiped: a directory removed and created again.
  void wipe() {
    sqlite3_close(db_);
    db_ = nullptr;
    attach();
  }

 private:
  void attach() {
    const int rc = sqlite3_open_v2(
        uri_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr);
    OPSYNC_CHECK_MSG(rc == SQLITE_OK, "cannot open a device's database in memory");
    sqlite3_backup* copy = sqlite3_backup_init(db_, "main", empty_store_template(), "main");
    OPSYNC_CHECK_MSG(copy != nullptr && sqlite3_backup_step(copy, -1) == SQLITE_DONE,
                     "cannot copy the empty store into a device's database");
    OPSYNC_CHECK(sqlite3_backup_finish(copy) == SQLITE_OK);
  }

  std::string uri_;
  sqlite3* db_ = nullptr;
};

// What outlives the reference client's "process" in this one: its disk (the database and the
// blobs), as a machine's disk outlives a killed program.
struct InProcessDisk {
  std::shared_ptr<client::MemoryBlobStore> blobs = std::make_shared<client::MemoryBlobStore>();
  std::unique_ptr<MemoryDisk> database;  // nullptr: the database is a file of the directory
};

class InProcessChannel final : public AdapterChannel {
 public:
  InProcessChannel(InProcessDisk& disk, adapter::ClientDefect defect) {
    adapter::ReferenceAdapterOptions options;
    options.store.durability = client::Durability::kProcess;  // a crash here is of the process
    options.store.blobs = disk.blobs;
    if (disk.database) {
      options.store.database_uri = disk.database->uri();
      options.wipe_store = [&disk] {
        disk.database->wipe();
        disk.blobs->clear();
      };
    } else {
      options.wipe_store = [&disk] { disk.blobs->clear(); };
    }
    options.defect = defect;
    adapter_ = std::make_unique<adapter::ReferenceAdapter>(std::move(options));
  }
  Yield turn(const adapter::Event& event, DeviceTime now, adapter::TurnHost& host) override {
    return adapter_->on_event(event, now, host);
  }

 private:
  std::unique_ptr<adapter::ReferenceAdapter> adapter_;
};

adapter::ClientDefect defect_of(Variant variant) {
  switch (variant) {
    case Variant::kNoDedupe:
      return adapter::ClientDefect::kNoDedupe;
    case Variant::kWallClock:
      return adapter::ClientDefect::kWallClock;
    case Variant::kForgetLostUploads:
      return adapter::ClientDefect::kForgetLostUploads;
    case Variant::kPlaintext:
      return adapter::ClientDefect::kPlaintext;
    case Variant::kNoFileDelete:
      return adapter::ClientDefect::kNoFileDelete;
    case Variant::kNoCopyRetention:
      return adapter::ClientDefect::kNoCopyRetention;
    case Variant::kNoCopyExpiry:
      return adapter::ClientDefect::kNoCopyExpiry;
    case Variant::kWallClockWaits:
      return adapter::ClientDefect::kWallClockWaits;
    default:
      return adapter::ClientDefect::kNone;
  }
}

// ---- the device ---------------------------------------------------------------------------------

class ClientNode final : public DeviceNode, private adapter::TurnHost {
 public:
  ClientNode(World& world, uint32_t device_index) : world_(world) {
    index = device_index;
    name = "device-" + std::to_string(device_index);
    random_ = world.node_random(name);
    dir_ = world.work_dir() / name;
    Stream& s = world.stream("config/" + name);
    static constexpr uint32_t kPageOps[] = {0, 4, 16};
    options_.page_ops_max = kPageOps[s.draw(3)];
    options_.overlap_work = s.draw(2) == 1;
    options_.kdf_iterations = kKdfIterations;
    if (world.options().clients && !world.options().reference_devices.count(device_index)) {
      factory_ = world.options().clients;
    } else {
      if (world.options().device_stores == RunOptions::DeviceStores::kMemory)
        disk_.database = std::make_unique<MemoryDisk>(
            "file:/" + world.work_dir().filename().string() + "/" + name + "?vfs=memdb");
      const adapter::ClientDefect defect = defect_of(world.config().variant);
      factory_ = [this, defect](const ChannelRequest&) {
        return std::make_unique<InProcessChannel>(disk_, defect);
      };
    }
  }

  ~ClientNode() override {
    channel_.reset();  // the client's own connection before the disk's
    disk_.database.reset();
  }

  // ---- setup and membership ----

  void start_setup(bool owner) override {
    life = Life::kJoining;
    owner_ = owner;
    if (!channel_ && !launch(false)) return;
    if (owner) {
      Command c = named("create");
      c.server_url = kServerUrl;
      c.password = world_.password;
      begin(Activity::kSetup, c);
    } else {
      std::optional<World::Invitation> invitation = world_.invitation_for(index);
      OPSYNC_CHECK_MSG(invitation.has_value(), "a device joins without an invitation");
      Command c = named("join");
      c.server_url = kServerUrl;
      c.workspace_id = world_.workspace;
      c.token = invitation->token;
      c.password = world_.password;
      c.passphrase = world_.passphrase;
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

  void on_answer(uint64_t task, const HttpResponse& response) override {
    if (task != awaited_) return;
    awaited_ = 0;
    observe_answer(response);
    turn(adapter::HttpAnswer{response});
  }

  void on_failure(uint64_t task, const std::string& what) override {
    if (task != awaited_) return;
    awaited_ = 0;
    const std::string kind = what.find("refused") != std::string::npos ? "refused"
                             : what.find("reset") != std::string::npos ? "reset"
                                                                       : "timeout";
    turn(adapter::HttpFailure{kind, what});
  }

  // ---- crashes ----

  void arm_crash(uint32_t steps, uint64_t down_ms) override {
    if (life != Life::kUp && life != Life::kJoining) return;
    down_ms_ = down_ms;
    if (steps == 0) {
      world_.event(name, "crash", "killed at rest", to_bytes("crash"));
      die();
      return;
    }
    crash_countdown_ = steps;
  }

  void restart() override {
    if (life != Life::kDown) return;
    if (!launch(true)) return;
    if (!holds_workspace_) {
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
    crash_countdown_.reset();
    if (life == Life::kDown) restart();
  }

  bool busy() const override { return activity_ != Activity::kIdle; }

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
    if (!channel_ || !holds_workspace_) return out;
    const std::optional<adapter::DeviceState> state = dump();
    if (!state) return out;
    for (const auto& [key, heads] : state->objects)
      for (const adapter::HeadState& h : heads)
        out.objects[key].push_back(HeadView{h.op_id, h.hlc, h.deleted, h.value, h.files});
    for (const auto& [key, heads] : out.objects)
      for (const HeadView& head : heads)
        out.referenced_files.insert(head.files.begin(), head.files.end());
    for (const auto& [id, file] : state->files) {
      if (!file.held) continue;
      if (out.referenced_files.count(id))
        out.file_copies[id] = file.content;
      else
        (file.kept_after_delete ? out.retained_copies : out.unreferenced_copies).insert(id);
    }
    out.pending_ops = state->pending.size();
    for (const adapter::OpState& op : state->pending) out.pending_hlc[op.op_id] = op.hlc;
    for (const adapter::OpState& op : state->rejected) {
      out.rejected_ops.insert(op.op_id);
      out.pending_hlc[op.op_id] = op.hlc;
    }
    if (state->mirror) {
      out.mirror_length = state->mirror->length;
      out.mirror_prefix_hash = state->mirror->prefix_hash;
    }
    return out;
  }

 private:
  enum class Activity { kIdle, kStarting, kSetup, kInvite, kRevoke, kToken, kEdit, kSync, kDump };
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
  // The traffic of the sync in progress, from which the checkers learn what it moved.
  struct SyncTraffic {
    bool read_ops = false;        // the first GET /ops (the prefix check) went out
    uint64_t last_after_seq = 0;  // the after_seq of the latest GET /ops
    bool searching = false;       // a divergence search (GET /blocks) since that read
    uint64_t searched_from = 0;   // the mirror's length when it began
  };

  // ---- turns ----

  DeviceTime device_time() const {
    return {clock.read(world_.now()), monotonic.read(world_.now())};
  }

  // Starts the client's process (a new channel) and its start event; false when it broke.
  bool launch(bool restarted) {
    channel_ = factory_(ChannelRequest{index, name, dir_.string()});
    adapter::Start start{name, dir_.string(), restarted, options_,
                         world_.options().turn_timeout_ms};
    activity_ = Activity::kStarting;
    const std::optional<Yield> yield = run_turn(start);
    activity_ = Activity::kIdle;
    if (!yield) return false;
    const auto* ready = std::get_if<adapter::Ready>(&*yield);
    if (!ready) return broken("the answer to start was not ready (ADP-020)");
    if (std::find(ready->supports.begin(), ready->supports.end(), "random") ==
        ready->supports.end())
      world_.trace_replayable = false;
    holds_workspace_ = ready->workspace.has_value();
    return true;
  }

  // One turn; nullopt when the device died in it (a kill) or its client broke the protocol.
  // A client that breaks the protocol ends the run in error (ChannelBroken out of run()).
  std::optional<Yield> run_turn(const adapter::Event& event) {
    try {
      return channel_->turn(event, device_time(), *this);
    } catch (const DeviceKilled&) {
      die();
    } catch (const ChannelBroken& broken_channel) {
      throw ChannelBroken{name + ": " + broken_channel.message};
    }
    return std::nullopt;
  }

  void begin(Activity activity, const Command& command) {
    activity_ = activity;
    command_ = command;
    turn(command);
  }

  void turn(const adapter::Event& event) {
    const std::optional<Yield> yield = run_turn(event);
    if (yield) take(*yield);
  }

  [[noreturn]] bool broken(const std::string& message) {
    throw ChannelBroken{name + ": " + message +
                        (channel_ ? channel_->diagnostics() : std::string())};
  }

  // What the client yielded.
  void take(const Yield& yield) {
    if (const auto* send = std::get_if<adapter::SendHttp>(&yield)) return send_request(*send);
    if (const auto* wait = std::get_if<adapter::Wait>(&yield))
      return wait_until(wait->until_monotonic_ms);
    if (const auto* result = std::get_if<CommandResult>(&yield)) return finish(*result);
    broken("a yield that does not answer the command in progress (ADP-010)");
  }

  void send_request(const adapter::SendHttp& send) {
    end_of_wait();
    settle_received();
    last_request_ = send.request;
    if (send.request.authorized) token_ = send.token;
    observe_request(send.request);
    check_chunk_upload(send.request);
    awaited_ = ++requests_;
    world_.send(*this, awaited_, send.request, send.token);
  }

  void wait_until(uint64_t until_monotonic_ms) {
    const DeviceTime now = device_time();
    if (!wait_began_)
      wait_began_ = WaitBegan{world_.now(),
                              until_monotonic_ms - std::min(until_monotonic_ms, now.monotonic_ms)};
    const std::optional<uint64_t> at =
        monotonic.true_time_reaching(until_monotonic_ms, world_.now());
    OPSYNC_CHECK_MSG(at.has_value(), "a monotonic clock that stands still");
    world_.schedule(std::max(*at, world_.now() + 1),
                    [this, incarnation = incarnation, activity = activity_] {
                      if (incarnation == this->incarnation && activity_ == activity)
                        turn(adapter::Wake{});
                    });
  }

  // SYNC-010, SYNC-020: a wait between attempts lasts what the client asked, at most the cap, in
  // true time give or take the drift of the device's oscillator, whatever its wall clock does.
  void end_of_wait() {
    if (!wait_began_) return;
    const WaitBegan began = *wait_began_;
    wait_began_.reset();
    const uint64_t asked_ms = began.asked_ms;
    const uint64_t waited_ms = world_.now() - began.true_ms;
    const uint64_t allowed_ms = asked_ms + asked_ms * kDriftPpmMax / 1'000'000 + kWaitSlackMs;
    if (asked_ms > kBackoffCapMs)
      world_.violation("backoff", {name}, {},
                       name + " asked to wait " + std::to_string(asked_ms) +
                           " ms before its next attempt; " + "SYNC-010 caps a wait at " +
                           std::to_string(kBackoffCapMs) + " ms");
    else if (waited_ms > allowed_ms)
      world_.violation("backoff", {name}, {},
                       name + " waited " + std::to_string(waited_ms) +
                           " ms of true time for a backoff of " + std::to_string(asked_ms) +
                           " ms; a wait must not outlast its length whatever the " +
                           "wall clock does (SYNC-020)");
  }

  // ---- TurnHost: the client's asks and notices ----

  void random(std::span<uint8_t> out) override { random_->fill(out); }

  void durable(std::string_view step) override {
    ++durable_steps_;
    if (!crash_countdown_ || --*crash_countdown_ > 0) return;
    crash_countdown_.reset();
    world_.event(name, "crash",
                 "killed after durable step " + std::to_string(durable_steps_) + " (" +
                     std::string(step) + ")",
                 to_bytes(std::string(step)));
    throw DeviceKilled{};
  }

  void committed(const adapter::CommitNote& note) override {
    held_ids_.insert(note.op_id);
    record_commit(note);
    durable("commit_local_edit");
  }

  void record_commit(const adapter::CommitNote& note) {
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
    record.requested = activity_ == Activity::kEdit && editing_ && editing_->edit.key == note.key;
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
      Stream& s = world_.stream("workload/" + name);
      in_progress.file_name = "file-";
      for (int i = 0; i < 12; ++i)
        in_progress.file_name.push_back("abcdefghijklmnopqrstuvwxyz234567"[s.draw(32)]);
      in_progress.file_name += ".bin";
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
    held_at_start_ = last_mirror_length_.value_or(0);
    SyncRecord record;
    record.device = index;
    record.start_ms = world_.now();
    record.heal = heal;
    current_sync = record;
    traffic_ = SyncTraffic{};
    restores_at_start_ = world_.restores();
    world_.event(name, "sync-start", heal ? "heal" : "scheduled", to_bytes("sync"));
    begin(Activity::kSync, named("sync"));
  }

  std::optional<adapter::DeviceState> dump() {
    const Activity was = activity_;
    activity_ = Activity::kDump;
    const std::optional<Yield> yield = run_turn(named("dump"));
    activity_ = was;
    if (!yield) return std::nullopt;
    if (const auto* state = std::get_if<adapter::DeviceState>(&*yield)) return *state;
    broken("the answer to dump was not state (ADP-061)");
    return std::nullopt;
  }

  // What waited for the device to be idle: a new token first, then edits, invitations and
  // revocations, then a sync.
  void run_next() {
    // Bounded: each pass starts one command and returns, or finds nothing to do.
    if (life != Life::kUp || busy() || !channel_) return;
    if (pending_token_) {
      Command c = named("set_token");
      c.token = *pending_token_;
      pending_token_.reset();
      token_ = c.token;
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
      const std::optional<World::Invitation> invitation = world_.invitation_for(member_);
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

  void finish(const CommandResult& result) {
    end_of_wait();
    const Activity done = activity_;
    activity_ = Activity::kIdle;
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
          world_.event(name, "edit-failed",
                       command_.name + " " + command_.key + ": " + code_and_message(*result.error),
                       to_bytes(command_.name));
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
    holds_workspace_ = true;
    life = Life::kUp;
    if (owner_) {
      world_.workspace = result.workspace_id;
      world_.passphrase = result.passphrase;
      world_.owner_token = result.token;
      token_ = result.token;
      world_.add_plaintext(to_bytes(world_.passphrase), "the passphrase");
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
    if (!key_record_ || !world_.workspace) return;
    const SecretKey kek =
        derive_kek(world_.password, world_.passphrase, key_record_->kdf.iterations);
    Result<SecretKey> data_key =
        unwrap_data_key(kek, key_record_->wrapped_key, *world_.workspace, 1);
    if (!data_key.ok()) return;
    const Subkeys subkeys = derive_subkeys(*data_key);
    world_.decrypt_op = [subkeys](const WireOp& op) -> std::optional<ObjectOp> {
      if (op.key_id != 1) return std::nullopt;
      Result<Bytes> plaintext = open_op_payload(subkeys.op_key, op);
      if (!plaintext.ok()) return std::nullopt;
      Result<ObjectPayload> payload = parse_payload(*plaintext);
      if (!payload.ok()) return std::nullopt;
      return ObjectOp{op.id, op.hlc, std::move(payload).value()};
    };
    world_.add_plaintext(subkeys.op_key.view(), "the operation key");
    world_.add_plaintext(subkeys.chunk_key.view(), "the chunk key");
  }

  void finish_invite(const CommandResult& result) {
    const uint32_t for_device = member_;
    if (result.ok && result.token_id) {
      world_.event(name, "invited", "an invitation for device-" + std::to_string(for_device),
                   to_bytes("invite"));
      world_.invitation_ready(for_device, World::Invitation{result.token, *result.token_id});
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
    settle_received();
    last_mirror_length_ =
        result.mirror ? std::optional<uint64_t>(result.mirror->length) : std::nullopt;
    SyncRecord record = std::move(*current_sync);
    current_sync.reset();
    record.ok = result.ok;
    record.moved = moved_;
    moved_ = false;
    record.redundant_ops = redundant_;
    record.ops_received = received_;
    record.redundancy_allowed = allowance_;
    redundant_ = received_ = allowance_ = last_page_redundant_ = 0;
    record.held_at_start = held_at_start_;
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
      if (code == Code::kTokenInvalid && !revoked && reinvite_asked_for_ != token_) {
        reinvite_asked_for_ = token_;  // the owner sends a new token (replace_token)
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

  // ---- what the sync's traffic says ----

  void observe_request(const client::HttpRequest& request) {
    const std::optional<EndpointId> endpoint = endpoint_of_target(request.method, request.target);
    if (!endpoint) return;
    if (*endpoint == EndpointId::kPutKey && !key_record_) {
      // The owner's first key record, for learn_keys().
      Result<PutKeyRequest> record = parse_message<PutKeyRequest>(request.body);
      if (record.ok()) key_record_ = *record;
    }
    if (activity_ != Activity::kSync) return;
    switch (*endpoint) {
      case EndpointId::kReadOps: {
        const uint64_t after_seq =
            parse_decimal_parameter(query_parameter(request.target, "after_seq").value_or("0"), 0,
                                    UINT64_MAX)
                .value_or(0);
        // The prefix check reads after the mirror's end.
        if (!traffic_.read_ops) held_at_start_ = std::max(held_at_start_, after_seq);
        if (traffic_.searching && traffic_.searched_from > after_seq)
          allowance_ +=
              traffic_.searched_from - after_seq;  // what the search set aside (spec 9.1 step 3)
        traffic_.read_ops = true;
        traffic_.searching = false;
        traffic_.last_after_seq = after_seq;
        break;
      }
      case EndpointId::kReadBlocks:
        if (!traffic_.searching) {
          traffic_.searching = true;
          traffic_.searched_from = traffic_.last_after_seq;
          // The page whose after_hash failed the check is the search's cost too: the client
          // discards it and reads its operations again after the verified prefix.
          allowance_ += last_page_redundant_;
        }
        break;
      case EndpointId::kUploadOps: {
        moved_ = true;
        // What the checkers judge an operation by if a restore takes it out of the log later.
        Result<UploadOpsRequest> upload = parse_message<UploadOpsRequest>(request.body);
        if (upload.ok())
          for (const WireOp& op : upload->ops) world_.note_uploaded_hlc(op.id, op.hlc);
        break;
      }
      case EndpointId::kPutChunk:
      case EndpointId::kCreateFile:
      case EndpointId::kCommitFile:
      case EndpointId::kDeleteFile:
        moved_ = true;
        break;
      default:
        break;
    }
  }

  // FILE-031: an interrupted upload resumes with the chunks the server lacks. A chunk whose
  // upload the server confirmed to this device is not sent again, unless the server said since
  // that it lacks it (a file status listing it missing, a file it does not know or created anew)
  // or a restore may have taken it.
  using ChunkKey = std::pair<std::string, uint32_t>;  // the file id as in the target, the index

  static std::optional<std::string> file_of_target(const std::string& target) {
    const size_t at = target.find("/files/");
    if (at == std::string::npos) return std::nullopt;
    const size_t from = at + 7;
    const size_t end = target.find_first_of("/?", from);
    return target.substr(from, end == std::string::npos ? std::string::npos : end - from);
  }

  void check_chunk_upload(const client::HttpRequest& request) {
    if (endpoint_of_target(request.method, request.target) != EndpointId::kPutChunk) return;
    if (world_.restores() != restores_at_confirmations_) {
      confirmed_chunks_.clear();
      restores_at_confirmations_ = world_.restores();
    }
    const std::optional<std::string> file = file_of_target(request.target);
    const size_t slash = request.target.rfind('/');
    const std::optional<uint64_t> index =
        parse_decimal_parameter(request.target.substr(slash + 1), 0, UINT32_MAX);
    if (!file || !index) return;
    if (confirmed_chunks_.count({*file, static_cast<uint32_t>(*index)}))
      world_.violation(
          "transfer_cost", {name}, {},
          name + " uploaded chunk " + std::to_string(*index) + " of file " + *file +
              " again after the server had confirmed it, and nothing the server said since listed "
              "it " +
              "missing: an interrupted upload resumes with the chunks the server lacks (FILE-031)");
  }

  void note_chunk_answer(const HttpResponse& response) {
    const std::optional<EndpointId> endpoint =
        endpoint_of_target(last_request_.method, last_request_.target);
    if (!endpoint) return;
    const std::optional<std::string> file = file_of_target(last_request_.target);
    if (!file) return;
    auto forget_file = [&] {
      auto it = confirmed_chunks_.lower_bound({*file, 0});
      while (it != confirmed_chunks_.end() && it->first == *file) it = confirmed_chunks_.erase(it);
    };
    if (*endpoint == EndpointId::kPutChunk && response.status == 200) {
      const size_t slash = last_request_.target.rfind('/');
      const std::optional<uint64_t> index =
          parse_decimal_parameter(last_request_.target.substr(slash + 1), 0, UINT32_MAX);
      if (index) confirmed_chunks_.insert({*file, static_cast<uint32_t>(*index)});
    } else if (*endpoint == EndpointId::kCreateFile && response.status / 100 == 2) {
      forget_file();
    } else if (*endpoint == EndpointId::kGetFile) {
      Result<FileStatus> status = parse_message<FileStatus>(response.body);
      if (response.status != 200 || !status.ok()) return forget_file();
      for (const ChunkRange& range : status->chunks_missing)
        for (uint32_t i = range.first; i < range.second; ++i) confirmed_chunks_.erase({*file, i});
    }
  }

  void observe_answer(const HttpResponse& response) {
    note_chunk_answer(response);
    if (activity_ != Activity::kSync || response.status != 200 || last_request_.method != "GET")
      return;
    const std::optional<EndpointId> endpoint =
        endpoint_of_target(last_request_.method, last_request_.target);
    if (endpoint == EndpointId::kGetChunk || endpoint == EndpointId::kGetFile) {
      moved_ = true;
      return;
    }
    if (endpoint != EndpointId::kReadOps) return;
    Result<OpsPageResponse> page = parse_message<OpsPageResponse>(response.body);
    if (!page.ok()) return;
    received_ += page->ops.size();
    if (!page->ops.empty()) moved_ = true;
    last_page_redundant_ = 0;
    for (const SequencedOp& op : page->ops) {
      // Received again: at a position the device held when the sync began, and an operation it
      // holds (a restore may have put other operations at those positions since).
      if (op.seq <= held_at_start_ && held_ids_.count(op.op.id)) ++last_page_redundant_;
      received_ids_.push_back(op.op.id);
    }
    redundant_ += last_page_redundant_;
  }

  // The operations of the pages the client received are held once it goes on to its next
  // request or ends its sync (it applies a page before, or while, it asks for the next); a kill
  // before that loses them.
  void settle_received() {
    held_ids_.insert(received_ids_.begin(), received_ids_.end());
    received_ids_.clear();
  }

  // ---- death ----

  void die() {
    world_.figures.device_crashes += 1;
    channel_.reset();  // the client's process ends: what it committed stays, as after kill -9
    activity_ = Activity::kIdle;
    editing_.reset();
    current_sync.reset();
    wait_began_.reset();
    received_ids_.clear();
    last_mirror_length_.reset();
    awaited_ = 0;
    edits_.clear();  // the user's unsaved work goes with the process
    sync_wanted_ = false;
    ++incarnation;
    life = Life::kDown;
    world_.schedule(world_.now() + down_ms_, [this] { restart(); });
  }

  World& world_;
  std::filesystem::path dir_;
  std::unique_ptr<SeededRandom> random_;
  adapter::StartOptions options_;
  InProcessDisk disk_;
  ChannelFactory factory_;
  std::unique_ptr<AdapterChannel> channel_;
  Activity activity_ = Activity::kIdle;
  Command command_;
  std::optional<EditInProgress> editing_;
  bool holds_workspace_ = false;
  bool owner_ = false;
  uint32_t member_ = 0;  // the device the owner's invitation or revocation in progress is for
  uint32_t join_attempts_ = 0;
  std::deque<PendingEdit> edits_;
  std::deque<uint32_t> invites_wanted_;
  std::deque<uint32_t> revokes_wanted_;
  std::string token_;
  std::optional<std::string> pending_token_;
  std::optional<std::string> reinvite_asked_for_;  // the token a re-invitation was asked for
  std::optional<PutKeyRequest> key_record_;
  uint64_t awaited_ = 0;
  uint64_t requests_ = 0;
  client::HttpRequest last_request_;
  bool sync_wanted_ = false;
  bool sync_wanted_heal_ = false;
  uint64_t restores_at_start_ = 0;
  std::set<ChunkKey> confirmed_chunks_;
  uint64_t restores_at_confirmations_ = 0;
  SyncTraffic traffic_;
  uint64_t held_at_start_ = 0;
  std::optional<uint64_t> last_mirror_length_;  // after the last sync that completed
  std::set<OpId> held_ids_;         // operations the client holds: committed or received
  std::vector<OpId> received_ids_;  // received in pages, not yet settled
  uint64_t redundant_ = 0;
  uint64_t received_ = 0;
  uint64_t allowance_ = 0;
  uint64_t last_page_redundant_ = 0;  // of the latest page, forgiven if its hash starts a search
  bool moved_ = false;
  std::optional<uint32_t> crash_countdown_;
  uint64_t down_ms_ = 0;
  uint64_t durable_steps_ = 0;
  struct WaitBegan {
    uint64_t true_ms = 0;
    uint64_t asked_ms = 0;  // on the device's monotonic clock
  };
  std::optional<WaitBegan> wait_began_;
};

}  // namespace

std::unique_ptr<DeviceNode> make_client_device(World& world, uint32_t index) {
  return std::make_unique<ClientNode>(world, index);
}

}  // namespace opsync::simulator
