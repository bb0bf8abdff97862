#include "opsync/server/sqlite_storage.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>

#include "op_id_index.h"
#include "opsync/protocol/limits.h"
#include "revocation_journal.h"

namespace opsync::server {
namespace {

// Thrown by the primitives inside a transaction; caught by read()/write(), which roll back and
// turn it into a Status. Never escapes this file.
struct Failure {
  Code code;
  std::string message;
};

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  const int code = sqlite3_errcode(db);
  const bool busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
  throw Failure{busy ? Code::kUnavailable : Code::kInternalError, what + ": " + sqlite3_errmsg(db)};
}

// Schema migrations: entry i takes the database from version i to i + 1. Append only; never edit
// a published entry (a deployed database has already run it).
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE workspaces (
  ws INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  block_size INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  head_seq INTEGER NOT NULL
);
CREATE TABLE tokens (
  ws INTEGER NOT NULL,
  id BLOB NOT NULL,
  secret_hash BLOB NOT NULL UNIQUE,
  scope INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER,
  revoked_at_ms INTEGER,
  PRIMARY KEY (ws, id)
) WITHOUT ROWID;
CREATE TABLE keys (
  ws INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  algorithm TEXT NOT NULL,
  iterations INTEGER NOT NULL,
  wrapped_key BLOB NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (ws, key_id)
) WITHOUT ROWID;
CREATE TABLE ops (
  position INTEGER PRIMARY KEY,  -- ws << 40 | seq: the table's own order is the log's order
  -- No index on id: op_id_index.h says why, and what stands in for it.
  ws INTEGER NOT NULL,
  id BLOB NOT NULL,
  hash BLOB NOT NULL,
  payload_bytes INTEGER NOT NULL,
  encoding BLOB NOT NULL
);
CREATE TABLE blocks (
  ws INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (ws, idx)
) WITHOUT ROWID;
CREATE TABLE files (
  ws INTEGER NOT NULL,
  id BLOB NOT NULL,
  state INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  deleted_at_ms INTEGER NOT NULL,
  PRIMARY KEY (ws, id)
) WITHOUT ROWID;
CREATE INDEX files_by_state ON files (state, updated_at_ms);
CREATE TABLE chunks (
  ws INTEGER NOT NULL,
  file BLOB NOT NULL,
  idx INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE UNIQUE INDEX chunks_by_file ON chunks (ws, file, idx);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
      fail(db, std::string("prepare ") + sql);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Statement& bind(int i, uint64_t v) {
    OPSYNC_CHECK(v <= static_cast<uint64_t>(INT64_MAX));
    return bind(i, static_cast<int64_t>(v));
  }
  Statement& bind(int i, uint32_t v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, ByteView v) {
    // Zero-length blobs must still bind as blobs, not NULL.
    check(sqlite3_bind_blob64(stmt_, i, v.empty() ? "" : static_cast<const void*>(v.data()),
                              v.size(), SQLITE_STATIC));
    return *this;
  }
  template <size_t N>
  Statement& bind(int i, const FixedBytes<N>& v) {
    return bind(i, v.view());
  }
  Statement& bind(int i, std::string_view v) {
    check(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  Statement& bind(int i, const std::optional<uint64_t>& v) {
    if (!v) {
      check(sqlite3_bind_null(stmt_, i));
      return *this;
    }
    return bind(i, *v);
  }

  // Advances; true while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, std::string("step ") + sqlite3_sql(stmt_));
  }
  void run() {
    while (step()) {
    }
  }

  int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  uint64_t u64(int col) const {
    const int64_t v = i64(col);
    OPSYNC_CHECK(v >= 0);
    return static_cast<uint64_t>(v);
  }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::optional<uint64_t> optional_u64(int col) const {
    return is_null(col) ? std::nullopt : std::optional(u64(col));
  }
  Bytes blob(int col) const {
    const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    const int size = sqlite3_column_bytes(stmt_, col);
    return data ? Bytes(data, data + size) : Bytes();
  }
  template <size_t N>
  FixedBytes<N> fixed(int col) const {
    const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    OPSYNC_CHECK_MSG(data && sqlite3_column_bytes(stmt_, col) == static_cast<int>(N),
                     "stored id of the wrong size");
    FixedBytes<N> out;
    std::copy(data, data + N, out.bytes.begin());
    return out;
  }
  std::string text(int col) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return data ? std::string(data, sqlite3_column_bytes(stmt_, col)) : std::string();
  }

  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Connection {
 public:
  Connection(const std::string& path, Durability durability) {
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Failure{Code::kInternalError, "cannot open " + path + ": " + message};
    }
    // WAL lets readers run beside the writer; FULL syncs the WAL on every commit so that an
    // acknowledged upload survives power loss too (LOG-008).
    exec("PRAGMA busy_timeout=10000");
    exec("PRAGMA journal_mode=WAL");
    exec(durability == Durability::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=OFF");
    // 8 MiB of page cache per connection keeps the hot index pages of a large log in memory.
    exec("PRAGMA cache_size=-8192");
  }
  ~Connection() {
    cache_.clear();
    sqlite3_close(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "unknown error";
      sqlite3_free(message);
      const int code = sqlite3_errcode(db_);
      throw Failure{
          code == SQLITE_BUSY || code == SQLITE_LOCKED ? Code::kUnavailable : Code::kInternalError,
          std::string(sql).substr(0, 60) + ": " + text + " (" +
              std::to_string(sqlite3_extended_errcode(db_)) + ")"};
    }
  }

  // A prepared statement for `sql`, reset and ready to bind. Statements are cached per
  // connection, keyed by the SQL text's address (every caller passes a string literal).
  Statement& prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<Statement>(db_, sql)).first;
    it->second->reset();
    return *it->second;
  }

