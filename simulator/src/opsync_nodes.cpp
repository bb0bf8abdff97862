// The opsync-v1 nodes: the reference server core on in-memory storage, and devices that are the
// reference client (Device, SyncEngine, LocalStore on SQLite, a memory blob store), driven over
// the world's network. The deliberate defects of Variant live here, at the edges of that code.
#include <sqlite3.h>
#include <stdlib.h>

#include <mutex>
#include <set>
#include <sstream>

#include "opsync/client/device.h"
#include "opsync/client/engine.h"
#include "opsync/client/store.h"
#include "opsync/protocol/blocks.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/hlc.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "opsync/server/core.h"
#include "opsync/server/memory_storage.h"
#include "opsync/simulator/bridge.h"
#include "world.h"

namespace opsync::simulator {
namespace {

using client::BlobKind;
using client::Device;
using client::SyncEngine;

constexpr uint32_t kKdfIterations = 1000;  // key derivation is not under test; 600,000 would cost 0.3 s
constexpr size_t kBackupsKept = 3;
constexpr uint64_t kFrozenRecheckMs = 1000;
constexpr uint64_t kDriftPpmMax = 500;  // the largest drift a profile may give an oscillator
constexpr uint64_t kWaitSlackMs = 5;    // the rounding of a drifting clock's readings
constexpr uint32_t kJoinAttemptsMax = 50;
constexpr uint64_t kCallRetryMs = 5000;  // an owner's invitation or revocation that failed goes again
constexpr const char* kServerUrl = "sim://server";

std::string code_and_message(const Error& error) { return std::string(code_name(error.code)) + ": " + error.message; }

// ---- the server ---------------------------------------------------------------------------------

class OpsyncServer final : public ServerNode {
 public:
  explicit OpsyncServer(World& world) : world_(world), random_(world.node_random("server")) {
    // Small blocks and the limits' floors, so that short runs page, fill blocks and split batches.
    static constexpr uint32_t kBlockSizes[] = {4, 16, 64};
    config_.block_size = kBlockSizes[world.stream("config/server").draw(3)];
    config_.limits = kLimitFloors;
    config_.upload_expiry_ms = kRetentionMsMin;
    config_.file_retention_ms = kRetentionMsMin;
    core_ = std::make_unique<server::ServerCore>(config_, storage_, *random_);
  }

  HttpResponse handle(const HttpRequest& request, const std::string& token) override {
    OPSYNC_CHECK(up_);
    const uint64_t now = clock.read(world_.now());
    HttpResponse response = to_client_response(core_->handle(to_server_request(request, token), now));
    observe_server_answer(world_, request, response);
    if (world_.config().variant == Variant::kHiddenRestore) hide_restore(request, response);
    return response;
  }

  // The HTTP adapter reads a whole body before the core sees a request: a cut one never arrives.
  void handle_cut(const HttpRequest&, const std::string&, size_t) override {}

  void crash() override {
    up_ = false;
    core_.reset();
  }
  void restart() override {
    if (up_) return;
    core_ = std::make_unique<server::ServerCore>(config_, storage_, *random_);
    up_ = true;
  }
  bool up() const override { return up_; }

  void backup() override {
    backups_.push_back(storage_.snapshot());
    if (backups_.size() > kBackupsKept) backups_.erase(backups_.begin());
  }
  bool restore(uint32_t pick) override {
    if (backups_.empty()) return false;
    const size_t index = backups_.size() - 1 - std::min<size_t>(pick, backups_.size() - 1);
    if (world_.config().variant == Variant::kHiddenRestore && world_.workspace) {
      // The defect: the server keeps answering the prefix hashes of the log it had.
      old_hashes_ = op_hashes();
    }
    if (world_.config().variant == Variant::kRestoreRevivesTokens)
      storage_.restore_with_journal(*backups_[index]);  // the defect: revocations roll back with the data
    else
      storage_.restore(*backups_[index]);
    restart_core();
    return true;
  }
  void collect_garbage() override {
    if (up_) core_->collect_garbage(clock.read(world_.now()), 1'000'000);
  }
  uint64_t log_length() override { return op_hashes().size(); }

  std::optional<Hash> prefix_hash(uint64_t length) override {
    std::vector<Hash> hashes = op_hashes();
    if (length > hashes.size()) return std::nullopt;
    return opsync::prefix_hash(compute_block_hashes(std::span(hashes).first(length), config_.block_size), hashes,
                               length, config_.block_size);
  }

  ServerReport report() override {
    ServerReport out;
    if (!world_.workspace) return out;
    const WorkspaceId ws = *world_.workspace;
    Status read = storage_.read([&](server::Transaction& txn) {
      for (const server::StoredOp& stored : txn.ops_after(ws, 0, SIZE_MAX, UINT64_MAX)) {
        Result<WireOp> op = decode_op(stored.encoding);
        OPSYNC_CHECK_MSG(op.ok(), "the server stores an operation that does not decode");
        out.log.push_back(op->id);
        out.seqs.push_back(stored.seq);
        out.meanings.push_back(world_.decrypt_op ? world_.decrypt_op(*op) : std::nullopt);
        out.stored_bytes.push_back(stored.encoding);
      }
      for (const FileId& id : world_.known_files()) {
        std::optional<server::FileRecord> file = txn.file(ws, id);
        if (!file) continue;
        out.file_states[id] = std::string(file_state_name(file->state));
        for (uint32_t index : txn.chunk_indices(ws, id))
          if (std::optional<Bytes> chunk = txn.chunk(ws, id, index)) out.stored_bytes.push_back(*chunk);
      }
    });
    OPSYNC_CHECK(read.ok());
    return out;
  }

 private:
  void restart_core() {
    core_ = std::make_unique<server::ServerCore>(config_, storage_, *random_);
    up_ = true;
  }

