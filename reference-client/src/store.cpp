// LocalStore: opening and migrating the file, and the public interface, each call delegated to
// the part that serves its concern (store_parts.h): meta and key records (store_meta.cpp), the
// log's mirror and outbox (log.cpp), the objects (store_objects.cpp) and the files
// (store_files.cpp).
//
// Fault points (StoreOptions::fault_point), in the order a transaction reaches them:
//   local_edit:after_outbox     the edit's operation is in the outbox, its object not yet applied
//   apply:after_object_row      an operation's row exists, its bases and files not yet recorded
//   local_edit:after_objects    the edit's objects are applied, its attached files not recorded
//   page:after_mirror           a page operation is in the mirror, its object not yet applied
//   page:after_operation        one operation of a page is complete, the next not yet started
//   upload:after_results        an upload answer's states are recorded, acknowledgements not moved
#include "opsync/client/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include "opsync/protocol/limits.h"
#include "store_impl.h"

namespace opsync::client {
namespace {

constexpr const char* kStateFileName = "state.sqlite3";
constexpr const char* kLockFileName = "lock";

// Schema migrations: entry i takes the store from version i to i + 1. Append only; never edit a
// published entry (devices have already run it).
constexpr const char* kMigrations[] = {
    R"sql(
-- One row: what the store is bound to, and the small state a sync reads first.
CREATE TABLE device (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  server_url TEXT NOT NULL,
  workspace_id BLOB NOT NULL,
  device_id BLOB NOT NULL,
  block_size INTEGER NOT NULL,
  token TEXT NOT NULL,
  hlc_wall_ms INTEGER NOT NULL,
  hlc_counter INTEGER NOT NULL,
  clock_offset_ms INTEGER NOT NULL,
  last_sync_ms INTEGER
);
-- Wrapped data keys as the server lists them (spec 5.2). Never a plaintext key.
CREATE TABLE key_records (
  key_id INTEGER PRIMARY KEY,
  version INTEGER NOT NULL,
  algorithm TEXT NOT NULL,
  iterations INTEGER NOT NULL,
  wrapped_key BLOB NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
-- The server's log as read: positions 1..m, dense (seq is the rowid, so ranges are cheap).
CREATE TABLE mirror (
  seq INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  hash BLOB NOT NULL,
  prefix_hash BLOB NOT NULL,
  wall_ms INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  encoding BLOB NOT NULL
);
-- Operations held without a position: the outbox (place 1) and the candidates (place 2), the
-- values of protocol Held. state: 0 to upload, 1 accepted at accepted_seq beyond the mirror,
-- 2 rejected (SYNC-011). rank orders them oldest first.
CREATE TABLE pending (
  rank INTEGER PRIMARY KEY AUTOINCREMENT,
  id BLOB NOT NULL UNIQUE,
  place INTEGER NOT NULL,
  state INTEGER NOT NULL,
  accepted_seq INTEGER,
  rejected_code TEXT,
  rejected_message TEXT,
  hash BLOB NOT NULL,
  wall_ms INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  encoding BLOB NOT NULL
);
CREATE INDEX pending_by_accepted_seq ON pending (accepted_seq) WHERE accepted_seq IS NOT NULL;
-- Held operations that could not be read (VER-007): in the log, not in the objects.
CREATE TABLE unreadable (
  id BLOB PRIMARY KEY,
  key_id INTEGER NOT NULL
) WITHOUT ROWID;
-- Every applied object operation (spec 10); is_head caches "no operation of this key names me
-- in bases".
CREATE TABLE object_ops (
  id BLOB NOT NULL UNIQUE,
  object_key TEXT NOT NULL,
  wall_ms INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  type INTEGER NOT NULL,
  is_head INTEGER NOT NULL,
  value BLOB NOT NULL
);
CREATE INDEX object_heads ON object_ops (object_key, wall_ms DESC, counter DESC, id DESC)
  WHERE is_head = 1;
-- op names base in its bases; recorded under op's key, since supersession is within a key.
CREATE TABLE object_bases (
  object_key TEXT NOT NULL,
  base BLOB NOT NULL,
  op BLOB NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (object_key, base, op)
) WITHOUT ROWID;
CREATE INDEX object_bases_by_op ON object_bases (op, position);
CREATE TABLE object_files (
  op BLOB NOT NULL,
  position INTEGER NOT NULL,
  file BLOB NOT NULL,
  name TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  chunk_bytes INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  PRIMARY KEY (op, position)
) WITHOUT ROWID;
CREATE INDEX object_files_by_file ON object_files (file);
-- Per key with at least one head: how many, and whether the winner is a put.
CREATE TABLE object_keys (
  object_key TEXT PRIMARY KEY,
  head_count INTEGER NOT NULL,
  present INTEGER NOT NULL
) WITHOUT ROWID;
-- Files referenced by held operations (spec 11). pending: 0 none, 1 wait, 2 missing.
CREATE TABLE files (
  id BLOB PRIMARY KEY,
  name TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  chunk_bytes INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  local_copy INTEGER NOT NULL,
  upload_flag INTEGER NOT NULL,
  pending INTEGER NOT NULL
) WITHOUT ROWID;
-- Chunks transferred so far (direction 0 upload, 1 download), so a transfer resumes (FILE-031).
CREATE TABLE file_chunks (
  file BLOB NOT NULL,
  direction INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (file, direction, idx)
) WITHOUT ROWID;
)sql",
    R"sql(
-- Version 2: the object tables are keyed by object key first. Operation ids are random, so an
-- index on them puts every new operation on a random B-tree page, and a 1,000-operation page
-- rewrote hundreds of pages per id index. Every lookup by id knows the key (supersession is
-- within a key), so (object_key, id) serves them all.
--
-- The outbox (place 1) remembers each edit's key so that re-stamping (HLC-020) finds its object
-- row; candidates leave it NULL (they are never re-stamped).
ALTER TABLE pending ADD COLUMN object_key TEXT;
UPDATE pending SET object_key = (SELECT o.object_key FROM object_ops o WHERE o.id = pending.id)
  WHERE place = 1;
CREATE TABLE object_ops_v2 (
  object_key TEXT NOT NULL,
  id BLOB NOT NULL,
  wall_ms INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  type INTEGER NOT NULL,
  is_head INTEGER NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (object_key, id)
) WITHOUT ROWID;
INSERT INTO object_ops_v2 (object_key, id, wall_ms, counter, type, is_head, value)
  SELECT object_key, id, wall_ms, counter, type, is_head, value FROM object_ops;
CREATE TABLE object_files_v2 (
  object_key TEXT NOT NULL,
  op BLOB NOT NULL,
  position INTEGER NOT NULL,
  file BLOB NOT NULL,
  name TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  chunk_bytes INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  PRIMARY KEY (object_key, op, position)
) WITHOUT ROWID;
INSERT INTO object_files_v2
    (object_key, op, position, file, name, size_bytes, chunk_bytes, chunk_count, sha256)
  SELECT o.object_key, f.op, f.position, f.file, f.name, f.size_bytes, f.chunk_bytes,
         f.chunk_count, f.sha256
  FROM object_files f JOIN object_ops o ON o.id = f.op;
DROP TABLE object_ops;
DROP TABLE object_files;
ALTER TABLE object_ops_v2 RENAME TO object_ops;
ALTER TABLE object_files_v2 RENAME TO object_files;
CREATE INDEX object_heads ON object_ops (object_key, wall_ms DESC, counter DESC, id DESC)
  WHERE is_head = 1;
CREATE INDEX object_files_by_file ON object_files (file);
DROP INDEX object_bases_by_op;
CREATE INDEX object_bases_by_op ON object_bases (object_key, op, position);
)sql",
    R"sql(
-- Version 3: the last two costs of a page that grew with the store.
--
-- The mirror's UNIQUE(id) index put each new operation on a random page of a B-tree of 16-byte
-- ids. It is now an index on the id's first 4 bytes, a third of the size, which every lookup by
-- id names as substr(id, 1, 4) and then compares the whole id. Nothing else relied on the
-- constraint: a page's operations are looked up by id before they enter the mirror (SYNC-003),
-- and an id held twice ends the sync.
--
-- object_keys was a per-key summary refreshed after every applied operation. Listing keys and
-- conflicts now reads the heads themselves through the object_heads index.
CREATE TABLE mirror_v3 (
  seq INTEGER PRIMARY KEY,
  id BLOB NOT NULL,
  hash BLOB NOT NULL,
  prefix_hash BLOB NOT NULL,
  wall_ms INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  encoding BLOB NOT NULL
);
INSERT INTO mirror_v3 (seq, id, hash, prefix_hash, wall_ms, counter, encoding)
  SELECT seq, id, hash, prefix_hash, wall_ms, counter, encoding FROM mirror ORDER BY seq;
DROP TABLE mirror;
ALTER TABLE mirror_v3 RENAME TO mirror;
CREATE INDEX mirror_by_id_prefix ON mirror (substr(id, 1, 4));
DROP TABLE object_keys;
)sql",
    R"sql(
-- Version 4: a file no head references any more keeps its verified copy for the server's
-- retention time after its DELETE (FILE-040): the moment the DELETE was answered, on the server's
-- clock as the answer reports it; NULL while referenced or before that DELETE.
ALTER TABLE files ADD COLUMN unreferenced_since_ms INTEGER;
)sql",
    R"sql(
