// LocalStore: opening and migrating the file, meta, key records, objects and files. The log
// (mirror, outbox, candidates) is in log.cpp.
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

#include "objects.h"
#include "opsync/protocol/limits.h"
#include "store_impl.h"

namespace opsync::client {
namespace {

constexpr const char* kStateFileName = "state.sqlite3";
constexpr const char* kLockFileName = "lock";
constexpr const char* kFilesDirName = "files";

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

int64_t direction_code(TransferDirection direction) {
  return direction == TransferDirection::kUpload ? 0 : 1;
}

int64_t pending_code(FilePending pending) { return static_cast<int64_t>(pending); }
FilePending pending_of(int64_t code) {
  OPSYNC_CHECK_MSG(code >= 0 && code <= 2, "unknown stored file pending state");
  return static_cast<FilePending>(code);
}

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

// ---- meta ---------------------------------------------------------------------------------------

Result<SyncMeta> LocalStore::meta() {
  return impl_->read([&] {
    sql::Statement& s = impl_->db->prepare(
        "SELECT token, hlc_wall_ms, hlc_counter, clock_offset_ms, last_sync_ms FROM device "
        "WHERE singleton = 1");
    OPSYNC_CHECK(s.step());
    SyncMeta meta{s.text(0), Hlc{s.u64(1), s.u32(2)}, s.i64(3),
                  s.is_null(4) ? std::nullopt : std::optional(s.u64(4))};
    return meta;
  });
}

Status LocalStore::set_token(std::string_view token) {
  return impl_->write("set_token", [&]() -> Result<Done> {
    impl_->db->prepare("UPDATE device SET token = ? WHERE singleton = 1").bind(1, token).run();
    return Done{};
  });
}

Status LocalStore::set_clock_offset_ms(int64_t offset_ms) {
  return impl_->write("set_clock_offset_ms", [&]() -> Result<Done> {
    impl_->db->prepare("UPDATE device SET clock_offset_ms = ? WHERE singleton = 1")
        .bind(1, offset_ms)
        .run();
    return Done{};
  });
}

Status LocalStore::save_hlc(const Hlc& hlc) {
  return impl_->write("save_hlc", [&]() -> Result<Done> {
    OPSYNC_CHECK_MSG(hlc >= impl_->stored_hlc(), "the HLC state went backwards (HLC-004)");
    impl_->save_hlc(hlc);
    return Done{};
  });
}

Status LocalStore::record_sync_success(uint64_t now_ms) {
  return impl_->write("record_sync_success", [&]() -> Result<Done> {
    impl_->db->prepare("UPDATE device SET last_sync_ms = ? WHERE singleton = 1")
        .bind(1, now_ms)
        .run();
    return Done{};
  });
}

Status LocalStore::put_key_records(std::span<const KeyRecord> records) {
  return impl_->write("put_key_records", [&]() -> Result<Done> {
    for (const KeyRecord& record : records)
      impl_->db
          ->prepare(
              "INSERT OR REPLACE INTO key_records "
              "(key_id, version, algorithm, iterations, wrapped_key, updated_at_ms) "
              "VALUES (?, ?, ?, ?, ?, ?)")
          .bind(1, record.key_id)
          .bind(2, record.version)
          .bind(3, std::string_view(record.kdf.algorithm))
          .bind(4, record.kdf.iterations)
          .bind(5, ByteView(record.wrapped_key))
          .bind(6, record.updated_at_ms)
          .run();
    return Done{};
  });
}

Result<std::vector<KeyRecord>> LocalStore::key_records() {
  return impl_->read([&] {
    sql::Statement& s = impl_->db->prepare(
        "SELECT key_id, version, algorithm, iterations, wrapped_key, updated_at_ms "
        "FROM key_records ORDER BY key_id");
    std::vector<KeyRecord> out;
    while (s.step())
      out.push_back(
          KeyRecord{s.u32(0), s.u64(1), KdfParams{s.text(2), s.u32(3)}, s.blob(4), s.u64(5)});
    return out;
  });
}

// ---- objects ------------------------------------------------------------------------------------

Result<ObjectView> LocalStore::get(const std::string& key) {
  return impl_->read([&] { return detail::object_view(*impl_->db, key); });
}

Result<std::vector<std::string>> LocalStore::list() {
  return impl_->read([&] { return detail::present_keys(*impl_->db); });
}

Result<std::vector<OpId>> LocalStore::bases_for_write(const std::string& key) {
  return impl_->read([&] { return detail::head_ids(*impl_->db, key, kBasesMax); });
}

Result<std::vector<std::string>> LocalStore::keys_with_heads() {
  return impl_->read([&] { return detail::keys_with_heads(*impl_->db); });
}

Result<std::vector<std::string>> LocalStore::conflicted_keys() {
  return impl_->read([&] { return detail::conflicted_keys(*impl_->db); });
}

// ---- files --------------------------------------------------------------------------------------

Result<std::vector<FileId>> LocalStore::referenced_files() {
  return impl_->read([&] { return detail::referenced_files(*impl_->db); });
}

Result<std::vector<FileId>> LocalStore::unreferenced_files() {
  return impl_->read([&] { return detail::unreferenced_files(*impl_->db); });
}

Result<std::optional<LocalFile>> LocalStore::file(const FileId& id) {
  return impl_->read([&]() -> std::optional<LocalFile> {
    sql::Statement& s = impl_->db->prepare(
        "SELECT name, size_bytes, chunk_bytes, chunk_count, sha256, local_copy, upload_flag, "
        "pending, unreferenced_since_ms FROM files WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    LocalFile local{FileRef{id, s.text(0), s.u64(1), s.u32(2), s.u32(3), s.fixed<32>(4)},
                    s.i64(5) != 0, s.i64(6) != 0, pending_of(s.i64(7)), std::nullopt};
    if (!s.is_null(8)) local.unreferenced_since_ms = s.u64(8);
    return local;
  });
}

BlobStore& LocalStore::blobs() { return *impl_->durable_blobs; }

std::filesystem::path LocalStore::file_path(const FileId& id) const {
  return impl_->dir / kFilesDirName / to_base64url(id);
}

std::filesystem::path LocalStore::partial_file_path(const FileId& id) const {
  return impl_->dir / kFilesDirName / (to_base64url(id) + ".part");
}

namespace {

// The file's chunk count. REQUIRES: the file is known.
uint32_t known_file_chunk_count(sql::Connection& db, const FileId& id) {
  sql::Statement& s = db.prepare("SELECT chunk_count FROM files WHERE id = ?");
  s.bind(1, id);
  OPSYNC_CHECK_MSG(s.step(), "a file the store does not know");
  const uint32_t chunk_count = s.u32(0);
  s.reset();
  return chunk_count;
}

void clear_progress(sql::Connection& db, const FileId& id, TransferDirection direction) {
  db.prepare("DELETE FROM file_chunks WHERE file = ? AND direction = ?")
      .bind(1, id)
      .bind(2, direction_code(direction))
      .run();
}

}  // namespace

Status LocalStore::set_local_copy(const FileId& id, bool present) {
  return impl_->write("set_local_copy", [&]() -> Result<Done> {
    known_file_chunk_count(*impl_->db, id);
    impl_->db->prepare("UPDATE files SET local_copy = ? WHERE id = ?")
        .bind(1, int64_t{present})
        .bind(2, id)
        .run();
    clear_progress(*impl_->db, id, TransferDirection::kDownload);
    return Done{};
  });
}

Status LocalStore::set_upload_flag(const FileId& id, bool committed) {
  return impl_->write("set_upload_flag", [&]() -> Result<Done> {
    known_file_chunk_count(*impl_->db, id);
    impl_->db->prepare("UPDATE files SET upload_flag = ? WHERE id = ?")
        .bind(1, int64_t{committed})
        .bind(2, id)
        .run();
    if (committed) clear_progress(*impl_->db, id, TransferDirection::kUpload);
    return Done{};
  });
}

Status LocalStore::set_unreferenced_since(const FileId& id, std::optional<uint64_t> since_ms) {
  return impl_->write("set_unreferenced_since", [&]() -> Result<Done> {
    known_file_chunk_count(*impl_->db, id);
    sql::Statement& update =
        impl_->db->prepare("UPDATE files SET unreferenced_since_ms = ? WHERE id = ?");
    if (since_ms)
      update.bind(1, static_cast<int64_t>(*since_ms));
    else
      update.bind_null(1);
    update.bind(2, id).run();
    return Done{};
  });
}

Status LocalStore::set_pending(const FileId& id, FilePending pending) {
  return impl_->write("set_pending", [&]() -> Result<Done> {
    known_file_chunk_count(*impl_->db, id);
    impl_->db->prepare("UPDATE files SET pending = ? WHERE id = ?")
        .bind(1, pending_code(pending))
        .bind(2, id)
        .run();
    return Done{};
  });
}

Status LocalStore::record_chunk_done(const FileId& id, TransferDirection direction,
                                     uint32_t index) {
  return impl_->write("record_chunk_done", [&]() -> Result<Done> {
    OPSYNC_CHECK_MSG(index < known_file_chunk_count(*impl_->db, id),
                     "a chunk index beyond the file's chunk count");
    impl_->db->prepare("INSERT OR IGNORE INTO file_chunks (file, direction, idx) VALUES (?, ?, ?)")
        .bind(1, id)
        .bind(2, direction_code(direction))
        .bind(3, index)
        .run();
    return Done{};
  });
}

Result<std::vector<uint32_t>> LocalStore::chunks_done(const FileId& id,
                                                      TransferDirection direction) {
  return impl_->read([&] {
    sql::Statement& s = impl_->db->prepare(
        "SELECT idx FROM file_chunks WHERE file = ? AND direction = ? ORDER BY idx");
    s.bind(1, id).bind(2, direction_code(direction));
    std::vector<uint32_t> out;
    while (s.step()) out.push_back(s.u32(0));
    return out;
  });
}

Status LocalStore::clear_chunk_progress(const FileId& id, TransferDirection direction) {
  return impl_->write("clear_chunk_progress", [&]() -> Result<Done> {
    clear_progress(*impl_->db, id, direction);
    return Done{};
  });
}

Status LocalStore::forget_file(const FileId& id) {
  return impl_->write("forget_file", [&]() -> Result<Done> {
    if (detail::is_file_referenced(*impl_->db, id))
      return Error(Code::kInvalidField, "file_id",
                   "a head still references " + to_base64url(id) + "; it cannot be forgotten");
    impl_->db->prepare("DELETE FROM file_chunks WHERE file = ?").bind(1, id).run();
    impl_->db->prepare("DELETE FROM files WHERE id = ?").bind(1, id).run();
    return Done{};
  });
}

}  // namespace opsync::client