  std::vector<Hash> op_hashes() {
    std::vector<Hash> out;
    if (!world_.workspace) return out;
    Status read = storage_.read([&](server::Transaction& txn) {
      std::optional<server::WorkspaceRecord> ws = txn.workspace(*world_.workspace);
      if (ws) out = txn.op_hashes(ws->id, 1, ws->head_seq);
    });
    OPSYNC_CHECK(read.ok());
    return out;
  }

  // Variant::kHiddenRestore: pages after a restore carry the prefix hash of the log before it,
  // and a read beyond the restored log's end gets an empty page instead of after_seq_beyond_head.
  void hide_restore(const HttpRequest& request, HttpResponse& response) {
    if (old_hashes_.empty() || request.method != "GET") return;
    if (endpoint_of_target(request.method, request.target) != EndpointId::kReadOps) return;
    const std::optional<uint64_t> after_seq_or =
        parse_decimal_parameter(query_parameter(request.target, "after_seq").value_or("0"), 0, UINT64_MAX);
    if (!after_seq_or) return;  // the core refused it; nothing to hide
    const uint64_t after_seq = *after_seq_or;
    if (after_seq > old_hashes_.size()) return;
    const Hash old_hash = opsync::prefix_hash(
        compute_block_hashes(std::span(old_hashes_).first(after_seq), config_.block_size), old_hashes_, after_seq,
        config_.block_size);
    if (response.status == 200) {
      Result<OpsPageResponse> page = parse_message<OpsPageResponse>(response.body);
      if (!page.ok()) return;
      page->after_hash = old_hash;
      response.body = serialize_message(*page);
    } else if (response.status == 409) {
      OpsPageResponse page;
      page.after_seq = after_seq;
      page.after_hash = old_hash;
      page.head_seq = after_seq;
      response.status = 200;
      response.body = serialize_message(page);
    }
  }

  World& world_;
  std::unique_ptr<SeededRandom> random_;
  server::ServerConfig config_;
  server::MemoryStorage storage_;
  std::unique_ptr<server::ServerCore> core_;
  bool up_ = true;
  std::vector<std::shared_ptr<const server::MemoryStorage::Snapshot>> backups_;
  std::vector<Hash> old_hashes_;
};

// ---- devices --------------------------------------------------------------------------------------

// Thrown from the store's after_durable_step hook to kill the device right after a durable step.
struct DeviceKilled {};

// The database of a store that has its schema and no binding yet, made once per process: a new
// device's database starts as a copy of its pages (SQLite's backup API) instead of running every
// migration's statements again, which took half of a 64-device run. LocalStore::create binds it
// as it would a database it had just migrated.
sqlite3* empty_store_template() {
  static sqlite3* holder = nullptr;
  static std::once_flag made;
  std::call_once(made, [] {
    const std::string uri = "file:/opsync-sim-store-template?vfs=memdb";
    OPSYNC_CHECK(sqlite3_open_v2(uri.c_str(), &holder, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                                 nullptr) == SQLITE_OK);
    std::string dir = (std::filesystem::temp_directory_path() / "opsync-sim-template-XXXXXX").string();
    OPSYNC_CHECK(mkdtemp(dir.data()) != nullptr);
    {
      client::StoreOptions options;
      options.durability = client::Durability::kProcess;
      options.blobs = std::make_shared<client::MemoryBlobStore>();
      options.database_uri = uri;
      const client::WorkspaceBinding binding{"sim://template", WorkspaceId{}, Id{}, kBlockSizeMin};
      Result<std::unique_ptr<client::LocalStore>> store = client::LocalStore::create(dir, binding, "template", options);
      OPSYNC_CHECK_MSG(store.ok(), "cannot make the simulator's empty store");
    }
    OPSYNC_CHECK(sqlite3_exec(holder, "DELETE FROM device", nullptr, nullptr, nullptr) == SQLITE_OK);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  return holder;
}

// A device's database in the process (SQLite's memdb VFS): this connection holds its pages the
// whole run, as a disk holds a file, while the device's own connection comes and goes with the
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
    const int rc = sqlite3_open_v2(uri_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                                   nullptr);
    OPSYNC_CHECK_MSG(rc == SQLITE_OK, "cannot open a device's database in memory");
    sqlite3_backup* copy = sqlite3_backup_init(db_, "main", empty_store_template(), "main");
    OPSYNC_CHECK_MSG(copy != nullptr && sqlite3_backup_step(copy, -1) == SQLITE_DONE,
                     "cannot copy the empty store into a device's database");
    OPSYNC_CHECK(sqlite3_backup_finish(copy) == SQLITE_OK);
  }

  std::string uri_;
  sqlite3* db_ = nullptr;
};

class OpsyncDevice final : public DeviceNode {
 public:
  OpsyncDevice(World& world, uint32_t device_index)
      : world_(world), blobs_(std::make_shared<client::MemoryBlobStore>()) {
    index = device_index;
    name = "device-" + std::to_string(device_index);
    random_ = world.node_random(name);
    dir_ = world.work_dir() / name;
    store_options_.durability = client::Durability::kProcess;  // a crash here is of the process
    store_options_.blobs = blobs_;
    if (world.options().device_stores == RunOptions::DeviceStores::kMemory) {
      // Named after the run's own directory, so that two worlds never share one.
      disk_ = std::make_unique<MemoryDisk>("file:/" + world.work_dir().filename().string() + "/" + name +
                                           "?vfs=memdb");
      store_options_.database_uri = disk_->uri();
    }
    store_options_.after_durable_step = [this](std::string_view step) { durable_step(step); };
    Stream& s = world.stream("config/" + name);
    static constexpr uint32_t kPageOps[] = {0, 4, 16};
    page_ops_max_ = kPageOps[s.draw(3)];
    overlap_work_ = s.draw(2) == 1;
  }