-- Version 5: the mirror's id index in two tiers (src/mirror_ids.h). mirror_by_id_prefix took
-- each new operation to a random leaf: at a million operations a page of 1,000 rewrote most of
-- the index. The settled tier holds the same entries in their own table, sorted by prefix;
-- the recent tier holds the newest positions' ids in position order until they are settled
-- into it in one sorted pass. Every position of a migrated mirror is settled.
CREATE TABLE mirror_ids (
  id_prefix BLOB NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (id_prefix, seq)
) WITHOUT ROWID;
INSERT INTO mirror_ids (id_prefix, seq) SELECT substr(id, 1, 4), seq FROM mirror ORDER BY 1, 2;
DROP INDEX mirror_by_id_prefix;
-- The ids at first_seq, first_seq + 1, ...: 16 bytes each, one row per commit that appended.
CREATE TABLE mirror_recent_ids (
  first_seq INTEGER PRIMARY KEY,
  ids BLOB NOT NULL
);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// Prefixes an error with the store file it concerns.
Error about_file(const std::filesystem::path& file, const Error& error) {
  return Error(error.code, "cannot open the client store " + file.string() + ": " + error.message);
}

// Takes the directory's lock, or explains who holds it.
Result<int> lock_directory(const std::filesystem::path& dir) {
  const std::string lock_path = (dir / kLockFileName).string();
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error(Code::kInternalError, "cannot open " + lock_path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Error(Code::kUnavailable,
                 "another process is using the client store in " + dir.string());
  }
  return fd;
}

