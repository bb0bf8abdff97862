// Storage for the reference server: a transaction of small primitive reads and writes.
//
// The protocol logic lives once, in the server core; a backend only stores and retrieves. Every
// request runs inside one transaction (Storage::read or Storage::write), which is atomic and
// isolated: a write transaction either commits all of its changes or none (LOG-007, ERR-003), and
// a read transaction sees one consistent state (LOG-024). Backends: SQLite (the real one, see
// sqlite_storage.h) and memory (for simulation, proven equivalent by a model-based test).
//
// Thread safety: Storage objects are safe to share between threads; a Transaction is used only by
// the thread and the callback it was given to.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/files.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/result.h"

namespace opsync::server {

struct WorkspaceRecord {
  WorkspaceId id;
  uint32_t block_size = 0;
  uint64_t created_at_ms = 0;
  uint64_t head_seq = 0;  // length of the log
  bool operator==(const WorkspaceRecord&) const = default;
};

struct TokenRecord {
  TokenId id;
  WorkspaceId workspace;
  Hash secret_hash;  // SHA-256 of the token; the token itself is never stored (AUTH-011)
  Scope scope = Scope::kRead;
  uint64_t created_at_ms = 0;
  std::optional<uint64_t> expires_at_ms;
  std::optional<uint64_t> revoked_at_ms;
  bool operator==(const TokenRecord&) const = default;
};

// An operation in the log as stored: its position, hash and canonical encoding.
struct StoredOp {
  uint64_t seq = 0;
  Hash hash;
  Bytes encoding;
  bool operator==(const StoredOp&) const = default;
};

struct LoggedOp {
  uint64_t seq = 0;
  Hash hash;
};

struct FileRecord {
  FileId id;
  FileState state = FileState::kUploading;
  uint32_t chunk_count = 0;
  uint64_t updated_at_ms = 0;  // creation, last chunk upload, commit or delete
  uint64_t deleted_at_ms = 0;  // meaningful when state is kDeleted
  bool operator==(const FileRecord&) const = default;
};

struct FileKey {
  WorkspaceId workspace;
  FileId file;
};

// A token revocation as the server journals it (AUTH-030).
struct Revocation {
  WorkspaceId workspace;
  TokenId token;
  uint64_t revoked_at_ms = 0;
  bool operator==(const Revocation&) const = default;
};

class Transaction {
 public:
  virtual ~Transaction() = default;

  // Workspaces. Deleting removes everything the workspace owns.
  virtual std::optional<WorkspaceRecord> workspace(const WorkspaceId& id) = 0;
  virtual void insert_workspace(const WorkspaceRecord& record) = 0;
  virtual void set_head_seq(const WorkspaceId& id, uint64_t head_seq) = 0;
  virtual void delete_workspace(const WorkspaceId& id) = 0;

  // Tokens.
  virtual std::optional<TokenRecord> token_by_secret_hash(const Hash& secret_hash) = 0;
  virtual std::optional<TokenRecord> token(const WorkspaceId& workspace, const TokenId& id) = 0;
  virtual void put_token(const TokenRecord& record) = 0;  // insert or replace
  // Tokens with an id above `after` (all when nullopt), ascending by id, at most `limit`.
  virtual std::vector<TokenRecord> tokens_after(const WorkspaceId& workspace,
                                                const std::optional<TokenId>& after,
                                                size_t limit) = 0;
  // Tokens of the workspace neither revoked nor expired at `now_ms` (for LIM-021).
  virtual uint64_t live_token_count(const WorkspaceId& workspace, uint64_t now_ms) = 0;

  // Key records.
  virtual std::optional<KeyRecord> key(const WorkspaceId& workspace, uint32_t key_id) = 0;
  virtual void put_key(const WorkspaceId& workspace, const KeyRecord& record) = 0;
  virtual uint64_t key_count(const WorkspaceId& workspace) = 0;
  virtual std::vector<KeyRecord> keys_after(const WorkspaceId& workspace, uint32_t after,
                                            size_t limit) = 0;

