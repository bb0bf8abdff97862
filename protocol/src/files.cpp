#include "opsync/protocol/files.h"

#include "opsync/protocol/check.h"

namespace opsync {

FileAction decide_file_action(LocalCopy local, bool /*upload_flag*/, FileState server) {
  // The table of spec 11.4. The upload flag is deliberately not consulted (FILE-030): a server
  // restored from a backup may have lost a file the flag says is uploaded.
  if (local == LocalCopy::kPresent) {
    switch (server) {
      case FileState::kCommitted:
        return FileAction::kNone;
      case FileState::kAbsent:
        return FileAction::kUpload;
      case FileState::kUploading:
        return FileAction::kResumeUpload;
      case FileState::kDeleted:
        return FileAction::kRestore;
    }
  } else {
    switch (server) {
      case FileState::kCommitted:
        return FileAction::kDownload;
      case FileState::kDeleted:
        return FileAction::kRestoreThenDownload;
      case FileState::kUploading:
        return FileAction::kWait;
      case FileState::kAbsent:
        return FileAction::kMissing;
    }
  }
  OPSYNC_CHECK_MSG(false, "unreachable file state");
  return FileAction::kMissing;
}

std::string_view file_state_name(FileState state) {
  switch (state) {
    case FileState::kAbsent:
      return "absent";
    case FileState::kUploading:
      return "uploading";
    case FileState::kCommitted:
      return "committed";
    case FileState::kDeleted:
      return "deleted";
  }
  return "absent";
}

std::optional<FileState> file_state_from_name(std::string_view name) {
  for (FileState s :
       {FileState::kAbsent, FileState::kUploading, FileState::kCommitted, FileState::kDeleted})
    if (file_state_name(s) == name) return s;
  return std::nullopt;
}

std::string_view file_action_name(FileAction action) {
  switch (action) {
    case FileAction::kNone:
      return "none";
    case FileAction::kUpload:
      return "upload";
    case FileAction::kResumeUpload:
      return "resume_upload";
    case FileAction::kRestore:
      return "restore";
    case FileAction::kRestoreThenDownload:
      return "restore_then_download";
    case FileAction::kDownload:
      return "download";
    case FileAction::kWait:
      return "wait";
    case FileAction::kMissing:
      return "missing";
  }
  return "missing";
}

uint64_t chunk_count_for(uint64_t size_bytes, uint32_t chunk_bytes) {
  OPSYNC_CHECK(chunk_bytes > 0);
  if (size_bytes == 0) return 1;
  return (size_bytes + chunk_bytes - 1) / chunk_bytes;
}

uint64_t chunk_plaintext_bytes(uint64_t size_bytes, uint32_t chunk_bytes, uint64_t index) {
  const uint64_t count = chunk_count_for(size_bytes, chunk_bytes);
  OPSYNC_CHECK(index < count);
  if (index + 1 < count) return chunk_bytes;
  return size_bytes - index * chunk_bytes;
}

std::vector<ChunkRange> missing_chunk_ranges(std::span<const uint32_t> present,
                                             uint32_t chunk_count) {
  std::vector<ChunkRange> ranges;
  uint32_t next = 0;  // first index not yet accounted for
  for (uint32_t index : present) {
    OPSYNC_CHECK(index < chunk_count && index >= next);
    if (index > next) ranges.emplace_back(next, index);
    next = index + 1;
  }
  if (next < chunk_count) ranges.emplace_back(next, chunk_count);
  return ranges;
}

}  // namespace opsync
