// Files: chunk arithmetic and the reconciliation decision (spec section 11).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace opsync {

// Whether the device holds a verified copy of the file's plaintext.
enum class LocalCopy : uint8_t { kAbsent, kPresent };

// A file's state on the server (spec 11.1).
enum class FileState : uint8_t { kAbsent, kUploading, kCommitted, kDeleted };

// What the device does next for one referenced file (the table of spec 11.4).
enum class FileAction : uint8_t {
  kNone,                 // present and committed: nothing moves
  kUpload,               // create the upload, send every chunk, commit
  kResumeUpload,         // send the chunks the server lists as missing, commit
  kRestore,              // commit a deleted file back; if it turns out absent, upload
  kRestoreThenDownload,  // commit a deleted file back, then download it
  kDownload,             // fetch every chunk and verify the plaintext hash
  kWait,                 // another device's upload is in progress; retry on the next sync
  kMissing,              // nobody has uploaded it; retry on the next sync
};

// The decision of spec 11.4. The server's state decides; `upload_flag` (the device's cached
// belief that it committed the file) never overrides it (FILE-030). It is a parameter so the
// signature matches what a device knows, and so tests can show that it is ignored.
FileAction decide_file_action(LocalCopy local, bool upload_flag, FileState server);

std::string_view file_state_name(FileState state);
std::optional<FileState> file_state_from_name(std::string_view name);
std::string_view file_action_name(FileAction action);

// max(1, ceil(size_bytes / chunk_bytes)) (LWW-002). REQUIRES: chunk_bytes > 0.
uint64_t chunk_count_for(uint64_t size_bytes, uint32_t chunk_bytes);
// Plaintext bytes in chunk `index`. REQUIRES: index < chunk_count_for(size, chunk_bytes).
uint64_t chunk_plaintext_bytes(uint64_t size_bytes, uint32_t chunk_bytes, uint64_t index);

// Half-open ranges [start, end) of the indices in [0, chunk_count) that `present` (ascending,
// distinct, each below chunk_count) lacks.
using ChunkRange = std::pair<uint32_t, uint32_t>;
std::vector<ChunkRange> missing_chunk_ranges(std::span<const uint32_t> present,
                                             uint32_t chunk_count);

}  // namespace opsync
