// Where a device keeps the contents of attached files (spec 11): the verified copy of each file,
// and the partial blob a download (or an attach) writes before it becomes the copy.
//
// The LocalStore's tables say which files exist and what has been transferred; a BlobStore holds
// the bytes. Every call that changes a blob is durable when it returns (for files on disk: written
// and flushed), and the two changes a crash may interrupt are atomic: a write at an offset, and
// promote(), which replaces the copy by the partial blob. So a device killed at any point finds,
// after a restart, every chunk it recorded as done, and either the old copy or the new one.
//
// Implementations: DirectoryBlobStore, files in a directory (what opsync-client uses, DIR/files),
// and MemoryBlobStore, which the simulator keeps outside the LocalStore so that it survives a
// simulated crash of the device, as a disk survives the process.
//
// Thread safety: none; one store is used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/result.h"

namespace opsync::client {

enum class BlobKind : uint8_t {
  kCopy,     // the verified plaintext of a file (FILE-023)
  kPartial,  // a download in progress, or an attach being copied in
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // `size` bytes from `offset`, or nullopt when the blob does not exist or ends before
  // offset + size (someone removed or shortened the file).
  virtual std::optional<Bytes> read(const FileId& id, BlobKind kind, uint64_t offset,
                                    uint64_t size) = 0;
  // Writes `bytes` at `offset`, creating the blob and zero-filling any gap before offset.
  virtual Status write(const FileId& id, BlobKind kind, uint64_t offset, ByteView bytes) = 0;
  // Cuts or zero-extends the blob to `size` bytes, creating it when missing.
  virtual Status resize(const FileId& id, BlobKind kind, uint64_t size) = 0;
  // Replaces the copy by the partial blob, which ceases to exist. Fails when there is no partial
  // blob.
  virtual Status promote(const FileId& id) = 0;
  // Removes the blob; removing a blob that does not exist succeeds.
  virtual Status remove(const FileId& id, BlobKind kind) = 0;
  virtual bool exists(const FileId& id, BlobKind kind) = 0;
  // The blob's size, or nullopt when it does not exist.
  virtual std::optional<uint64_t> size(const FileId& id, BlobKind kind) = 0;
  // The ids of every blob of `kind`, ascending.
  virtual std::vector<FileId> list(BlobKind kind) = 0;
};

// One file per blob: DIR/<id as base64url> for copies and DIR/<id>.part for partial blobs. Writes
// are fsynced before they return; promote is a rename.
class DirectoryBlobStore final : public BlobStore {
 public:
  explicit DirectoryBlobStore(std::filesystem::path dir);

  std::filesystem::path path(const FileId& id, BlobKind kind) const;

  std::optional<Bytes> read(const FileId& id, BlobKind kind, uint64_t offset,
                            uint64_t size) override;
  Status write(const FileId& id, BlobKind kind, uint64_t offset, ByteView bytes) override;
  Status resize(const FileId& id, BlobKind kind, uint64_t size) override;
  Status promote(const FileId& id) override;
  Status remove(const FileId& id, BlobKind kind) override;
  bool exists(const FileId& id, BlobKind kind) override;
  std::optional<uint64_t> size(const FileId& id, BlobKind kind) override;
  std::vector<FileId> list(BlobKind kind) override;

 private:
  std::filesystem::path dir_;
};

// Blobs in memory. Every change is "durable" the moment it is made, which is what a process
// crash leaves of a file written through the operating system.
class MemoryBlobStore final : public BlobStore {
 public:
  std::optional<Bytes> read(const FileId& id, BlobKind kind, uint64_t offset,
                            uint64_t size) override;
  Status write(const FileId& id, BlobKind kind, uint64_t offset, ByteView bytes) override;
  Status resize(const FileId& id, BlobKind kind, uint64_t size) override;
  Status promote(const FileId& id) override;
  Status remove(const FileId& id, BlobKind kind) override;
  bool exists(const FileId& id, BlobKind kind) override;
  std::optional<uint64_t> size(const FileId& id, BlobKind kind) override;
  std::vector<FileId> list(BlobKind kind) override;

  // Every blob, ordered by id and kind, for checkers that compare devices' files.
  const std::map<std::pair<FileId, BlobKind>, Bytes>& blobs() const { return blobs_; }
  // Every blob gone: a disk wiped.
  void clear() { blobs_.clear(); }

 private:
  std::map<std::pair<FileId, BlobKind>, Bytes> blobs_;
};

}  // namespace opsync::client
