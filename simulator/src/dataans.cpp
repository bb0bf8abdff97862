// A model of the Dataans v0.3.0 sync design (spec section 15; /work notes on Dataans), run by
// the same world and judged by the same checkers as opsync-v1, so that each checker is shown to
// catch what that design gets wrong:
//
//   - each local change is logged as an operation stamped with the device's wall clock
//     (created_at), and applied to the local notes unconditionally;
//   - the server orders operations by created_at alone (ties in whatever order its query
//     returns them), cuts them into blocks of 16 and hashes each block over its operations'
//     checksums, unchained;
//   - a sync: GET the block hashes, skip the leading blocks that match, GET every operation
//     after them (no paging), walk both lists while the ids agree, then apply every remote
//     operation after that point and upload every local one. The device skips operations it
//     holds (select, then insert); the server inserts a batch in one transaction, and an id it
//     holds fails the whole batch (its primary key);
//   - applying: create inserts the note, update requires it (an update of an unknown note
//     fails), delete removes it without a tombstone; a remote write wins over the note only if
//     the note's updated_at is strictly below its created_at;
//   - files: one AES-GCM message per file, uploaded whole (written in place on the server, so a
//     reset leaves a truncated blob), downloaded when the local copy is missing, trusted by an
//     is_uploaded flag, never deleted;
//   - syncs may overlap: every request starts its own task.
//
// This is a model, simplified where it does not change what the checkers see: one key per note,
// file references inside the note operations, no spaces, no authentication.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "opsync/protocol/crypto.h"
#include "opsync/protocol/sha256.h"
#include "world.h"

