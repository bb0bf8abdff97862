// Files and chunks (spec 11).
#include <set>

#include "defects.h"
#include "endpoints.h"

namespace opsync::server::endpoints {
namespace {

constexpr uint64_t kU32Max = 0xFFFFFFFFu;

FileStatus status_of(Transaction& txn, const WorkspaceId& ws, const FileRecord& file) {
  FileStatus status;
  status.file_id = file.id;
  status.state = file.state;
  status.chunk_count = file.chunk_count;
  if (file.state == FileState::kUploading)
    status.chunks_missing = missing_chunk_ranges(txn.chunk_indices(ws, file.id), file.chunk_count);
  status.stored_bytes = txn.stored_bytes(ws, file.id);
  status.updated_at_ms = file.updated_at_ms;
  return status;
}

Error not_found() {
  return make_error(Code::kFileNotFound, "no such file in this workspace",
                    defect(Defect::kFileNotFoundWithoutField) ? "" : "file_id");
}

Error count_mismatch(uint32_t chunk_count) {
  Error e = make_error(Code::kFileChunkCountMismatch,
                       "the file has " + std::to_string(chunk_count) + " chunks", "chunk_count");
  e.details.chunk_count = chunk_count;
  return e;
}

Error index_out_of_range(uint32_t chunk_count) {
  Error e = make_error(Code::kChunkIndexOutOfRange,
                       "the file has " + std::to_string(chunk_count) + " chunks", "index");
  e.details.chunk_count = chunk_count;
  return e;
}

// Checks the chunk count of a create or commit request against the server's limit.
Status check_chunk_count(const Call& call, uint32_t chunk_count) {
  if (chunk_count > call.config.limits.file_chunks_max)
    return make_error(Code::kInvalidField,
                      "at most " + std::to_string(call.config.limits.file_chunks_max) + " chunks",
                      "chunk_count");
  return {};
}

}  // namespace

Response file_status(const Call& call) {
  Result<FileStatusRequest> body = parse_body<FileStatusRequest>(call);
  if (!body.ok()) return error_response(body.error());
  if (body->file_ids.size() > call.config.limits.file_status_ids_max) {
    Error e = make_error(
        Code::kTooManyIds,
        "at most " + std::to_string(call.config.limits.file_status_ids_max) + " ids", "file_ids");
    e.details.limit = call.config.limits.file_status_ids_max;
    return error_response(e);
  }
  return run_read(call.storage, [&](Transaction& txn) {
    FileStatusResponse answer;
    for (const FileId& id : body->file_ids) {
      std::optional<FileRecord> file = txn.file(call.workspace->id, id);
      const FileState absent =
          defect(Defect::kAbsentFileDeleted) ? FileState::kDeleted : FileState::kAbsent;
      answer.files.push_back(FileStateEntry{id, file ? file->state : absent});
    }
    return json_response(200, answer);
  });
}

Response create_file(const Call& call) {
  Result<CreateFileRequest> body = parse_body<CreateFileRequest>(call);
  if (!body.ok()) return error_response(body.error());
  if (Status s = check_chunk_count(call, body->chunk_count); !s.ok())
    return error_response(s.error());
  Result<Id> file_id = path_id(call, 0, "file_id");
  if (!file_id.ok()) return error_response(file_id.error());
  return run_write(call.storage, [&](Transaction& txn, bool& commit) {
    const WorkspaceId& ws = call.workspace->id;
    std::optional<FileRecord> file = txn.file(ws, *file_id);
    if (!file) {
      FileRecord created{*file_id, FileState::kUploading, body->chunk_count, call.now_ms, 0};
      txn.put_file(ws, created);
      commit = true;
      return json_response(201, status_of(txn, ws, created));
    }
    if (file->state == FileState::kDeleted)
      return error_response(
          make_error(Code::kFileDeleted, "the file is deleted; commit restores it", "file_id"));
    if (file->chunk_count != body->chunk_count)
      return error_response(count_mismatch(file->chunk_count));
    return json_response(200, status_of(txn, ws, *file));  // idempotent (FILE-002)
  });
}

Response get_file(const Call& call) {
  Result<Id> file_id = path_id(call, 0, "file_id");
  if (!file_id.ok()) return error_response(file_id.error());
  return run_read(call.storage, [&](Transaction& txn) {
    std::optional<FileRecord> file = txn.file(call.workspace->id, *file_id);
    if (!file) return error_response(not_found());
    return json_response(200, status_of(txn, call.workspace->id, *file));
  });
}

Response delete_file(const Call& call) {
  Result<Id> file_id = path_id(call, 0, "file_id");
  if (!file_id.ok()) return error_response(file_id.error());
  return run_write(call.storage, [&](Transaction& txn, bool& commit) {
    const WorkspaceId& ws = call.workspace->id;
    std::optional<FileRecord> file = txn.file(ws, *file_id);
    if (!file) return error_response(not_found());
    if (file->state == FileState::kUploading)  // FILE-010: abandoned uploads expire instead
      return error_response(make_error(Code::kFileNotCommitted,
                                       "an unfinished upload cannot be deleted; it expires",
                                       "file_id"));
    if (file->state == FileState::kCommitted) {
      file->state = FileState::kDeleted;
      file->deleted_at_ms = call.now_ms;
      if (!defect(Defect::kDeleteKeepsUpdatedAt)) file->updated_at_ms = call.now_ms;
      txn.put_file(ws, *file);
      commit = true;
    }
    return json_response(200, status_of(txn, ws, *file));
  });
}

Response commit_file(const Call& call) {
  Result<CommitFileRequest> body = parse_body<CommitFileRequest>(call);
  if (!body.ok()) return error_response(body.error());
  Result<Id> file_id = path_id(call, 0, "file_id");
  if (!file_id.ok()) return error_response(file_id.error());
  return run_write(call.storage, [&](Transaction& txn, bool& commit) {
    const WorkspaceId& ws = call.workspace->id;
    std::optional<FileRecord> file = txn.file(ws, *file_id);
    if (!file) return error_response(not_found());
    if (file->chunk_count != body->chunk_count)
      return error_response(count_mismatch(file->chunk_count));
    if (file->state == FileState::kUploading) {
      std::vector<ChunkRange> missing =
          missing_chunk_ranges(txn.chunk_indices(ws, *file_id), file->chunk_count);
      if (!missing.empty() && !defect(Defect::kCommitWithMissingChunks)) {
        Error e = make_error(Code::kFileIncomplete, "chunks are missing", "file_id");
        e.details.chunks_missing = std::move(missing);
        return error_response(e);
      }
    }
    if (file->state !=
        FileState::kCommitted) {  // completes an upload or restores a deletion (FILE-008)
      file->state = FileState::kCommitted;
      file->deleted_at_ms = 0;
      file->updated_at_ms = call.now_ms;
      txn.put_file(ws, *file);
      commit = true;
    }
    return json_response(200, status_of(txn, ws, *file));
  });
}

Response put_chunk(const Call& call) {
  // The body before the path parameters (ERR-013, FILE-014).
  const std::string& body = call.request.body;
  if (body.size() >
      call.config.limits.chunk_bytes + kEnvelopeOverheadBytes) {  // also checked before reading
    Error e = make_error(Code::kBodyTooLarge, "a chunk is at most chunk_bytes + 28 bytes");
    e.details.limit_bytes = call.config.limits.chunk_bytes + kEnvelopeOverheadBytes;
    return error_response(e);
  }
  if (body.size() < kEnvelopeOverheadBytes)
    return error_response(
        make_error(Code::kInvalidField, "a chunk is at least 28 bytes (nonce and tag)", "body"));
  Result<Id> file_id = path_id(call, 0, "file_id");
  if (!file_id.ok()) return error_response(file_id.error());
  Result<uint64_t> index = path_integer(call, 1, "index", 0, kU32Max);
  if (!index.ok()) return error_response(index.error());
  const ByteView bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  return run_write(call.storage, [&](Transaction& txn, bool& commit) {
    const WorkspaceId& ws = call.workspace->id;
    std::optional<FileRecord> file = txn.file(ws, *file_id);
    if (!file) return error_response(not_found());
    if (*index >= file->chunk_count) return error_response(index_out_of_range(file->chunk_count));
    const uint32_t i = static_cast<uint32_t>(*index);
    if (file->state != FileState::kUploading && !defect(Defect::kCommittedChunkOverwritten)) {
      // Retried uploads of a finished file are fine when they change nothing (FILE-004).
      std::optional<Bytes> stored = txn.chunk(ws, *file_id, i);
      if (!stored || !std::equal(stored->begin(), stored->end(), bytes.begin(), bytes.end()))
        return error_response(
            make_error(Code::kFileNotUploading, "the file is no longer being uploaded", "file_id"));
      return json_response(200, ChunkStored{*file_id, i, bytes.size()});
    }
    if (const uint64_t cap = call.config.uploading_bytes_per_workspace_max; cap > 0) {  // LIM-022
      std::optional<Bytes> replaced = txn.chunk(ws, *file_id, i);
      const uint64_t after =
          txn.uploading_bytes(ws) - (replaced ? replaced->size() : 0) + bytes.size();
      if (after > cap) {
        Error e = make_error(Code::kQuotaExceeded,
                             "unfinished uploads of this workspace would hold more than " +
                                 std::to_string(cap) + " bytes; commit or delete some first");
        e.details.limit_bytes = cap;
        return error_response(e);
      }
    }
    if (defect(Defect::kEqualChunkNoActivity)) {
      std::optional<Bytes> stored = txn.chunk(ws, *file_id, i);
      if (stored && std::equal(stored->begin(), stored->end(), bytes.begin(), bytes.end()))
        return json_response(200, ChunkStored{*file_id, i, bytes.size()});
    }
    txn.put_chunk(ws, *file_id, i, bytes);
    file->updated_at_ms = call.now_ms;  // upload activity, equal bodies included (FILE-043)
    txn.put_file(ws, *file);
    commit = true;
    return json_response(200, ChunkStored{*file_id, i, bytes.size()});
  });
}

Response get_chunk(const Call& call) {
  Result<Id> file_id = path_id(call, 0, "file_id");
  if (!file_id.ok()) return error_response(file_id.error());
  Result<uint64_t> index = path_integer(call, 1, "index", 0, kU32Max);
  if (!index.ok()) return error_response(index.error());
  return run_read(call.storage, [&](Transaction& txn) {
    std::optional<FileRecord> file = txn.file(call.workspace->id, *file_id);
    if (!file) return error_response(not_found());
    if (*index >= file->chunk_count) return error_response(index_out_of_range(file->chunk_count));
    if (file->state == FileState::kUploading)
      return error_response(
          make_error(Code::kFileNotCommitted, "the file is not committed yet", "file_id"));
    if (file->state == FileState::kDeleted)
      return error_response(
          make_error(Code::kFileDeleted, "the file is deleted; commit restores it", "file_id"));
    std::optional<Bytes> chunk =
        txn.chunk(call.workspace->id, *file_id, static_cast<uint32_t>(*index));
    OPSYNC_CHECK_MSG(chunk.has_value(), "a committed file lacks a chunk");
    Response response;
    response.content_type = "application/octet-stream";
    response.body.assign(chunk->begin(), chunk->end());
    return response;
  });
}

uint64_t collect_garbage(Storage& storage, const ServerConfig& config, uint64_t now_ms,
                         size_t files_max) {
  const uint64_t deleted_before =
      now_ms >= config.file_retention_ms ? now_ms - config.file_retention_ms : 0;
  const uint64_t idle_before =
      now_ms >= config.upload_expiry_ms ? now_ms - config.upload_expiry_ms : 0;
  uint64_t removed = 0;
  Status status = storage.write([&](Transaction& txn) {
    for (const FileKey& key : txn.files_to_collect(deleted_before, idle_before, files_max)) {
      txn.delete_file(key.workspace, key.file);
      ++removed;
    }
    return true;
  });
  return status.ok() ? removed : 0;
}

}  // namespace opsync::server::endpoints
