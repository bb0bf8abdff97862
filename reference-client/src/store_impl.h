// LocalStore's private state and its transaction runner, shared by store.cpp (opening, and the
// facade delegating to the parts) and the parts of store_parts.h: store_meta.cpp, log.cpp
// (mirror, outbox, candidates), store_objects.cpp and store_files.cpp.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "mirror_ids.h"
#include "opsync/client/store.h"
#include "sqlite.h"
#include "store_parts.h"

namespace opsync::client {

// Where the default blob store keeps file contents, under the store's directory.
inline constexpr const char* kFilesDirName = "files";

// The value of a transaction that returns none.
struct Done {};

// The schema's migrations, for the migration tests: entry i takes a store from version i to i + 1.
std::span<const char* const> schema_migrations();

struct LocalStore::Impl {
  std::filesystem::path dir;
  StoreOptions options;
  int lock_fd = -1;
  std::unique_ptr<sql::Connection> db;
  WorkspaceBinding binding;  // immutable once bound, so kept in memory
  std::unique_ptr<BlobStore>
      durable_blobs;  // options.blobs (or DIR/files), reporting durable steps
  // The mirror's id index as of the open transaction: loaded on first use, written before each
  // commit, discarded on every rollback (the next use reads it again from what was committed).
  std::optional<detail::MirrorIds> mirror_ids;

  // The concerns the public interface delegates to (store_parts.h).
  store_parts::Meta meta{*this};
  store_parts::Mirror mirror{*this};
  store_parts::Outbox outbox{*this};
  store_parts::Objects objects{*this};
  store_parts::Files files{*this};

  ~Impl();

  void fault(std::string_view point) const {
    if (options.fault_point) options.fault_point(point);
  }
  // A step is durable: StoreOptions::after_durable_step may end the process here.
  void durable(std::string_view step) const {
    if (options.after_durable_step) options.after_durable_step(step);
  }

  // Runs `body` (returning Result<T>) in one transaction: BEGIN IMMEDIATE for writes (the write
  // lock is taken up front, so a commit never fails on a lock another writer took after our
  // reads), deferred BEGIN for reads (one consistent snapshot across several queries). Commits
  // when the body returns a value; rolls back when it returns an Error, when SQLite fails, or when
  // anything throws (the exception then propagates, after the rollback). `durable_step` names a
  // write transaction, reported once it has committed; nullptr makes a read transaction.
  template <typename T, typename Body>
  Result<T> transact(const char* durable_step, Body&& body) {
    const bool write = durable_step != nullptr;
    try {
      db->run_cached(write ? "BEGIN IMMEDIATE" : "BEGIN");
    } catch (const sql::Failure& failure) {
      return failure.error;
    }
    std::optional<Result<T>> result;
    try {
      result.emplace(body());
      if (write && result->ok() && mirror_ids) mirror_ids->flush(*db);
      // A statement left mid-result would keep its read snapshot open past COMMIT.
      db->reset_statements();
      if (result->ok()) {
        db->run_cached("COMMIT");
      } else {
        mirror_ids.reset();
        db->run_cached("ROLLBACK");
      }
    } catch (const sql::Failure& failure) {
      roll_back();
      return failure.error;
    } catch (...) {
      roll_back();
      throw;
    }
    // Outside the try: the transaction is over, and an exception from the hook must not look like
    // a failure to roll back.
    if (write && result->ok()) durable(durable_step);
    return std::move(*result);
  }

  template <typename Body>
  Status write(const char* durable_step, Body&& body) {
    OPSYNC_CHECK(durable_step != nullptr);
    Result<Done> result = transact<Done>(durable_step, std::forward<Body>(body));
    if (!result.ok()) return result.error();
    return {};
  }

  // A read of one value: the body returns the value itself.
  template <typename Body>
  auto read(Body&& body) -> Result<std::invoke_result_t<Body>> {
    using T = std::invoke_result_t<Body>;
    return transact<T>(nullptr, [&]() -> Result<T> { return body(); });
  }

  void roll_back() {
    mirror_ids.reset();
    db->reset_statements();
    // After a failed COMMIT SQLite may already have rolled back; a second ROLLBACK then fails
    // harmlessly, so its result is ignored.
    sqlite3_exec(db->db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }

  // The mirror's id index. REQUIRES: inside a transaction.
  detail::MirrorIds& ids();

  // The stored clock state.
  Hlc stored_hlc();
  void save_hlc(const Hlc& hlc);
};

}  // namespace opsync::client