namespace opsync::simulator {
namespace {

constexpr uint64_t kBlockOps = 16;
constexpr size_t kTasksMax = 8;  // overlapping syncs of one device; more are refused

// An operation as Dataans stores and sends it.
struct DOp {
  OpId id;
  int64_t created_at = 0;
  std::string data;       // base64url of nonce || AES-GCM(plaintext) || tag
  std::string checksum;   // hex SHA-256 over the operation's plaintext fields, unkeyed
  uint64_t inserted = 0;  // insertion order: the tie-break of the device's own queries
};

nlohmann::json op_json(const DOp& op) {
  return {{"id", to_base64url(op.id)},
          {"createdAt", op.created_at},
          {"data", op.data},
          {"checksum", op.checksum}};
}

std::optional<DOp> op_from_json(const nlohmann::json& j) {
  try {
    DOp op;
    std::optional<OpId> id = fixed_from_base64url<16>(j.at("id").get<std::string>());
    if (!id) return std::nullopt;
    op.id = *id;
    op.created_at = j.at("createdAt").get<int64_t>();
    op.data = j.at("data").get<std::string>();
    op.checksum = j.at("checksum").get<std::string>();
    return op;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// The plaintext of an operation.
struct Change {
  std::string kind;  // create, update, delete
  std::string key;
  Bytes value;
  std::vector<FileRef> files;
};

Bytes change_plaintext(const Change& c) {
  nlohmann::json files = nlohmann::json::array();
  for (const FileRef& f : c.files)
    files.push_back({{"id", to_base64url(f.id)}, {"name", f.name}, {"size", f.size_bytes}});
  const nlohmann::json j = {
      {"kind", c.kind}, {"key", c.key}, {"value", to_base64url(c.value)}, {"files", files}};
  return to_bytes(j.dump());
}

std::optional<Change> change_from_plaintext(ByteView bytes) {
  const nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  try {
    Change c;
    c.kind = j.at("kind");
    c.key = j.at("key");
    std::optional<Bytes> value = from_base64url(j.at("value").get<std::string>());
    if (!value) return std::nullopt;
    c.value = *value;
    for (const nlohmann::json& f : j.at("files")) {
      FileRef ref;
      std::optional<FileId> id = fixed_from_base64url<16>(f.at("id").get<std::string>());
      if (!id) return std::nullopt;
      ref.id = *id;
      ref.name = f.at("name");
      ref.size_bytes = f.at("size");
      c.files.push_back(ref);
    }
    return c;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// Dataans' operation hash: the fields run together, no length prefixes (counterexample 10).
std::string checksum_of(const OpId& id, int64_t created_at, const Change& c) {
  Sha256 hasher;
  hasher.update(id.view());
  Bytes time;
  append_u64(time, static_cast<uint64_t>(created_at));
  hasher.update(time);
  hasher.update(c.kind);
  hasher.update(c.key);
  hasher.update(c.value);
  return to_hex(hasher.finish().view());
}

HttpResponse json_answer(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  r.headers["content-type"] = "application/json";
  return r;
}

std::optional<ObjectOp> meaning_of(const DOp& op, const SecretKey& key) {
  std::optional<Bytes> sealed = from_base64url(op.data);
  if (!sealed) return std::nullopt;
  Result<Bytes> plaintext = open(key, *sealed, {});
  if (!plaintext.ok()) return std::nullopt;
  std::optional<Change> c = change_from_plaintext(*plaintext);
  if (!c) return std::nullopt;
  ObjectOp out;
  out.id = op.id;
  out.hlc = Hlc{static_cast<uint64_t>(std::max<int64_t>(0, op.created_at)), 0};
  out.payload.type = c->kind == "delete" ? OpType::kDelete : OpType::kPut;
  out.payload.key = c->key;
  out.payload.value = c->value;
  out.payload.files = c->files;
  return out;
}

// ---- the server ---------------------------------------------------------------------------------

class DataansServer final : public ServerNode {
 public:
  explicit DataansServer(NodeHost& world) : world_(world) {}

  HttpResponse handle(const HttpRequest& request, const std::string&) override {
    const std::string path = request.target.substr(0, request.target.find('?'));
    if (request.method == "GET" && path == "/data/block") return blocks();
    if (request.method == "GET" && path == "/data/operation") {
      const size_t at = request.target.find("operations_to_skip=");
      const uint64_t skip =
          at == std::string::npos ? 0 : std::stoull(request.target.substr(at + 19));
      return operations(skip);
    }
    if (request.method == "POST" && path == "/data/operation") return insert(request.body);
    if (path.rfind("/file/", 0) == 0) {
      std::optional<FileId> id = fixed_from_base64url<16>(path.substr(6));
      if (!id) return json_answer(400, {{"error", "bad file id"}});
      if (request.method == "POST") {
        files_[*id] = to_bytes(request.body);
        return json_answer(200, nlohmann::json::object());
      }
      auto it = files_.find(*id);
      if (it == files_.end()) return json_answer(404, {{"error", "no such file"}});
      HttpResponse r;
      r.status = 200;
      r.body = to_string(it->second);
      r.headers["content-type"] = "application/octet-stream";
      return r;
    }
    return json_answer(404, {{"error", "no such route"}});
  }

  // Blobs are written in place as their bytes arrive: a reset leaves the first `received`.
  void handle_cut(const HttpRequest& request, const std::string&, size_t received) override {
    const std::string path = request.target.substr(0, request.target.find('?'));
    if (request.method != "POST" || path.rfind("/file/", 0) != 0) return;
    std::optional<FileId> id = fixed_from_base64url<16>(path.substr(6));
    if (id) files_[*id] = to_bytes(request.body.substr(0, received));
  }

  void crash() override { up_ = false; }
  void restart() override { up_ = true; }
  bool up() const override { return up_; }
  void backup() override {
    backups_.push_back(State{ops_, files_});
    if (backups_.size() > 3) backups_.erase(backups_.begin());
  }
  bool restore(uint32_t pick) override {
    if (backups_.empty()) return false;
    const State& s = backups_[backups_.size() - 1 - std::min<size_t>(pick, backups_.size() - 1)];
    ops_ = s.ops;
    files_ = s.files;
    ids_.clear();
    for (const DOp& op : ops_) ids_.insert(op.id);
    return true;
  }
  void collect_garbage() override {}  // Dataans deletes nothing
  uint64_t log_length() override { return ops_.size(); }
  std::optional<Hash> prefix_hash(uint64_t) override { return std::nullopt; }

  ServerReport report() override {
    ServerReport out;
    std::vector<DOp> sorted = ops_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const DOp& a, const DOp& b) { return a.created_at < b.created_at; });
    for (size_t i = 0; i < sorted.size(); ++i) {
      out.log.push_back(sorted[i].id);
      out.seqs.push_back(i + 1);
      out.meanings.push_back(meaning_of(sorted[i], world_.shared_key()));
      std::optional<Bytes> data = from_base64url(sorted[i].data);
      if (data) out.stored_bytes.push_back(*data);
    }
    for (const auto& [id, blob] : files_) {
      out.file_states[id] = "stored";
      out.stored_bytes.push_back(blob);
    }
    return out;
  }

 private:
  struct State {
    std::vector<DOp> ops;
    std::map<FileId, Bytes> files;
  };

  // The server's order: created_at alone. Ties come back in whatever order the query plan gives,
  // which is not stable from one query to the next (counterexample 6).
  std::vector<const DOp*> ordered() {
    std::vector<const DOp*> out;
    for (const DOp& op : ops_) out.push_back(&op);
    std::stable_sort(out.begin(), out.end(),
                     [](const DOp* a, const DOp* b) { return a->created_at < b->created_at; });
    Stream& ties = world_.stream("dataans/server-ties");
    for (size_t i = 0; i < out.size();) {
      size_t j = i + 1;
      while (j < out.size() && out[j]->created_at == out[i]->created_at) ++j;
      for (size_t k = j; k > i + 1; --k)
        std::swap(out[k - 1], out[i + ties.draw(k - i)]);  // shuffle ties
      i = j;
    }
    return out;
  }

  HttpResponse blocks() {
    const std::vector<const DOp*> order = ordered();
    nlohmann::json hashes = nlohmann::json::array();
    for (size_t start = 0; start < order.size(); start += kBlockOps) {
      Sha256 hasher;
      for (size_t i = start; i < std::min(order.size(), start + kBlockOps); ++i)
        hasher.update(order[i]->checksum);
      const Hash h = hasher.finish();
      if (start + kBlockOps <= order.size()) world_.observe_block(start / kBlockOps, h, "a device");
      hashes.push_back(to_hex(h.view()));
    }
    return json_answer(200, {{"blocks", hashes}});
  }

  HttpResponse operations(uint64_t skip) {
    const std::vector<const DOp*> order = ordered();
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = skip; i < order.size(); ++i) {
      list.push_back(op_json(*order[i]));
      world_.observe_position(i + 1, order[i]->id, "a device");
    }
    return json_answer(200, {{"operations", list}});
  }

  // One transaction: a repeated id anywhere fails the whole batch (the primary key).
  HttpResponse insert(const std::string& body) {
    const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.contains("operations"))
      return json_answer(400, {{"error", "bad body"}});
    std::vector<DOp> batch;
    std::set<OpId> seen;
    for (const nlohmann::json& entry : j["operations"]) {
      std::optional<DOp> op = op_from_json(entry);
      if (!op) return json_answer(400, {{"error", "bad operation"}});
      if (ids_.count(op->id) || !seen.insert(op->id).second)
        return json_answer(
            500, {{"error", "duplicate key value violates unique constraint \"operations_pkey\""}});
      batch.push_back(*op);
    }
    for (DOp& op : batch) {
      op.inserted = ++inserted_;
      ids_.insert(op.id);
      ops_.push_back(std::move(op));
    }
    return json_answer(200, nlohmann::json::object());
  }

  NodeHost& world_;
  bool up_ = true;
  std::vector<DOp> ops_;
  std::set<OpId> ids_;
  std::map<FileId, Bytes> files_;
  uint64_t inserted_ = 0;
  std::vector<State> backups_;
};

// ---- devices ------------------------------------------------------------------------------------

// A Dataans device's note: its value and files, and the operation that last wrote it.
struct Note {
  Bytes value;
  std::vector<FileRef> files;
  int64_t updated_at = 0;
  OpId last_op;
};

// A file a Dataans device knows: uploaded or not, and its content once it holds it.
struct LocalFile {
  bool is_uploaded = false;
  std::optional<Bytes> content;
};

class DataansDevice final : public DeviceNode {
 public:
  DataansDevice(NodeHost& world, uint32_t device_index) : world_(world) {
    index = device_index;
    name = "device-" + std::to_string(device_index);
    random_ = world.node_random(name);
  }

