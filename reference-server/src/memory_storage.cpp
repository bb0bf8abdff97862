#include "opsync/server/memory_storage.h"

#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "opsync/protocol/limits.h"

namespace opsync::server {
namespace {

struct WorkspaceData {
  WorkspaceRecord record;
  std::map<TokenId, TokenRecord> tokens;
  std::map<uint32_t, KeyRecord> keys;
  std::vector<StoredOp> ops;  // ops[seq - 1]
  std::unordered_map<OpId, uint64_t, FixedBytesHash> seq_by_id;
  std::vector<Hash> block_hashes;
  std::map<FileId, FileRecord> files;
  std::map<std::pair<FileId, uint32_t>, Bytes> chunks;
};

}  // namespace

struct MemoryStorage::Contents {
  std::map<WorkspaceId, WorkspaceData> workspaces;
  std::map<Hash, std::pair<WorkspaceId, TokenId>> token_by_hash;
};

struct MemoryStorage::State : Contents {
  std::shared_mutex mutex;
  // Not Contents: a restore leaves it. Its own lock, since the core journals inside a write.
  std::mutex journal_mutex;
  std::vector<Revocation> journal;
};

namespace {

// Applies changes in place and remembers how to undo each, so a rolled-back write leaves the
// state exactly as it was (the same all-or-nothing contract as SQLite's transactions).
class MemoryTransaction final : public Transaction {
 public:
  explicit MemoryTransaction(MemoryStorage::Contents& s) : s_(s) {}

  void rollback() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
    undo_.clear();
  }

  std::optional<WorkspaceRecord> workspace(const WorkspaceId& id) override {
    auto it = s_.workspaces.find(id);
    if (it == s_.workspaces.end()) return std::nullopt;
    return it->second.record;
  }
  void insert_workspace(const WorkspaceRecord& r) override {
    OPSYNC_CHECK(s_.workspaces.emplace(r.id, WorkspaceData{r, {}, {}, {}, {}, {}, {}, {}}).second);
    undo_.push_back([this, id = r.id] { s_.workspaces.erase(id); });
  }
  void set_head_seq(const WorkspaceId& id, uint64_t head_seq) override {
    WorkspaceData& w = data(id);
    undo_.push_back([this, id, old = w.record.head_seq] { data(id).record.head_seq = old; });
    w.record.head_seq = head_seq;
  }
  void delete_workspace(const WorkspaceId& id) override {
    auto it = s_.workspaces.find(id);
    OPSYNC_CHECK(it != s_.workspaces.end());
    for (const auto& [token_id, token] : it->second.tokens) remove_token_index(token.secret_hash);
    auto removed = std::make_shared<WorkspaceData>(std::move(it->second));
    s_.workspaces.erase(it);
    undo_.push_back([this, id, removed] { s_.workspaces.emplace(id, std::move(*removed)); });
  }

  std::optional<TokenRecord> token_by_secret_hash(const Hash& secret_hash) override {
    auto it = s_.token_by_hash.find(secret_hash);
    if (it == s_.token_by_hash.end()) return std::nullopt;
    return token(it->second.first, it->second.second);
  }
  std::optional<TokenRecord> token(const WorkspaceId& workspace, const TokenId& id) override {
    auto w = s_.workspaces.find(workspace);
    if (w == s_.workspaces.end()) return std::nullopt;
    auto it = w->second.tokens.find(id);
    if (it == w->second.tokens.end()) return std::nullopt;
    return it->second;
  }
  void put_token(const TokenRecord& r) override {
    WorkspaceData& w = data(r.workspace);
    std::optional<TokenRecord> old = token(r.workspace, r.id);
    if (old) remove_token_index(old->secret_hash);
    w.tokens[r.id] = r;
    add_token_index(r.secret_hash, r.workspace, r.id);
    undo_.push_back([this, r, old] {
      WorkspaceData& d = data(r.workspace);
      if (old)
        d.tokens[r.id] = *old;
      else
        d.tokens.erase(r.id);
    });
  }
  std::vector<TokenRecord> tokens_after(const WorkspaceId& workspace,
                                        const std::optional<TokenId>& after,
                                        size_t limit) override {
    const WorkspaceData& w = data(workspace);
    std::vector<TokenRecord> out;
    for (auto it = after ? w.tokens.upper_bound(*after) : w.tokens.begin();
         it != w.tokens.end() && out.size() < limit; ++it)
      out.push_back(it->second);
    return out;
  }

