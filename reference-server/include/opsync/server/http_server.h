// The HTTP(S) adapter: serves a ServerCore with cpp-httplib.
//
// It owns what the core must not: sockets, threads, the clock. For each request it checks the
// head with ServerCore::preflight before reading the body (so oversize or unauthorized bodies are
// refused unread, LIM-002), reads at most the allowed bytes, hands the request and the current
// time to ServerCore::handle, and logs one line.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "opsync/protocol/result.h"
#include "opsync/server/core.h"

namespace opsync::server {

enum class LogFormat : uint8_t { kText, kJson, kNone };

struct HttpOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8420;  // 0 picks a free port
  std::optional<std::string> tls_cert_file;  // both or neither
  std::optional<std::string> tls_key_file;
  LogFormat log_format = LogFormat::kText;
  size_t threads = 32;                 // request handler threads; each keeps one connection while it is open
  uint64_t gc_interval_ms = 3600000;   // how often collect_garbage runs; 0 disables
  uint64_t read_timeout_ms = 30000;    // per socket read; a stalled client cannot hold a thread forever
};

class HttpServer {
 public:
  // Binds the socket. Fails on a busy port or unreadable TLS files.
  static Result<std::unique_ptr<HttpServer>> bind(ServerCore& core, HttpOptions options, std::ostream& log);
  ~HttpServer();

  uint16_t port() const;
  bool tls() const;
  // Serves until stop() is called (from any thread); returns after in-flight requests finished.
  void serve();
  void stop();
  // True once serve() accepts connections.
  bool running() const;

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Milliseconds since the epoch from the system clock: the one clock read of the server.
uint64_t system_time_ms();

}  // namespace opsync::server