  void start_setup(bool) override {
    life = Life::kUp;  // logging in derives the key; there is nothing to fetch before a sync
    world_.event(name, "up", "logged in", to_bytes("up"));
  }
  void invite(uint32_t for_device) override { world_.invitation_ready(for_device, Invitation{}); }
  void replace_token(const std::string&) override {}
  // The model has no tokens: the owner's decision removes the device at once.
  void revoke_member(uint32_t for_device) override {
    DeviceNode& member = world_.device(for_device);
    member.life = Life::kRevoked;
  }

  void edit(const std::string& kind, const std::string& key, const Bytes& value,
            uint64_t file_bytes) override {
    if (life != Life::kUp) {
      world_.event(name, "edit-skipped", kind + " " + key + ": the device is not running",
                   to_bytes(kind));
      return;
    }
    Change change;
    change.key = key;
    auto note = notes_.find(key);
    const bool present = note != notes_.end();
    std::vector<OpId> seen;
    if (present) seen.push_back(note->second.last_op);
    if (kind == "delete") {
      if (!present) return;
      change.kind = "delete";
    } else {
      change.kind = present ? "update" : "create";
      change.value = present ? note->second.value : Bytes();
      if (present) change.files = note->second.files;
      if (kind == "put") change.value = value;
      if (kind == "attach") {
        FileRef ref;
        ref.id = random_->id();
        ref.name = "file.bin";
        ref.size_bytes = file_bytes;
        const Bytes content = world_.file_content_bytes(file_bytes);
        files_[ref.id] = LocalFile{false, content};
        world_.add_plaintext_file(ref.id, content, index);
        change.files.push_back(ref);
      }
      if (kind == "detach") {
        if (!present || change.files.empty()) return;
        change.files.erase(change.files.begin() +
                           static_cast<std::ptrdiff_t>(
                               world_.stream("workload/" + name).draw(change.files.size())));
      }
    }
    // The device's wall clock, as it reads it: no offset, no logical clock.
    const int64_t created_at = static_cast<int64_t>(clock.read(world_.now()));
    DOp op;
    op.id = random_->id();
    op.created_at = created_at;
    op.data = to_base64url(seal(world_.shared_key(), change_plaintext(change), {}, *random_));
    op.checksum = checksum_of(op.id, created_at, change);
    op.inserted = ++inserted_;
    ops_.push_back(op);
    ids_.insert(op.id);
    // Local changes apply unconditionally (counterexample 2).
    if (change.kind == "delete")
      notes_.erase(key);
    else
      notes_[key] = Note{change.value, change.files, created_at, op.id};
    EditRecord record;
    record.device = index;
    record.time_ms = world_.now();
    record.clock_ms = clock.read(world_.now());
    record.kind = kind;
    record.key = key;
    record.op = op.id;
    record.hlc = Hlc{static_cast<uint64_t>(std::max<int64_t>(0, created_at)), 0};
    record.seen = seen;
    record.previous_own = world_.last_edit_of(index);
    world_.record_edit(std::move(record));
    if (kind == "put") world_.add_plaintext(to_bytes(to_base64url(value)), "the value of " + key);
  }

