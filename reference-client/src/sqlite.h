// A thin SQLite layer for the client store: prepared-statement cache, typed binds and reads,
// failures as exceptions that never leave the store (LocalStore turns them into Status values).
//
// The same shape as the reference server's SQLite backend, which keeps its helpers private to its
// own translation unit.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/result.h"

namespace opsync::client::sql {

// Thrown by the primitives inside a transaction; caught by the transaction runner, which rolls
// back and returns the Error. Never escapes the store.
struct Failure {
  Error error;
};

[[noreturn]] void fail(sqlite3* db, const std::string& what);

class Statement {
 public:
  Statement(sqlite3* db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t v);
  Statement& bind(int i, uint64_t v);
  Statement& bind(int i, uint32_t v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, ByteView v);
  template <size_t N>
  Statement& bind(int i, const FixedBytes<N>& v) {
    return bind(i, v.view());
  }
  Statement& bind(int i, std::string_view v);
  Statement& bind_null(int i);

  // Advances; true while a row is available.
  bool step();
  // Runs a statement that returns no rows.
  void run();

  int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  uint64_t u64(int col) const;
  uint32_t u32(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  Bytes blob(int col) const;
  template <size_t N>
  FixedBytes<N> fixed(int col) const {
    FixedBytes<N> out;
    copy_fixed(col, out.bytes.data(), N);
    return out;
  }
  std::string text(int col) const;

  void reset();

 private:
  friend class Connection;
  void copy_fixed(int col, uint8_t* out, size_t size) const;
  void check(int rc);

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool in_use_ = false;  // prepared since the connection last reset its statements
};

class Connection {
 public:
  // Opens (creating) `path` read-write; a path starting with "file:" is an SQLite URI.
  // `full_sync`: synchronous=FULL, else NORMAL.
  Connection(const std::string& path, bool full_sync);
  // Opens `path` only to read it (whether a store is there), without the store's settings: no
  // journal mode, cache or sync level, which a connection closed a moment later never uses.
  struct ProbeOnly {};
  Connection(const std::string& path, ProbeOnly);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void exec(const char* sql);

  // Runs a statement without parameters or rows (BEGIN, COMMIT, ROLLBACK) from the cache: a
  // store runs one or two transactions per call, and parsing their control statements each time
  // was a tenth of a simulated device's CPU. `sql` is a string literal, as for prepare().
  void run_cached(const char* sql);

  // A prepared statement for `sql`, reset and ready to bind. Cached per connection, keyed by the
  // SQL text's address: every caller passes a string literal.
  Statement& prepare(const char* sql);

  // Resets every cached statement, so that none holds a read snapshot past the transaction.
  void reset_statements();

  // Rows changed by the last INSERT, UPDATE or DELETE.
  int changes() const { return sqlite3_changes(db_); }
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::map<const char*, std::unique_ptr<Statement>> cache_;
  std::vector<Statement*> in_use_;  // at most one entry per cached statement
};

}  // namespace opsync::client::sql