  ~OpsyncDevice() override {
    engine_.reset();
    call_.reset();
    device_.reset();
    disk_.reset();  // after the device's own connection
  }

  // ---- setup and membership ----

  void start_setup(bool owner) override {
    life = Life::kJoining;
    owner_ = owner;
    if (owner) {
      call_ = std::make_unique<client::CreateWorkspaceCall>(dir_, kServerUrl, world_.password, *random_,
                                                            kKdfIterations, store_options_);
      call_kind_ = CallKind::kCreate;
    } else {
      std::optional<World::Invitation> invitation = world_.invitation_for(index);
      OPSYNC_CHECK_MSG(invitation.has_value(), "a device joins without an invitation");
      client::JoinRequest request{kServerUrl, *world_.workspace, invitation->token, world_.password, world_.passphrase};
      call_ = std::make_unique<client::JoinCall>(dir_, request, *random_, store_options_);
      call_kind_ = CallKind::kJoin;
    }
    world_.event(name, owner ? "create" : "join-call", owner ? "creates the workspace" : "joins with an invitation",
                 to_bytes(name));
    drive_call();
  }

  void invite(uint32_t for_device) override {
    invites_wanted_.push_back(for_device);
    if (life == Life::kUp && !busy()) run_next();
  }

  // A new token from the owner (its invitation, handed over out of band): a device that is down
  // takes it when it comes back.
  void replace_token(const std::string& token) override {
    if (life != Life::kUp || !device_) {
      pending_token_ = token;
      return;
    }
    guarded([&] { must(device_->store().set_token(token)); });
    if (!device_) return;  // killed at the durable step: the token waits for the restart
    token_ = token;
  }

  void revoke_member(uint32_t for_device) override {
    revokes_wanted_.push_back(for_device);
    if (life == Life::kUp && !busy()) run_next();
  }

  // ---- edits ----

  void edit(const std::string& kind, const std::string& key, const Bytes& value, uint64_t file_bytes) override {
    if (life != Life::kUp) {
      world_.event(name, "edit-skipped", kind + " " + key + ": the device is not running", to_bytes(kind));
      return;
    }
    if (!device_) return;
    if (busy()) {
      if (edits_.size() < kEditQueueMax) edits_.push_back(PendingEdit{kind, key, value, file_bytes, false});
      return;
    }
    do_edit(PendingEdit{kind, key, value, file_bytes, false});
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
    if (call_) {
      guarded([&] { call_->on_response(response); });
      if (call_) drive_call();
      return;
    }
    if (!engine_) return;
    count_page(response);
    guarded([&] { engine_->on_response(response, device_time()); });
    step_sync();
  }

  void on_failure(uint64_t task, const std::string& what) override {
    if (task != awaited_) return;
    awaited_ = 0;
    if (call_) {
      guarded([&] { call_->on_transport_failure(what); });
      if (call_) drive_call();
      return;
    }
    if (!engine_) return;
    if (endpoint_of_target(last_request_.method, last_request_.target) == EndpointId::kUploadOps) {
      const Variant variant = world_.config().variant;
      if (variant == Variant::kForgetLostUploads) {
        // The defect: no answer means "it failed, forget it".
        Result<UploadOpsRequest> sent = parse_message<UploadOpsRequest>(last_request_.body);
        OPSYNC_CHECK(sent.ok());
        UploadOpsResponse forgotten;
        for (const WireOp& op : sent->ops) {
          OpResult result;
          result.id = op.id;
          result.status = OpStatus::kRejected;
          result.code = Code::kOpIdConflict;
          result.message = "forgotten after a lost answer";
          forgotten.results.push_back(result);
        }
        HttpResponse fake;
        fake.status = 200;
        fake.body = serialize_message(forgotten);
        guarded([&] { engine_->on_response(fake, device_time()); });
        step_sync();
        return;
      }
      if (variant == Variant::kNoDedupe) {
        Result<UploadOpsRequest> sent = parse_message<UploadOpsRequest>(last_request_.body);
        OPSYNC_CHECK(sent.ok());
        for (const WireOp& op : sent->ops) redo_.push_back(op.id);
      }
    }
    guarded([&] { engine_->on_transport_failure(what, device_time()); });
    step_sync();
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
    std::error_code ec;
    if (!client::store_exists(dir_, store_options_)) {
      // It died before its store existed: it joins (or creates) again.
      life = Life::kNotJoined;
      world_.event(name, "restart", "restarts with no store: joins again", to_bytes("restart"));
      if (index == 0) start_setup(true);
      else if (world_.invitation_for(index)) start_setup(false);
      return;
    }
    Result<std::unique_ptr<Device>> opened = Device::open(dir_, store_options_);
    if (!opened.ok()) {
      // A directory a crash left before the join finished (the key file without the store).
      std::filesystem::remove_all(dir_, ec);
      if (disk_) disk_->wipe();
      life = Life::kNotJoined;
      world_.event(name, "restart", "restarts with an unfinished join: " + opened.error().message, to_bytes("rejoin"));
      if (world_.invitation_for(index)) start_setup(false);
      return;
    }
    device_ = std::move(*opened);
    life = Life::kUp;
    world_.event(name, "restart", "restarts from what its store committed", to_bytes("restart"));
    guarded([&] {
      token_ = device_->token();
      if (pending_token_) {
        // The invitation that came while it was down: a new token, and a new ask if it fails.
        must(device_->store().set_token(*pending_token_));
        token_ = *pending_token_;
        pending_token_.reset();
      }
      resolve_interrupted_edit();
    });
    if (life == Life::kUp) run_next();
  }

  void prepare_for_heal() override {
    crash_countdown_.reset();
    if (life == Life::kDown) restart();
  }

  bool busy() const override { return engine_ != nullptr || call_ != nullptr; }

