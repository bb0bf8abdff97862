// opsync-broken-server: the reference server with one deliberate defect, for testing opsync-sim
// run --server against a server that is wrong in a known way. Not installed; built for the tests.
//
//   opsync-broken-server --defect no-dedupe --port 0 --port-file PORT
//
// It is opsync-server's core and HTTP adapter over in-memory storage, with the storage wrapped:
//   no-dedupe     the log never finds an operation by its id, so a resent operation (after a lost
//                 answer) is appended again instead of being answered as a duplicate (LOG-004).
//   flaky-writes  every third write transaction fails as if the database were busy: the request
//                 gets 503 where a healthy server answers it.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "opsync/protocol/random.h"
#include "opsync/server/core.h"
#include "opsync/server/http_server.h"
#include "opsync/server/memory_storage.h"

using namespace opsync;
using namespace opsync::server;

namespace {

// Every call goes to the real transaction, except the two that find operations by id.
class NoDedupeTransaction final : public Transaction {
 public:
  NoDedupeTransaction(Transaction& inner, bool no_dedupe) : inner_(inner), no_dedupe_(no_dedupe) {}

  std::optional<LoggedOp> op_by_id(const WorkspaceId& ws, const OpId& id) override {
    return no_dedupe_ ? std::nullopt : inner_.op_by_id(ws, id);
  }
  std::optional<LoggedOp> append_op_if_absent(const WorkspaceId& ws, const OpId& id,
                                              const StoredOp& op) override {
    if (!no_dedupe_) return inner_.append_op_if_absent(ws, id, op);
    // Indexed under an id made unique by the position: the same operation goes in again.
    OpId unique = id;
    for (size_t i = 0; i < 8; ++i) unique.bytes[i] ^= static_cast<uint8_t>(op.seq >> (8 * i));
    return inner_.append_op_if_absent(ws, unique, op);
  }

  std::optional<WorkspaceRecord> workspace(const WorkspaceId& id) override {
    return inner_.workspace(id);
  }
  void insert_workspace(const WorkspaceRecord& r) override { inner_.insert_workspace(r); }
  void set_head_seq(const WorkspaceId& id, uint64_t head) override {
    inner_.set_head_seq(id, head);
  }
  void delete_workspace(const WorkspaceId& id) override { inner_.delete_workspace(id); }
  std::optional<TokenRecord> token_by_secret_hash(const Hash& h) override {
    return inner_.token_by_secret_hash(h);
  }
  std::optional<TokenRecord> token(const WorkspaceId& ws, const TokenId& id) override {
    return inner_.token(ws, id);
  }
  void put_token(const TokenRecord& r) override { inner_.put_token(r); }
  std::vector<TokenRecord> tokens_after(const WorkspaceId& ws, const std::optional<TokenId>& after,
                                        size_t limit) override {
    return inner_.tokens_after(ws, after, limit);
  }
  uint64_t live_token_count(const WorkspaceId& ws, uint64_t now_ms) override {
    return inner_.live_token_count(ws, now_ms);
  }
  std::optional<KeyRecord> key(const WorkspaceId& ws, uint32_t id) override {
    return inner_.key(ws, id);
  }
  void put_key(const WorkspaceId& ws, const KeyRecord& r) override { inner_.put_key(ws, r); }
  uint64_t key_count(const WorkspaceId& ws) override { return inner_.key_count(ws); }
  std::vector<KeyRecord> keys_after(const WorkspaceId& ws, uint32_t after, size_t limit) override {
    return inner_.keys_after(ws, after, limit);
  }
  std::vector<StoredOp> ops_after(const WorkspaceId& ws, uint64_t after, size_t limit,
                                  uint64_t bytes) override {
    return inner_.ops_after(ws, after, limit, bytes);
  }
  std::vector<Hash> op_hashes(const WorkspaceId& ws, uint64_t first, uint64_t last) override {
    return inner_.op_hashes(ws, first, last);
  }
  void put_block_hash(const WorkspaceId& ws, uint64_t index, const Hash& h) override {
    inner_.put_block_hash(ws, index, h);
  }
  std::vector<Hash> block_hashes(const WorkspaceId& ws, uint64_t start, size_t limit) override {
    return inner_.block_hashes(ws, start, limit);
  }
  std::optional<FileRecord> file(const WorkspaceId& ws, const FileId& id) override {
    return inner_.file(ws, id);
  }
  void put_file(const WorkspaceId& ws, const FileRecord& r) override { inner_.put_file(ws, r); }
  void delete_file(const WorkspaceId& ws, const FileId& id) override { inner_.delete_file(ws, id); }
  std::optional<Bytes> chunk(const WorkspaceId& ws, const FileId& id, uint32_t index) override {
    return inner_.chunk(ws, id, index);
  }
  void put_chunk(const WorkspaceId& ws, const FileId& id, uint32_t index, ByteView body) override {
    inner_.put_chunk(ws, id, index, body);
  }
  std::vector<uint32_t> chunk_indices(const WorkspaceId& ws, const FileId& id) override {
    return inner_.chunk_indices(ws, id);
  }
  uint64_t stored_bytes(const WorkspaceId& ws, const FileId& id) override {
    return inner_.stored_bytes(ws, id);
  }
  uint64_t uploading_bytes(const WorkspaceId& ws) override { return inner_.uploading_bytes(ws); }
  std::vector<FileKey> files_to_collect(uint64_t deleted_before, uint64_t idle_before,
                                        size_t limit) override {
    return inner_.files_to_collect(deleted_before, idle_before, limit);
  }

