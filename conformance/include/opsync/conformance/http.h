// A raw HTTP/1.1 client for the conformance suite: it sends exactly the bytes a case builds (any
// method, any headers, bad Content-Length, chunked bodies, pipelined requests) over TCP or TLS,
// and reads responses with a strict parser and a deadline. Every exchange can be recorded for
// the report's transcript.
//
// Thread safety: a Connection belongs to one thread; Server may be shared (it is immutable).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "opsync/protocol/result.h"

namespace opsync::conformance {

// Where the server under test listens, from --server URL.
struct Server {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  std::string ca_file;    // empty: the system's trust store
  bool insecure = false;  // accept any certificate (self-signed test servers)
  std::string url;        // as given, for reports

  // Parses "http://host:port" or "https://host[:port]" (no path). A usage error names the problem.
  static Result<Server> parse(std::string_view url);
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;
  std::string target;  // "/v1/info?x=1", sent as is
  Headers headers;     // sent in order, as is; Host and Content-Length are added unless present
  std::string body;
  bool add_content_length = true;  // false: send exactly the headers given (framing cases)

  // The request's bytes on the wire.
  std::string serialize(const Server& server) const;
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  Headers headers;  // in order, names as sent
  std::string body;
  std::vector<int> interim_statuses;     // 1xx responses read before this one
  std::vector<Headers> interim_headers;  // and their headers

  // The first header of that name (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  // How many headers of that name the response carries.
  size_t header_count(std::string_view name) const;
};

// One TCP (or TLS) connection. Reads are bounded by a deadline and by size limits, so a server that
// never answers, or answers without end, cannot hang the suite.
class Connection {
 public:
  static constexpr size_t kResponseBytesMax = 64 * 1024 * 1024;

  static Result<std::unique_ptr<Connection>> open(const Server& server, uint64_t timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends bytes as they are. Fails with kTransport when the connection is gone.
  Status send(std::string_view bytes);
  // Reads one response (skipping, but noting, 1xx responses). `head_only`: the request was HEAD.
  Result<HttpResponse> read_response(uint64_t timeout_ms, bool head_only = false);
  // Waits until the peer closes the connection or the timeout passes; true when it closed (any
  // bytes that arrive first are discarded).
  bool wait_closed(uint64_t timeout_ms);
  // Whether anything arrived (a byte, or the close) within the timeout, without consuming it.
  bool readable(uint64_t timeout_ms);

  struct Impl;

 private:
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sends one request on a fresh connection and reads its response.
Result<HttpResponse> exchange_once(const Server& server, const HttpRequest& request,
                                   uint64_t timeout_ms);

}  // namespace opsync::conformance