  // ---- the end ----

  DeviceReport report() override {
    DeviceReport out;
    out.name = name;
    const bool revoked = world_.revocation_intended(index);
    out.live = life == Life::kUp && !revoked;
    if (!out.live)
      out.excepted_because = revoked ? "the owner revoked its token" : life == Life::kNotJoined ? "it never joined"
                                                                                              : "it is not running";
    if (!device_) return out;
    client::LocalStore& store = device_->store();
    for (const std::string& key : world_.keys()) {
      const client::ObjectView view = must(store.get(key));
      if (view.heads.empty()) continue;
      std::vector<HeadView>& heads = out.objects[key];
      for (const ObjectOp& op : view.heads) {
        HeadView head{op.id, op.hlc, op.payload.type == OpType::kDelete, op.payload.value, {}};
        for (const FileRef& ref : op.payload.files) head.files.push_back(ref.id);
        heads.push_back(std::move(head));
      }
    }
    for (const FileId& id : must(store.referenced_files())) {
      out.referenced_files.insert(id);
      std::optional<client::LocalFile> local = must(store.file(id));
      if (!local || !local->local_copy) continue;
      std::optional<Bytes> copy = blobs_->read(id, BlobKind::kCopy, 0, local->ref.size_bytes);
      out.file_copies[id] = copy ? *copy : Bytes();
    }
    for (const auto& [key, bytes] : blobs_->blobs())
      if (key.second == BlobKind::kCopy && !out.referenced_files.count(key.first)) {
        const std::optional<client::LocalFile> local = must(store.file(key.first));
        (local && local->unreferenced_since_ms ? out.retained_copies : out.unreferenced_copies).insert(key.first);
      }
    out.pending_ops = must(store.pending_count());
    for (const client::RejectedOp& rejected : must(store.rejected_ops())) {
      out.rejected_ops.insert(rejected.pending.op.id);
      out.pending_hlc[rejected.pending.op.id] = rejected.pending.op.hlc;
    }
    for (const client::PendingOp& pending : must(store.ops_to_upload(SIZE_MAX))) out.pending_hlc[pending.op.id] = pending.op.hlc;
    out.mirror_length = must(store.mirror_size());
    out.mirror_prefix_hash = must(store.prefix_hash(out.mirror_length));
    return out;
  }

 private:
  enum class CallKind { kNone, kCreate, kJoin, kInvite, kRevoke };
  struct PendingEdit {
    std::string kind;
    std::string key;
    Bytes value;
    uint64_t file_bytes = 0;
    bool redo = false;
  };
  struct InterruptedEdit {
    PendingEdit edit;
    std::vector<OpId> heads_before;
    uint64_t clock_ms = 0;
    Bytes attached;  // an attach's content, registered once the file's id is known
  };

  template <typename T>
  static T must(Result<T> result) {
    OPSYNC_CHECK_MSG(result.ok(), result.ok() ? "" : result.error().to_string().c_str());
    return std::move(result).value();
  }
  static void must(const Status& status) {
    OPSYNC_CHECK_MSG(status.ok(), status.ok() ? "" : status.error().to_string().c_str());
  }

  uint64_t clock_now() const { return clock.read(world_.now()); }
  // What the engine is given: both clocks; Variant::kWallClockWaits gives the wall clock twice.
  client::DeviceTime device_time() const {
    const uint64_t wall = clock.read(world_.now());
    return {wall, world_.config().variant == Variant::kWallClockWaits ? wall : monotonic.read(world_.now())};
  }

  // Runs client code; a kill in the middle of it ends this incarnation of the device.
  template <typename Body>
  void guarded(Body&& body) {
    try {
      body();
    } catch (const DeviceKilled&) {
      die();
    }
  }

  void durable_step(std::string_view step) {
    ++durable_steps_;
    if (!crash_countdown_) return;
    if (--*crash_countdown_ > 0) return;
    crash_countdown_.reset();
    world_.event(name, "crash", "killed after durable step " + std::to_string(durable_steps_) + " (" +
                                    std::string(step) + ")",
                 to_bytes(std::string(step)));
    throw DeviceKilled{};
  }

  void die() {
    world_.figures.device_crashes += 1;
    engine_.reset();
    call_.reset();
    wait_began_.reset();
    device_.reset();  // closes the store: what it committed stays, as after kill -9
    current_sync.reset();
    awaited_ = 0;
    edits_.clear();  // the user's unsaved work goes with the process
    sync_wanted_ = false;
    ++incarnation;
    life = Life::kDown;
    call_kind_ = CallKind::kNone;
    world_.schedule(world_.now() + down_ms_, [this] { restart(); });
  }

  // A kill during an edit: did it commit? The store says, on restart: a head the key did not have.
  void resolve_interrupted_edit() {
    if (!interrupted_) return;
    const InterruptedEdit edit = std::move(*interrupted_);
    interrupted_.reset();
    if (edit.edit.kind == "attach") {
      // The attach committed if the key has a new head; the file it added is the one the heads
      // before it did not reference.
      const client::ObjectView after = must(device_->store().get(edit.edit.key));
      std::set<FileId> before_files;
      for (const ObjectOp& head : after.heads)
        if (std::find(edit.heads_before.begin(), edit.heads_before.end(), head.id) != edit.heads_before.end())
          for (const FileRef& ref : head.payload.files) before_files.insert(ref.id);
      for (const ObjectOp& head : after.heads)
        if (std::find(edit.heads_before.begin(), edit.heads_before.end(), head.id) == edit.heads_before.end() &&
            !head.payload.files.empty() && !before_files.count(head.payload.files.back().id))
          world_.add_plaintext_file(head.payload.files.back().id, edit.attached, index);
    }
    record_new_head(edit.edit, edit.heads_before, edit.clock_ms);
  }

