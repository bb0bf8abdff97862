// The opsync-server binary as a separate process: kill -9 under load loses no acknowledged
// operation and shows no partial batch; SIGTERM finishes in-flight requests and exits cleanly;
// --help documents every flag.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "server_fixture.h"
#include "server_process.h"

using namespace opsync;
using namespace opsync::server;
using namespace opsync::server::testing;

namespace {

struct Batch {
  std::vector<OpId> ids;
  bool acknowledged = false;
  std::vector<uint64_t> seqs;  // when acknowledged
};

// Uploaders that run until the server stops answering, recording every batch they sent.
class Load {
 public:
  Load(uint16_t port, const Workspace& ws, int uploaders, int ops_per_batch) {
    for (int u = 0; u < uploaders; ++u)
      threads_.emplace_back([this, port, ws, ops_per_batch] {
        Http http("127.0.0.1", port);
        SystemRandom random;
        while (true) {
          UploadOpsRequest request;
          Batch batch;
          for (int i = 0; i < ops_per_batch; ++i) {
            request.ops.push_back(make_op(random, system_time_ms()));
            batch.ids.push_back(request.ops.back().id);
          }
          HttpAnswer answer = http.post(ws.path("/ops"), request, ws.owner_token);
          if (answer.status == 200) {
            batch.acknowledged = true;
            ++acknowledged_;
            for (const OpResult& r : answer.as<UploadOpsResponse>().results) batch.seqs.push_back(r.seq);
          } else if (answer.status != 0) {
            ++unexpected_;
          }
          std::lock_guard lock(mutex_);
          batches_.push_back(std::move(batch));
          if (answer.status != 200) return;  // the server is gone
        }
      });
  }
  void join() {
    for (std::thread& t : threads_) t.join();
  }
  const std::vector<Batch>& batches() const { return batches_; }
  int unexpected() const { return unexpected_; }
  // Waits until `count` batches were acknowledged, at most `deadline_ms`: a condition, not a
  // guess at how long a busy machine takes. False when the deadline passed first.
  bool wait_for_acknowledged(int count, int deadline_ms) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
    while (acknowledged_ < count) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the condition
    }
    return true;
  }

 private:
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::vector<Batch> batches_;
  std::atomic<int> unexpected_{0};
  std::atomic<int> acknowledged_{0};
};

std::map<OpId, uint64_t> read_log(uint16_t port, const Workspace& ws) {
  Http http("127.0.0.1", port);
  std::map<OpId, uint64_t> log;
  uint64_t after = 0;
  for (int pages = 0; pages < 100000; ++pages) {
    HttpAnswer answer = http.get(ws.path("/ops?after_seq=" + std::to_string(after)), ws.owner_token);
    BOOST_REQUIRE_EQUAL(answer.status, 200);
    OpsPageResponse page = answer.as<OpsPageResponse>();
    for (const SequencedOp& op : page.ops) {
      BOOST_REQUIRE_EQUAL(op.seq, log.size() + 1);  // dense
      BOOST_REQUIRE(log.emplace(op.op.id, op.seq).second);
    }
    if (!page.next_after_seq) break;
    after = *page.next_after_seq;
  }
  return log;
}

Workspace create_workspace(uint16_t port) {
  HttpAnswer answer = Http("127.0.0.1", port).post("/v1/workspaces", std::string("{}"));
  BOOST_REQUIRE_EQUAL(answer.status, 201);
  CreateWorkspaceResponse created = answer.as<CreateWorkspaceResponse>();
  return Workspace{to_base64url(created.workspace_id), created.owner_token};
}