// Brings the schema to kSchemaVersion, or refuses a store written by a newer build.
void migrate(sql::Connection& db, const std::filesystem::path& file) {
  sql::Statement& version = db.prepare("PRAGMA user_version");
  OPSYNC_CHECK(version.step());
  const int64_t found = version.i64(0);
  version.reset();
  if (found > kSchemaVersion || found < 0)
    throw sql::Failure{Error(Code::kUnsupportedFormat,
                             file.string() + " has schema version " + std::to_string(found) +
                                 "; this build knows versions up to " +
                                 std::to_string(kSchemaVersion) + " (upgrade the client)")};
  for (int64_t v = found; v < kSchemaVersion; ++v) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(kMigrations[v]);
      db.exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
      db.exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db.db(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

std::optional<WorkspaceBinding> read_binding(sql::Connection& db) {
  sql::Statement& s = db.prepare(
      "SELECT server_url, workspace_id, device_id, block_size FROM device WHERE singleton = 1");
  if (!s.step()) return std::nullopt;
  WorkspaceBinding binding{s.text(0), s.fixed<16>(1), s.fixed<16>(2), s.u32(3)};
  s.reset();
  return binding;
}

// The store's blobs as its users see them: every change is a durable step, reported like a commit.
class DurableBlobs final : public BlobStore {
 public:
  DurableBlobs(std::shared_ptr<BlobStore> inner, const LocalStore::Impl& impl)
      : inner_(std::move(inner)), impl_(impl) {}

  std::optional<Bytes> read(const FileId& id, BlobKind kind, uint64_t offset,
                            uint64_t size) override {
    return inner_->read(id, kind, offset, size);
  }
  Status write(const FileId& id, BlobKind kind, uint64_t offset, ByteView bytes) override {
    return reported("blob_write", inner_->write(id, kind, offset, bytes));
  }
  Status resize(const FileId& id, BlobKind kind, uint64_t size) override {
    return reported("blob_resize", inner_->resize(id, kind, size));
  }
  Status promote(const FileId& id) override {
    return reported("blob_promote", inner_->promote(id));
  }
  Status remove(const FileId& id, BlobKind kind) override {
    return reported("blob_remove", inner_->remove(id, kind));
  }
  bool exists(const FileId& id, BlobKind kind) override { return inner_->exists(id, kind); }
  std::optional<uint64_t> size(const FileId& id, BlobKind kind) override {
    return inner_->size(id, kind);
  }
  std::vector<FileId> list(BlobKind kind) override { return inner_->list(kind); }

 private:
  Status reported(const char* step, Status status) {
    if (status.ok()) impl_.durable(step);
    return status;
  }
  std::shared_ptr<BlobStore> inner_;
  const LocalStore::Impl& impl_;
};

enum class Mode : uint8_t { kCreate, kOpen };

Result<std::unique_ptr<LocalStore::Impl>> open_impl(const std::filesystem::path& dir,
                                                    StoreOptions options, Mode mode,
                                                    const WorkspaceBinding* binding,
                                                    std::string_view token) {
  const std::filesystem::path file = options.database_uri.empty()
                                         ? dir / kStateFileName
                                         : std::filesystem::path(options.database_uri);
  std::error_code ec;
  if (mode == Mode::kCreate) {
    std::filesystem::create_directories(dir / kFilesDirName, ec);
    if (ec)
      return Error(Code::kInternalError, "cannot create " + dir.string() + ": " + ec.message());
  } else if (!store_exists(dir, options)) {
    // Opening must not create an empty store where the user expected one.
    return Error(Code::kInvalidField, "no client store in " + dir.string() + " (no " +
                                          std::string(kStateFileName) + ")");
  }

  auto impl = std::make_unique<LocalStore::Impl>();
  impl->dir = dir;
  impl->options = std::move(options);
  std::shared_ptr<BlobStore> blobs = impl->options.blobs;
  if (!blobs) blobs = std::make_shared<DirectoryBlobStore>(dir / kFilesDirName);
  impl->durable_blobs = std::make_unique<DurableBlobs>(std::move(blobs), *impl);
  Result<int> lock = lock_directory(dir);
  if (!lock.ok()) return lock.error();
  impl->lock_fd = *lock;

  try {
    impl->db = std::make_unique<sql::Connection>(file.string(),
                                                 impl->options.durability == Durability::kFull);
    migrate(*impl->db, file);
    std::optional<WorkspaceBinding> stored = read_binding(*impl->db);
    if (mode == Mode::kOpen) {
      if (!stored)
        return Error(Code::kInvalidField, file.string() + " was never bound to a workspace");
      impl->binding = *stored;
    } else {
      if (stored)
        return Error(Code::kInvalidField, dir.string() +
                                              " already holds a client store (workspace " +
                                              to_base64url(stored->workspace_id) + ")");
      impl->db
          ->prepare(
              "INSERT INTO device (singleton, server_url, workspace_id, device_id, block_size, "
              "token, hlc_wall_ms, hlc_counter, clock_offset_ms, last_sync_ms) "
              "VALUES (1, ?, ?, ?, ?, ?, 0, 0, 0, NULL)")
          .bind(1, std::string_view(binding->server_url))
          .bind(2, binding->workspace_id)
          .bind(3, binding->device_id)
          .bind(4, binding->block_size)
          .bind(5, token)
          .run();
      impl->binding = *binding;
    }
    std::filesystem::create_directories(dir / kFilesDirName, ec);
    if (ec) return Error(Code::kInternalError, "cannot create " + (dir / kFilesDirName).string());
  } catch (const sql::Failure& failure) {
    return about_file(file, failure.error);
  }
  return impl;
}

}  // namespace

bool store_exists(const std::filesystem::path& dir, const StoreOptions& options) {
  std::error_code ec;
  if (options.database_uri.empty()) return std::filesystem::exists(dir / kStateFileName, ec);
  // A database in memory exists once it is bound to a workspace (opening any name gives an empty
  // database; one may also hold the schema and no binding yet).
  try {
    sql::Connection db(options.database_uri, sql::Connection::ProbeOnly{});
    sql::Statement& table =
        db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'device'");
    const bool has_table = table.step() && table.i64(0) > 0;
    table.reset();
    return has_table && read_binding(db).has_value();
  } catch (const sql::Failure&) {
    return false;
  }
}

LocalStore::Impl::~Impl() {
  db.reset();  // closes the connection (and checkpoints the WAL) before the lock is released
  if (lock_fd >= 0) ::close(lock_fd);
}

Hlc LocalStore::Impl::stored_hlc() {
  sql::Statement& s =
      db->prepare("SELECT hlc_wall_ms, hlc_counter FROM device WHERE singleton = 1");
  OPSYNC_CHECK(s.step());
  const Hlc hlc{s.u64(0), s.u32(1)};
  s.reset();
  return hlc;
}

void LocalStore::Impl::save_hlc(const Hlc& hlc) {
  OPSYNC_CHECK_MSG(hlc.wall_ms < kHlcWallMsLimit, "an HLC state beyond 2^48 (HLC-003)");
  db->prepare("UPDATE device SET hlc_wall_ms = ?, hlc_counter = ? WHERE singleton = 1")
      .bind(1, hlc.wall_ms)
      .bind(2, hlc.counter)
      .run();
}

std::span<const char* const> schema_migrations() { return kMigrations; }

LocalStore::LocalStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalStore::~LocalStore() = default;

int LocalStore::schema_version() { return kSchemaVersion; }

Result<std::unique_ptr<LocalStore>> LocalStore::create(const std::filesystem::path& dir,
                                                       const WorkspaceBinding& binding,
                                                       std::string_view token,
                                                       StoreOptions options) {
  if (binding.server_url.empty()) return Error(Code::kInvalidField, "server_url", "is empty");
  if (binding.block_size < kBlockSizeMin || binding.block_size > kBlockSizeMax)
    return Error(
        Code::kInvalidField, "block_size",
        "must be from " + std::to_string(kBlockSizeMin) + " to " + std::to_string(kBlockSizeMax));
  Result<std::unique_ptr<Impl>> impl =
      open_impl(dir, std::move(options), Mode::kCreate, &binding, token);
  if (!impl.ok()) return impl.error();
  return std::unique_ptr<LocalStore>(new LocalStore(std::move(*impl)));
}

Result<std::unique_ptr<LocalStore>> LocalStore::open(const std::filesystem::path& dir,
                                                     StoreOptions options) {
  Result<std::unique_ptr<Impl>> impl = open_impl(dir, std::move(options), Mode::kOpen, nullptr, "");
  if (!impl.ok()) return impl.error();
  return std::unique_ptr<LocalStore>(new LocalStore(std::move(*impl)));
}

const std::filesystem::path& LocalStore::dir() const { return impl_->dir; }
const WorkspaceBinding& LocalStore::binding() const { return impl_->binding; }

// ---- the facade: each call goes to the part that serves its concern (store_parts.h) -----------

Result<SyncMeta> LocalStore::meta() { return impl_->meta.meta(); }
Status LocalStore::set_token(std::string_view token) { return impl_->meta.set_token(token); }
Status LocalStore::set_clock_offset_ms(int64_t offset_ms) {
  return impl_->meta.set_clock_offset_ms(offset_ms);
}
Status LocalStore::save_hlc(const Hlc& hlc) { return impl_->meta.save_hlc(hlc); }
Status LocalStore::record_sync_success(uint64_t now_ms) {
  return impl_->meta.record_sync_success(now_ms);
}
Status LocalStore::put_key_records(std::span<const KeyRecord> records) {
  return impl_->meta.put_key_records(records);
}
Result<std::vector<KeyRecord>> LocalStore::key_records() { return impl_->meta.key_records(); }

Status LocalStore::commit_local_edit(const LocalEdit& edit) {
  return impl_->outbox.commit_local_edit(edit);
}

Result<PageOutcome> LocalStore::apply_page(uint64_t after_seq, std::span<const PageOp> page,
                                           uint64_t head_seq, const Hlc& clock_after) {
  return impl_->mirror.apply_page(after_seq, page, head_seq, clock_after);
}
Status LocalStore::truncate_mirror(uint64_t verified_prefix) {
  return impl_->mirror.truncate_mirror(verified_prefix);
}

Result<std::vector<PendingOp>> LocalStore::ops_to_upload(size_t limit) {
  return impl_->outbox.ops_to_upload(limit);
}
Result<UploadOutcome> LocalStore::record_upload_results(std::span<const OpResult> results) {
  return impl_->outbox.record_upload_results(results);
}
Status LocalStore::restamp_outbox_op(const WireOp& restamped, const Hlc& clock_after) {
  return impl_->outbox.restamp_outbox_ops(std::span(&restamped, 1), clock_after);
}
Status LocalStore::restamp_outbox_ops(std::span<const WireOp> restamped, const Hlc& clock_after) {
  return impl_->outbox.restamp_outbox_ops(restamped, clock_after);
}
Result<Hlc> LocalStore::largest_accepted_hlc() { return impl_->outbox.largest_accepted_hlc(); }
Result<std::vector<RejectedOp>> LocalStore::rejected_ops() { return impl_->outbox.rejected_ops(); }
Result<std::vector<UnreadableOp>> LocalStore::unreadable_ops() {
  return impl_->mirror.unreadable_ops();
}
Result<uint64_t> LocalStore::pending_count() { return impl_->outbox.pending_count(); }

Result<uint64_t> LocalStore::mirror_size() { return impl_->mirror.mirror_size(); }
Result<Hash> LocalStore::prefix_hash(uint64_t s) { return impl_->mirror.prefix_hash(s); }
Result<std::vector<Hash>> LocalStore::block_hashes(uint32_t block_size) {
  return impl_->mirror.block_hashes(block_size);
}
Result<std::optional<SequencedOp>> LocalStore::mirror_op(uint64_t seq) {
  return impl_->mirror.mirror_op(seq);
}
Result<OpLocation> LocalStore::lookup(const OpId& id) { return impl_->mirror.lookup(id); }

Result<ObjectView> LocalStore::get(const std::string& key) { return impl_->objects.get(key); }
Result<std::vector<std::string>> LocalStore::list() { return impl_->objects.list(); }
Result<std::vector<std::string>> LocalStore::keys_with_heads() {
  return impl_->objects.keys_with_heads();
}
Result<std::vector<OpId>> LocalStore::bases_for_write(const std::string& key) {
  return impl_->objects.bases_for_write(key);
}
Result<std::vector<std::string>> LocalStore::conflicted_keys() {
  return impl_->objects.conflicted_keys();
}

Result<std::vector<FileId>> LocalStore::referenced_files() {
  return impl_->files.referenced_files();
}
Result<std::vector<FileId>> LocalStore::unreferenced_files() {
  return impl_->files.unreferenced_files();
}
Result<std::optional<LocalFile>> LocalStore::file(const FileId& id) {
  return impl_->files.file(id);
}
BlobStore& LocalStore::blobs() { return impl_->files.blobs(); }
std::filesystem::path LocalStore::file_path(const FileId& id) const {
  return impl_->files.file_path(id);
}
std::filesystem::path LocalStore::partial_file_path(const FileId& id) const {
  return impl_->files.partial_file_path(id);
}
Status LocalStore::set_local_copy(const FileId& id, bool present) {
  return impl_->files.set_local_copy(id, present);
}
Status LocalStore::set_upload_flag(const FileId& id, bool committed) {
  return impl_->files.set_upload_flag(id, committed);
}
Status LocalStore::set_pending(const FileId& id, FilePending pending) {
  return impl_->files.set_pending(id, pending);
}
Status LocalStore::set_unreferenced_since(const FileId& id, std::optional<uint64_t> since_ms) {
  return impl_->files.set_unreferenced_since(id, since_ms);
}
Status LocalStore::record_chunk_done(const FileId& id, TransferDirection direction,
                                     uint32_t index) {
  return impl_->files.record_chunk_done(id, direction, index);
}
Result<std::vector<uint32_t>> LocalStore::chunks_done(const FileId& id,
                                                      TransferDirection direction) {
  return impl_->files.chunks_done(id, direction);
}
Status LocalStore::clear_chunk_progress(const FileId& id, TransferDirection direction) {
  return impl_->files.clear_chunk_progress(id, direction);
}
Status LocalStore::forget_file(const FileId& id) { return impl_->files.forget_file(id); }

}  // namespace opsync::client
