// A real server for tests: SQLite in a fresh temporary directory, the HTTP adapter on 127.0.0.1
// with a free port, and a real cpp-httplib client. Nothing is mocked.
#pragma once

#include <httplib.h>
#include <sqlite3.h>

#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/random.h"
#include "opsync/protocol/sha256.h"
#include "opsync/server/core.h"
#include "opsync/server/http_server.h"
#include "opsync/server/sqlite_storage.h"
#include "wait_until.h"

namespace opsync {

// Boost.Test prints values through operator<< found by ADL.
template <size_t N>
std::ostream& operator<<(std::ostream& out, const FixedBytes<N>& value) {
  return out << to_base64url(value);
}

}  // namespace opsync

// Values Boost.Test cannot print; assertions on them still report which check failed.
BOOST_TEST_DONT_PRINT_LOG_VALUE(std::optional<uint64_t>)
BOOST_TEST_DONT_PRINT_LOG_VALUE(std::optional<std::vector<opsync::ChunkRange>>)
BOOST_TEST_DONT_PRINT_LOG_VALUE(std::vector<opsync::ChunkRange>)

namespace opsync::server::testing {

using opsync::testing::poll_until;
using opsync::testing::wait_until;

// A directory removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "opsync-test-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct HttpAnswer {
  int status = 0;  // 0: no response (transport failure)
  std::string body;
  std::string content_type;
  httplib::Headers headers;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  // The error code of an error body, or "".
  std::string code() const {
    Result<ErrorBody> error = parse_message<ErrorBody>(body);
    return error.ok() ? error->code_name : "";
  }
  std::string field() const {
    Result<ErrorBody> error = parse_message<ErrorBody>(body);
    return error.ok() ? error->field : "";
  }
  template <typename M>
  M as() const {
    Result<M> parsed = parse_message<M>(body);
    BOOST_REQUIRE_MESSAGE(
        parsed.ok(), "response does not parse: " << (parsed.ok() ? "" : parsed.error().to_string())
                                                 << "\n"
                                                 << body.substr(0, 500));
    return *parsed;
  }
};

// With OPSYNC_RESPONSE_LOG set to a directory, every response the tests receive is appended to
// a file there, with the message its endpoint answers for its status (section 14), so that
// spec/check_schemas.py can check each body against its schema (spec 1.4).
class ResponseLog {
 public:
  static void record(const std::string& method, const std::string& target, int status,
                     const std::string& body) {
    static ResponseLog log;
    if (!log.out_) return;
    const std::string path = target.substr(0, target.find('?'));
    std::string message;
    const RouteMatch match = match_route(method, path);
    if (status >= 400) {
      message = "ErrorBody";
    } else if (match.kind == RouteMatch::Kind::kMatched) {
      for (const SuccessResponse& success : match.endpoint->success)
        if (success.status == status)
          message = success.body == BodyKind::kChunk ? "chunk" : std::string(success.message);
    }
    const nlohmann::json line{{"method", method},
                              {"path", path},
                              {"status", status},
                              {"message", message},
                              {"body", message == "chunk" ? "" : body}};
    std::lock_guard lock(log.mutex_);
    *log.out_ << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n'
              << std::flush;
  }

 private:
  ResponseLog() {
    const char* dir = std::getenv("OPSYNC_RESPONSE_LOG");
    if (!dir || !*dir) return;
    std::filesystem::create_directories(dir);
    out_ = std::make_unique<std::ofstream>(
        std::filesystem::path(dir) /
        (std::string(OPSYNC_TEST_PROGRAM) + "-" + std::to_string(getpid()) + ".jsonl"));
  }
  std::mutex mutex_;
  std::unique_ptr<std::ofstream> out_;
};

// A client for one server. Every method is one real HTTP request.
class Http {
 public:
  Http(const std::string& host, uint16_t port, bool tls = false)
      : client_(std::make_unique<httplib::Client>((tls ? "https://" : "http://") + host + ":" +
                                                  std::to_string(port))) {
    client_->enable_server_certificate_verification(
        false);  // tests use their own self-signed certificate
    client_->set_read_timeout(30, 0);
    client_->set_keep_alive(true);
  }