// Every acknowledged operation is where the server said; every batch is all there or absent.
void check_nothing_acknowledged_was_lost(const std::map<OpId, uint64_t>& log, const std::vector<Batch>& batches,
                                         size_t& acknowledged_ops) {
  for (const Batch& batch : batches) {
    size_t present = 0;
    for (size_t i = 0; i < batch.ids.size(); ++i) {
      auto it = log.find(batch.ids[i]);
      if (it == log.end()) continue;
      ++present;
      if (batch.acknowledged) BOOST_TEST(it->second == batch.seqs[i]);
    }
    if (batch.acknowledged) {
      BOOST_TEST(present == batch.ids.size());  // LOG-008
      acknowledged_ops += batch.ids.size();
    } else {
      BOOST_TEST((present == 0 || present == batch.ids.size()), "a partial batch is visible");  // LOG-007
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(process)

BOOST_AUTO_TEST_CASE(kill_9_under_load_loses_no_acknowledged_operation) {
  TempDir dir;
  Workspace ws;
  {
    ServerProcess server(dir.path());
    ws = create_workspace(server.port());
    server.signal_and_wait(SIGTERM);
  }
  size_t acknowledged_total = 0;
  std::vector<Batch> all_batches;
  // Kill at several moments of the load, restarting on the same data directory each time.
  for (int delay_ms : {120, 350, 700, 50}) {
    ServerProcess server(dir.path());
    Load load(server.port(), ws, 8, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    BOOST_TEST(server.signal_and_wait(SIGKILL) == 128 + SIGKILL);
    load.join();
    BOOST_TEST(load.unexpected() == 0);
    all_batches.insert(all_batches.end(), load.batches().begin(), load.batches().end());

    ServerProcess restarted(dir.path());
    const std::map<OpId, uint64_t> log = read_log(restarted.port(), ws);
    size_t acknowledged = 0;
    check_nothing_acknowledged_was_lost(log, all_batches, acknowledged);
    BOOST_TEST_MESSAGE("after a kill at " << delay_ms << " ms: " << acknowledged << " acknowledged operations, "
                                          << log.size() << " in the log");
    acknowledged_total = acknowledged;
    BOOST_TEST(restarted.signal_and_wait(SIGTERM) == 0);
  }
  BOOST_TEST(acknowledged_total > 0u);
  Result<std::unique_ptr<SqliteStorage>> storage = SqliteStorage::open(dir.path());
  BOOST_REQUIRE(storage.ok());
  BOOST_TEST((*storage)->integrity_check() == "ok");
}

BOOST_AUTO_TEST_CASE(sigterm_finishes_in_flight_requests_and_exits_cleanly) {
  TempDir dir;
  ServerProcess server(dir.path());
  Workspace ws = create_workspace(server.port());
  Load load(server.port(), ws, 4, 500);
  // SIGTERM once uploads are acknowledged, so some are in flight when it lands (a fixed sleep
  // failed on a busy machine: nothing had been acknowledged yet).
  BOOST_TEST(load.wait_for_acknowledged(2, 60000));
  BOOST_TEST(server.signal_and_wait(SIGTERM) == 0);
  load.join();
  BOOST_TEST(load.unexpected() == 0);  // requests got a full answer or none, never an error

  ServerProcess restarted(dir.path());
  const std::map<OpId, uint64_t> log = read_log(restarted.port(), ws);
  size_t acknowledged = 0;
  check_nothing_acknowledged_was_lost(log, load.batches(), acknowledged);
  BOOST_TEST(acknowledged > 0u);
}

BOOST_AUTO_TEST_CASE(help_documents_every_flag_and_two_servers_never_share_a_directory) {
  const std::string help_file = std::filesystem::temp_directory_path() / ("opsync-help-" + std::to_string(getpid()));
  const std::string command = std::string(OPSYNC_SERVER_BINARY) + " --help > " + help_file;
  BOOST_REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream in(help_file);
  const std::string help((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(help_file);
  for (const char* flag : {"--data-dir", "--listen", "--port", "--port-file", "--block-size", "--max-skew-ms",
                           "--tls-cert", "--tls-key", "--registration", "--log-format", "--threads", "--io-threads",
                           "--connections-max", "--request-memory-mib-max", "--header-timeout-ms", "--body-timeout-ms", "--idle-timeout-ms",
                           "--write-timeout-ms", "--shutdown-timeout-ms", "create-workspace"})
    BOOST_TEST(help.find(flag) != std::string::npos, flag);

  TempDir dir;
  ServerProcess first(dir.path());
  const std::string second = std::string(OPSYNC_SERVER_BINARY) + " --data-dir " + dir.path() +
                             " --port 0 --log-format none 2>/dev/null";
  BOOST_TEST(WEXITSTATUS(std::system(second.c_str())) == 1);  // refused: the directory is locked
}

BOOST_AUTO_TEST_SUITE_END()