  uint64_t live_token_count(const WorkspaceId& workspace, uint64_t now_ms) override {
    uint64_t live = 0;
    for (const auto& [id, token] : data(workspace).tokens)
      live += !token.revoked_at_ms && (!token.expires_at_ms || *token.expires_at_ms > now_ms);
    return live;
  }

  std::optional<KeyRecord> key(const WorkspaceId& workspace, uint32_t key_id) override {
    const WorkspaceData& w = data(workspace);
    auto it = w.keys.find(key_id);
    if (it == w.keys.end()) return std::nullopt;
    return it->second;
  }
  void put_key(const WorkspaceId& workspace, const KeyRecord& r) override {
    std::optional<KeyRecord> old = key(workspace, r.key_id);
    data(workspace).keys[r.key_id] = r;
    undo_.push_back([this, workspace, r, old] {
      if (old)
        data(workspace).keys[r.key_id] = *old;
      else
        data(workspace).keys.erase(r.key_id);
    });
  }
  uint64_t key_count(const WorkspaceId& workspace) override { return data(workspace).keys.size(); }
  std::vector<KeyRecord> keys_after(const WorkspaceId& workspace, uint32_t after,
                                    size_t limit) override {
    const WorkspaceData& w = data(workspace);
    std::vector<KeyRecord> out;
    for (auto it = w.keys.upper_bound(after); it != w.keys.end() && out.size() < limit; ++it)
      out.push_back(it->second);
    return out;
  }

  std::optional<LoggedOp> op_by_id(const WorkspaceId& workspace, const OpId& id) override {
    const WorkspaceData& w = data(workspace);
    auto it = w.seq_by_id.find(id);
    if (it == w.seq_by_id.end()) return std::nullopt;
    return LoggedOp{it->second, w.ops[it->second - 1].hash};
  }
  std::optional<LoggedOp> append_op_if_absent(const WorkspaceId& workspace, const OpId& id,
                                              const StoredOp& op) override {
    if (std::optional<LoggedOp> held = op_by_id(workspace, id)) return held;
    WorkspaceData& w = data(workspace);
    OPSYNC_CHECK(op.seq == w.ops.size() + 1);
    OPSYNC_CHECK(w.seq_by_id.emplace(id, op.seq).second);
    w.ops.push_back(op);
    undo_.push_back([this, workspace, id] {
      WorkspaceData& d = data(workspace);
      d.ops.pop_back();
      d.seq_by_id.erase(id);
    });
    return std::nullopt;
  }
  std::vector<StoredOp> ops_after(const WorkspaceId& workspace, uint64_t after_seq, size_t limit,
                                  uint64_t payload_bytes_max) override {
    const WorkspaceData& w = data(workspace);
    std::vector<StoredOp> out;
    uint64_t payload_bytes = 0;
    for (uint64_t seq = after_seq + 1;
         seq <= w.ops.size() && out.size() < limit && payload_bytes < payload_bytes_max; ++seq) {
      payload_bytes += w.ops[seq - 1].encoding.size() - kOpEncodingOverheadBytes;
      out.push_back(w.ops[seq - 1]);
    }
    return out;
  }
  std::vector<Hash> op_hashes(const WorkspaceId& workspace, uint64_t first_seq,
                              uint64_t last_seq) override {
    const WorkspaceData& w = data(workspace);
    std::vector<Hash> out;
    for (uint64_t seq = std::max<uint64_t>(first_seq, 1); seq <= last_seq && seq <= w.ops.size();
         ++seq)
      out.push_back(w.ops[seq - 1].hash);
    return out;
  }
  void put_block_hash(const WorkspaceId& workspace, uint64_t index, const Hash& hash) override {
    WorkspaceData& w = data(workspace);
    OPSYNC_CHECK(index == w.block_hashes.size());  // blocks complete in order
    w.block_hashes.push_back(hash);
    undo_.push_back([this, workspace] { data(workspace).block_hashes.pop_back(); });
  }
  std::vector<Hash> block_hashes(const WorkspaceId& workspace, uint64_t start,
                                 size_t limit) override {
    const WorkspaceData& w = data(workspace);
    std::vector<Hash> out;
    for (uint64_t i = start; i < w.block_hashes.size() && out.size() < limit; ++i)
      out.push_back(w.block_hashes[i]);
    return out;
  }

