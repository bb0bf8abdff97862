// LocalStore's files (store_parts.h): what the device knows of each referenced file, its
// transfer progress, and where its contents live.
#include "objects.h"
#include "store_impl.h"
#include "store_parts.h"

namespace opsync::client::store_parts {
namespace {

int64_t direction_code(TransferDirection direction) {
  return direction == TransferDirection::kUpload ? 0 : 1;
}

int64_t pending_code(FilePending pending) { return static_cast<int64_t>(pending); }
FilePending pending_of(int64_t code) {
  OPSYNC_CHECK_MSG(code >= 0 && code <= 2, "unknown stored file pending state");
  return static_cast<FilePending>(code);
}

}  // namespace

Result<std::vector<FileId>> Files::referenced_files() {
  return impl_.read([&] { return detail::referenced_files(*impl_.db); });
}

Result<std::vector<FileId>> Files::unreferenced_files() {
  return impl_.read([&] { return detail::unreferenced_files(*impl_.db); });
}

Result<std::optional<LocalFile>> Files::file(const FileId& id) {
  return impl_.read([&]() -> std::optional<LocalFile> {
    sql::Statement& s = impl_.db->prepare(
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

BlobStore& Files::blobs() { return *impl_.durable_blobs; }

std::filesystem::path Files::file_path(const FileId& id) const {
  return impl_.dir / kFilesDirName / to_base64url(id);
}

std::filesystem::path Files::partial_file_path(const FileId& id) const {
  return impl_.dir / kFilesDirName / (to_base64url(id) + ".part");
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

Status Files::set_local_copy(const FileId& id, bool present) {
  return impl_.write("set_local_copy", [&]() -> Result<Done> {
    known_file_chunk_count(*impl_.db, id);
    impl_.db->prepare("UPDATE files SET local_copy = ? WHERE id = ?")
        .bind(1, int64_t{present})
        .bind(2, id)
        .run();
    clear_progress(*impl_.db, id, TransferDirection::kDownload);
    return Done{};
  });
}

Status Files::set_upload_flag(const FileId& id, bool committed) {
  return impl_.write("set_upload_flag", [&]() -> Result<Done> {
    known_file_chunk_count(*impl_.db, id);
    impl_.db->prepare("UPDATE files SET upload_flag = ? WHERE id = ?")
        .bind(1, int64_t{committed})
        .bind(2, id)
        .run();
    if (committed) clear_progress(*impl_.db, id, TransferDirection::kUpload);
    return Done{};
  });
}

Status Files::set_unreferenced_since(const FileId& id, std::optional<uint64_t> since_ms) {
  return impl_.write("set_unreferenced_since", [&]() -> Result<Done> {
    known_file_chunk_count(*impl_.db, id);
    sql::Statement& update =
        impl_.db->prepare("UPDATE files SET unreferenced_since_ms = ? WHERE id = ?");
    if (since_ms)
      update.bind(1, static_cast<int64_t>(*since_ms));
    else
      update.bind_null(1);
    update.bind(2, id).run();
    return Done{};
  });
}

Status Files::set_pending(const FileId& id, FilePending pending) {
  return impl_.write("set_pending", [&]() -> Result<Done> {
    known_file_chunk_count(*impl_.db, id);
    impl_.db->prepare("UPDATE files SET pending = ? WHERE id = ?")
        .bind(1, pending_code(pending))
        .bind(2, id)
        .run();
    return Done{};
  });
}

Status Files::record_chunk_done(const FileId& id, TransferDirection direction, uint32_t index) {
  return impl_.write("record_chunk_done", [&]() -> Result<Done> {
    OPSYNC_CHECK_MSG(index < known_file_chunk_count(*impl_.db, id),
                     "a chunk index beyond the file's chunk count");
    impl_.db->prepare("INSERT OR IGNORE INTO file_chunks (file, direction, idx) VALUES (?, ?, ?)")
        .bind(1, id)
        .bind(2, direction_code(direction))
        .bind(3, index)
        .run();
    return Done{};
  });
}

Result<std::vector<uint32_t>> Files::chunks_done(const FileId& id, TransferDirection direction) {
  return impl_.read([&] {
    sql::Statement& s = impl_.db->prepare(
        "SELECT idx FROM file_chunks WHERE file = ? AND direction = ? ORDER BY idx");
    s.bind(1, id).bind(2, direction_code(direction));
    std::vector<uint32_t> out;
    while (s.step()) out.push_back(s.u32(0));
    return out;
  });
}

Status Files::clear_chunk_progress(const FileId& id, TransferDirection direction) {
  return impl_.write("clear_chunk_progress", [&]() -> Result<Done> {
    clear_progress(*impl_.db, id, direction);
    return Done{};
  });
}

Status Files::forget_file(const FileId& id) {
  return impl_.write("forget_file", [&]() -> Result<Done> {
    if (detail::is_file_referenced(*impl_.db, id))
      return Error(Code::kInvalidField, "file_id",
                   "a head still references " + to_base64url(id) + "; it cannot be forgotten");
    impl_.db->prepare("DELETE FROM file_chunks WHERE file = ?").bind(1, id).run();
    impl_.db->prepare("DELETE FROM files WHERE id = ?").bind(1, id).run();
    return Done{};
  });
}

}  // namespace opsync::client::store_parts