  // Resets every cached statement. A statement left mid-result keeps its read snapshot open past
  // COMMIT; a later BEGIN IMMEDIATE on this connection would then fail at once with
  // SQLITE_BUSY_SNAPSHOT instead of waiting. Called at the end of every transaction.
  void reset_statements() {
    for (auto& [sql, statement] : cache_) statement->reset();
  }

  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::map<const char*, std::unique_ptr<Statement>> cache_;
};

// An operation's row key: the workspace's integer key in the high bits, its sequence number in the
// low 40 (a trillion operations per workspace, 2^23 workspaces per server).
constexpr int kSeqBits = 40;
constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;
constexpr int64_t kWorkspaceKeyLimit = int64_t{1} << 23;
int64_t position(int64_t ws, uint64_t seq) {
  OPSYNC_CHECK(ws > 0 && ws < kWorkspaceKeyLimit && seq <= kSeqMask);
  return ws << kSeqBits | static_cast<int64_t>(seq);
}
uint64_t seq_of(int64_t position) { return static_cast<uint64_t>(position) & kSeqMask; }

int file_state_code(FileState s) { return static_cast<int>(s); }
FileState file_state_of(int64_t code) {
  OPSYNC_CHECK(code >= 0 && code <= 3);
  return static_cast<FileState>(code);
}
Scope scope_of(int64_t code) {
  OPSYNC_CHECK(code >= 0 && code <= 2);
  return static_cast<Scope>(code);
}

class SqlTransaction final : public Transaction {
 public:
  // `ids` is the writer's op id index; read transactions have none.
  SqlTransaction(Connection& c, OpIdIndex* ids) : c_(c), ids_(ids) {}

  // Workspaces whose op id index this transaction changed: to forget if it does not commit.
  const std::set<int64_t>& indexed_workspaces() const { return indexed_; }