  HttpAnswer request(const std::string& method, const std::string& path,
                     const std::string& token = "", const std::string& body = "",
                     const std::string& content_type = "application/json",
                     httplib::Headers extra = {}) {
    if (!token.empty()) extra.emplace("Authorization", "Bearer " + token);
    auto send = [&]() -> httplib::Result {
      if (method == "GET") return client_->Get(path, extra);
      if (method == "DELETE") return client_->Delete(path, extra, body, content_type);
      if (method == "POST") return client_->Post(path, extra, body, content_type);
      if (method == "PUT") return client_->Put(path, extra, body, content_type);
      if (method == "PATCH") return client_->Patch(path, extra, body, content_type);
      return client_->Options(path, extra);
    };
    httplib::Result result = send();
    HttpAnswer answer;
    if (!result) {
      answer.body = httplib::to_string(result.error());  // why there was no response
      return answer;
    }
    answer.status = result->status;
    answer.body = result->body;
    answer.headers = result->headers;
    answer.content_type = result->get_header_value("Content-Type");
    ResponseLog::record(method, path, answer.status, answer.body);
    return answer;
  }
  HttpAnswer get(const std::string& path, const std::string& token = "") {
    return request("GET", path, token);
  }
  HttpAnswer post(const std::string& path, const std::string& body, const std::string& token = "") {
    return request("POST", path, token, body);
  }
  template <typename M>
  HttpAnswer post(const std::string& path, const M& message, const std::string& token = "") {
    return request("POST", path, token, serialize_message(message));
  }

 private:
  std::unique_ptr<httplib::Client> client_;
};

// A workspace created through the API, with its owner token.
// The server's storage, counting the transactions the core opens on it: a test holds a request
// to one read for its admission plus what its endpoint reads.
class CountingStorage final : public Storage {
 public:
  explicit CountingStorage(Storage& inner) : inner_(inner) {}
  Status read(const std::function<void(Transaction&)>& body) override {
    reads_.fetch_add(1);
    return inner_.read(body);
  }
  Status write(const std::function<bool(Transaction&)>& body) override {
    writes_.fetch_add(1);
    return inner_.write(body);
  }
  Status journal_revocation(const Revocation& revocation) override {
    return inner_.journal_revocation(revocation);
  }
  Result<std::vector<Revocation>> journaled_revocations() override {
    return inner_.journaled_revocations();
  }
  uint64_t reads() const { return reads_.load(); }
  uint64_t writes() const { return writes_.load(); }

 private:
  Storage& inner_;
  std::atomic<uint64_t> reads_{0};
  std::atomic<uint64_t> writes_{0};
};

struct Workspace {
  std::string id;  // base64url
  std::string owner_token;
  std::string path(const std::string& rest = "") const { return "/v1/workspaces/" + id + rest; }
};

// The server under test.
class TestServer {
 public:
  explicit TestServer(ServerConfig config = {}, bool tls = false, const std::string& cert = "",
                      const std::string& key = "")
      : config_(std::move(config)) {
    Result<std::unique_ptr<SqliteStorage>> storage = SqliteStorage::open(dir_.path());
    BOOST_REQUIRE_MESSAGE(
        storage.ok(),
        "cannot open storage: " << (storage.ok() ? std::string() : storage.error().message));
    storage_ = std::move(*storage);
    counting_ = std::make_unique<CountingStorage>(*storage_);
    core_ = std::make_unique<ServerCore>(config_, *counting_, random_);
    HttpOptions options;
    options.port = 0;
    options.log_format = LogFormat::kNone;
    options.gc_interval_ms = 0;  // tests collect garbage explicitly, with their own clock
    options.threads = 48;        // more than the most concurrent clients a test opens
    if (tls) {
      options.tls_cert_file = cert;
      options.tls_key_file = key;
    }
    Result<std::unique_ptr<HttpServer>> server = HttpServer::bind(*core_, options, log_);
    BOOST_REQUIRE_MESSAGE(
        server.ok(), "cannot bind: " << (server.ok() ? std::string() : server.error().message));
    server_ = std::move(*server);
    thread_ = std::thread([this] { server_->serve(); });
    opsync::testing::wait_until([this] { return server_->running(); },
                                "the server to accept connections",
                                opsync::testing::kConditionDeadline, std::chrono::milliseconds(1));
  }
  ~TestServer() {
    server_->stop();
    thread_.join();
  }

