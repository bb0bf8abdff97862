// End-to-end test support: the real opsync-server binary on 127.0.0.1 (its own SQLite data
// directory, restartable on the same port, restorable from a copy), and devices that talk to it
// over real HTTP with a clock that can run ahead of or behind the real one.
#pragma once

#include <boost/test/unit_test.hpp>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

extern char** environ;

namespace opsync::client::testing {

// Small enough to keep tests fast; real workspaces use kKdfIterationsForNewRecords.
constexpr uint32_t kTestKdfIterations = 1000;
constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kAbsent = "<absent>";

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "opsync-client-test-XXXXXX").string();
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

// The reference server as a separate process. The first start picks a free port; restarts reuse it
// so that devices bound to the URL reach the server again.
class ServerProcess {
 public:
  explicit ServerProcess(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) { start(); }
  ~ServerProcess() {
    if (pid_ > 0) stop(SIGKILL);
  }

  void start() {
    BOOST_REQUIRE(pid_ <= 0);
    const std::filesystem::path port_file = data_dir_.string() + ".port";
    std::filesystem::remove(port_file);
    pid_ = spawn({OPSYNC_SERVER_BINARY, "--data-dir", data_dir_.string(), "--port", std::to_string(port_),
                  "--port-file", port_file.string(), "--log-format", "none", "--durability", "process"});
    uint16_t port = 0;
    for (int i = 0; i < 5000 && port == 0; ++i) {
      std::ifstream in(port_file);
      if (!(in >> port)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    BOOST_REQUIRE_MESSAGE(port != 0, "the server did not start");
    port_ = port;
  }
  // SIGTERM stops it gracefully; SIGKILL as a crash.
  void stop(int signal = SIGTERM) {
    BOOST_REQUIRE(pid_ > 0);
    kill(pid_, signal);
    wait_for(pid_);
    pid_ = -1;
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }

 private:
  std::filesystem::path data_dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// A transport that loses the answer to chosen requests after the server has processed them: the
// client sees a transport failure, as when a connection drops on the way back (SYNC-008).
class LosingTransport final : public Transport {
 public:
  LosingTransport(Transport& inner, std::function<bool(const HttpRequest&)> lose) : inner_(inner), lose_(std::move(lose)) {}
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
  TestDevice(std::filesystem::path dir, int64_t skew_ms = 0) : dir_(std::move(dir)), skew_ms_(skew_ms) {}

  // The first device: creates the workspace. Returns the passphrase.
  std::string create(const std::string& server_url) {
    auto transport = connect(server_url);
    Result<NewWorkspace> created =
        Device::create_workspace(dir_, server_url, kPassword, *transport, random_, kTestKdfIterations, fast());
    BOOST_REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().to_string()));
    reopen();
    return created->passphrase;
  }
  Status join(const std::string& server_url, const WorkspaceId& workspace, const std::string& token,
              const std::string& passphrase, const std::string& password = kPassword) {
    auto transport = connect(server_url);
    Status joined =
        Device::join(dir_, JoinRequest{server_url, workspace, token, password, passphrase}, *transport, random_, fast());
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

  uint64_t now_ms() const { return static_cast<uint64_t>(static_cast<int64_t>(system_now_ms()) + skew_ms_); }

  void put(const std::string& key, const std::string& value) {
    Status done = device().put(key, Bytes(value.begin(), value.end()), now_ms(), random_);
    BOOST_REQUIRE_MESSAGE(done.ok(), (done.ok() ? "" : done.error().to_string()));
  }
  void remove(const std::string& key) { BOOST_REQUIRE(device().remove(key, now_ms(), random_).ok()); }
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
    clock.now_ms = [this] { return now_ms(); };
    clock.wait_until = [this](uint64_t until_ms) {
      const uint64_t now = now_ms();
      if (until_ms > now) std::this_thread::sleep_for(std::chrono::milliseconds(until_ms - now));
    };
    SyncFinished finished = run_sync(engine, transport ? *transport : *real, device().token(), {}, clock);
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
