// The file sync's passes (spec 9.1 step 7, and FILE-021 before uploads) and the cleanup of
// unreferenced files (FILE-022, FILE-040). One file's reconciliation is in engine_file_jobs.cpp.
#include <algorithm>
#include <set>

#include "engine_impl.h"

namespace opsync::client::engine_parts {

void FileSync::start_pass(bool own_uploads_only) {
  LocalStore& store = session_.store;
  final_file_pass_ = !own_uploads_only;
  file_jobs_.clear();
  std::vector<FileId> ids = take(store.referenced_files());
  for (const FileId& id : ids) {
    std::optional<LocalFile> local = take(store.file(id));
    if (!local) continue;
    if (local->unreferenced_since_ms) {
      // Referenced again, by a write concurrent with the one that dropped it: the copy kept
      // for FILE-040 is what restores or re-uploads it, and a later drop sends DELETE again.
      take(store.set_unreferenced_since(id, std::nullopt));
      local->unreferenced_since_ms.reset();
    }
    if (own_uploads_only && !(local->local_copy && !local->upload_flag)) continue;
    FileJob job;
    job.id = id;
    job.local = *local;
    file_jobs_.push_back(std::move(job));
    if (!server_file_states_.count(id)) files_to_query_.push_back(id);
  }
  session_.enter(Phase::kFileStatus);
}

void FileSync::plan_pass() {
  // First the states of every file of the pass that this sync has not asked about.
  while (!files_to_query_.empty() && server_file_states_.count(files_to_query_.front()))
    files_to_query_.pop_front();
  if (session_.phase == Phase::kFileStatus && !files_to_query_.empty()) {
    send_status_query();
    return;
  }
  session_.enter(Phase::kFiles);
  while (!file_jobs_.empty()) {
    FileJob& job = file_jobs_.front();
    if (job.stage == FileJob::Stage::kDone) {
      file_jobs_.pop_front();
      continue;
    }
    reconciler_.step(job);
    if (session_.request) return;
  }
  // The pass is over.
  if (final_file_pass_) {
    files_to_delete_ = take(session_.store.unreferenced_files());
    session_.enter(Phase::kCleanup);
  } else {
    session_.enter(Phase::kUpload);
  }
}

// POST /file-status of the files not yet asked about, as many as the server takes at once; nothing
// when every one queued was a repeat (the pass then goes on to the files).
void FileSync::send_status_query() {
  FileStatusRequest body;
  const size_t max =
      static_cast<size_t>(std::max<uint64_t>(1, session_.limits.file_status_ids_max));
  std::set<FileId> seen;
  while (!files_to_query_.empty() && body.file_ids.size() < max) {
    const FileId id = files_to_query_.front();
    files_to_query_.pop_front();
    if (!server_file_states_.count(id) && seen.insert(id).second) body.file_ids.push_back(id);
  }
  if (body.file_ids.empty()) return;
  session_.send({"POST", endpoint_path(EndpointId::kFileStatus, {session_.workspace}), kJson,
                 serialize_message(body)},
                [this](const HttpResponse& r, DeviceTime) {
                  if (!is_success(r.status)) fail(error_from_response(r));
                  const FileStatusResponse answer =
                      parse_or_fail<FileStatusResponse>(r, "file status");
                  for (const FileStateEntry& entry : answer.files)
                    server_file_states_[entry.file_id] = entry.state;
                });
}

// FILE-022: a file no head references any more is deleted on the server. A device that still
// references it restores it (the kRestore rows of spec 11.4), so a concurrent reference
// survives within the retention time. The answer does not matter beyond transient failures
// (retried): absent, still uploading (another device's upload) or refused to a read-only token
// all leave nothing for this device to do.
//
// FILE-040: the device keeps its verified copy for the server's retention time after that
// DELETE. The server's own retention does not survive a restore from a backup older than the
// file; the devices' copies then are the only ones, and a write made concurrently with the
// drop, by a device that never downloaded the file, would otherwise reference a file that no
// longer exists anywhere.
void FileSync::plan_cleanup(uint64_t now_ms) {
  LocalStore& store = session_.store;
  if (!leftovers_removed_) {
    // Blobs of files the store has never heard of: an attach killed after its copy was in place
    // and before its edit committed. Nothing can reference them; they would stay forever.
    leftovers_removed_ = true;
    for (BlobKind kind : {BlobKind::kCopy, BlobKind::kPartial})
      for (const FileId& id : store.blobs().list(kind))
        if (!take(store.file(id))) take(store.blobs().remove(id, kind));
  }
  // Bounded by the files to delete: each turn sends a request or takes one off the list.
  while (!files_to_delete_.empty()) {
    const FileId id = files_to_delete_.back();
    const std::optional<LocalFile> local = take(store.file(id));
    if (!local) {
      files_to_delete_.pop_back();
      continue;
    }
    // A partial download is no copy: nothing can be restored from it.
    if (store.blobs().exists(id, BlobKind::kPartial))
      take(store.blobs().remove(id, BlobKind::kPartial));
    const bool has_copy = local->local_copy && store.blobs().exists(id, BlobKind::kCopy);
    if (local->unreferenced_since_ms) {
      // The server's clock, as its latest answer read it: the retention runs on that clock, and
      // the device's own may have stepped since its offset was estimated.
      const uint64_t server_now_ms = session_.last_server_ms.value_or(session_.physical_ms(now_ms));
      if (has_copy && server_now_ms < *local->unreferenced_since_ms + session_.file_retention_ms) {
        files_to_delete_.pop_back();  // kept until the retention time is over
        continue;
      }
      remove_copy_and_forget(id, *local);
      ++session_.report.files_expired;
      files_to_delete_.pop_back();
      continue;
    }
    send_delete(id);
    return;
  }
  session_.enter(Phase::kDone);
}

void FileSync::send_delete(const FileId& id) {
  session_.send({"DELETE", file_target(session_, EndpointId::kDeleteFile, id), "", ""},
                [this, id](const HttpResponse& r, DeviceTime t) {
                  LocalStore& store = session_.store;
                  const std::optional<LocalFile> dropped = take(store.file(id));
                  if (dropped && dropped->local_copy && store.blobs().exists(id, BlobKind::kCopy))
                    take(store.set_unreferenced_since(id, SyncSession::server_time_of(r).value_or(
                                                              session_.physical_ms(t.wall_ms))));
                  else if (dropped)
                    remove_copy_and_forget(id, *dropped);
                  files_to_delete_.pop_back();
                  ++session_.report.files_deleted;
                });
}

void FileSync::remove_copy_and_forget(const FileId& id, const LocalFile& local) {
  LocalStore& store = session_.store;
  // The store forgets the copy before the copy goes: a device killed in between must not
  // believe it holds a copy that is gone, should the file be referenced again.
  if (local.local_copy) take(store.set_local_copy(id, false));
  for (BlobKind kind : {BlobKind::kCopy, BlobKind::kPartial})
    if (store.blobs().exists(id, kind)) take(store.blobs().remove(id, kind));
  take(store.forget_file(id));
}

}  // namespace opsync::client::engine_parts
