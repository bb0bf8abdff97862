// The SQLite backend: the reference server's real storage.
//
// One database file in the data directory, in WAL mode with synchronous=FULL, so a transaction
// the server has committed survives a crash of the process or the machine (LOG-008). Writers are
// serialized inside the process before SQLite's own lock, which keeps sequence numbers dense and
// visible in order under any number of concurrent uploaders (LOG-010, LOG-011); readers run in
// parallel on their own connections. The schema is versioned (PRAGMA user_version) and migrated
// forward on open; a database from a newer version is refused rather than guessed at.
#pragma once

#include <memory>
#include <string>

#include "opsync/protocol/result.h"
#include "opsync/server/storage.h"

namespace opsync::server {

// How commits reach the disk.
enum class Durability : uint8_t {
  // fsync on every commit: an acknowledged upload survives power loss (LOG-008). The default.
  kFull,
  // Commits reach the operating system, not the disk: they survive a crash of the server process
  // (kill -9), not of the machine. Faster; for tests and for operators who accept that risk.
  kProcess,
};

class SqliteStorage final : public Storage {
 public:
  // Opens (creating if needed) DATA_DIR/opsync.db and takes an exclusive lock on DATA_DIR/lock so
  // that two servers never share one database. Reads DATA_DIR/revocations.journal, and fails
  // naming the line when it does not parse.
  static Result<std::unique_ptr<SqliteStorage>> open(const std::string& data_dir,
                                                     Durability durability = Durability::kFull);
  ~SqliteStorage() override;

  Status read(const std::function<void(Transaction&)>& body) override;
  Status write(const std::function<bool(Transaction&)>& body) override;
  // DATA_DIR/revocations.journal: back up opsync.db, never this file (deploy/README.md).
  Status journal_revocation(const Revocation& revocation) override;
  Result<std::vector<Revocation>> journaled_revocations() override;

  // The schema version this build writes.
  static int schema_version();
  // PRAGMA integrity_check; "ok" when the database is sound.
  std::string integrity_check();

  struct Impl;

 private:
  explicit SqliteStorage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsync::server
