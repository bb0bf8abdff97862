// The opsync-server binary as a child process, and raw TCP connections to it: for the tests that
// need the real binary (kill -9, SIGTERM, what the HTTP layer answers to bytes no client library
// would send).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <source_location>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "wait_until.h"

extern char** environ;

namespace opsync::server::testing {

using opsync::testing::poll_until;
using opsync::testing::wait_until;

// The port a server wrote to `path`: the file appears, atomically, once it listens.
inline uint16_t wait_for_port_file(const std::string& path, const std::string& what) {
  uint16_t port = 0;
  wait_until([&] { return static_cast<bool>(std::ifstream(path) >> port) && port != 0; },
             what + " to write " + path);
  return port;
}

// One run of the server binary on a data directory. `environment`: NAME=value entries that
// replace or join this process's environment for the server.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& data_dir, std::vector<std::string> extra = {},
                         const std::vector<std::string>& environment = {}) {
    port_file_ = data_dir + "/port";
    std::filesystem::remove(port_file_);
    std::filesystem::remove(
        data_dir + "/metrics-port");  // metrics_flags(): a stale one would name an old port
    std::vector<std::string> args = {
        OPSYNC_SERVER_BINARY, "--data-dir", data_dir,       "--port", "0",
        "--port-file",        port_file_,   "--log-format", "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_entries = environment;
    for (char** e = environ; *e; ++e) {
      const std::string entry = *e;
      const std::string name = entry.substr(0, entry.find('='));
      const bool replaced =
          std::any_of(environment.begin(), environment.end(),
                      [&](const std::string& own) { return own.rfind(name + "=", 0) == 0; });
      if (!replaced) env_entries.push_back(entry);
    }
    std::vector<char*> envp;
    for (std::string& e : env_entries) envp.push_back(e.data());
    envp.push_back(nullptr);
    BOOST_REQUIRE(posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), envp.data()) == 0);
    data_dir_ = data_dir;
    port_ = wait_for_port_file(port_file_, "the server");
  }
  ~ServerProcess() {
    if (pid_ > 0) signal_and_wait(SIGKILL);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The port of --metrics-listen, for a server started with metrics_flags().
  uint16_t metrics_port() {
    if (metrics_port_ == 0)
      metrics_port_ = wait_for_port_file(data_dir_ + "/metrics-port", "the metrics listener");
    return metrics_port_;
  }

  // Sends `signal` and returns the exit status (or 128 + signal for a killed process).
  int signal_and_wait(int signal) {
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // Waits up to `timeout_ms` for the process to exit after `signal`; its exit status, or nullopt
  // (and a SIGKILL) when it did not exit in time.
  std::optional<int> signal_and_wait_for(int signal, int timeout_ms) {
    kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::nullopt;  // the destructor kills it
  }

  // Resident memory of the process, and its peak since start_peak(), from /proc, in bytes.
  uint64_t rss_bytes() const { return status_bytes("VmRSS:"); }
  uint64_t peak_rss_bytes() const { return status_bytes("VmHWM:"); }
  // Starts the peak afresh from the current resident memory (Linux 4.0 and later).
  void start_peak() const { std::ofstream("/proc/" + std::to_string(pid_) + "/clear_refs") << "5"; }

 private:
  uint64_t status_bytes(const std::string& field) const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind(field, 0) == 0)
        return std::stoull(line.substr(field.size())) * 1024;  // "VmRSS:  1234 kB"
    BOOST_FAIL("no " << field << " in /proc/" << pid_ << "/status");
    return 0;
  }

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t metrics_port_ = 0;
  std::string port_file_;
  std::string data_dir_;
};

// The flags of a server that serves --metrics-listen on a free port (ServerProcess::metrics_port):
// tests wait on what it counts instead of guessing how long the server takes.
inline std::vector<std::string> metrics_flags(const std::string& data_dir) {
  return {"--metrics-listen", "127.0.0.1:0", "--metrics-port-file", data_dir + "/metrics-port"};
}

// One HTTP response as read off a raw connection.
struct RawResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;

  std::optional<std::string> header(const std::string& lower_case_name) const {
    for (const auto& [name, value] : headers)
      if (name == lower_case_name) return value;
    return std::nullopt;
  }
};