  void sync(bool heal) override {
    if (life != Life::kUp) return;
    // Every press of the button is its own task, whether another runs or not (counterexample 7).
    if (tasks_.size() >= kTasksMax) return;
    auto task = std::make_unique<Task>();
    task->id = ++task_ids_;
    task->record.device = index;
    task->record.start_ms = world_.now();
    task->record.heal = heal;
    task->record.held_at_start = ops_.size();
    task->held = ids_;
    task->restores_at_start = world_.restores();
    world_.event(name, "sync-start", heal ? "heal" : "scheduled", to_bytes("sync"));
    Task& t = *task;
    tasks_.push_back(std::move(task));
    send(t, {"GET", "/data/block?items_per_block=16", "", ""});
  }

  void on_answer(uint64_t request, const HttpResponse& response) override {
    Task* task = task_for(request);
    if (!task) return;
    task->awaiting = 0;
    switch (task->stage) {
      case Stage::kBlocks:
        return on_blocks(*task, response);
      case Stage::kOps:
        return on_ops(*task, response);
      case Stage::kUpload:
        return on_upload(*task, response);
      case Stage::kFiles:
        return on_file(*task, response);
    }
  }

  void on_failure(uint64_t request, const std::string& what) override {
    Task* task = task_for(request);
    if (!task) return;
    task->awaiting = 0;
    finish(*task, "no answer: " + what);
  }

