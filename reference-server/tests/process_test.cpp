// The opsync-server binary as a separate process: kill -9 under load loses no acknowledged
// operation and shows no partial batch; SIGTERM finishes in-flight requests and exits cleanly;
// --help documents every flag.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
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
            for (const OpResult& r : answer.as<UploadOpsResponse>().results)
              batch.seqs.push_back(r.seq);
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
    return poll_until([&] { return acknowledged_ >= count; },
                      std::chrono::milliseconds(deadline_ms));
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
    HttpAnswer answer =
        http.get(ws.path("/ops?after_seq=" + std::to_string(after)), ws.owner_token);
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
void check_nothing_acknowledged_was_lost(const std::map<OpId, uint64_t>& log,
                                         const std::vector<Batch>& batches,
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
      BOOST_TEST((present == 0 || present == batch.ids.size()),
                 "a partial batch is visible");  // LOG-007
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
    // The delay is the test's input, not a wait for anything: where in the load the kill lands.
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    BOOST_TEST(server.signal_and_wait(SIGKILL) == 128 + SIGKILL);
    load.join();
    BOOST_TEST(load.unexpected() == 0);
    all_batches.insert(all_batches.end(), load.batches().begin(), load.batches().end());

    ServerProcess restarted(dir.path());
    const std::map<OpId, uint64_t> log = read_log(restarted.port(), ws);
    size_t acknowledged = 0;
    check_nothing_acknowledged_was_lost(log, all_batches, acknowledged);
    BOOST_TEST_MESSAGE("after a kill at " << delay_ms << " ms: " << acknowledged
                                          << " acknowledged operations, " << log.size()
                                          << " in the log");
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
  const std::string help_file =
      std::filesystem::temp_directory_path() / ("opsync-help-" + std::to_string(getpid()));
  const std::string command = std::string(OPSYNC_SERVER_BINARY) + " --help > " + help_file;
  BOOST_REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream in(help_file);
  const std::string help((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(help_file);
  for (const char* flag : {"--data-dir",
                           "--listen",
                           "--port",
                           "--port-file",
                           "--block-size",
                           "--max-skew-ms",
                           "--tls-cert",
                           "--tls-key",
                           "--registration",
                           "--log-format",
                           "--threads",
                           "--io-threads",
                           "--connections-max",
                           "--request-memory-mib-max",
                           "--header-timeout-ms",
                           "--body-timeout-ms",
                           "--idle-timeout-ms",
                           "--write-timeout-ms",
                           "--shutdown-timeout-ms",
                           "--registration-credential-file",
                           "create-workspace"})
    BOOST_TEST(help.find(flag) != std::string::npos, flag);

  TempDir dir;
  ServerProcess first(dir.path());
  const std::string second = std::string(OPSYNC_SERVER_BINARY) + " --data-dir " + dir.path() +
                             " --port 0 --log-format none 2>/dev/null";
  BOOST_TEST(WEXITSTATUS(std::system(second.c_str())) == 1);  // refused: the directory is locked
}

// The registration credential (AUTH-006): an unusable credential file or one given with open
// registration is refused at start, before the data directory is touched; `create-workspace`
// beside a running server is refused too, and says how to create the workspace through it.
BOOST_AUTO_TEST_CASE(registration_credential_is_checked_and_create_workspace_points_to_it) {
  TempDir dir;
  const std::filesystem::path scratch = std::filesystem::path(dir.path()) / "scratch";
  std::filesystem::create_directories(scratch);
  const auto run = [&](const std::string& arguments) {
    const std::string command = std::string(OPSYNC_SERVER_BINARY) + " --port 0 --log-format none " +
                                arguments + " > " + (scratch / "out").string() + " 2> " +
                                (scratch / "err").string();
    const int status = std::system(command.c_str());
    std::ifstream in(scratch / "err");
    const std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return std::make_pair(WEXITSTATUS(status), err);
  };
  std::ofstream(scratch / "short") << "tooshort\n";
  std::ofstream(scratch / "spaces") << "a credential with spaces in it, long enough\n";
  std::ofstream(scratch / "good") << "0123456789abcdefghijklmnopqrstuvwxyz\n";
  const std::string data = (scratch / "data").string();
  for (const char* file : {"short", "spaces"}) {
    const auto [code, err] =
        run("--data-dir " + data + " --registration closed --registration-credential-file " +
            (scratch / file).string());
    BOOST_TEST(code == 2, file);
    BOOST_TEST(err.find("printable characters without spaces") != std::string::npos, err);
  }
  const auto [open_code, open_err] =
      run("--data-dir " + data + " --registration-credential-file " + (scratch / "good").string());
  BOOST_TEST(open_code == 2);
  BOOST_TEST(open_err.find("needs --registration closed") != std::string::npos, open_err);
  BOOST_TEST(!std::filesystem::exists(data));  // refused before the data directory was made

  ServerProcess running(data);
  const auto [create_code, create_err] = run("create-workspace --data-dir " + data);
  BOOST_TEST(create_code == 1);
  BOOST_TEST(create_err.find("another server is using") != std::string::npos, create_err);
  BOOST_TEST(create_err.find("--registration-credential-file") != std::string::npos, create_err);
}

namespace {

// A connection to 127.0.0.1:PORT, or -1.
int connect_to(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The whole answer to `request` on a new connection that the server closes after answering.
std::string exchange_raw(uint16_t port, const std::string& request) {
  const int fd = connect_to(port);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(::send(fd, request.data(), request.size(), 0) ==
                static_cast<ssize_t>(request.size()));
  std::string answer;
  char buffer[4096];
  for (ssize_t got; (got = ::recv(fd, buffer, sizeof buffer, 0)) > 0;)
    answer.append(buffer, static_cast<size_t>(got));
  ::close(fd);
  return answer;
}

}  // namespace

// --metrics-listen: a scrape of the separate listener shows, in Prometheus's text format, the
// requests made by route and status, their latency histogram, the open and refused connections,
// the database's size and the workspaces by log length; the protocol's port serves no metrics.
BOOST_AUTO_TEST_CASE(metrics_listen_serves_prometheus_text_of_what_happened) {
  TempDir dir;
  // Idle connections kept for minutes: on a busy machine a scrape may come long after they opened.
  std::vector<std::string> flags = metrics_flags(dir.path());
  for (const char* flag :
       {"--connections-max", "3", "--header-timeout-ms", "600000", "--idle-timeout-ms", "600000"})
    flags.push_back(flag);
  ServerProcess server(dir.path(), flags);
  const uint16_t metrics_port = server.metrics_port();

  const Workspace ws = create_workspace(server.port());
  SystemRandom random;
  {
    Http http("127.0.0.1", server.port());
    UploadOpsRequest upload;
    for (int i = 0; i < 5; ++i) upload.ops.push_back(make_op(random, system_time_ms()));
    BOOST_REQUIRE_EQUAL(http.post(ws.path("/ops"), upload, ws.owner_token).status, 200);
    BOOST_REQUIRE_EQUAL(http.get(ws.path("/ops?after_seq=0"), ws.owner_token).status, 200);
    BOOST_REQUIRE_EQUAL(
        http.get(ws.path("/ops?after_seq=0"), "opsync_not-a-token-of-this-server").status, 401);
  }
  // Three idle connections fill --connections-max; a fourth is refused. The server closes the
  // connection of the requests above on its own thread: until it has, an idle connection could be
  // the one refused.
  wait_for_open_connections(server, 0);
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(connect_to(server.port()));
  wait_for_open_connections(server, 3);
  // Connection: close, so that a wrong 200 fails the check at once instead of keeping the
  // connection for the idle timeout.
  const std::string refused =
      exchange_raw(server.port(), "GET /v1/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  BOOST_TEST(refused.rfind("HTTP/1.1 503", 0) == 0u, refused.substr(0, 40));

  const std::string answer =
      exchange_raw(metrics_port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  BOOST_REQUIRE(answer.rfind("HTTP/1.1 200", 0) == 0u);
  BOOST_TEST(answer.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  const std::string scrape = "\n" + answer.substr(answer.find("\r\n\r\n") + 4);
  BOOST_TEST_MESSAGE(scrape);
  // The text format: comments, or a name, optional labels and a number.
  const std::regex line_format(
      R"(^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+)$)");
  std::istringstream lines(scrape.substr(1));
  size_t samples = 0;
  for (std::string line; std::getline(lines, line);) {
    BOOST_TEST(std::regex_match(line, line_format), line);
    samples += line[0] != '#';
  }
  BOOST_TEST(samples > 20u);

  const std::string ops_route = "route=\"POST /v1/workspaces/{workspace_id}/ops\"";
  BOOST_TEST(
      metrics_sample(scrape,
                     "opsync_http_requests_total{route=\"POST /v1/workspaces\",status=\"201\"}") ==
      1.0);
  BOOST_TEST(metrics_sample(scrape,
                            "opsync_http_requests_total{" + ops_route + ",status=\"200\"}") == 1.0);
  BOOST_TEST(metrics_sample(scrape,
                            "opsync_http_requests_total{route=\"GET "
                            "/v1/workspaces/{workspace_id}/ops\",status=\"401\"}") == 1.0);
  BOOST_TEST(metrics_sample(
                 scrape, "opsync_http_request_duration_seconds_count{" + ops_route + "}") == 1.0);
  BOOST_TEST(metrics_sample(scrape, "opsync_http_request_duration_seconds_bucket{" + ops_route +
                                        ",le=\"+Inf\"}") == 1.0);
  BOOST_TEST(metrics_sample(scrape, "opsync_http_request_duration_seconds_sum{" + ops_route + "}") >
             0.0);
  BOOST_TEST(metrics_sample(scrape, "opsync_http_connections_open") == 3.0);
  BOOST_TEST(metrics_sample(scrape, "opsync_http_connections_refused_total") == 1.0);
  BOOST_TEST(metrics_sample(scrape, "opsync_database_size_bytes") > 4096.0);
  BOOST_TEST(metrics_sample(scrape, "opsync_workspaces") == 1.0);
  BOOST_TEST(metrics_sample(scrape, "opsync_workspace_log_operations_bucket{le=\"0\"}") == 0.0);
  BOOST_TEST(metrics_sample(scrape, "opsync_workspace_log_operations_bucket{le=\"100\"}") == 1.0);
  BOOST_TEST(metrics_sample(scrape, "opsync_workspace_log_operations_sum") == 5.0);
  for (const int fd : idle) ::close(fd);

  // Only /metrics there; no metrics on the protocol's port.
  BOOST_TEST(
      exchange_raw(metrics_port, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
          .rfind("HTTP/1.1 404", 0) == 0u);
  BOOST_TEST(Http("127.0.0.1", server.port()).get("/metrics").status == 404);
  // A malformed address is refused at start.
  const std::string bad = std::string(OPSYNC_SERVER_BINARY) + " --data-dir " + dir.path() +
                          "/other --metrics-listen nowhere --log-format none 2>/dev/null";
  BOOST_TEST(WEXITSTATUS(std::system(bad.c_str())) == 2);
}

BOOST_AUTO_TEST_SUITE_END()