  // The log.
  virtual std::optional<LoggedOp> op_by_id(const WorkspaceId& workspace, const OpId& id) = 0;
  // Appends `op` at op.seq unless the log holds `id` already; then returns what it holds and
  // changes nothing. One primitive, so the common case (a new operation) costs one insertion.
  // REQUIRES: op.seq == head_seq + 1 of the workspace (the core assigns it).
  virtual std::optional<LoggedOp> append_op_if_absent(const WorkspaceId& workspace, const OpId& id,
                                                      const StoredOp& op) = 0;
  // Operations after `after_seq` in order: at most `limit`, stopping after the one whose payload
  // bytes bring the total to `payload_bytes_max` or more (LOG-020).
  virtual std::vector<StoredOp> ops_after(const WorkspaceId& workspace, uint64_t after_seq,
                                          size_t limit, uint64_t payload_bytes_max) = 0;
  // Hashes of the operations at first_seq..last_seq inclusive.
  virtual std::vector<Hash> op_hashes(const WorkspaceId& workspace, uint64_t first_seq,
                                      uint64_t last_seq) = 0;
  virtual void put_block_hash(const WorkspaceId& workspace, uint64_t index, const Hash& hash) = 0;
  virtual std::vector<Hash> block_hashes(const WorkspaceId& workspace, uint64_t start,
                                         size_t limit) = 0;

  // Files and their chunks.
  virtual std::optional<FileRecord> file(const WorkspaceId& workspace, const FileId& id) = 0;
  virtual void put_file(const WorkspaceId& workspace, const FileRecord& record) = 0;
  virtual void delete_file(const WorkspaceId& workspace, const FileId& id) = 0;  // and its chunks
  virtual std::optional<Bytes> chunk(const WorkspaceId& workspace, const FileId& id,
                                     uint32_t index) = 0;
  virtual void put_chunk(const WorkspaceId& workspace, const FileId& id, uint32_t index,
                         ByteView body) = 0;
  // Indices of the chunks present, ascending, and their total size.
  virtual std::vector<uint32_t> chunk_indices(const WorkspaceId& workspace, const FileId& id) = 0;
  virtual uint64_t stored_bytes(const WorkspaceId& workspace, const FileId& id) = 0;
  // Bytes of the chunks stored for the workspace's files that are still uploading (for LIM-022).
  virtual uint64_t uploading_bytes(const WorkspaceId& workspace) = 0;
  // Files due for collection (FILE-011): deleted ones deleted at or before `deleted_before_ms`,
  // uploading ones last touched at or before `idle_before_ms`; at most `limit`.
  virtual std::vector<FileKey> files_to_collect(uint64_t deleted_before_ms, uint64_t idle_before_ms,
                                                size_t limit) = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Runs `body` in a transaction that sees one consistent state and changes nothing.
  virtual Status read(const std::function<void(Transaction&)>& body) = 0;
  // Runs `body` in a write transaction. Commits when body returns true, rolls back when it
  // returns false; either way the caller's result is whatever body left in its captures.
  // Fails (returns kUnavailable or kInternalError) only when the backend itself fails.
  virtual Status write(const std::function<bool(Transaction&)>& body) = 0;

  // AUTH-030: every revocation is also kept where restoring the data from a backup does not roll
  // it back (SQLite: DATA_DIR/revocations.journal, a file the backup procedure leaves out), and
  // the core applies the journal to the data before it serves, so a token revoked after a backup
  // stays revoked when that backup is restored. journal_revocation() is durable when it returns
  // (as durable as the backend's commits); the core calls it before it commits the revocation.
  virtual Status journal_revocation(const Revocation& revocation) = 0;
  virtual Result<std::vector<Revocation>> journaled_revocations() = 0;
};

}  // namespace opsync::server
