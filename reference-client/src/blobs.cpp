#include "opsync/client/blobs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "opsync/protocol/check.h"

namespace opsync::client {
namespace {

// A descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

Error io_error(const std::string& what, const std::filesystem::path& path) {
  return Error(Code::kInternalError,
               "cannot " + what + " " + path.string() + ": " + std::strerror(errno));
}

// Flushes the directory entry of a created or renamed file, so that the name survives a crash too.
void sync_directory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.ok()) ::fsync(fd.get());
}

}  // namespace

// ---- files in a directory -----------------------------------------------------------------------

DirectoryBlobStore::DirectoryBlobStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

std::filesystem::path DirectoryBlobStore::path(const FileId& id, BlobKind kind) const {
  return dir_ / (to_base64url(id) + (kind == BlobKind::kPartial ? ".part" : ""));
}

std::optional<Bytes> DirectoryBlobStore::read(const FileId& id, BlobKind kind, uint64_t offset,
                                              uint64_t size) {
  Fd fd(::open(path(id, kind).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return std::nullopt;
  Bytes out(size);
  uint64_t done = 0;
  while (done < size) {  // bounded: every pass reads at least one byte or returns
    const ssize_t n =
        ::pread(fd.get(), out.data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    done += static_cast<uint64_t>(n);
  }
  return out;
}

Status DirectoryBlobStore::write(const FileId& id, BlobKind kind, uint64_t offset, ByteView bytes) {
  const std::filesystem::path file = path(id, kind);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  const bool created = !std::filesystem::exists(file, ec);
  Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.ok()) return io_error("open", file);
  uint64_t done = 0;
  while (done < bytes.size()) {  // bounded: every pass writes at least one byte or fails
    const ssize_t n = ::pwrite(fd.get(), bytes.data() + done, bytes.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error("write", file);
    done += static_cast<uint64_t>(n);
  }
  if (::fsync(fd.get()) != 0) return io_error("flush", file);
  if (created) sync_directory(dir_);
  return {};
}

Status DirectoryBlobStore::resize(const FileId& id, BlobKind kind, uint64_t size) {
  const std::filesystem::path file = path(id, kind);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.ok()) return io_error("open", file);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return io_error("resize", file);
  if (::fsync(fd.get()) != 0) return io_error("flush", file);
  return {};
}

Status DirectoryBlobStore::promote(const FileId& id) {
  const std::filesystem::path from = path(id, BlobKind::kPartial);
  if (::rename(from.c_str(), path(id, BlobKind::kCopy).c_str()) != 0) return io_error("move", from);
  sync_directory(dir_);
  return {};
}

Status DirectoryBlobStore::remove(const FileId& id, BlobKind kind) {
  const std::filesystem::path file = path(id, kind);
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) return io_error("remove", file);
  return {};
}

bool DirectoryBlobStore::exists(const FileId& id, BlobKind kind) {
  struct stat info {};
  return ::stat(path(id, kind).c_str(), &info) == 0;
}

std::optional<uint64_t> DirectoryBlobStore::size(const FileId& id, BlobKind kind) {
  struct stat info {};
  if (::stat(path(id, kind).c_str(), &info) != 0) return std::nullopt;
  return static_cast<uint64_t>(info.st_size);
}

std::vector<FileId> DirectoryBlobStore::list(BlobKind kind) {
  std::vector<FileId> out;
  std::error_code ec;
  // Bounded by the directory's entries; names that are not blobs (other files) are skipped.
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    const bool partial = name.size() > 5 && name.compare(name.size() - 5, 5, ".part") == 0;
    if (partial != (kind == BlobKind::kPartial)) continue;
    if (partial) name.resize(name.size() - 5);
    if (std::optional<FileId> id = fixed_from_base64url<16>(name)) out.push_back(*id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---- memory ------------------------------------------------------------------------------------

std::optional<Bytes> MemoryBlobStore::read(const FileId& id, BlobKind kind, uint64_t offset,
                                           uint64_t size) {
  auto it = blobs_.find({id, kind});
  if (it == blobs_.end() || offset > it->second.size() || size > it->second.size() - offset)
    return std::nullopt;
  const auto first = it->second.begin() + static_cast<std::ptrdiff_t>(offset);
  return Bytes(first, first + static_cast<std::ptrdiff_t>(size));
}

Status MemoryBlobStore::write(const FileId& id, BlobKind kind, uint64_t offset, ByteView bytes) {
  Bytes& blob = blobs_[{id, kind}];
  if (blob.size() < offset + bytes.size()) blob.resize(offset + bytes.size(), 0);
  std::copy(bytes.begin(), bytes.end(), blob.begin() + static_cast<std::ptrdiff_t>(offset));
  return {};
}

Status MemoryBlobStore::resize(const FileId& id, BlobKind kind, uint64_t size) {
  blobs_[{id, kind}].resize(size, 0);
  return {};
}

Status MemoryBlobStore::promote(const FileId& id) {
  auto partial = blobs_.find({id, BlobKind::kPartial});
  if (partial == blobs_.end())
    return Error(Code::kInternalError,
                 "no partial blob of file " + to_base64url(id) + " to promote");
  blobs_[{id, BlobKind::kCopy}] = std::move(partial->second);
  blobs_.erase({id, BlobKind::kPartial});
  return {};
}

Status MemoryBlobStore::remove(const FileId& id, BlobKind kind) {
  blobs_.erase({id, kind});
  return {};
}

bool MemoryBlobStore::exists(const FileId& id, BlobKind kind) {
  return blobs_.count({id, kind}) != 0;
}

std::optional<uint64_t> MemoryBlobStore::size(const FileId& id, BlobKind kind) {
  auto it = blobs_.find({id, kind});
  if (it == blobs_.end()) return std::nullopt;
  return it->second.size();
}

std::vector<FileId> MemoryBlobStore::list(BlobKind kind) {
  std::vector<FileId> out;
  for (const auto& [key, bytes] : blobs_)
    if (key.second == kind) out.push_back(key.first);
  return out;
}

}  // namespace opsync::client