 private:
  Transaction& inner_;
  bool no_dedupe_;
};

class BrokenStorage final : public Storage {
 public:
  explicit BrokenStorage(const std::string& defect)
      : no_dedupe_(defect == "no-dedupe"), flaky_(defect == "flaky-writes") {}

  Status read(const std::function<void(Transaction&)>& body) override {
    return inner_.read([&](Transaction& txn) {
      NoDedupeTransaction broken(txn, no_dedupe_);
      body(broken);
    });
  }
  Status write(const std::function<bool(Transaction&)>& body) override {
    if (flaky_ && ++writes_ % 3 == 0)
      return Error(Code::kUnavailable, "the database is busy (a deliberate defect)");
    return inner_.write([&](Transaction& txn) {
      NoDedupeTransaction broken(txn, no_dedupe_);
      return body(broken);
    });
  }
  Status journal_revocation(const Revocation& revocation) override {
    return inner_.journal_revocation(revocation);
  }
  Result<std::vector<Revocation>> journaled_revocations() override {
    return inner_.journaled_revocations();
  }

 private:
  MemoryStorage inner_;
  bool no_dedupe_;
  bool flaky_;
  uint64_t writes_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "opsync-server with a deliberate defect, over in-memory storage (for tests of opsync-sim "
      "--server)"};
  std::string defect = "no-dedupe", port_file;
  uint16_t port = 0;
  app.add_option("--defect", defect, "The defect: no-dedupe or flaky-writes")
      ->check(CLI::IsMember({"no-dedupe", "flaky-writes"}));
  app.add_option("--port", port, "Port on 127.0.0.1 (0 picks a free one)");
  app.add_option("--port-file", port_file, "Write the port here once listening");
  CLI11_PARSE(app, argc, argv);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  BrokenStorage storage(defect);
  SystemRandom random;
  ServerConfig config;
  ServerCore core(config, storage, random);
  HttpOptions http;
  http.port = port;
  http.threads = 1;  // the in-memory storage is not shared between threads
  http.gc_interval_ms = 0;
  http.log_format = LogFormat::kNone;
  Result<std::unique_ptr<HttpServer>> server = HttpServer::bind(core, http, std::cout);
  if (!server.ok()) {
    std::cerr << "opsync-broken-server: " << server.error().message << '\n';
    return 1;
  }
  if (!port_file.empty()) {
    const std::string temporary = port_file + ".tmp";
    std::ofstream(temporary) << (*server)->port() << '\n';
    std::filesystem::rename(temporary, port_file);
  }
  std::cerr << "opsync-broken-server: " << defect
            << ", listening on http://127.0.0.1:" << (*server)->port() << '\n';
  std::thread([signals, &server]() mutable {
    int received = 0;
    sigwait(&signals, &received);
    (*server)->stop();
  }).detach();
  (*server)->serve();
  return 0;
}