  std::optional<WorkspaceRecord> workspace(const WorkspaceId& id) override {
    Statement& s =
        c_.prepare("SELECT ws, block_size, created_at_ms, head_seq FROM workspaces WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    ws_keys_[id] = s.i64(0);
    return WorkspaceRecord{id, static_cast<uint32_t>(s.u64(1)), s.u64(2), s.u64(3)};
  }
  void insert_workspace(const WorkspaceRecord& r) override {
    c_.prepare(
          "INSERT INTO workspaces (id, block_size, created_at_ms, head_seq) VALUES (?, ?, ?, ?)")
        .bind(1, r.id)
        .bind(2, r.block_size)
        .bind(3, r.created_at_ms)
        .bind(4, r.head_seq)
        .run();
    if (sqlite3_last_insert_rowid(c_.db()) >= kWorkspaceKeyLimit)
      throw Failure{Code::kUnavailable, "this server holds the most workspaces it can"};
  }
  void set_head_seq(const WorkspaceId& id, uint64_t head_seq) override {
    c_.prepare("UPDATE workspaces SET head_seq = ? WHERE ws = ?")
        .bind(1, head_seq)
        .bind(2, ws_key(id))
        .run();
  }
  void delete_workspace(const WorkspaceId& id) override {
    const int64_t ws = ws_key(id);
    for (const char* sql : {"DELETE FROM tokens WHERE ws = ?", "DELETE FROM keys WHERE ws = ?",
                            "DELETE FROM ops WHERE ws = ?", "DELETE FROM blocks WHERE ws = ?",
                            "DELETE FROM chunks WHERE ws = ?", "DELETE FROM files WHERE ws = ?",
                            "DELETE FROM workspaces WHERE ws = ?"})
      c_.prepare(sql).bind(1, ws).run();
    ws_keys_.erase(id);
    if (ids_) ids_->forget(ws);
  }

  std::optional<TokenRecord> token_by_secret_hash(const Hash& secret_hash) override {
    Statement& s = c_.prepare(
        "SELECT t.id, w.id, t.scope, t.created_at_ms, t.expires_at_ms, t.revoked_at_ms "
        "FROM tokens t JOIN workspaces w ON w.ws = t.ws WHERE t.secret_hash = ?");
    s.bind(1, secret_hash);
    if (!s.step()) return std::nullopt;
    return TokenRecord{s.fixed<16>(0), s.fixed<16>(1),    secret_hash,      scope_of(s.i64(2)),
                       s.u64(3),       s.optional_u64(4), s.optional_u64(5)};
  }
  std::optional<TokenRecord> token(const WorkspaceId& workspace, const TokenId& id) override {
    Statement& s = c_.prepare(
        "SELECT secret_hash, scope, created_at_ms, expires_at_ms, revoked_at_ms FROM tokens WHERE "
        "ws = ? AND id = ?");
    s.bind(1, ws_key(workspace)).bind(2, id);
    if (!s.step()) return std::nullopt;
    return TokenRecord{id,       workspace,         s.fixed<32>(0),   scope_of(s.i64(1)),
                       s.u64(2), s.optional_u64(3), s.optional_u64(4)};
  }
  void put_token(const TokenRecord& r) override {
    c_.prepare(
          "INSERT OR REPLACE INTO tokens (ws, id, secret_hash, scope, created_at_ms, "
          "expires_at_ms, revoked_at_ms) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(1, ws_key(r.workspace))
        .bind(2, r.id)
        .bind(3, r.secret_hash)
        .bind(4, static_cast<int64_t>(r.scope))
        .bind(5, r.created_at_ms)
        .bind(6, r.expires_at_ms)
        .bind(7, r.revoked_at_ms)
        .run();
  }
  std::vector<TokenRecord> tokens_after(const WorkspaceId& workspace,
                                        const std::optional<TokenId>& after,
                                        size_t limit) override {
    Statement& s = c_.prepare(
        "SELECT id, secret_hash, scope, created_at_ms, expires_at_ms, revoked_at_ms FROM tokens "
        "WHERE ws = ? AND id > ? ORDER BY id LIMIT ?");
    // An empty blob sorts before every id, so "after nothing" lists from the start.
    s.bind(1, ws_key(workspace))
        .bind(2, after ? after->view() : ByteView())
        .bind(3, static_cast<uint64_t>(limit));
    std::vector<TokenRecord> out;
    while (s.step())
      out.push_back(TokenRecord{s.fixed<16>(0), workspace, s.fixed<32>(1), scope_of(s.i64(2)),
                                s.u64(3), s.optional_u64(4), s.optional_u64(5)});
    return out;
  }

  uint64_t live_token_count(const WorkspaceId& workspace, uint64_t now_ms) override {
    Statement& s = c_.prepare(
        "SELECT count(*) FROM tokens WHERE ws = ? AND revoked_at_ms IS NULL AND "
        "(expires_at_ms IS NULL OR expires_at_ms > ?)");
    s.bind(1, ws_key(workspace)).bind(2, now_ms);
    OPSYNC_CHECK(s.step());
    return s.u64(0);
  }

  std::optional<KeyRecord> key(const WorkspaceId& workspace, uint32_t key_id) override {
    Statement& s = c_.prepare(
        "SELECT version, algorithm, iterations, wrapped_key, updated_at_ms FROM keys WHERE ws = ? "
        "AND key_id = ?");
    s.bind(1, ws_key(workspace)).bind(2, key_id);
    if (!s.step()) return std::nullopt;
    return KeyRecord{key_id, s.u64(0), KdfParams{s.text(1), static_cast<uint32_t>(s.u64(2))},
                     s.blob(3), s.u64(4)};
  }
  void put_key(const WorkspaceId& workspace, const KeyRecord& r) override {
    c_.prepare(
          "INSERT OR REPLACE INTO keys (ws, key_id, version, algorithm, iterations, wrapped_key, "
          "updated_at_ms) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(1, ws_key(workspace))
        .bind(2, r.key_id)
        .bind(3, r.version)
        .bind(4, std::string_view(r.kdf.algorithm))
        .bind(5, r.kdf.iterations)
        .bind(6, ByteView(r.wrapped_key))
        .bind(7, r.updated_at_ms)
        .run();
  }
  uint64_t key_count(const WorkspaceId& workspace) override {
    Statement& s = c_.prepare("SELECT COUNT(*) FROM keys WHERE ws = ?");
    s.bind(1, ws_key(workspace));
    OPSYNC_CHECK(s.step());
    return s.u64(0);
  }
  std::vector<KeyRecord> keys_after(const WorkspaceId& workspace, uint32_t after,
                                    size_t limit) override {
    Statement& s = c_.prepare(
        "SELECT key_id, version, algorithm, iterations, wrapped_key, updated_at_ms FROM keys "
        "WHERE ws = ? AND key_id > ? ORDER BY key_id LIMIT ?");
    s.bind(1, ws_key(workspace)).bind(2, after).bind(3, static_cast<uint64_t>(limit));
    std::vector<KeyRecord> out;
    while (s.step())
      out.push_back(KeyRecord{static_cast<uint32_t>(s.u64(0)), s.u64(1),
                              KdfParams{s.text(2), static_cast<uint32_t>(s.u64(3))}, s.blob(4),
                              s.u64(5)});
    return out;
  }

  std::optional<LoggedOp> op_by_id(const WorkspaceId& workspace, const OpId& id) override {
    const int64_t ws = ws_key(workspace);
    if (!ids_) {  // a read transaction: no index, so a scan of the workspace's log (no endpoint
                  // does this)
      Statement& s =
          c_.prepare("SELECT position, hash FROM ops WHERE position BETWEEN ? AND ? AND id = ?");
      s.bind(1, position(ws, 1)).bind(2, position(ws, kSeqMask)).bind(3, id);
      if (!s.step()) return std::nullopt;
      return LoggedOp{seq_of(s.i64(0)), s.fixed<32>(1)};
    }
    index_loaded(ws);
    std::optional<LoggedOp> found;
    ids_->find(ws, id, [&](uint64_t seq) {  // each candidate confirmed against its row
      Statement& s = c_.prepare("SELECT id, hash FROM ops WHERE position = ?");
      s.bind(1, position(ws, seq));
      OPSYNC_CHECK_MSG(s.step(), "the op id index names a position the log does not hold");
      if (s.fixed<16>(0) != id) return false;
      found = LoggedOp{seq, s.fixed<32>(1)};
      return true;
    });
    return found;
  }
  std::optional<LoggedOp> append_op_if_absent(const WorkspaceId& workspace, const OpId& id,
                                              const StoredOp& op) override {
    OPSYNC_CHECK(op.encoding.size() >= kOpEncodingOverheadBytes);
    OPSYNC_CHECK_MSG(ids_ != nullptr, "append_op_if_absent in a read transaction");
    if (std::optional<LoggedOp> held = op_by_id(workspace, id)) return held;
    const int64_t ws = ws_key(workspace);
    c_.prepare(
          "INSERT INTO ops (position, ws, id, hash, payload_bytes, encoding) VALUES (?, ?, ?, ?, "
          "?, ?)")
        .bind(1, position(ws, op.seq))
        .bind(2, ws)
        .bind(3, id)
        .bind(4, op.hash)
        .bind(5, static_cast<uint64_t>(op.encoding.size() - kOpEncodingOverheadBytes))
        .bind(6, ByteView(op.encoding))
        .run();
    indexed_.insert(ws);
    ids_->add(ws, id, op.seq);
    return std::nullopt;
  }
  std::vector<StoredOp> ops_after(const WorkspaceId& workspace, uint64_t after_seq, size_t limit,
                                  uint64_t payload_bytes_max) override {
    const int64_t ws = ws_key(workspace);
    Statement& s = c_.prepare(
        "SELECT position, hash, payload_bytes, encoding FROM ops WHERE position > ? AND position "
        "<= ? "
        "ORDER BY position LIMIT ?");
    s.bind(1, position(ws, after_seq))
        .bind(2, position(ws, kSeqMask))
        .bind(3, static_cast<uint64_t>(limit));
    std::vector<StoredOp> out;
    uint64_t payload_bytes = 0;
    while (payload_bytes < payload_bytes_max && s.step()) {
      payload_bytes += s.u64(2);
      out.push_back(StoredOp{seq_of(s.i64(0)), s.fixed<32>(1), s.blob(3)});
    }
    return out;
  }
  std::vector<Hash> op_hashes(const WorkspaceId& workspace, uint64_t first_seq,
                              uint64_t last_seq) override {
    const int64_t ws = ws_key(workspace);
    Statement& s =
        c_.prepare("SELECT hash FROM ops WHERE position BETWEEN ? AND ? ORDER BY position");
    s.bind(1, position(ws, std::max<uint64_t>(first_seq, 1)))
        .bind(2, position(ws, std::min(last_seq, kSeqMask)));
    std::vector<Hash> out;
    while (s.step()) out.push_back(s.fixed<32>(0));
    return out;
  }
  void put_block_hash(const WorkspaceId& workspace, uint64_t index, const Hash& hash) override {
    c_.prepare("INSERT OR REPLACE INTO blocks (ws, idx, hash) VALUES (?, ?, ?)")
        .bind(1, ws_key(workspace))
        .bind(2, index)
        .bind(3, hash)
        .run();
  }
  std::vector<Hash> block_hashes(const WorkspaceId& workspace, uint64_t start,
                                 size_t limit) override {
    Statement& s =
        c_.prepare("SELECT hash FROM blocks WHERE ws = ? AND idx >= ? ORDER BY idx LIMIT ?");
    s.bind(1, ws_key(workspace)).bind(2, start).bind(3, static_cast<uint64_t>(limit));
    std::vector<Hash> out;
    while (s.step()) out.push_back(s.fixed<32>(0));
    return out;
  }

  std::optional<FileRecord> file(const WorkspaceId& workspace, const FileId& id) override {
    Statement& s = c_.prepare(
        "SELECT state, chunk_count, updated_at_ms, deleted_at_ms FROM files WHERE ws = ? AND id = "
        "?");
    s.bind(1, ws_key(workspace)).bind(2, id);
    if (!s.step()) return std::nullopt;
    return FileRecord{id, file_state_of(s.i64(0)), static_cast<uint32_t>(s.u64(1)), s.u64(2),
                      s.u64(3)};
  }
  void put_file(const WorkspaceId& workspace, const FileRecord& r) override {
    c_.prepare(
          "INSERT OR REPLACE INTO files (ws, id, state, chunk_count, updated_at_ms, deleted_at_ms) "
          "VALUES (?, ?, ?, ?, ?, ?)")
        .bind(1, ws_key(workspace))
        .bind(2, r.id)
        .bind(3, static_cast<int64_t>(file_state_code(r.state)))
        .bind(4, r.chunk_count)
        .bind(5, r.updated_at_ms)
        .bind(6, r.deleted_at_ms)
        .run();
  }
  void delete_file(const WorkspaceId& workspace, const FileId& id) override {
    const int64_t ws = ws_key(workspace);
    c_.prepare("DELETE FROM chunks WHERE ws = ? AND file = ?").bind(1, ws).bind(2, id).run();
    c_.prepare("DELETE FROM files WHERE ws = ? AND id = ?").bind(1, ws).bind(2, id).run();
  }
  std::optional<Bytes> chunk(const WorkspaceId& workspace, const FileId& id,
                             uint32_t index) override {
    Statement& s = c_.prepare("SELECT body FROM chunks WHERE ws = ? AND file = ? AND idx = ?");
    s.bind(1, ws_key(workspace)).bind(2, id).bind(3, index);
    if (!s.step()) return std::nullopt;
    return s.blob(0);
  }
  void put_chunk(const WorkspaceId& workspace, const FileId& id, uint32_t index,
                 ByteView body) override {
    c_.prepare(
          "INSERT OR REPLACE INTO chunks (ws, file, idx, size_bytes, body) VALUES (?, ?, ?, ?, ?)")
        .bind(1, ws_key(workspace))
        .bind(2, id)
        .bind(3, index)
        .bind(4, static_cast<uint64_t>(body.size()))
        .bind(5, body)
        .run();
  }
  std::vector<uint32_t> chunk_indices(const WorkspaceId& workspace, const FileId& id) override {
    Statement& s = c_.prepare("SELECT idx FROM chunks WHERE ws = ? AND file = ? ORDER BY idx");
    s.bind(1, ws_key(workspace)).bind(2, id);
    std::vector<uint32_t> out;
    while (s.step()) out.push_back(static_cast<uint32_t>(s.u64(0)));
    return out;
  }
  uint64_t stored_bytes(const WorkspaceId& workspace, const FileId& id) override {
    Statement& s =
        c_.prepare("SELECT COALESCE(SUM(size_bytes), 0) FROM chunks WHERE ws = ? AND file = ?");
    s.bind(1, ws_key(workspace)).bind(2, id);
    OPSYNC_CHECK(s.step());
    return s.u64(0);
  }
  uint64_t uploading_bytes(const WorkspaceId& workspace) override {
    Statement& s = c_.prepare(
        "SELECT COALESCE(SUM(c.size_bytes), 0) FROM files f JOIN chunks c ON c.ws = f.ws AND "
        "c.file = f.id "
        "WHERE f.ws = ? AND f.state = 1");
    static_assert(static_cast<int>(FileState::kUploading) == 1);
    s.bind(1, ws_key(workspace));
    OPSYNC_CHECK(s.step());
    return s.u64(0);
  }
  std::vector<FileKey> files_to_collect(uint64_t deleted_before_ms, uint64_t idle_before_ms,
                                        size_t limit) override {
    Statement& s = c_.prepare(
        "SELECT w.id, f.id FROM files f JOIN workspaces w ON w.ws = f.ws "
        "WHERE (f.state = 3 AND f.deleted_at_ms <= ?) OR (f.state = 1 AND f.updated_at_ms <= ?) "
        "LIMIT ?");
    static_assert(static_cast<int>(FileState::kUploading) == 1 &&
                  static_cast<int>(FileState::kDeleted) == 3);
    s.bind(1, deleted_before_ms).bind(2, idle_before_ms).bind(3, static_cast<uint64_t>(limit));
    std::vector<FileKey> out;
    while (s.step()) out.push_back(FileKey{s.fixed<16>(0), s.fixed<16>(1)});
    return out;
  }

 private:
  // Builds the workspace's op id index from its log (one sequential scan) unless it is held.
  void index_loaded(int64_t ws) {
    if (ids_->loaded(ws)) return;
    indexed_.insert(ws);
    ids_->start(ws);
    Statement& s = c_.prepare("SELECT position, id FROM ops WHERE position BETWEEN ? AND ?");
    s.bind(1, position(ws, 1)).bind(2, position(ws, kSeqMask));
    while (s.step()) ids_->add(ws, s.fixed<16>(1), seq_of(s.i64(0)));
  }

  // The workspace's integer key. REQUIRES: the workspace exists (the core checks first).
  int64_t ws_key(const WorkspaceId& id) {
    auto it = ws_keys_.find(id);
    if (it != ws_keys_.end()) return it->second;
    Statement& s = c_.prepare("SELECT ws FROM workspaces WHERE id = ?");
    s.bind(1, id);
    OPSYNC_CHECK_MSG(s.step(), "workspace used before it exists");
    return ws_keys_[id] = s.i64(0);
  }

  Connection& c_;
  OpIdIndex* ids_;
  std::set<int64_t> indexed_;
  std::map<WorkspaceId, int64_t> ws_keys_;
};

}  // namespace

struct SqliteStorage::Impl {
  std::string path;
  std::optional<RevocationJournal> journal;  // DATA_DIR/revocations.journal (AUTH-030)
  Durability durability = Durability::kFull;
  int lock_fd = -1;
  std::mutex
      writer;  // one writer at a time, before SQLite's lock: no busy-wait between our threads
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<Connection>> idle;  // bounded by kIdleConnectionsMax
  // Guarded by `writer`. 16M slots of 16 bytes: 256 MiB for up to 12M operations held in memory.
  OpIdIndex ids{std::random_device{}() * uint64_t{0x9e3779b97f4a7c15} ^ std::random_device{}(),
                size_t{1} << 24};

  static constexpr size_t kIdleConnectionsMax = 32;

  std::unique_ptr<Connection> acquire() {
    {
      std::lock_guard lock(pool_mutex);
      if (!idle.empty()) {
        std::unique_ptr<Connection> c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    return std::make_unique<Connection>(path, durability);
  }
  void release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(pool_mutex);
    if (idle.size() < kIdleConnectionsMax) idle.push_back(std::move(c));
  }
};

SqliteStorage::SqliteStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteStorage::~SqliteStorage() {
  impl_->idle.clear();  // closes every connection, checkpointing the WAL
  if (impl_->lock_fd >= 0) close(impl_->lock_fd);
}

int SqliteStorage::schema_version() { return kSchemaVersion; }

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(const std::string& data_dir,
                                                           Durability durability) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Error(Code::kInternalError, "cannot create " + data_dir + ": " + ec.message());
  auto impl = std::make_unique<Impl>();
  impl->durability = durability;
  impl->path = (std::filesystem::path(data_dir) / "opsync.db").string();
  const std::string lock_path = (std::filesystem::path(data_dir) / "lock").string();
  impl->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (impl->lock_fd < 0) return Error(Code::kInternalError, "cannot open " + lock_path);
  if (flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(impl->lock_fd);
    return Error(Code::kInternalError, "another server is using " + data_dir);
  }
  try {
    auto connection = std::make_unique<Connection>(impl->path, durability);
    Statement& version = connection->prepare("PRAGMA user_version");
    OPSYNC_CHECK(version.step());
    const int64_t found = version.i64(0);
    version.reset();
    if (found > kSchemaVersion)
      return Error(Code::kInternalError, "the database has schema version " +
                                             std::to_string(found) + "; this server knows up to " +
                                             std::to_string(kSchemaVersion));
    for (int64_t v = found; v < kSchemaVersion; ++v) {
      connection->exec("BEGIN IMMEDIATE");
      connection->exec(kMigrations[v]);
      connection->exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
      connection->exec("COMMIT");
    }
    impl->release(std::move(connection));
  } catch (const Failure& f) {
    close(impl->lock_fd);
    return Error(f.code, f.message);
  }
  Result<RevocationJournal> journal =
      RevocationJournal::open((std::filesystem::path(data_dir) / "revocations.journal").string(),
                              durability == Durability::kFull);
  if (!journal.ok()) {
    close(impl->lock_fd);
    return journal.error();
  }
  impl->journal.emplace(std::move(journal).value());
  return std::unique_ptr<SqliteStorage>(new SqliteStorage(std::move(impl)));
}

Status SqliteStorage::journal_revocation(const Revocation& revocation) {
  return impl_->journal->append(revocation);
}

Result<std::vector<Revocation>> SqliteStorage::journaled_revocations() {
  return impl_->journal->entries();
}

Status SqliteStorage::read(const std::function<void(Transaction&)>& body) {
  std::unique_ptr<Connection> connection;
  try {
    connection = impl_->acquire();
    connection->exec("BEGIN");  // deferred: the snapshot starts at the first read
    SqlTransaction txn(*connection, nullptr);
    body(txn);
    connection->reset_statements();
    connection->exec("COMMIT");
  } catch (const Failure& f) {
    if (connection) {
      connection->reset_statements();
      sqlite3_exec(connection->db(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    return Error(f.code, f.message);
  }
  impl_->release(std::move(connection));
  return {};
}

Status SqliteStorage::write(const std::function<bool(Transaction&)>& body) {
  std::lock_guard writer(impl_->writer);
  std::unique_ptr<Connection> connection;
  std::optional<SqlTransaction> txn;
  bool committed = false;
  try {
    connection = impl_->acquire();
    connection->exec("BEGIN IMMEDIATE");
    txn.emplace(*connection, &impl_->ids);
    const bool commit = body(*txn);
    connection->reset_statements();
    connection->exec(commit ? "COMMIT" : "ROLLBACK");
    committed = commit;
  } catch (const Failure& f) {
    if (connection) {
      connection->reset_statements();
      sqlite3_exec(connection->db(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    if (txn)
      for (int64_t ws : txn->indexed_workspaces()) impl_->ids.forget(ws);
    return Error(f.code, f.message);
  } catch (...) {  // not ours (bad_alloc): still leave no index entry the database lacks
    if (txn)
      for (int64_t ws : txn->indexed_workspaces()) impl_->ids.forget(ws);
    throw;
  }
  // What the transaction added to the index is not in the database unless it committed.
  if (!committed)
    for (int64_t ws : txn->indexed_workspaces()) impl_->ids.forget(ws);
  impl_->release(std::move(connection));
  return {};
}

std::string SqliteStorage::integrity_check() {
  std::unique_ptr<Connection> connection = impl_->acquire();
  std::string result;
  try {
    Statement& s = connection->prepare("PRAGMA integrity_check");
    while (s.step()) result += (result.empty() ? "" : "\n") + s.text(0);
  } catch (const Failure& f) {
    result = f.message;
  }
  impl_->release(std::move(connection));
  return result;
}

}  // namespace opsync::server
