// LocalStore's private state and its transaction runner, shared by store.cpp (opening, meta,
// objects, files) and log.cpp (mirror, outbox, candidates).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "opsync/client/store.h"
#include "sqlite.h"

namespace opsync::client {

// The value of a transaction that returns none.
struct Done {};

// The mirror's lookups by operation id. They name the indexed expression substr(id, 1, 4)
// (mirror_by_id_prefix, schema version 3), without which each would scan the whole mirror; the
// mirror suite checks their query plans.
inline constexpr const char* kMirrorRowById =
    "SELECT seq, hash FROM mirror WHERE substr(id, 1, 4) = substr(?1, 1, 4) AND id = ?1";
inline constexpr const char* kUnreadableOps =
    "SELECT u.id, u.key_id, m.seq FROM unreadable u "
    "LEFT JOIN mirror m ON substr(m.id, 1, 4) = substr(u.id, 1, 4) AND m.id = u.id "
    "ORDER BY m.seq IS NULL, m.seq, u.id";

struct LocalStore::Impl {
  std::filesystem::path dir;
  StoreOptions options;
  int lock_fd = -1;
  std::unique_ptr<sql::Connection> db;
  WorkspaceBinding binding;  // immutable once bound, so kept in memory

  ~Impl();

  void fault(std::string_view point) const {
    if (options.fault_point) options.fault_point(point);
  }

  // Runs `body` (returning Result<T>) in one transaction: BEGIN IMMEDIATE for writes (the write
  // lock is taken up front, so a commit never fails on a lock another writer took after our
  // reads), deferred BEGIN for reads (one consistent snapshot across several queries). Commits
  // when the body returns a value; rolls back when it returns an Error, when SQLite fails, or when
  // anything throws (the exception then propagates, after the rollback).
  template <typename T, typename Body>
  Result<T> transact(bool write, Body&& body) {
    try {
      db->exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
    } catch (const sql::Failure& failure) {
      return failure.error;
    }
    try {
      Result<T> result = body();
      // A statement left mid-result would keep its read snapshot open past COMMIT.
      db->reset_statements();
      db->exec(result.ok() ? "COMMIT" : "ROLLBACK");
      return result;
    } catch (const sql::Failure& failure) {
      roll_back();
      return failure.error;
    } catch (...) {
      roll_back();
      throw;
    }
  }

  template <typename Body>
  Status write(Body&& body) {
    Result<Done> result = transact<Done>(true, std::forward<Body>(body));
    if (!result.ok()) return result.error();
    return {};
  }

  // A read of one value: the body returns the value itself.
  template <typename Body>
  auto read(Body&& body) -> Result<std::invoke_result_t<Body>> {
    using T = std::invoke_result_t<Body>;
    return transact<T>(false, [&]() -> Result<T> { return body(); });
  }

  void roll_back() {
    db->reset_statements();
    // After a failed COMMIT SQLite may already have rolled back; a second ROLLBACK then fails
    // harmlessly, so its result is ignored.
    sqlite3_exec(db->db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }

  // The stored clock state.
  Hlc stored_hlc();
  void save_hlc(const Hlc& hlc);
};

}  // namespace opsync::client
