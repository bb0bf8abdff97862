// End-to-end test support: the real opsync-server binary on 127.0.0.1, directly or behind real
// nginx as deploy/ sets it up (OPSYNC_E2E_FRONT=nginx; its own SQLite data directory, restartable
// on the same port, restorable from a copy), and devices that talk to it over real HTTP with a
// clock that can run ahead of or behind the real one.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "opsync/client/device.h"
#include "opsync/client/http_driver.h"
#include "opsync/protocol/random.h"
#include "test_printers.h"
#include "wait_until.h"

extern char** environ;

namespace opsync::client::testing {

using opsync::testing::poll_until;
using opsync::testing::wait_until;

// Small enough to keep tests fast; real workspaces use kKdfIterationsForNewRecords.
constexpr uint32_t kTestKdfIterations = 1000;
constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kAbsent = "<absent>";

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "opsync-client-test-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs `argv` as a child process with this process's environment.
inline pid_t spawn(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  BOOST_REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  return pid;
}

// The exit code of a finished child, or -signal.
inline int wait_for(pid_t pid) {
  int status = 0;
  BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// When OPSYNC_E2E_FRONT=nginx (the client_e2e_tests.nginx.* tests set it), devices reach the
// server the way deploy/README.md sets it up for production: through real nginx, with the
// configuration files of deploy/nginx, terminating TLS with a certificate made at test time that
// the whole test process (and every opsync-client it starts) trusts through SSL_CERT_FILE.
inline bool through_nginx() {
  const char* front = std::getenv("OPSYNC_E2E_FRONT");
  return front && std::string(front) == "nginx";
}

// A free TCP port on 127.0.0.1 (closed again: another process could take it first, which
// would make the test fail loudly, not pass wrongly).
inline uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t size = sizeof address;
  BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0);
  close(fd);
  return ntohs(address.sin_port);
}

inline bool accepts_connections(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The certificate nginx presents, made once per test process, for IP 127.0.0.1.
inline const std::filesystem::path& front_certificate_dir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "opsync-front-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    const std::filesystem::path made = pattern;
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
        (made / "key.pem").string() + " -out " + (made / "cert.pem").string() + " 2>/dev/null";
    BOOST_REQUIRE_MESSAGE(std::system(command.c_str()) == 0,
                          "openssl could not make a certificate");
    // OpenSSL's default verify paths honour SSL_CERT_FILE: the client library, and the
    // opsync-client processes started from here, then verify nginx's certificate against it.
    setenv("SSL_CERT_FILE", (made / "cert.pem").c_str(), 1);
    return made;
  }();
  return dir;
}

// Real nginx in front of the server on `backend_port`, as a foreground process with its own
// prefix, pid file and logs in `prefix`. Its http {} and server {} parts are the files of
// deploy/nginx; only the listening port, the certificate and the backend's port are the test's.
class NginxFront {
 public:
  NginxFront(const std::filesystem::path& prefix, uint16_t backend_port) : prefix_(prefix) {
    const std::filesystem::path certificates = front_certificate_dir();
    std::filesystem::create_directories(prefix_ / "tmp");
    const std::filesystem::path deploy = OPSYNC_DEPLOY_DIR;
    std::string http = read_text(deploy / "nginx/opsync-http.conf");
    const std::string production_backend = "server 127.0.0.1:8420;";
    const size_t at = http.find(production_backend);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos,
                          "deploy/nginx/opsync-http.conf names no backend on port 8420");
    http.replace(at, production_backend.size(),
                 "server 127.0.0.1:" + std::to_string(backend_port) + ";");
    std::ofstream(prefix_ / "opsync-http.conf") << http;
    port_ = free_port();
    const std::string p = prefix_.string();
    std::ofstream(prefix_ / "nginx.conf")
        << (geteuid() == 0 ? "user root;\n" : "") << "worker_processes 1;\ndaemon off;\npid " << p
        << "/nginx.pid;\nerror_log " << p
        << "/error.log warn;\nevents { worker_connections 1024; }\nhttp {\n"
        << "  access_log " << p << "/access.log;\n"
        << "  client_body_temp_path " << p << "/tmp/body;\n  proxy_temp_path " << p
        << "/tmp/proxy;\n"
        << "  fastcgi_temp_path " << p << "/tmp/fastcgi;\n  uwsgi_temp_path " << p
        << "/tmp/uwsgi;\n"
        << "  scgi_temp_path " << p << "/tmp/scgi;\n"
        << "  include " << p << "/opsync-http.conf;\n"
        << "  server {\n    listen 127.0.0.1:" << port_ << " ssl;\n"
        << "    ssl_certificate " << (certificates / "cert.pem").string() << ";\n"
        << "    ssl_certificate_key " << (certificates / "key.pem").string() << ";\n"
        << "    include " << (deploy / "nginx/opsync-proxy.conf").string() << ";\n  }\n}\n";
    pid_ = spawn({OPSYNC_NGINX_BINARY, "-p", p, "-c", p + "/nginx.conf", "-e", p + "/error.log"});
    wait_until([&] { return accepts_connections(port_); },
               "nginx to listen (see " + p + "/error.log)");
  }
  ~NginxFront() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    // The test went through the front, not around it: nginx logged the requests it proxied.
    std::ifstream log(prefix_ / "access.log");
    const size_t proxied = static_cast<size_t>(
        std::count(std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>(), '\n'));
    BOOST_TEST(proxied > 0u, "no request went through nginx");
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

 private:
  std::filesystem::path prefix_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// The reference server as a separate process. The first start picks a free port; restarts reuse it
