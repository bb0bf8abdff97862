// LocalStore's parts, private to src/: each serves one concern of the public interface
// (store.h, where every member is documented) over the state and transactions of
// LocalStore::Impl. LocalStore delegates each call to one of them, unchanged.
//
//   Meta     the binding's mutable state (token, HLC, clock offset, last sync) and the key
//            records (store_meta.cpp);
//   Mirror   the server's log as read: pages into it, truncation, and its reads (log.cpp);
//   Outbox   the pending operations: local edits, uploads, re-stamps (log.cpp);
//   Objects  the objects' views (spec 10.2) (store_objects.cpp);
//   Files    the files, their transfer progress and their blobs (store_files.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/client/store.h"

namespace opsync::client::store_parts {

class Meta {
 public:
  explicit Meta(LocalStore::Impl& impl) : impl_(impl) {}

  Result<SyncMeta> meta();
  Status set_token(std::string_view token);
  Status set_clock_offset_ms(int64_t offset_ms);
  Status save_hlc(const Hlc& hlc);
  Status record_sync_success(uint64_t now_ms);
  Status put_key_records(std::span<const KeyRecord> records);
  Result<std::vector<KeyRecord>> key_records();

 private:
  LocalStore::Impl& impl_;
};

class Mirror {
 public:
  explicit Mirror(LocalStore::Impl& impl) : impl_(impl) {}

  Result<PageOutcome> apply_page(uint64_t after_seq, std::span<const PageOp> page,
                                 uint64_t head_seq, const Hlc& clock_after);
  Status truncate_mirror(uint64_t verified_prefix);
  Result<std::vector<UnreadableOp>> unreadable_ops();
  Result<uint64_t> mirror_size();
  Result<Hash> prefix_hash(uint64_t s);
  Result<std::vector<Hash>> block_hashes(uint32_t block_size);
  Result<std::optional<SequencedOp>> mirror_op(uint64_t seq);
  Result<OpLocation> lookup(const OpId& id);

 private:
  LocalStore::Impl& impl_;
};

class Outbox {
 public:
  explicit Outbox(LocalStore::Impl& impl) : impl_(impl) {}

  Status commit_local_edit(const LocalStore::LocalEdit& edit);
  Result<std::vector<PendingOp>> ops_to_upload(size_t limit);
  Result<UploadOutcome> record_upload_results(std::span<const OpResult> results);
  Status restamp_outbox_ops(std::span<const WireOp> restamped, const Hlc& clock_after);
  Result<Hlc> largest_accepted_hlc();
  Result<std::vector<RejectedOp>> rejected_ops();
  Result<uint64_t> pending_count();

 private:
  LocalStore::Impl& impl_;
};

class Objects {
 public:
  explicit Objects(LocalStore::Impl& impl) : impl_(impl) {}

  Result<ObjectView> get(const std::string& key);
  Result<std::vector<std::string>> list();
  Result<std::vector<std::string>> keys_with_heads();
  Result<std::vector<OpId>> bases_for_write(const std::string& key);
  Result<std::vector<std::string>> conflicted_keys();

 private:
  LocalStore::Impl& impl_;
};

class Files {
 public:
  explicit Files(LocalStore::Impl& impl) : impl_(impl) {}

  Result<std::vector<FileId>> referenced_files();
  Result<std::vector<FileId>> unreferenced_files();
  Result<std::optional<LocalFile>> file(const FileId& id);
  BlobStore& blobs();
  std::filesystem::path file_path(const FileId& id) const;
  std::filesystem::path partial_file_path(const FileId& id) const;
  Status set_local_copy(const FileId& id, bool present);
  Status set_upload_flag(const FileId& id, bool committed);
  Status set_pending(const FileId& id, FilePending pending);
  Status set_unreferenced_since(const FileId& id, std::optional<uint64_t> since_ms);
  Status record_chunk_done(const FileId& id, TransferDirection direction, uint32_t index);
  Result<std::vector<uint32_t>> chunks_done(const FileId& id, TransferDirection direction);
  Status clear_chunk_progress(const FileId& id, TransferDirection direction);
  Status forget_file(const FileId& id);

 private:
  LocalStore::Impl& impl_;
};

}  // namespace opsync::client::store_parts
