// The revocation journal of the SQLite backend (AUTH-030): an append-only text file beside the
// database, one line per revocation, written and flushed before the revocation commits.
//
// Backups copy the database (sqlite3 ".backup", or opsync.db while the server is stopped), never
// this file, so restoring a backup rolls the data back and leaves the journal as it is; the core
// applies the journal to the restored data before it serves. A line is
//   opsync-revocation/1 WORKSPACE_ID TOKEN_ID REVOKED_AT_MS
// (ids in base64url). A file that does not parse is refused when the storage opens, naming the
// line: a server never starts with revocations it cannot read.
//
// Thread safety: append() may be called from several threads; it serializes itself.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "opsync/protocol/result.h"
#include "opsync/server/storage.h"

namespace opsync::server {

class RevocationJournal {
 public:
  // Reads the journal at `path` (missing: empty). `flush_to_disk`: fsync every append.
  static Result<RevocationJournal> open(std::string path, bool flush_to_disk);

  Status append(const Revocation& revocation);
  std::vector<Revocation> entries() const;

  // One line's text, and its parse (exposed for tests).
  static std::string format(const Revocation& revocation);
  static Result<Revocation> parse(std::string_view line);

  RevocationJournal(RevocationJournal&& other) noexcept;

 private:
  RevocationJournal(std::string path, bool flush_to_disk, std::vector<Revocation> entries);

  std::string path_;
  bool flush_to_disk_ = true;
  mutable std::mutex mutex_;
  std::vector<Revocation> entries_;
};

}  // namespace opsync::server