// A TCP connection to 127.0.0.1 that sends exactly the bytes it is given.
//
// Threads other than the test's own must not use Boost.Test's assertions (they are not
// thread-safe): they connect with try_open and check nothing here.
class RawConnection {
 public:
  // `source`: the local address to connect from (any of 127.0.0.0/8 reaches a server on
  // 127.0.0.1, and looks like another client to it).
  explicit RawConnection(uint16_t port, const char* source = nullptr)
      : fd_(connect_to(port, source)) {
    BOOST_REQUIRE_MESSAGE(fd_ >= 0, "cannot connect to 127.0.0.1:" << port);
  }
  // nullopt when the server does not accept the connection.
  static std::optional<RawConnection> try_open(uint16_t port) {
    const int fd = connect_to(port);
    if (fd < 0) return std::nullopt;
    return RawConnection(fd, Adopt{});
  }
  ~RawConnection() { close_now(); }
  RawConnection(RawConnection&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), pending_(std::move(other.pending_)) {}
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // False when the server closed or reset the connection before taking every byte.
  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(sent));
    }
    return true;
  }

  // Reads one response (status line, header fields, a Content-Length body); nullopt when the
  // connection closed or `timeout_ms` passed first. `head_only`: the response to a HEAD request.
  std::optional<RawResponse> read_response(int timeout_ms, bool head_only = false) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t head_end = std::string::npos;
    while ((head_end = pending_.find("\r\n\r\n")) == std::string::npos)
      if (!receive_some(deadline)) return std::nullopt;
    RawResponse response;
    const std::string head = pending_.substr(0, head_end);
    const size_t first_line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, first_line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) return std::nullopt;
    response.status = std::stoi(status_line.substr(9, 3));
    size_t at = first_line_end == std::string::npos ? head.size() : first_line_end + 2;
    while (at < head.size()) {
      size_t end = head.find("\r\n", at);
      if (end == std::string::npos) end = head.size();
      const std::string line = head.substr(at, end - at);
      const size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(value.begin());
      response.headers.emplace_back(std::move(name), std::move(value));
      at = end + 2;
    }
    pending_.erase(0, head_end + 4);
    const size_t length = head_only || response.status < 200
                              ? 0
                              : std::stoul(response.header("content-length").value_or("0"));
    while (pending_.size() < length)
      if (!receive_some(deadline)) return std::nullopt;
    response.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return response;
  }

  // True when the server closes (or resets) the connection within `timeout_ms`; bytes it sends
  // meanwhile are kept for read_response.
  bool closed_within(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      const int left_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               deadline - std::chrono::steady_clock::now())
                                               .count());
      if (left_ms <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, left_ms) <= 0) continue;
      char buffer[65536];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return true;
      pending_.append(buffer, static_cast<size_t>(n));
    }
  }

  void close_now() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

 private:
  struct Adopt {};
  RawConnection(int fd, Adopt) : fd_(fd) {}

  static int connect_to(uint16_t port, const char* source = nullptr) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (source) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      if (inet_pton(AF_INET, source, &local.sin_addr) != 1 ||
          bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        ::close(fd);
        return -1;
      }
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  bool receive_some(std::chrono::steady_clock::time_point deadline) {
    const int left_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             deadline - std::chrono::steady_clock::now())
                                             .count());
    if (left_ms <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, left_ms) <= 0) return false;
    char buffer[65536];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    pending_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string pending_;
};

// The body of a scrape of /metrics on `metrics_port`, starting with a newline so that
// metrics_sample finds the first line too; "" without an answer.
inline std::string scrape_metrics(uint16_t metrics_port) {
  std::optional<RawConnection> connection = RawConnection::try_open(metrics_port);
  if (!connection ||
      !connection->send_all("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    return "";
  std::optional<RawResponse> answer = connection->read_response(10000);
  return answer && answer->status == 200 ? "\n" + answer->body : "";
}

// The value of the sample `name` (with its labels, as written) in a scrape; -1 when absent (no
// sample here is ever negative).
inline double metrics_sample(const std::string& scrape, const std::string& name) {
  const std::string prefix = "\n" + name + " ";
  const size_t at = scrape.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(scrape.substr(at + prefix.size()));
}

// Waits until the server counts `count` open connections: it notices a connection open or close
// on its own threads, some time after the client did.
inline void wait_for_open_connections(
    ServerProcess& server, size_t count,
    std::source_location caller = std::source_location::current()) {
  const uint16_t metrics_port = server.metrics_port();
  wait_until(
      [&] {
        return metrics_sample(scrape_metrics(metrics_port), "opsync_http_connections_open") ==
               double(count);
      },
      "the server to count " + std::to_string(count) + " open connections",
      opsync::testing::kConditionDeadline, std::chrono::milliseconds(20), caller);
}

}  // namespace opsync::server::testing