  void arm_crash(uint32_t, uint64_t down_ms) override {
    if (life != Life::kUp) return;
    // Dataans commits each change as it makes it: a kill loses the syncs in flight only.
    world_.event(name, "crash", "killed", to_bytes("crash"));
    world_.note_device_crash();
    tasks_.clear();
    last_task_ = nullptr;
    ++incarnation;
    life = Life::kDown;
    world_.schedule(world_.now() + down_ms, [this] { restart(); });
  }
  void restart() override {
    if (life != Life::kDown) return;
    life = Life::kUp;
    world_.event(name, "restart", "restarts", to_bytes("restart"));
  }
  void prepare_for_heal() override { restart(); }
  bool busy() const override { return !tasks_.empty(); }

  DeviceReport report() override {
    DeviceReport out;
    out.name = name;
    out.live = life == Life::kUp;
    if (!out.live)
      out.excepted_because = life == Life::kRevoked ? "it was removed" : "it is not running";
    for (const auto& [key, note] : notes_) {
      HeadView head{note.last_op,
                    Hlc{static_cast<uint64_t>(std::max<int64_t>(0, note.updated_at)), 0},
                    false,
                    note.value,
                    {}};
      for (const FileRef& f : note.files) {
        head.files.push_back(f.id);
        out.referenced_files.insert(f.id);
      }
      out.objects[key].push_back(std::move(head));
    }
    for (const auto& [id, file] : files_) {
      if (file.content && out.referenced_files.count(id)) out.file_copies[id] = *file.content;
      if (file.content && !out.referenced_files.count(id)) out.unreferenced_copies.insert(id);
    }
    return out;
  }

 private:
  enum class Stage { kBlocks, kOps, kUpload, kFiles };
  struct Task {
    uint64_t id = 0;
    Stage stage = Stage::kBlocks;
    uint64_t awaiting = 0;
    SyncRecord record;
    std::set<OpId> held;
    uint64_t restores_at_start = 0;
    uint64_t equal_blocks = 0;
    std::deque<FileId> files;  // the file pass: what is left
    bool failed = false;
    std::string error;
  };

  Task* task_for(uint64_t request) {
    for (auto& t : tasks_)
      if (t->awaiting == request) return t.get();
    return nullptr;
  }
  void send(Task& task, HttpRequest request) {
    task.awaiting = ++requests_;
    last_task_ = &task;
    world_.send(*this, task.awaiting, std::move(request), "");
  }

  // Overlapping tasks: a fault counts for every task in flight, bytes for the last one to send.
  void note_fault() override {
    for (auto& t : tasks_) t->record.faults_seen += 1;
  }
  void note_bytes(uint64_t sent, uint64_t received) override {
    for (auto& t : tasks_)
      if (t.get() == last_task_) {
        t->record.bytes_sent += sent;
        t->record.bytes_received += received;
      }
  }

  std::vector<const DOp*> sorted_ops() const {
    std::vector<const DOp*> out;
    for (const DOp& op : ops_) out.push_back(&op);
    std::stable_sort(out.begin(), out.end(), [](const DOp* a, const DOp* b) {
      return a->created_at != b->created_at ? a->created_at < b->created_at
                                            : a->inserted < b->inserted;
    });
    return out;
  }