  std::optional<FileRecord> file(const WorkspaceId& workspace, const FileId& id) override {
    const WorkspaceData& w = data(workspace);
    auto it = w.files.find(id);
    if (it == w.files.end()) return std::nullopt;
    return it->second;
  }
  void put_file(const WorkspaceId& workspace, const FileRecord& r) override {
    std::optional<FileRecord> old = file(workspace, r.id);
    data(workspace).files[r.id] = r;
    undo_.push_back([this, workspace, r, old] {
      if (old)
        data(workspace).files[r.id] = *old;
      else
        data(workspace).files.erase(r.id);
    });
  }
  void delete_file(const WorkspaceId& workspace, const FileId& id) override {
    WorkspaceData& w = data(workspace);
    std::optional<FileRecord> old = file(workspace, id);
    auto first = w.chunks.lower_bound({id, 0});
    auto last = w.chunks.upper_bound({id, UINT32_MAX});
    auto removed = std::make_shared<std::map<std::pair<FileId, uint32_t>, Bytes>>();
    for (auto it = first; it != last; ++it) removed->emplace(it->first, std::move(it->second));
    w.chunks.erase(first, last);
    w.files.erase(id);
    undo_.push_back([this, workspace, id, old, removed] {
      WorkspaceData& d = data(workspace);
      if (old) d.files[id] = *old;
      for (auto& [k, v] : *removed) d.chunks[k] = std::move(v);
    });
  }
  std::optional<Bytes> chunk(const WorkspaceId& workspace, const FileId& id,
                             uint32_t index) override {
    const WorkspaceData& w = data(workspace);
    auto it = w.chunks.find({id, index});
    if (it == w.chunks.end()) return std::nullopt;
    return it->second;
  }
  void put_chunk(const WorkspaceId& workspace, const FileId& id, uint32_t index,
                 ByteView body) override {
    std::optional<Bytes> old = chunk(workspace, id, index);
    data(workspace).chunks[{id, index}] = Bytes(body.begin(), body.end());
    undo_.push_back([this, workspace, id, index, old] {
      WorkspaceData& d = data(workspace);
      if (old)
        d.chunks[{id, index}] = *old;
      else
        d.chunks.erase({id, index});
    });
  }
  std::vector<uint32_t> chunk_indices(const WorkspaceId& workspace, const FileId& id) override {
    const WorkspaceData& w = data(workspace);
    std::vector<uint32_t> out;
    for (auto it = w.chunks.lower_bound({id, 0}); it != w.chunks.end() && it->first.first == id;
         ++it)
      out.push_back(it->first.second);
    return out;
  }
  uint64_t stored_bytes(const WorkspaceId& workspace, const FileId& id) override {
    const WorkspaceData& w = data(workspace);
    uint64_t total = 0;
    for (auto it = w.chunks.lower_bound({id, 0}); it != w.chunks.end() && it->first.first == id;
         ++it)
      total += it->second.size();
    return total;
  }
  uint64_t uploading_bytes(const WorkspaceId& workspace) override {
    const WorkspaceData& w = data(workspace);
    uint64_t total = 0;
    for (const auto& [key, body] : w.chunks) {
      auto file = w.files.find(key.first);
      if (file != w.files.end() && file->second.state == FileState::kUploading)
        total += body.size();
    }
    return total;
  }
  std::vector<FileKey> files_to_collect(uint64_t deleted_before_ms, uint64_t idle_before_ms,
                                        size_t limit) override {
    std::vector<FileKey> out;
    for (const auto& [ws, w] : s_.workspaces)
      for (const auto& [id, f] : w.files) {
        if (out.size() >= limit) return out;
        if ((f.state == FileState::kDeleted && f.deleted_at_ms <= deleted_before_ms) ||
            (f.state == FileState::kUploading && f.updated_at_ms <= idle_before_ms))
          out.push_back(FileKey{ws, id});
      }
    return out;
  }