// so that devices bound to the URL reach the server again. With the nginx front (through_nginx()),
// url() is nginx's and the front stays up across restarts, answering 503 while the server is down.
class ServerProcess {
 public:
  // `extra_args` go to opsync-server after the test's own (--registration closed, say).
  explicit ServerProcess(std::filesystem::path data_dir, std::vector<std::string> extra_args = {})
      : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
    start();
    if (through_nginx())
      front_ = std::make_unique<NginxFront>(data_dir_.string() + ".nginx", port_);
  }
  ~ServerProcess() {
    if (pid_ > 0) stop(SIGKILL);
  }

  void start() {
    BOOST_REQUIRE(pid_ <= 0);
    const std::filesystem::path port_file = data_dir_.string() + ".port";
    std::filesystem::remove(port_file);
    std::vector<std::string> args = {OPSYNC_SERVER_BINARY,
                                     "--data-dir",
                                     data_dir_.string(),
                                     "--port",
                                     std::to_string(port_),
                                     "--port-file",
                                     port_file.string(),
                                     "--log-format",
                                     "none",
                                     "--durability",
                                     "process"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    pid_ = spawn(args);
    // The port file appears, atomically, once the server listens.
    uint16_t port = 0;
    wait_until([&] { return static_cast<bool>(std::ifstream(port_file) >> port) && port != 0; },
               "the server to write " + port_file.string());
    port_ = port;
  }
  // SIGTERM stops it gracefully; SIGKILL as a crash.
  void stop(int signal = SIGTERM) {
    BOOST_REQUIRE(pid_ > 0);
    kill(pid_, signal);
    wait_for(pid_);
    pid_ = -1;
  }

  // Where devices reach the server.
  std::string url() const {
    return front_ ? front_->url() : "http://127.0.0.1:" + std::to_string(port_);
  }
  // The server's own port, for tests that talk to it directly.
  uint16_t port() const { return port_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }

 private:
  std::filesystem::path data_dir_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::unique_ptr<NginxFront> front_;
};

// A transport that loses the answer to chosen requests after the server has processed them: the
// client sees a transport failure, as when a connection drops on the way back (SYNC-008).
class LosingTransport final : public Transport {
 public:
  LosingTransport(Transport& inner, std::function<bool(const HttpRequest&)> lose)
      : inner_(inner), lose_(std::move(lose)) {}
  Result<HttpResponse> exchange(const HttpRequest& request, const std::string& token) override {
    Result<HttpResponse> response = inner_.exchange(request, token);
    if (response.ok() && lose_(request)) {
      ++lost;
      return Error(Code::kTransport, "answer lost on purpose");
    }
    return response;
  }
  int lost = 0;

 private:
  Transport& inner_;
  std::function<bool(const HttpRequest&)> lose_;
};

// A device in its own directory, with a clock `skew_ms` away from the real one (the server reads
// the real clock), syncing in-process through the library over real HTTP.
class TestDevice {
 public:
  TestDevice(std::filesystem::path dir, int64_t skew_ms = 0)
      : dir_(std::move(dir)), skew_ms_(skew_ms) {}

