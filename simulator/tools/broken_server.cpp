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
#include "opsync/server/forwarding_storage.h"
#include "opsync/server/http_server.h"
#include "opsync/server/memory_storage.h"

using namespace opsync;
using namespace opsync::server;

namespace {

// Every call goes to the real transaction, except the two that find operations by id.
class NoDedupeTransaction final : public ForwardingTransaction {
 public:
  NoDedupeTransaction(Transaction& inner, bool no_dedupe)
      : ForwardingTransaction(inner), no_dedupe_(no_dedupe) {}

  std::optional<LoggedOp> op_by_id(const WorkspaceId& ws, const OpId& id) override {
    return no_dedupe_ ? std::nullopt : inner().op_by_id(ws, id);
  }
  std::optional<LoggedOp> append_op_if_absent(const WorkspaceId& ws, const OpId& id,
                                              const StoredOp& op) override {
    if (!no_dedupe_) return inner().append_op_if_absent(ws, id, op);
    // Indexed under an id made unique by the position: the same operation goes in again.
    OpId unique = id;
    for (size_t i = 0; i < 8; ++i) unique.bytes[i] ^= static_cast<uint8_t>(op.seq >> (8 * i));
    return inner().append_op_if_absent(ws, unique, op);
  }

 private:
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
