// One file's reconciliation (spec 11.4, FileReconciler): a handler per stage of its FileJob, each
// sending one request or moving the job on.
#include <algorithm>
#include <set>

#include "engine_impl.h"
#include "opsync/protocol/sha256.h"

namespace opsync::client::engine_parts {

namespace {

// A file's chunk in plaintext, read from the device's copy (FILE-032: one chunk in memory).
// nullopt when the copy is gone or shorter than its reference says (someone removed or changed
// it): the upload cannot finish.
std::optional<Bytes> read_chunk(BlobStore& blobs, const FileRef& ref, uint32_t index) {
  const uint64_t size = chunk_plaintext_bytes(ref.size_bytes, ref.chunk_bytes, index);
  return blobs.read(ref.id, BlobKind::kCopy, uint64_t{index} * ref.chunk_bytes, size);
}

// SHA-256 of the first `size_bytes` of a blob, read a slice at a time; zeros when it is shorter
// (a short file cannot match a real hash of size_bytes).
Hash hash_blob(BlobStore& blobs, const FileId& id, BlobKind kind, uint64_t size_bytes) {
  constexpr uint64_t kSliceBytes = 1 << 20;
  Sha256 hasher;
  for (uint64_t offset = 0; offset < size_bytes; offset += kSliceBytes) {
    const std::optional<Bytes> slice =
        blobs.read(id, kind, offset, std::min(kSliceBytes, size_bytes - offset));
    if (!slice) return Hash{};
    hasher.update(*slice);
  }
  return hasher.finish();
}

std::vector<uint32_t> expand(const std::vector<ChunkRange>& ranges) {
  std::vector<uint32_t> out;
  for (const auto& [start, end] : ranges)
    for (uint32_t i = start; i < end; ++i) out.push_back(i);
  return out;
}

}  // namespace

void FileReconciler::step(FileJob& job) {
  using Stage = FileJob::Stage;
  using Handler = void (FileReconciler::*)(FileJob&);
  // One handler per stage, in the order of FileJob::Stage.
  static constexpr Handler kHandlers[] = {
      &FileReconciler::decide,          // kDecide
      &FileReconciler::send_create,     // kCreate
      &FileReconciler::send_status,     // kStatus
      &FileReconciler::put_next_chunk,  // kPutChunks
      &FileReconciler::send_commit,     // kCommit
      &FileReconciler::send_restore,    // kRestore
      &FileReconciler::get_next_chunk,  // kDownload
      &FileReconciler::done,            // kDone
  };
  static_assert(std::size(kHandlers) == static_cast<size_t>(Stage::kDone) + 1);
  (this->*kHandlers[static_cast<size_t>(job.stage)])(job);
}

void FileReconciler::decide(FileJob& job) {
  using Stage = FileJob::Stage;
  LocalStore& store = session_.store;
  auto known = server_file_states_.find(job.id);
  job.server_state = known == server_file_states_.end() ? FileState::kAbsent : known->second;
  // A copy the store records but the blob store lacks (removed by hand, or cut short) is
  // no copy: it is downloaded again, or reported missing.
  if (job.local.local_copy &&
      store.blobs().size(job.id, BlobKind::kCopy) != job.local.ref.size_bytes) {
    take(store.set_local_copy(job.id, false));
    job.local.local_copy = false;
  }
  const LocalCopy copy = job.local.local_copy ? LocalCopy::kPresent : LocalCopy::kAbsent;
  switch (decide_file_action(copy, job.local.upload_flag, job.server_state)) {
    case FileAction::kNone:
      if (job.local.local_copy) set_upload_flag(job);
      set_pending(job, FilePending::kNone);
      job.stage = Stage::kDone;
      return;
    case FileAction::kUpload:
      job.stage = Stage::kCreate;
      return step(job);
    case FileAction::kResumeUpload:
      job.stage = Stage::kStatus;
      return step(job);
    case FileAction::kRestore:
    case FileAction::kRestoreThenDownload:
      job.download_after_restore = !job.local.local_copy;
      job.stage = Stage::kRestore;
      return step(job);
    case FileAction::kDownload:
      start_download(job);
      return step(job);
    case FileAction::kWait:
    case FileAction::kMissing:
      set_pending(job, job.server_state == FileState::kUploading ? FilePending::kWait
                                                                 : FilePending::kMissing);
      note_pending(job.id);
      job.stage = Stage::kDone;
      return;
  }
}

void FileReconciler::send_create(FileJob& job) {
  session_.send({"POST", file_target(session_, EndpointId::kCreateFile, job.id), kJson,
                 serialize_message(CreateFileRequest{job.local.ref.chunk_count})},
                [this, &job](const HttpResponse& r, DeviceTime) {
                  if (r.status == 409 && error_from_response(r).code == Code::kFileDeleted) {
                    job.stage = FileJob::Stage::kRestore;
                    return;
                  }
                  if (!is_success(r.status)) fail(error_from_response(r));
                  take_upload_status(job, parse_or_fail<FileStatus>(r, "file status"));
                });
}

void FileReconciler::send_status(FileJob& job) {
  session_.send({"GET", file_target(session_, EndpointId::kGetFile, job.id), "", ""},
                [this, &job](const HttpResponse& r, DeviceTime) {
                  if (r.status == 404) {
                    job.stage = FileJob::Stage::kCreate;
                    return;
                  }
                  if (!is_success(r.status)) fail(error_from_response(r));
                  take_upload_status(job, parse_or_fail<FileStatus>(r, "file status"));
                });
}

void FileReconciler::put_next_chunk(FileJob& job) {
  const FileRef& ref = job.local.ref;
  if (job.chunks.empty()) {
    job.stage = FileJob::Stage::kCommit;
    return step(job);
  }
  const uint32_t index = job.chunks.front();
  const std::optional<Bytes> read = read_chunk(session_.store.blobs(), ref, index);
  if (!read) {
    // FILE-021's exception: the upload cannot finish, so the operations go ahead and every
    // device (this one too) sees the file as missing until someone uploads it.
    take(session_.store.set_local_copy(job.id, false));
    set_pending(job, FilePending::kMissing);
    note_pending(job.id);
    job.stage = FileJob::Stage::kDone;
    return;
  }
  const Bytes& plaintext = *read;
  const Bytes envelope = seal_chunk(session_.keys.current().chunk_key, job.id, index,
                                    ref.chunk_count, plaintext, session_.random);
  const uint64_t plaintext_bytes = plaintext.size();
  session_.send({"PUT", chunk_target(session_, EndpointId::kPutChunk, job.id, index), kOctets,
                 std::string(envelope.begin(), envelope.end())},
                [this, &job, index, plaintext_bytes](const HttpResponse& r, DeviceTime) {
                  if (r.status == 409 && error_from_response(r).code == Code::kFileNotUploading) {
                    // Another device's upload of the same file (both hold a copy, the server had
                    // lost it) committed first: its chunks differ only in their nonces. Ask again.
                    job.chunks.clear();
                    job.stage = FileJob::Stage::kStatus;
                    return;
                  }
                  if (!is_success(r.status)) fail(error_from_response(r));
                  take(session_.store.record_chunk_done(job.id, TransferDirection::kUpload, index));
                  job.chunks.pop_front();
                  ++session_.report.chunks_uploaded;
                  session_.report.file_bytes_moved += plaintext_bytes;
                });
}

void FileReconciler::send_commit(FileJob& job) {
  session_.send({"POST", file_target(session_, EndpointId::kCommitFile, job.id), kJson,
                 serialize_message(CommitFileRequest{job.local.ref.chunk_count})},
                [this, &job](const HttpResponse& r, DeviceTime) {
                  if (r.status == 409 && error_from_response(r).code == Code::kFileIncomplete) {
                    job.stage = FileJob::Stage::kStatus;  // chunks went missing: ask again
                    return;
                  }
                  if (!is_success(r.status)) fail(error_from_response(r));
                  set_upload_flag(job);
                  set_pending(job, FilePending::kNone);
                  server_file_states_[job.id] = FileState::kCommitted;
                  ++session_.report.files_uploaded;
                  job.stage = FileJob::Stage::kDone;
                });
}

void FileReconciler::send_restore(FileJob& job) {
  session_.send(
      {"POST", file_target(session_, EndpointId::kCommitFile, job.id), kJson,
       serialize_message(CommitFileRequest{job.local.ref.chunk_count})},
      [this, &job](const HttpResponse& r, DeviceTime) {
        if (r.status == 404) {  // its chunks are gone: upload if we can, else it is missing
          if (job.local.local_copy) {
            job.stage = FileJob::Stage::kCreate;
          } else {
            set_pending(job, FilePending::kMissing);
            note_pending(job.id);
            job.stage = FileJob::Stage::kDone;
          }
          return;
        }
        if (!is_success(r.status)) fail(error_from_response(r));
        server_file_states_[job.id] = FileState::kCommitted;
        if (job.download_after_restore) {
          start_download(job);
        } else {
          set_upload_flag(job);
          set_pending(job, FilePending::kNone);
          job.stage = FileJob::Stage::kDone;
        }
      });
}

void FileReconciler::get_next_chunk(FileJob& job) {
  if (job.chunks.empty()) return finish_download(job);
  const uint32_t index = job.chunks.front();
  session_.send({"GET", chunk_target(session_, EndpointId::kGetChunk, job.id, index), "", ""},
                [this, &job, index](const HttpResponse& r, DeviceTime) {
                  if (r.status == 409 || r.status == 404) {  // no longer committed: next sync
                    set_pending(job, FilePending::kWait);
                    note_pending(job.id);
                    job.stage = FileJob::Stage::kDone;
                    return;
                  }
                  if (!is_success(r.status)) fail(error_from_response(r));
                  take_chunk(job, index, r);
                });
}

void FileReconciler::take_chunk(FileJob& job, uint32_t index, const HttpResponse& response) {
  const Keyring& keys = session_.keys;
  const FileRef& ref = job.local.ref;
  const Bytes envelope(response.body.begin(), response.body.end());
  // A file reference names no key id (CRY-025): the current key first, then the
  // others.
  Result<Bytes> plaintext =
      open_chunk(keys.current().chunk_key, job.id, index, ref.chunk_count, envelope);
  for (auto key = keys.keys.begin(); !plaintext.ok() && key != keys.keys.end(); ++key)
    if (key->first != keys.current_key_id)
      plaintext = open_chunk(key->second.chunk_key, job.id, index, ref.chunk_count, envelope);
  if (!plaintext.ok() ||
      plaintext->size() != chunk_plaintext_bytes(ref.size_bytes, ref.chunk_bytes, index))
    fail(Code::kDecryptFailed, "chunk " + std::to_string(index) + " of file " +
                                   to_base64url(job.id) +
                                   " does not open with this workspace's key");
  // Durable before the chunk is recorded as done, so a crash never records a chunk
  // the partial blob lacks.
  LocalStore& store = session_.store;
  take(store.blobs().write(job.id, BlobKind::kPartial, uint64_t{index} * ref.chunk_bytes,
                           *plaintext));
  take(store.record_chunk_done(job.id, TransferDirection::kDownload, index));
  job.chunks.pop_front();
  ++session_.report.chunks_downloaded;
  session_.report.file_bytes_moved += plaintext->size();
}

void FileReconciler::take_upload_status(FileJob& job, const FileStatus& status) {
  if (status.file_id != job.id) fail(Code::kProtocolError, "a file status names another file");
  server_file_states_[job.id] = status.state;
  if (status.state == FileState::kCommitted) {
    set_upload_flag(job);
    set_pending(job, FilePending::kNone);
    job.stage = FileJob::Stage::kDone;
    return;
  }
  if (status.state == FileState::kDeleted) {
    job.stage = FileJob::Stage::kRestore;
    return;
  }
  // FILE-031: only what the server lists as missing.
  const std::vector<uint32_t> missing = expand(status.chunks_missing);
  job.chunks.assign(missing.begin(), missing.end());
  for (uint32_t index : missing)
    session_.report.file_bytes_planned +=
        chunk_plaintext_bytes(job.local.ref.size_bytes, job.local.ref.chunk_bytes, index);
  job.stage = FileJob::Stage::kPutChunks;
}

void FileReconciler::start_download(FileJob& job) {
  const std::vector<uint32_t> done =
      take(session_.store.chunks_done(job.id, TransferDirection::kDownload));
  const std::set<uint32_t> have(done.begin(), done.end());
  job.chunks.clear();
  for (uint32_t i = 0; i < job.local.ref.chunk_count; ++i) {
    if (have.count(i)) continue;
    job.chunks.push_back(i);
    session_.report.file_bytes_planned +=
        chunk_plaintext_bytes(job.local.ref.size_bytes, job.local.ref.chunk_bytes, i);
  }
  job.stage = FileJob::Stage::kDownload;
}

// FILE-023: the plaintext hash decides; a copy that does not match is discarded.
void FileReconciler::finish_download(FileJob& job) {
  LocalStore& store = session_.store;
  BlobStore& blobs = store.blobs();
  const FileRef& ref = job.local.ref;
  // A device killed after the verified download became the copy, before the store recorded it,
  // finds every chunk done, no partial blob and the copy in place: the copy is checked instead.
  const bool promoted_before =
      !blobs.exists(job.id, BlobKind::kPartial) && blobs.exists(job.id, BlobKind::kCopy) &&
      hash_blob(blobs, job.id, BlobKind::kCopy, ref.size_bytes) == ref.sha256;
  if (!promoted_before) {
    // An empty file has one empty chunk, never written: sizing creates its blob.
    take(blobs.resize(job.id, BlobKind::kPartial, ref.size_bytes));
    if (hash_blob(blobs, job.id, BlobKind::kPartial, ref.size_bytes) != ref.sha256) {
      take(blobs.remove(job.id, BlobKind::kPartial));
      take(store.clear_chunk_progress(job.id, TransferDirection::kDownload));
      fail(Code::kHashMismatch,
           "file " + to_base64url(job.id) + " does not match its reference's SHA-256");
    }
    take(blobs.promote(job.id));
  }
  take(store.set_local_copy(job.id, true));
  set_upload_flag(job);  // it came from a committed file
  set_pending(job, FilePending::kNone);
  ++session_.report.files_downloaded;
  job.stage = FileJob::Stage::kDone;
}

void FileReconciler::note_pending(const FileId& id) {
  pending_files_.insert(id);
  session_.report.files_pending = pending_files_.size();
}

// The file's flags, written only when they change: a sync with nothing to move writes nothing.
void FileReconciler::set_pending(FileJob& job, FilePending pending) {
  if (job.local.pending == pending) return;
  take(session_.store.set_pending(job.id, pending));
  job.local.pending = pending;
}
void FileReconciler::set_upload_flag(FileJob& job) {
  if (job.local.upload_flag) return;
  take(session_.store.set_upload_flag(job.id, true));
  job.local.upload_flag = true;
}

std::string file_target(const SyncSession& session, EndpointId endpoint, const FileId& id) {
  return endpoint_path(endpoint, {session.workspace, to_base64url(id)});
}
std::string chunk_target(const SyncSession& session, EndpointId endpoint, const FileId& id,
                         uint32_t index) {
  return endpoint_path(endpoint, {session.workspace, to_base64url(id), std::to_string(index)});
}

}  // namespace opsync::client::engine_parts