  void on_blocks(Task& task, const HttpResponse& response) {
    if (response.status != 200)
      return finish(task, "GET /data/block answered " + std::to_string(response.status));
    const nlohmann::json j = nlohmann::json::parse(response.body, nullptr, false);
    const std::vector<const DOp*> local = sorted_ops();
    uint64_t equal = 0;
    const nlohmann::json& remote = j["blocks"];
    for (size_t b = 0; b < remote.size() && (b + 1) * kBlockOps <= local.size(); ++b) {
      Sha256 hasher;
      for (size_t i = b * kBlockOps; i < (b + 1) * kBlockOps; ++i)
        hasher.update(local[i]->checksum);
      if (to_hex(hasher.finish().view()) != remote[b].get<std::string>()) break;
      ++equal;
    }
    task.equal_blocks = equal;
    task.stage = Stage::kOps;
    send(task, {"GET", "/data/operation?operations_to_skip=" + std::to_string(equal * kBlockOps),
                "", ""});
  }

  void on_ops(Task& task, const HttpResponse& response) {
    if (response.status != 200)
      return finish(task, "GET /data/operation answered " + std::to_string(response.status));
    const nlohmann::json j = nlohmann::json::parse(response.body, nullptr, false);
    std::vector<DOp> remote;
    for (const nlohmann::json& entry : j["operations"])
      if (std::optional<DOp> op = op_from_json(entry)) remote.push_back(*op);
    task.record.ops_received += remote.size();
    for (const DOp& op : remote)
      if (task.held.count(op.id)) task.record.redundant_ops += 1;
    // Step 4: walk both lists while the ids agree; everything after is to apply or to upload.
    const std::vector<const DOp*> local = sorted_ops();
    const size_t from = task.equal_blocks * kBlockOps;
    size_t same = 0;
    while (from + same < local.size() && same < remote.size() &&
           local[from + same]->id == remote[same].id)
      ++same;
    std::vector<DOp> to_apply(remote.begin() + static_cast<std::ptrdiff_t>(same), remote.end());
    std::vector<DOp> to_upload;
    for (size_t i = from + same; i < local.size(); ++i) to_upload.push_back(*local[i]);
    // Step 5: apply, in one local transaction.
    if (std::optional<std::string> error = apply(to_apply)) return finish(task, *error);
    if (!to_apply.empty()) task.record.moved = true;
    if (to_upload.empty()) return start_files(task);
    nlohmann::json body = {{"operations", nlohmann::json::array()}};
    for (const DOp& op : to_upload) body["operations"].push_back(op_json(op));
    task.stage = Stage::kUpload;
    task.record.moved = true;
    send(task, {"POST", "/data/operation", "application/json", body.dump()});
  }

  // Applies remote operations in order; any failure rolls all of them back.
  std::optional<std::string> apply(const std::vector<DOp>& remote) {
    std::map<std::string, Note> notes = notes_;
    std::set<OpId> ids = ids_;
    std::vector<DOp> added;
    std::vector<FileRef> files;
    for (const DOp& op : remote) {
      // Select, then insert: an operation already held is skipped (the device's own dedupe).
      if (!ids.insert(op.id).second) continue;
      std::optional<ObjectOp> meaning = meaning_of(op, world_.shared_key());
      if (!meaning) return "operation " + short_id(op.id) + " does not decrypt";
      std::optional<Bytes> sealed = from_base64url(op.data);
      const std::optional<Change> change =
          change_from_plaintext(*open(world_.shared_key(), *sealed, {}));
      auto note = notes.find(change->key);
      if (change->kind == "create") {
        if (note == notes.end() || note->second.updated_at < op.created_at)
          notes[change->key] = Note{change->value, change->files, op.created_at, op.id};
      } else if (change->kind == "update") {
        if (note == notes.end()) return "update of note " + change->key + ", which does not exist";
        if (note->second.updated_at < op.created_at)
          note->second = Note{change->value, change->files, op.created_at, op.id};
      } else if (note != notes.end() && note->second.updated_at < op.created_at) {
        notes.erase(note);
      }
      for (const FileRef& f : change->files) files.push_back(f);
      DOp stored = op;
      stored.inserted = ++inserted_;
      added.push_back(stored);
    }
    notes_ = std::move(notes);
    ids_ = std::move(ids);
    for (DOp& op : added) ops_.push_back(std::move(op));
    for (const FileRef& f : files)
      if (!files_.count(f.id)) files_[f.id] = LocalFile{true, std::nullopt};  // to download
    return std::nullopt;
  }