  void record_new_head(const PendingEdit& edit, const std::vector<OpId>& before, uint64_t clock_ms) {
    const client::ObjectView after = must(device_->store().get(edit.key));
    for (const ObjectOp& head : after.heads) {
      if (std::find(before.begin(), before.end(), head.id) != before.end()) continue;
      EditRecord record;
      record.device = index;
      record.time_ms = world_.now();
      record.clock_ms = clock_ms;
      record.kind = edit.kind;
      record.key = edit.key;
      record.op = head.id;
      record.hlc = head.hlc;
      record.seen = before;
      record.previous_own = world_.last_edit_of(index);
      record.redo = edit.redo;
      if (edit.redo) {
        if (const EditRecord* original = redo_original_ ? world_.edit_by_op(*redo_original_) : nullptr)
          record.index = original->index;
      }
      world_.record_edit(std::move(record));
      if (head.payload.type == OpType::kPut) {
        // The payload's value as JSON carries it in base64url: that text must never reach the server.
        world_.add_plaintext(to_bytes(to_base64url(head.payload.value)), "the value of " + edit.key);
      }
      return;
    }
  }

  void do_edit(const PendingEdit& edit) {
    guarded([&] {
      const client::ObjectView before_view = must(device_->store().get(edit.key));
      std::vector<OpId> before;
      for (const ObjectOp& head : before_view.heads) before.push_back(head.id);
      interrupted_ = InterruptedEdit{edit, before, clock_now(), {}};
      Status status;
      const Variant variant = world_.config().variant;
      if (edit.kind == "put") {
        status = variant == Variant::kWallClock || variant == Variant::kPlaintext
                     ? defective_commit(edit.key, OpType::kPut, edit.value, before_view)
                     : device_->put(edit.key, edit.value, clock_now(), *random_);
      } else if (edit.kind == "delete") {
        if (!before_view.present()) {
          interrupted_.reset();
          return;
        }
        status = variant == Variant::kWallClock || variant == Variant::kPlaintext
                     ? defective_commit(edit.key, OpType::kDelete, {}, before_view)
                     : device_->remove(edit.key, clock_now(), *random_);
      } else if (edit.kind == "attach") {
        const Bytes content = world_.file_content_bytes(edit.file_bytes);
        interrupted_->attached = content;
        std::istringstream in(std::string(content.begin(), content.end()));
        Stream& s = world_.stream("workload/" + name);
        std::string file_name = "file-";
        for (int i = 0; i < 12; ++i) file_name.push_back("abcdefghijklmnopqrstuvwxyz234567"[s.draw(32)]);
        file_name += ".bin";
        world_.add_plaintext(to_bytes("\"" + file_name + "\""), "the file name " + file_name);
        Result<FileRef> ref = device_->attach(edit.key, file_name, in, clock_now(), *random_);
        if (ref.ok()) world_.add_plaintext_file(ref->id, content, index);
        status = ref.ok() ? Status() : Status(ref.error());
      } else if (edit.kind == "detach") {
        if (!before_view.present() || before_view.winner()->payload.files.empty()) {
          interrupted_.reset();
          return;
        }
        const std::vector<FileRef>& files = before_view.winner()->payload.files;
        const FileRef& pick = files[world_.stream("workload/" + name).draw(files.size())];
        status = device_->detach(edit.key, pick.id, clock_now(), *random_);
      }
      interrupted_.reset();
      if (!status.ok()) {
        world_.event(name, "edit-failed", edit.kind + " " + edit.key + ": " + code_and_message(status.error()),
                     to_bytes(edit.kind));
        return;
      }
      record_new_head(edit, before, clock_now());
    });
  }

  // Variant::kWallClock and Variant::kPlaintext: the reference client's local edit (Device's
  // commit) made through the store's public interface, with the one defect.
  Status defective_commit(const std::string& key, OpType type, const Bytes& value, const client::ObjectView& current) {
    client::LocalStore& store = device_->store();
    ObjectPayload payload;
    payload.type = type;
    payload.key = key;
    if (type == OpType::kPut) {
      payload.value = value;
      if (current.present()) payload.files = current.winner()->payload.files;
    }
    payload.bases = must(store.bases_for_write(key));
    const Bytes plaintext = serialize_payload(payload);
    const client::SyncMeta meta = must(store.meta());
    WireOp op;
    op.id = random_->id();
    op.device_id = store.binding().device_id;
    op.key_id = device_->keys().current_key_id;
    if (world_.config().variant == Variant::kWallClock) {
      op.hlc = Hlc{std::min<uint64_t>(clock_now(), kHlcWallMsLimit - 1), 0};  // the defect: no HLC
      seal_op_payload(device_->keys().current().op_key, op, plaintext, *random_);
    } else {
      HlcClock hlc(meta.hlc);
      const int64_t pt = static_cast<int64_t>(clock_now()) + meta.clock_offset_ms;
      op.hlc = hlc.stamp(static_cast<uint64_t>(std::clamp<int64_t>(pt, 0, int64_t{kHlcWallMsLimit} - 1)));
      op.payload = plaintext;  // the defect: no encryption
    }
    const Hlc clock_after = std::max(meta.hlc, op.hlc);
    client::LocalStore::LocalEdit edit{op, ObjectOp{op.id, op.hlc, payload}, {}, clock_after};
    return store.commit_local_edit(edit);
  }

  void start_sync(bool heal) {
    guarded([&] {
      if (world_.config().variant == Variant::kNoCopyExpiry) restart_kept_copies_time();
      client::SyncOptions options;
      options.page_ops_max = page_ops_max_;
      SyncRecord record;
      record.device = index;
      record.start_ms = world_.now();
      record.heal = heal;
      record.held_at_start = must(device_->store().mirror_size());
      current_sync = record;
      restores_at_start_ = world_.restores();
      engine_ = std::make_unique<SyncEngine>(device_->store(), device_->keys(), *random_, options);
      world_.event(name, "sync-start", heal ? "heal" : "scheduled", to_bytes("sync"));
    });
    step_sync();
  }