  // The first device: creates the workspace. Returns the passphrase.
  std::string create(const std::string& server_url) {
    auto transport = connect(server_url);
    Result<NewWorkspace> created = Device::create_workspace(dir_, server_url, kPassword, *transport,
                                                            random_, kTestKdfIterations, fast());
    BOOST_REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().to_string()));
    reopen();
    return created->passphrase;
  }
  Status join(const std::string& server_url, const WorkspaceId& workspace, const std::string& token,
              const std::string& passphrase, const std::string& password = kPassword) {
    auto transport = connect(server_url);
    Status joined =
        Device::join(dir_, JoinRequest{server_url, workspace, token, password, passphrase},
                     *transport, random_, fast());
    if (joined.ok()) reopen();
    return joined;
  }
  void reopen() {
    device_.reset();
    Result<std::unique_ptr<Device>> opened = Device::open(dir_, fast());
    BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().to_string()));
    device_ = std::move(opened).value();
  }

  // Releases the directory (and its lock), e.g. for the opsync-client binary.
  void close() { device_.reset(); }
  // Commits reach the operating system, not the disk: tests make thousands of them.
  static StoreOptions fast() {
    StoreOptions options;
    options.durability = Durability::kProcess;
    return options;
  }

  uint64_t now_ms() const {
    return static_cast<uint64_t>(static_cast<int64_t>(system_now_ms()) + skew_ms_);
  }

  void put(const std::string& key, const std::string& value) {
    Status done = device().put(key, Bytes(value.begin(), value.end()), now_ms(), random_);
    BOOST_REQUIRE_MESSAGE(done.ok(), (done.ok() ? "" : done.error().to_string()));
  }
  void remove(const std::string& key) {
    BOOST_REQUIRE(device().remove(key, now_ms(), random_).ok());
  }
  // The winner's value, or kAbsent.
  std::string get(const std::string& key) {
    Result<ObjectView> view = device().get(key);
    BOOST_REQUIRE(view.ok());
    if (!view->present()) return kAbsent;
    const Bytes& v = view->winner()->payload.value;
    return std::string(v.begin(), v.end());
  }
  size_t conflicts(const std::string& key) {
    Result<ObjectView> view = device().get(key);
    BOOST_REQUIRE(view.ok());
    return view->conflicts().size();
  }
  std::vector<std::string> keys() { return *device().list(); }

  // One sync; the error if it stopped. `transport` replaces the real one (to lose answers).
  std::optional<Error> sync(SyncReport* report = nullptr, Transport* transport = nullptr) {
    auto real = connect(device().store().binding().server_url);
    SyncOptions options;
    options.backoff_unit_ms = 5;  // backoff is SYNC-010's shape, in milliseconds to keep tests fast
    options.page_ops_max = page_ops_max_;
    SyncEngine engine(device().store(), device().keys(), random_, options);
    DriverClock clock;
    clock.now = [this] { return DeviceTime{now_ms(), steady_now_ms()}; };
    SyncFinished finished =
        run_sync(engine, transport ? *transport : *real, device().token(), {}, clock);
    if (report) *report = engine.report();
    last_bytes_ = real->bytes();
    return finished.error;
  }
  // Syncs and requires success.
  SyncReport sync_ok(Transport* transport = nullptr) {
    SyncReport report;
    std::optional<Error> error = sync(&report, transport);
    BOOST_REQUIRE_MESSAGE(!error, "sync failed: " << (error ? error->to_string() : ""));
    return report;
  }

  Result<TokenIssued> invite(Scope scope = Scope::kReadWrite) {
    auto transport = connect(device().store().binding().server_url);
    return device().invite(scope, std::nullopt, *transport);
  }

  Device& device() {
    BOOST_REQUIRE(device_ != nullptr);
    return *device_;
  }
  const std::filesystem::path& dir() const { return dir_; }
  RandomSource& random() { return random_; }
  const WireBytes& last_bytes() const { return last_bytes_; }
  void set_skew_ms(int64_t skew_ms) { skew_ms_ = skew_ms; }
  // Pages this small make a sync read several, each applied while the next is fetched.
  void set_page_ops_max(uint32_t ops) { page_ops_max_ = ops; }

  static std::unique_ptr<HttpTransport> connect(const std::string& url) {
    Result<std::unique_ptr<HttpTransport>> transport = HttpTransport::connect(url);
    BOOST_REQUIRE(transport.ok());
    return std::move(transport).value();
  }

 private:
  std::filesystem::path dir_;
  int64_t skew_ms_;
  uint32_t page_ops_max_ = 0;
  SystemRandom random_;
  std::unique_ptr<Device> device_;
  WireBytes last_bytes_;
};

}  // namespace opsync::client::testing
