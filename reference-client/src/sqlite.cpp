#include "sqlite.h"

#include <algorithm>
#include <climits>

namespace opsync::client::sql {

void fail(sqlite3* db, const std::string& what) {
  const int code = sqlite3_errcode(db);
  const bool busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
  throw Failure{Error(busy ? Code::kUnavailable : Code::kInternalError,
                      what + ": " + sqlite3_errmsg(db) + " (" +
                          std::to_string(sqlite3_extended_errcode(db)) + ")")};
}

Statement::Statement(sqlite3* db, const char* sql) : db_(db) {
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
    fail(db, std::string("prepare ") + sql);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, int64_t v) {
  check(sqlite3_bind_int64(stmt_, i, v));
  return *this;
}

Statement& Statement::bind(int i, uint64_t v) {
  OPSYNC_CHECK_MSG(v <= static_cast<uint64_t>(INT64_MAX), "value too large for SQLite");
  return bind(i, static_cast<int64_t>(v));
}

Statement& Statement::bind(int i, ByteView v) {
  // A zero-length blob must still bind as a blob, not as NULL.
  check(sqlite3_bind_blob64(stmt_, i, v.empty() ? "" : static_cast<const void*>(v.data()), v.size(),
                            SQLITE_STATIC));
  return *this;
}

Statement& Statement::bind(int i, std::string_view v) {
  check(sqlite3_bind_text64(stmt_, i, v.empty() ? "" : v.data(), v.size(), SQLITE_STATIC,
                            SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_null(int i) {
  check(sqlite3_bind_null(stmt_, i));
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, std::string("step ") + sqlite3_sql(stmt_));
}

void Statement::run() {
  // A statement without result rows finishes in one step; the bound guards against misuse.
  for (int rows = 0; step(); ++rows) OPSYNC_CHECK_MSG(rows < 1, "run() on a query");
}

uint64_t Statement::u64(int col) const {
  const int64_t v = i64(col);
  OPSYNC_CHECK_MSG(v >= 0, "negative value stored where an unsigned one belongs");
  return static_cast<uint64_t>(v);
}

uint32_t Statement::u32(int col) const {
  const uint64_t v = u64(col);
  OPSYNC_CHECK_MSG(v <= UINT32_MAX, "stored value too large for 32 bits");
  return static_cast<uint32_t>(v);
}

Bytes Statement::blob(int col) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  const int size = sqlite3_column_bytes(stmt_, col);
  return data ? Bytes(data, data + size) : Bytes();
}

void Statement::copy_fixed(int col, uint8_t* out, size_t size) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  OPSYNC_CHECK_MSG(data && sqlite3_column_bytes(stmt_, col) == static_cast<int>(size),
                   "stored id or hash of the wrong size");
  std::copy(data, data + size, out);
}

std::string Statement::text(int col) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return data ? std::string(data, sqlite3_column_bytes(stmt_, col)) : std::string();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::check(int rc) {
  if (rc != SQLITE_OK) fail(db_, "bind");
}

namespace {

// Opens `path` read-write (a path starting with "file:" is an SQLite URI), or throws Failure.
sqlite3* open_database(const std::string& path, int extra_flags) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | extra_flags |
                                     (path.rfind("file:", 0) == 0 ? SQLITE_OPEN_URI : 0),
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw Failure{Error(Code::kInternalError, "cannot open " + path + ": " + message)};
  }
  return db;
}

}  // namespace

Connection::Connection(const std::string& path, bool full_sync)
    : db_(open_database(path, SQLITE_OPEN_CREATE)) {
  try {
    // The first statement reads the file header: a file that is not an SQLite database fails
    // here, with SQLite's "file is not a database".
    exec("PRAGMA busy_timeout=5000");
    // 16 KiB pages for a new file (an existing one keeps its size): a commit of a page of
    // operations dirties fewer, shallower B-tree pages, which cut applying 1,000 operations from
    // 16.5 ms to 12 ms against 4 KiB.
    exec("PRAGMA page_size=16384");
    exec("PRAGMA journal_mode=WAL");
    // FULL syncs the WAL on every commit, so a committed local edit survives power loss.
    exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=OFF");
    // Pages of operations insert ids, which are random, into the mirror's id index: a commit
    // dirties pages all over it. A larger cache keeps them in memory, and checkpointing every
    // 40 MB of WAL (2,500 pages of 16 KiB) writes a page modified by many commits to the
    // database once.
    exec("PRAGMA cache_size=-16384");
    exec("PRAGMA wal_autocheckpoint=2500");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Connection::Connection(const std::string& path, ProbeOnly) : db_(open_database(path, 0)) {}

Connection::~Connection() {
  cache_.clear();
  if (db_) sqlite3_close(db_);
}

void Connection::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    const int code = sqlite3_errcode(db_);
    const bool busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
    throw Failure{Error(busy ? Code::kUnavailable : Code::kInternalError,
                        std::string(sql).substr(0, 60) + ": " + text)};
  }
}

void Connection::run_cached(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<Statement>(db_, sql)).first;
  Statement& statement = *it->second;
  // Reset at once, done or failed: such a statement holds no snapshot, so it is never in in_use_.
  struct ResetAfter {
    Statement& statement;
    ~ResetAfter() { statement.reset(); }
  } reset_after{statement};
  statement.run();
}

Statement& Connection::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<Statement>(db_, sql)).first;
  Statement& statement = *it->second;
  statement.reset();
  // Only the statements used since the last reset_statements() can hold a snapshot: a
  // transaction resets those, not the whole cache (a hundred statements, most of them idle).
  if (!statement.in_use_) {
    statement.in_use_ = true;
    in_use_.push_back(&statement);
  }
  return statement;
}

void Connection::reset_statements() {
  for (Statement* statement : in_use_) {
    statement->reset();
    statement->in_use_ = false;
  }
  in_use_.clear();
}

}  // namespace opsync::client::sql