  void step_sync() {
    if (!engine_) return;
    guarded([&] {
      // Bounded: each pass either sends, waits or finishes.
      const client::DeviceTime now = device_time();
      const client::SyncStep step = engine_->next(now);
      if (const auto* wait = std::get_if<client::WaitUntil>(&step)) {
        if (!wait_began_) wait_began_ = WaitBegan{world_.now(), wait->until_monotonic_ms - std::min(wait->until_monotonic_ms, now.monotonic_ms)};
        // The engine's waits are on the monotonic clock, which never stands still; the variant's
        // are on the wall clock, which may: it is looked at again every second meanwhile.
        const NodeClock& waits_on = world_.config().variant == Variant::kWallClockWaits ? clock : monotonic;
        const std::optional<uint64_t> at = waits_on.true_time_reaching(wait->until_monotonic_ms, world_.now());
        const uint64_t when = at ? std::max(*at, world_.now() + 1) : world_.now() + kFrozenRecheckMs;
        world_.schedule(when, [this, incarnation = incarnation, engine = engine_.get()] {
          if (incarnation == this->incarnation && engine_.get() == engine) step_sync();
        });
        return;
      }
      end_of_wait();
      if (const auto* finished = std::get_if<client::SyncFinished>(&step)) return finish_sync(*finished);
      last_request_ = std::get<client::SendRequest>(step).request;
      if (world_.config().variant == Variant::kNoFileDelete &&
          endpoint_of_target(last_request_.method, last_request_.target) == EndpointId::kDeleteFile) {
        // The defect: the DELETE of FILE-022 is never sent.
        HttpResponse nothing;
        nothing.status = 404;
        engine_->on_response(nothing, device_time());
        return step_sync();
      }
      if (endpoint_of_target(last_request_.method, last_request_.target) == EndpointId::kUploadOps) {
        // What the checkers judge an operation by if a restore takes it out of the log later.
        Result<UploadOpsRequest> upload = parse_message<UploadOpsRequest>(last_request_.body);
        if (upload.ok())
          for (const WireOp& op : upload->ops) world_.note_uploaded_hlc(op.id, op.hlc);
      }
      awaited_ = ++requests_;
      world_.send(*this, awaited_, last_request_, token_);
      if (overlap_work_ && engine_->has_work()) engine_->work();
    });
  }

  // SYNC-010, SYNC-020: a wait between attempts lasts what the engine asked, at most the cap, in
  // true time give or take the drift of the device's oscillator, whatever its wall clock does.
  void end_of_wait() {
    if (!wait_began_) return;
    const WaitBegan began = *wait_began_;
    wait_began_.reset();
    const client::SyncOptions defaults;
    const uint64_t asked_ms = began.asked_ms;
    const uint64_t waited_ms = world_.now() - began.true_ms;
    const uint64_t allowed_ms = asked_ms + asked_ms * kDriftPpmMax / 1'000'000 + kWaitSlackMs;
    if (asked_ms > defaults.backoff_cap_ms)
      world_.violation("backoff", {name}, {},
                       name + " was asked to wait " + std::to_string(asked_ms) + " ms before its next attempt; "
                       "SYNC-010 caps a wait at " + std::to_string(defaults.backoff_cap_ms) + " ms");
    else if (waited_ms > allowed_ms)
      world_.violation("backoff", {name}, {},
                       name + " waited " + std::to_string(waited_ms) + " ms of true time for a backoff of " +
                           std::to_string(asked_ms) + " ms; a wait must not outlast its length whatever the " +
                           "wall clock does (SYNC-020)");
  }

  // Operations received that the device held before the sync began (counterexample 5).
  void count_page(const HttpResponse& response) {
    if (!current_sync || last_request_.method != "GET" || response.status != 200) return;
    if (endpoint_of_target(last_request_.method, last_request_.target) != EndpointId::kReadOps) return;
    Result<OpsPageResponse> page = parse_message<OpsPageResponse>(response.body);
    if (!page.ok()) return;
    current_sync->ops_received += page->ops.size();
    for (const SequencedOp& op : page->ops)
      if (op.seq <= current_sync->held_at_start) current_sync->redundant_ops += 1;
  }

  void finish_sync(const client::SyncFinished& finished) {
    const client::SyncReport report = engine_->report();
    engine_.reset();
    SyncRecord record = std::move(*current_sync);
    current_sync.reset();
    record.ok = !finished.error.has_value();
    if (finished.error) {
      record.error = code_and_message(*finished.error);
      // A token a restore lost, or one the owner revoked, explains an authorization failure.
      const Code code = finished.error->code;
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
    }
    record.moved = report.ops_uploaded || report.ops_applied || report.ops_acknowledged || report.ops_restamped ||
                   report.files_uploaded || report.files_downloaded || report.files_deleted ||
                   report.chunks_uploaded || report.chunks_downloaded || report.ops_rejected;
    // Each divergence search may set operations aside that the sync then reads again: a restore
    // during the sync may force a second search, and a second reading (spec 9.1 step 3).
    record.redundancy_allowed = report.ops_unverified;
    if (record.ok) check_mirror();
    world_.finish_sync(*this, std::move(record));
    if (world_.config().variant == Variant::kNoCopyRetention) {
      drop_kept_copies();
      if (life != Life::kUp) return;  // killed at one of its durable steps
    }
    redo_lost_edits();
    run_next();
  }

