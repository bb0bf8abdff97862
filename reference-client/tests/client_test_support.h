// Shared helpers of the client store tests: temporary directories, stores on them, operations
// with both their wire form and their meaning, and a check that a call fails an OPSYNC_CHECK.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "opsync/client/store.h"
#include "opsync/protocol/messages.h"
#include "test_printers.h"

namespace opsync::client {

inline std::ostream& operator<<(std::ostream& out, FilePending pending) {
  switch (pending) {
    case FilePending::kNone:
      return out << "none";
    case FilePending::kWait:
      return out << "wait";
    case FilePending::kMissing:
      return out << "missing";
  }
  return out << "?";
}

}  // namespace opsync::client

namespace opsync::client::testing {

// A directory removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "opsync-client-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The value of a Result, or an exception naming the error: fails a Boost.Test case and a
// RapidCheck property alike, with the store's message.
template <typename T>
T must(Result<T> result) {
  if (!result.ok()) throw std::runtime_error("unexpected error: " + result.error().to_string());
  return std::move(result.value());
}
inline void must(const Status& status) {
  if (!status.ok()) throw std::runtime_error("unexpected error: " + status.error().to_string());
}

inline Id id_of(uint8_t first, uint8_t last = 0) {
  Id id;
  id.bytes[0] = first;
  id.bytes[15] = last;
  return id;
}

inline DeviceId this_device() { return id_of(0xD0, 1); }
inline DeviceId other_device() { return id_of(0xD0, 2); }

inline WorkspaceBinding test_binding(uint32_t block_size = 3) {
  return WorkspaceBinding{"https://sync.example", id_of(0x57, 1), this_device(), block_size};
}

// Stores in tests commit thousands of transactions: survive a process crash, skip the fsync.
inline StoreOptions test_options() {
  StoreOptions options;
  options.durability = Durability::kProcess;
  return options;
}

inline std::unique_ptr<LocalStore> create_store(const std::filesystem::path& dir,
                                                uint32_t block_size = 3,
                                                StoreOptions options = test_options()) {
  return must(LocalStore::create(dir, test_binding(block_size), "token-1", std::move(options)));
}
inline std::unique_ptr<LocalStore> open_store(const std::filesystem::path& dir,
                                              StoreOptions options = test_options()) {
  return must(LocalStore::open(dir, std::move(options)));
}

inline ObjectOp make_object(const OpId& id, Hlc hlc, std::string key, OpType type,
                            std::vector<OpId> bases = {}, std::string value = "",
                            std::vector<FileRef> files = {}) {
  ObjectOp op;
  op.id = id;
  op.hlc = hlc;
  op.payload.type = type;
  op.payload.key = std::move(key);
  op.payload.bases = std::move(bases);
  if (type == OpType::kPut) {
    op.payload.value = to_bytes(value);
    op.payload.files = std::move(files);
  }
  return op;
}

// The wire form of an object operation: a deterministic stand-in for the sealed payload (the
// store never decrypts), so the same operation always has the same encoding and hash.
inline WireOp wire_of(const ObjectOp& object, const DeviceId& device) {
  WireOp op;
  op.id = object.id;
  op.device_id = device;
  op.hlc = object.hlc;
  op.key_id = 1;
  op.payload = Bytes(28, 0xA5);
  append_bytes(op.payload, object.id.view());
  append_ascii(op.payload, object.payload.key);
  append_u64(op.payload, object.payload.bases.size());
  return op;
}

inline LocalStore::LocalEdit local_edit(const ObjectOp& object,
                                        std::vector<FileId> attached_here = {}) {
  return LocalStore::LocalEdit{wire_of(object, this_device()), object, std::move(attached_here),
                               object.hlc};
}

inline PageOp page_op(uint64_t seq, const ObjectOp& object, const DeviceId& device) {
  return PageOp{SequencedOp{seq, wire_of(object, device)}, object};
}

inline OpResult accepted(const OpId& id, uint64_t seq) {
  OpResult result;
  result.id = id;
  result.status = OpStatus::kAccepted;
  result.seq = seq;
  return result;
}

inline FileRef file_ref(const FileId& id, std::string name, uint64_t size_bytes) {
  FileRef ref;
  ref.id = id;
  ref.name = std::move(name);
  ref.size_bytes = size_bytes;
  ref.chunk_bytes = 65536;
  ref.chunk_count = static_cast<uint32_t>(size_bytes == 0 ? 1 : (size_bytes + 65535) / 65536);
  ref.sha256.bytes[0] = id.bytes[0];
  return ref;
}

// Output buffered before a fork would otherwise be written twice, once by each process.
inline void flush_before_fork() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
}

// Runs `body` in a child process and reports whether it failed an always-on OPSYNC_CHECK (the
// process aborts with "invariant violated") whose message contains `expected`. The parent's
// open stores must be closed first: an SQLite connection must not cross a fork.
inline bool fails_check(const std::function<void()>& body, const std::string& expected) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  flush_before_fork();
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    // Boost.Test turns SIGABRT into a reported test failure; the child must die of it instead.
    signal(SIGABRT, SIG_DFL);
    close(pipe_fds[0]);
    dup2(pipe_fds[1], STDERR_FILENO);
    try {
      body();
    } catch (...) {
      _exit(3);
    }
    _exit(0);  // returned normally: the check did not fire
  }
  close(pipe_fds[1]);
  std::string output;
  char buffer[512];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) output.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  const bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  BOOST_TEST_MESSAGE("child " << (aborted ? "aborted" : "did not abort") << ": " << output);
  return aborted && output.find("invariant violated") != std::string::npos &&
         output.find(expected) != std::string::npos;
}

// Runs `body` in a child process that ends with _exit, as if the device lost power or was
// killed: no destructor, no rollback, no checkpoint. Returns the child's exit status.
inline int run_and_vanish(const std::function<void()>& body) {
  flush_before_fork();
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    try {
      body();
    } catch (...) {
      _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace opsync::client::testing