  void on_upload(Task& task, const HttpResponse& response) {
    if (response.status != 200)
      return finish(task, "POST /data/operation answered " + std::to_string(response.status) +
                              ": " + response.body);
    start_files(task);
  }

  // The file pass, by the is_uploaded flag alone.
  void start_files(Task& task) {
    task.stage = Stage::kFiles;
    for (const auto& [id, file] : files_)
      if (file.is_uploaded != file.content.has_value()) task.files.push_back(id);
    next_file(task);
  }

  void next_file(Task& task) {
    while (!task.files.empty()) {
      const FileId id = task.files.front();
      const LocalFile& file = files_[id];
      if (!file.is_uploaded && file.content) {
        const Bytes sealed = seal(world_.shared_key(), *file.content, {}, *random_);
        task.record.moved = true;
        return send(task, {"POST", "/file/" + to_base64url(id), "application/octet-stream",
                           to_string(sealed)});
      }
      if (file.is_uploaded && !file.content)
        return send(task, {"GET", "/file/" + to_base64url(id), "", ""});
      task.files.pop_front();
    }
    finish(task, "");
  }

  void on_file(Task& task, const HttpResponse& response) {
    const FileId id = task.files.front();
    task.files.pop_front();
    LocalFile& file = files_[id];
    if (!file.is_uploaded) {
      if (response.status != 200) return finish(task, "uploading file " + short_id(id) + " failed");
      file.is_uploaded = true;
      return next_file(task);
    }
    if (response.status == 404) {
      // The operation arrived before its file, or the server lost it: Dataans logs the problem
      // and tries again on the next sync.
      world_.event(name, "file-missing", "file " + short_id(id) + " is not on the server",
                   to_bytes("missing"));
      return next_file(task);
    }
    if (response.status != 200) return finish(task, "downloading file " + short_id(id) + " failed");
    Result<Bytes> plaintext = open(world_.shared_key(), to_bytes(response.body), {});
    if (!plaintext.ok())
      return finish(task, "file " + short_id(id) + " does not decrypt (a truncated blob)");
    file.content = *plaintext;
    task.record.moved = true;
    next_file(task);
  }

  void finish(Task& task, const std::string& error) {
    SyncRecord record = task.record;
    record.ok = error.empty();
    record.error = error;
    if (last_task_ == &task) last_task_ = nullptr;
    const uint64_t id = task.id;
    tasks_.erase(
        std::remove_if(tasks_.begin(), tasks_.end(), [id](const auto& t) { return t->id == id; }),
        tasks_.end());
    world_.finish_sync(*this, std::move(record));
  }

  NodeHost& world_;
  std::unique_ptr<SeededRandom> random_;
  std::vector<DOp> ops_;
  std::set<OpId> ids_;
  std::map<std::string, Note> notes_;
  std::map<FileId, LocalFile> files_;
  uint64_t inserted_ = 0;
  std::vector<std::unique_ptr<Task>> tasks_;
  uint64_t task_ids_ = 0;
  uint64_t requests_ = 0;
  const Task* last_task_ = nullptr;
};

}  // namespace

std::unique_ptr<ServerNode> make_dataans_server(NodeHost& world) {
  world.set_shared_key(SecretKey::random(*world.node_random("dataans-key")));
  world.add_plaintext(world.shared_key().view(), "the data key");
  return std::make_unique<DataansServer>(world);
}

std::unique_ptr<DeviceNode> make_dataans_device(NodeHost& world, uint32_t index) {
  return std::make_unique<DataansDevice>(world, index);
}

}  // namespace opsync::simulator