  // Variant::kNoCopyRetention: what the reference client did before FILE-040, through the store's
  // public interface: the copy of a file goes with its DELETE.
  void drop_kept_copies() {
    guarded([&] {
      client::LocalStore& store = device_->store();
      for (const FileId& id : must(store.unreferenced_files())) {
        const std::optional<client::LocalFile> local = must(store.file(id));
        if (!local || !local->unreferenced_since_ms) continue;
        if (local->local_copy) must(store.set_local_copy(id, false));
        for (BlobKind kind : {BlobKind::kCopy, BlobKind::kPartial})
          if (store.blobs().exists(id, kind)) must(store.blobs().remove(id, kind));
        must(store.forget_file(id));
      }
    });
  }

  // Variant::kNoCopyExpiry, through the store's public interface: every sync finds the kept
  // copies of deleted files freshly deleted, so their retention time never ends.
  void restart_kept_copies_time() {
    client::LocalStore& store = device_->store();
    for (const FileId& id : must(store.unreferenced_files())) {
      const std::optional<client::LocalFile> local = must(store.file(id));
      if (local && local->unreferenced_since_ms) must(store.set_unreferenced_since(id, clock_now()));
    }
  }

  // After a sync that completed, the device's copy of the log is a prefix of the server's log.
  void check_mirror() {
    if (world_.restores() != restores_at_start_) return;  // the log changed under the sync
    const uint64_t length = must(device_->store().mirror_size());
    const Hash mine = must(device_->store().prefix_hash(length));
    const std::optional<Hash> server = world_.server().prefix_hash(length);
    if (!server || *server != mine)
      world_.violation("log_integrity", {name, "server"}, {},
                       "after a sync, this device's " + std::to_string(length) +
                           " operations are not the first " + std::to_string(length) + " of the server's log");
  }

  // Variant::kNoDedupe: an edit whose upload went unanswered is made again, as a new operation.
  void redo_lost_edits() {
    std::vector<OpId> lost = std::move(redo_);
    redo_.clear();
    for (const OpId& id : lost) {
      const EditRecord* original = world_.edit_by_op(id);
      if (!original || original->device != index || (original->kind != "put" && original->kind != "delete")) continue;
      if (original->kind == "put") {
        const client::ObjectView view = must(device_->store().get(original->key));
        const ObjectOp* op = nullptr;
        for (const ObjectOp& head : view.heads)
          if (head.id == id) op = &head;
        if (!op) continue;
        redo_original_ = id;
        do_edit(PendingEdit{"put", original->key, op->payload.value, 0, true});
      } else {
        redo_original_ = id;
        do_edit(PendingEdit{"delete", original->key, {}, 0, true});
      }
      redo_original_.reset();
      if (!device_) return;
    }
  }

  // What waited for the device to be idle: edits first, then invitations, then a sync.
  void run_next() {
    // Bounded: each pass removes one waiting edit or invitation, or starts a sync and returns.
    while (life == Life::kUp || life == Life::kRevoked) {
      if (busy() || !device_) return;
      if (!edits_.empty()) {
        const PendingEdit edit = std::move(edits_.front());
        edits_.pop_front();
        do_edit(edit);
        continue;
      }
      if (!revokes_wanted_.empty() && life == Life::kUp) {
        const uint32_t for_device = revokes_wanted_.front();
        revokes_wanted_.pop_front();
        const std::optional<World::Invitation> invitation = world_.invitation_for(for_device);
        if (!invitation) continue;  // never invited: it holds no token to revoke
        member_ = for_device;
        guarded([&] {
          call_ = device_->start_revoke(invitation->token_id);
          call_kind_ = CallKind::kRevoke;
        });
        if (call_) drive_call();
        return;
      }
      if (!invites_wanted_.empty() && life == Life::kUp) {
        const uint32_t for_device = invites_wanted_.front();
        invites_wanted_.pop_front();
        member_ = for_device;
        guarded([&] {
          call_ = device_->start_invite(Scope::kReadWrite, std::nullopt);
          call_kind_ = CallKind::kInvite;
        });
        if (call_) drive_call();
        return;
      }
      if (sync_wanted_) {
        sync_wanted_ = false;
        const bool heal = sync_wanted_heal_;
        sync_wanted_heal_ = false;
        start_sync(heal);
      }
      return;
    }
  }

