// The HTTP(S) adapter: serves a ServerCore over HTTP/1.1 with Boost.Beast.
//
// It owns what the core must not: sockets, threads, the clock. Connections are served
// asynchronously by a few I/O threads, so an idle or slow client costs a socket and a small
// buffer, never a thread; the core (SQLite, JSON) runs on a separate pool of worker threads.
// For each request the adapter
//   1. reads the request line and header section under strict HTTP/1.1 rules (RFC 9112) and the
//      limits of the core's ServerConfig::http_limits (TRN-051..TRN-054);
//   2. checks the head with ServerCore::preflight before reading the body, so that oversize,
//      badly typed or unauthorized bodies are refused unread (LIM-002), sending an interim
//      100 (Continue) first when the client asked for one;
//   3. reads at most the allowed bytes, hands the request and the current time to
//      ServerCore::handle, writes the answer and logs one line.
// Every answer it makes itself (framing errors, limits, the connection cap, a failure of the
// core) is built by ServerCore::transport_error, so it carries the headers and error body of
// every response (TRN-056). Requests on one connection are answered one at a time, in order,
// pipelined or not (TRN-055).
//
// Deadlines (HttpOptions) bound every wait on a client: the TLS handshake and the header section
// from its first byte (header_timeout_ms), a body once its head was accepted (body_timeout_ms),
// a kept-alive connection between requests (idle_timeout_ms), and each response (write_timeout_ms).
// A connection past a read deadline is closed without an answer (TRN-058).
//
// Thread safety: bind() and serve() from one thread; stop() from any thread, once or more.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "opsync/protocol/result.h"
#include "opsync/server/core.h"
#include "opsync/server/metrics.h"

namespace opsync::server {

enum class LogFormat : uint8_t { kText, kJson, kNone };

struct HttpOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8420;                      // 0 picks a free port
  std::optional<std::string> tls_cert_file;  // both or neither
  std::optional<std::string> tls_key_file;
  LogFormat log_format = LogFormat::kText;
  size_t threads = 16;                 // worker threads running the core; connections need none
  size_t io_threads = 2;               // threads serving sockets and TLS
  uint64_t gc_interval_ms = 3600000;   // how often collect_garbage runs; 0 disables
  uint64_t header_timeout_ms = 10000;  // TLS handshake, and a request's head from its first byte
  uint64_t body_timeout_ms = 60000;    // a whole body, once its head was accepted
  uint64_t idle_timeout_ms = 30000;    // a kept-alive connection waiting for its next request
  uint64_t write_timeout_ms = 60000;   // one response, until the client has taken all of it
  size_t connections_max = 1024;       // open connections; one more is answered 503 and closed
  // Memory for request bodies and their parsing: a body is read only once its share is reserved
  // (its length, or the route's limit when chunked; 33 times that for JSON, whose document costs
  // up to 32 bytes per byte of text). Requests wait in order for their share, holding no thread;
  // one that needs more than all of it waits until it has all of it.
  uint64_t request_memory_mib_max = 512;
  uint64_t shutdown_timeout_ms =
      10000;  // stop(): in-flight requests finish within this, others are dropped
  // Behind a reverse proxy every connection comes from the proxy: name a header the proxy sets to
  // the client's address (X-Real-IP) to use it for per-client caps instead. Empty: the peer's
  // address. Only for a server that no client can reach except through that proxy.
  std::string client_address_header;
  // For tests of the answer after an exception: a request to exactly this path throws in its
  // worker thread instead of reaching the core. Empty (never) outside tests.
  std::string fault_path;
  // Counts every answer and refused connection for --metrics-listen; nullptr: no counting.
  ServerMetrics* metrics = nullptr;
};

// The bounds HttpOptions must stay within (main.cpp checks flags against them).
inline constexpr size_t kHttpThreadsMax = 256;
inline constexpr size_t kHttpIoThreadsMax = 64;
inline constexpr size_t kHttpConnectionsMax = 65536;
inline constexpr uint64_t kHttpTimeoutMsMin = 100;
inline constexpr uint64_t kHttpTimeoutMsMax = 3600000;
inline constexpr uint64_t kHttpRequestMemoryMibMin = 1;
inline constexpr uint64_t kHttpRequestMemoryMibMax = 1048576;

class HttpServer {
 public:
  // Binds the socket. Fails on a busy port, unreadable TLS files, options out of bounds, or a
  // file descriptor limit too low for connections_max.
  static Result<std::unique_ptr<HttpServer>> bind(ServerCore& core, HttpOptions options,
                                                  std::ostream& log);
  ~HttpServer();

  uint16_t port() const;
  bool tls() const;
  // Serves until stop() is called; then stops accepting, closes idle connections and those still
  // sending a request, lets requests the core already has finish and their answers go out
  // (within shutdown_timeout_ms), and returns once every connection is closed.
  void serve();
  void stop();
  // True once serve() accepts connections.
  bool running() const;
  // Connections open now (for tests and the bench).
  size_t connections() const;

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Milliseconds since the epoch from the system clock: the one clock read of the server.
uint64_t system_time_ms();

}  // namespace opsync::server
