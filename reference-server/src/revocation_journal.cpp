#include "revocation_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/endpoints.h"

namespace opsync::server {
namespace {

constexpr std::string_view kLinePrefix = "opsync-revocation/1 ";
constexpr size_t kLineBytesMax = 256;
// A revocation is one line of about 70 bytes; a million of them is 70 MB. More means the file is
// not a journal (a wrong path): refuse rather than read it whole.
constexpr uint64_t kJournalBytesMax = uint64_t{1} << 30;

}  // namespace

std::string RevocationJournal::format(const Revocation& r) {
  return std::string(kLinePrefix) + to_base64url(r.workspace) + " " + to_base64url(r.token) + " " +
         std::to_string(r.revoked_at_ms) + "\n";
}

Result<Revocation> RevocationJournal::parse(std::string_view line) {
  if (line.size() > kLineBytesMax || line.substr(0, kLinePrefix.size()) != kLinePrefix)
    return Error(Code::kInternalError, "not a line of the revocation journal");
  line.remove_prefix(kLinePrefix.size());
  std::vector<std::string_view> parts;
  for (size_t start = 0; start <= line.size() && parts.size() < 4;) {
    const size_t space = line.find(' ', start);
    parts.push_back(line.substr(
        start, space == std::string_view::npos ? std::string_view::npos : space - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  if (parts.size() != 3) return Error(Code::kInternalError, "a revocation line has three fields");
  const std::optional<Id> workspace = fixed_from_base64url<16>(parts[0]);
  const std::optional<Id> token = fixed_from_base64url<16>(parts[1]);
  const std::optional<uint64_t> at = parse_decimal_parameter(parts[2], 0, UINT64_MAX);
  if (!workspace || !token || !at)
    return Error(Code::kInternalError, "a revocation line does not parse");
  return Revocation{*workspace, *token, *at};
}

Result<RevocationJournal> RevocationJournal::open(std::string path, bool flush_to_disk) {
  std::vector<Revocation> entries;
  std::ifstream in(path, std::ios::binary);
  if (in) {
    in.seekg(0, std::ios::end);
    const auto size = static_cast<uint64_t>(in.tellg());
    if (size > kJournalBytesMax)
      return Error(Code::kInternalError, path + " is too large to be a revocation journal");
    in.seekg(0);
    std::string line;
    for (uint64_t number = 1; std::getline(in, line); ++number) {  // bounded by the file's size
      Result<Revocation> entry = parse(line);
      // A last line without its newline is an append cut by a crash before it was acknowledged:
      // the revocation it was writing never committed, so it is dropped, not an error.
      if (!entry.ok() && in.eof()) break;
      if (!entry.ok())
        return Error(Code::kInternalError,
                     path + " line " + std::to_string(number) + ": " + entry.error().message);
      entries.push_back(*entry);
    }
  }
  return RevocationJournal(std::move(path), flush_to_disk, std::move(entries));
}

RevocationJournal::RevocationJournal(std::string path, bool flush_to_disk,
                                     std::vector<Revocation> entries)
    : path_(std::move(path)), flush_to_disk_(flush_to_disk), entries_(std::move(entries)) {}

RevocationJournal::RevocationJournal(RevocationJournal&& other) noexcept
    : path_(std::move(other.path_)),
      flush_to_disk_(other.flush_to_disk_),
      entries_(std::move(other.entries_)) {}

Status RevocationJournal::append(const Revocation& revocation) {
  const std::string line = format(revocation);
  std::lock_guard lock(mutex_);
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Error(Code::kUnavailable, "cannot open the revocation journal " + path_);
  size_t written = 0;
  while (written < line.size()) {  // bounded by the line's length
    const ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n <= 0) {
      ::close(fd);
      return Error(Code::kUnavailable, "cannot write the revocation journal " + path_);
    }
    written += static_cast<size_t>(n);
  }
  const bool flushed = !flush_to_disk_ || ::fsync(fd) == 0;
  ::close(fd);
  if (!flushed) return Error(Code::kUnavailable, "cannot flush the revocation journal " + path_);
  entries_.push_back(revocation);
  return {};
}

std::vector<Revocation> RevocationJournal::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

}  // namespace opsync::server