  void drive_call() {
    if (!call_) return;
    if (call_->next()) {
      const client::ServerCall::Outgoing& out = *call_->next();
      awaited_ = ++requests_;
      last_request_ = out.request;
      world_.send(*this, awaited_, out.request, out.token);
      return;
    }
    const Status status = call_->status();
    const CallKind kind = call_kind_;
    if (kind == CallKind::kRevoke) {
      call_.reset();
      call_kind_ = CallKind::kNone;
      const uint32_t for_device = member_;
      const std::string whose = "device-" + std::to_string(for_device);
      if (status.ok()) {
        world_.event(name, "revoked-member", "the server revoked the token of " + whose, to_bytes("revoked"));
      } else if (status.error().code == Code::kTokenNotFound) {
        // The server does not know the token (a restore lost it): nothing is left to revoke.
        world_.event(name, "revoked-member", "the server does not know the token of " + whose, to_bytes("unknown"));
      } else {
        world_.event(name, "revoke-failed", code_and_message(status.error()), to_bytes("revoke-failed"));
        world_.schedule(world_.now() + kCallRetryMs, [this, for_device] { revoke_member(for_device); });
      }
      run_next();
      return;
    }
    if (kind == CallKind::kInvite) {
      const auto* invite_call = static_cast<const Device::InviteCall*>(call_.get());
      std::optional<World::Invitation> invitation;
      if (status.ok()) invitation = World::Invitation{invite_call->result().token, invite_call->result().token_id};
      call_.reset();
      call_kind_ = CallKind::kNone;
      const uint32_t for_device = member_;
      if (invitation) {
        world_.event(name, "invited", "an invitation for device-" + std::to_string(for_device), to_bytes("invite"));
        world_.invitation_ready(for_device, *invitation);
      } else {
        world_.event(name, "invite-failed", code_and_message(status.error()), to_bytes("invite-failed"));
        world_.schedule(world_.now() + kCallRetryMs, [this, for_device] { invite(for_device); });
      }
      run_next();
      return;
    }
    if (kind == CallKind::kCreate && status.ok()) {
      const auto* create = static_cast<const client::CreateWorkspaceCall*>(call_.get());
      world_.workspace = create->result().workspace_id;
      world_.passphrase = create->result().passphrase;
      world_.add_plaintext(to_bytes(world_.passphrase), "the passphrase");
    }
    call_.reset();
    call_kind_ = CallKind::kNone;
    if (!status.ok()) {
      world_.event(name, "join-failed", code_and_message(status.error()), to_bytes("join-failed"));
      life = Life::kNotJoined;
      if (++join_attempts_ < kJoinAttemptsMax)
        world_.schedule(world_.now() + 5000, [this] {
          if (life == Life::kNotJoined) start_setup(owner_);
        });
      return;
    }
    Result<std::unique_ptr<Device>> opened = Device::open(dir_, store_options_);
    OPSYNC_CHECK_MSG(opened.ok(), "a device that joined does not open");
    device_ = std::move(*opened);
    life = Life::kUp;
    guarded([&] { token_ = device_->token(); });
    if (!device_) return;
    if (owner_) {
      world_.owner_token = token_;
      client::Keyring keys = device_->keys();
      world_.decrypt_op = [keys](const WireOp& op) -> std::optional<ObjectOp> {
        const Subkeys* subkeys = keys.find(op.key_id);
        if (!subkeys) return std::nullopt;
        Result<Bytes> plaintext = open_op_payload(subkeys->op_key, op);
        if (!plaintext.ok()) return std::nullopt;
        Result<ObjectPayload> payload = parse_payload(*plaintext);
        if (!payload.ok()) return std::nullopt;
        return ObjectOp{op.id, op.hlc, std::move(payload).value()};
      };
      const Subkeys& subkeys = device_->keys().current();
      world_.add_plaintext(subkeys.op_key.view(), "the operation key");
      world_.add_plaintext(subkeys.chunk_key.view(), "the chunk key");
    }
    world_.event(name, "up", owner_ ? "created the workspace" : "joined the workspace", to_bytes("up"));
    run_next();
  }

  World& world_;
  std::filesystem::path dir_;
  std::shared_ptr<client::MemoryBlobStore> blobs_;
  std::unique_ptr<MemoryDisk> disk_;  // nullptr when the stores are files
  std::unique_ptr<SeededRandom> random_;
  client::StoreOptions store_options_;
  std::unique_ptr<Device> device_;
  std::unique_ptr<SyncEngine> engine_;
  std::unique_ptr<client::ServerCall> call_;
  CallKind call_kind_ = CallKind::kNone;
  bool owner_ = false;
  uint32_t member_ = 0;  // the device the owner's invitation or revocation in progress is for
  uint32_t join_attempts_ = 0;
  std::deque<uint32_t> invites_wanted_;
  std::deque<uint32_t> revokes_wanted_;
  std::string token_;
  std::optional<std::string> pending_token_;
  std::optional<std::string> reinvite_asked_for_;  // the token a re-invitation was asked for
  uint64_t awaited_ = 0;
  uint64_t requests_ = 0;
  HttpRequest last_request_;
  std::deque<PendingEdit> edits_;
  bool sync_wanted_ = false;
  bool sync_wanted_heal_ = false;
  uint32_t page_ops_max_ = 0;
  bool overlap_work_ = false;
  uint64_t restores_at_start_ = 0;
  std::optional<uint32_t> crash_countdown_;
  uint64_t down_ms_ = 0;
  uint64_t durable_steps_ = 0;
  std::optional<InterruptedEdit> interrupted_;
  struct WaitBegan {
    uint64_t true_ms = 0;
    uint64_t asked_ms = 0;  // on the device's monotonic clock
  };
  std::optional<WaitBegan> wait_began_;
  std::vector<OpId> redo_;
  std::optional<OpId> redo_original_;
};

}  // namespace

// What the server served, for the position and page checkers (LOG-011, LOG-012).
void observe_server_answer(World& world, const HttpRequest& request, const HttpResponse& response) {
  if (request.method != "GET" || response.status != 200) return;
  const std::optional<EndpointId> endpoint = endpoint_of_target(request.method, request.target);
  const std::string to = "a device";
  if (endpoint == EndpointId::kReadOps) {
    Result<OpsPageResponse> page = parse_message<OpsPageResponse>(response.body);
    if (!page.ok()) return;
    for (size_t i = 0; i < page->ops.size(); ++i) {
      const SequencedOp& op = page->ops[i];
      if (op.seq != page->after_seq + 1 + i)
        world.violation("log_integrity", {"server"}, {to_base64url(op.op.id)},
                         "a page after " + std::to_string(page->after_seq) + " holds position " +
                             std::to_string(op.seq) + " at index " + std::to_string(i) + " (LOG-011)");
      world.observe_position(op.seq, op.op.id, to);
    }
  } else if (endpoint == EndpointId::kReadBlocks) {
    Result<BlocksResponse> blocks = parse_message<BlocksResponse>(response.body);
    if (!blocks.ok()) return;
    for (const BlockEntry& entry : blocks->blocks) world.observe_block(entry.index, entry.hash, to);
  }
}

std::unique_ptr<ServerNode> make_opsync_server(World& world) { return std::make_unique<OpsyncServer>(world); }
std::unique_ptr<DeviceNode> make_opsync_device(World& world, uint32_t index) {
  return std::make_unique<OpsyncDevice>(world, index);
}

}  // namespace opsync::simulator