 private:
  WorkspaceData& data(const WorkspaceId& id) {
    auto it = s_.workspaces.find(id);
    OPSYNC_CHECK_MSG(it != s_.workspaces.end(), "workspace used before it exists");
    return it->second;
  }
  void add_token_index(const Hash& h, const WorkspaceId& ws, const TokenId& id) {
    s_.token_by_hash[h] = {ws, id};
    undo_.push_back([this, h] { s_.token_by_hash.erase(h); });
  }
  void remove_token_index(const Hash& h) {
    auto it = s_.token_by_hash.find(h);
    if (it == s_.token_by_hash.end()) return;
    undo_.push_back([this, h, value = it->second] { s_.token_by_hash[h] = value; });
    s_.token_by_hash.erase(it);
  }

  MemoryStorage::Contents& s_;
  std::vector<std::function<void()>> undo_;
};

}  // namespace

MemoryStorage::MemoryStorage() : state_(std::make_unique<State>()) {}
MemoryStorage::~MemoryStorage() = default;

Status MemoryStorage::read(const std::function<void(Transaction&)>& body) {
  std::shared_lock lock(state_->mutex);
  MemoryTransaction txn(*state_);
  body(txn);
  return {};
}

Status MemoryStorage::write(const std::function<bool(Transaction&)>& body) {
  std::unique_lock lock(state_->mutex);
  MemoryTransaction txn(*state_);
  if (!body(txn)) txn.rollback();
  return {};
}

MemoryStorage::Snapshot::Snapshot(std::unique_ptr<const Contents> contents,
                                  std::vector<Revocation> journal)
    : contents_(std::move(contents)), journal_(std::move(journal)) {
  OPSYNC_CHECK(contents_ != nullptr);
}
MemoryStorage::Snapshot::~Snapshot() = default;

uint64_t MemoryStorage::Snapshot::op_count() const {
  uint64_t count = 0;
  for (const auto& [id, workspace] : contents_->workspaces) count += workspace.ops.size();
  return count;
}

std::shared_ptr<const MemoryStorage::Snapshot> MemoryStorage::snapshot() const {
  std::shared_lock lock(state_->mutex);
  std::lock_guard journal_lock(state_->journal_mutex);
  const Contents& contents = *state_;
  return std::make_shared<const Snapshot>(std::make_unique<const Contents>(contents),
                                          state_->journal);
}

void MemoryStorage::restore(const Snapshot& snapshot) {
  std::unique_lock lock(state_->mutex);
  static_cast<Contents&>(*state_) = snapshot.contents();
}

void MemoryStorage::restore_with_journal(const Snapshot& snapshot) {
  restore(snapshot);
  std::lock_guard journal_lock(state_->journal_mutex);
  state_->journal = snapshot.journal();
}

Status MemoryStorage::journal_revocation(const Revocation& revocation) {
  std::lock_guard journal_lock(state_->journal_mutex);
  state_->journal.push_back(revocation);
  return {};
}

Result<std::vector<Revocation>> MemoryStorage::journaled_revocations() {
  std::lock_guard journal_lock(state_->journal_mutex);
  return state_->journal;
}

}  // namespace opsync::server