  uint16_t port() const { return server_->port(); }
  Http client(bool tls = false) const { return Http("127.0.0.1", port(), tls); }
  ServerCore& core() { return *core_; }
  SqliteStorage& storage() { return *storage_; }
  const CountingStorage& transactions() const { return *counting_; }
  const std::string& data_dir() const { return dir_.path(); }

  Workspace create_workspace() {
    HttpAnswer answer = client().post("/v1/workspaces", std::string("{}"));
    BOOST_REQUIRE_EQUAL(answer.status, 201);
    CreateWorkspaceResponse created = answer.as<CreateWorkspaceResponse>();
    return Workspace{to_base64url(created.workspace_id), created.owner_token};
  }
  std::string issue_token(const Workspace& ws, Scope scope) {
    CreateTokenRequest request;
    request.scope = scope;
    HttpAnswer answer = client().post(ws.path("/tokens"), request, ws.owner_token);
    BOOST_REQUIRE_EQUAL(answer.status, 201);
    return answer.as<TokenIssued>().token;
  }

  // A digest of every row of every table, read through a separate read-only connection: equal
  // before and after a request means the request changed nothing (ERR-003).
  Hash fingerprint() const {
    sqlite3* db = nullptr;
    const std::string path = dir_.path() + "/opsync.db";
    BOOST_REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    Sha256 hasher;
    for (const char* sql :
         {"SELECT * FROM workspaces ORDER BY ws", "SELECT * FROM tokens ORDER BY ws, id",
          "SELECT * FROM keys ORDER BY ws, key_id",
          "SELECT position, ws, id, hash, encoding FROM ops ORDER BY position",
          "SELECT * FROM blocks ORDER BY ws, idx", "SELECT * FROM files ORDER BY ws, id",
          "SELECT ws, file, idx, body FROM chunks ORDER BY ws, file, idx"}) {
      sqlite3_stmt* stmt = nullptr;
      BOOST_REQUIRE(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK);
      hasher.update(std::string_view(sql));
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
          const void* data = sqlite3_column_blob(stmt, c);
          const int size = sqlite3_column_bytes(stmt, c);
          const uint8_t type = static_cast<uint8_t>(sqlite3_column_type(stmt, c));
          hasher.update(&type, 1);
          hasher.update(&size, sizeof size);
          if (data) hasher.update(data, static_cast<size_t>(size));
        }
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return hasher.finish();
  }

 private:
  TempDir dir_;
  ServerConfig config_;
  SystemRandom random_;
  std::unique_ptr<SqliteStorage> storage_;
  std::unique_ptr<CountingStorage> counting_;
  std::unique_ptr<ServerCore> core_;
  std::ostringstream log_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

// A well-formed operation: random ids, a clock near `now_ms`, an opaque payload (the server never
// decrypts; 28 bytes or more is all it checks).
inline WireOp make_op(RandomSource& random, uint64_t now_ms, size_t payload_bytes = 200) {
  WireOp op;
  op.id = random.id();
  op.device_id = random.id();
  op.hlc = Hlc{now_ms, 0};
  op.key_id = 1;
  op.payload = random.bytes(payload_bytes);
  return op;
}

// Every operation of the workspace, read page by page with the given page size.
inline std::vector<SequencedOp> read_all(Http& http, const Workspace& ws, size_t limit = 1000) {
  std::vector<SequencedOp> all;
  uint64_t after = 0;
  for (int pages = 0; pages < 100000; ++pages) {
    HttpAnswer answer = http.get(
        ws.path("/ops?after_seq=" + std::to_string(after) + "&limit=" + std::to_string(limit)),
        ws.owner_token);
    BOOST_REQUIRE_EQUAL(answer.status, 200);
    OpsPageResponse page = answer.as<OpsPageResponse>();
    for (SequencedOp& op : page.ops) all.push_back(std::move(op));
    if (!page.next_after_seq) break;
    after = *page.next_after_seq;
  }
  return all;
}

}  // namespace opsync::server::testing
