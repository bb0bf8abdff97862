// The reference server's core: every endpoint of spec v1 as a function of a parsed request and
// the current time.
//
// The core owns no socket, thread or clock. Adapters (the HTTP server, the simulator, the fuzzer)
// parse requests, read their clock, and pass both in; randomness for ids and tokens comes from the
// RandomSource given at construction. The same request sequence with the same times and the same
// random source therefore always produces the same responses.
//
// Thread safety: handle() may run on many threads at once; storage transactions serialize what
// must be serialized.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/random.h"
#include "opsync/server/storage.h"

namespace opsync::server {

class RateLimiter;

struct ServerConfig {
  uint32_t block_size = kReferenceBlockSize;  // for new workspaces
  uint64_t max_clock_skew_ms = kReferenceMaxClockSkewMs;
  Registration registration = Registration::kOpen;
  // Closed registration with an operator's credential (AUTH-006): the SHA-256 of the secret that,
  // sent as `Authorization: Bearer`, lets POST /v1/workspaces create a workspace anyway. Only the
  // hash is kept, as for tokens (AUTH-011).
  std::optional<Hash> registration_credential_sha256;
  uint64_t upload_expiry_ms = kReferenceUploadExpiryMs;
  uint64_t file_retention_ms = kReferenceFileRetentionMs;
  Limits limits = kReferenceLimits;
  HttpLimits http_limits =
      kReferenceHttpLimits;  // advertised in /v1/info; the HTTP adapter enforces them
  // Operator caps (LIM-020..LIM-022); 0 turns one off.
  uint64_t workspace_creations_per_minute =
      0;  // per client address; off by default: AUTH-001 wants it open
  uint64_t tokens_per_workspace_max = 1000;  // tokens neither revoked nor expired
  uint64_t uploading_bytes_per_workspace_max =
      0;  // chunks of files still uploading; off: see LIM-022
  std::string server_name = "opsync-reference-server";
  std::string server_version = "0.1.0";
};

// Header names are matched case-insensitively (RFC 9110); keys are stored lower-case.
struct Request {
  std::string method;                                      // "GET", "POST", ...
  std::string path;                                        // without the query string
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::map<std::string, std::string> headers;              // lower-case names
  std::string body;
  std::string client_address;  // the peer's IP address, for per-client caps; empty when unknown

  std::optional<std::string> header(const std::string& lower_case_name) const;
};

// The request line and headers, before the body is read: enough to reject oversize, badly typed
// or unauthorized requests without reading their bodies (LIM-002).
struct RequestHead {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::map<std::string, std::string> headers;
  std::optional<uint64_t> content_length;  // nullopt for chunked transfer
  std::string client_address;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, Retry-After)
  // For the request log: the matched route ("POST /v1/workspaces/{id}/ops") and workspace.
  std::string route;
  std::string workspace;
  std::string error_code;  // empty on success
};

// What preflight learned about a request head that may proceed, handed back to handle() with the
// body: the route and its path parameters, the token and workspace the head names, the checked
// query, the body's limit. So a request is matched, and its token read, once (ERR-013 steps 1 to
// 7), at the time preflight ran: which is also when expiry is judged (AUTH-031), so a token that
// expires while the body arrives still serves the request.
class Admission {
 public:
  // The most bytes the body may have on this route.
  uint64_t body_bytes_max() const { return body_bytes_max_; }

 private:
  friend class ServerCore;
  const Endpoint* endpoint_ = nullptr;
  std::string method_;  // the head admitted: handle() checks it is given the same request
  std::string path_;
  std::vector<std::string> params_;  // path parameters after the workspace id
  std::optional<TokenRecord> token_;
  std::optional<WorkspaceRecord> workspace_;
  std::map<std::string, std::string> query_;
  uint64_t body_bytes_max_ = 0;
};

class ServerCore {
 public:
  // Applies the storage's revocation journal to its data first (AUTH-030).
  ServerCore(ServerConfig config, Storage& storage, RandomSource& random);
  ~ServerCore();

  // Checks everything that does not need the body: route, method, version, query, content type,
  // declared length and authorization, in the order of ERR-013. Returns the error response, or
  // the admission with which handle() serves the request once its body is read.
  std::variant<Admission, Response> preflight(const RequestHead& head, uint64_t now_ms);

  // Serves a request whose head preflight admitted: `request` is that head with its body. Never
  // throws; bad input gets the spec's error and changes nothing (ERR-003, ERR-004).
  Response handle(const Admission& admission, const Request& request, uint64_t now_ms);

  // Preflight and handle in one call, for adapters that hold whole requests (the simulator, the
  // fuzzer, tests).
  Response handle(const Request& request, uint64_t now_ms);

  // How many times the core matched a request's route (once per request preflight saw): the
  // server tests count it to keep a request from being admitted twice.
  uint64_t route_matches() const { return route_matches_.load(std::memory_order_relaxed); }

  // The answers an HTTP adapter makes without handle(), built here so that they carry what every
  // response carries (TRN-007, TRN-008, TRN-056): `error` is why the request could not be handed
  // to handle() (a framing fault, a limit of the HTTP layer, a body that passed its limit while
  // it was read, the connection cap, a fault of the adapter). `request_headers` are the request's
  // header fields when they were read, so that its OpSync-Request-Id is echoed; empty otherwise.
  Response transport_error(const Error& error,
                           const std::map<std::string, std::string>& request_headers,
                           uint64_t now_ms);
  // The interim 100 (Continue) an adapter sends before reading a body that the client holds back
  // until told to send it (Expect: 100-continue). When the request carries no usable request id
  // this pins a fresh one in `head.headers`, so the final response repeats the same id.
  Response interim_continue(RequestHead& head, uint64_t now_ms);

  // Removes deleted files past retention and abandoned uploads past expiry (FILE-011). Returns
  // the number of files removed. Adapters call it periodically.
  uint64_t collect_garbage(uint64_t now_ms, size_t files_max = 1000);

  // Creates a workspace outside the protocol (for --registration closed): what a
  // POST /v1/workspaces would have answered.
  Result<CreateWorkspaceResponse> create_workspace(uint64_t now_ms);

  const ServerConfig& config() const { return config_; }

 private:
  std::variant<Admission, Response> admit(const RequestHead& head, uint64_t now_ms);
  std::optional<Error> authorize(const RequestHead& head, std::string_view workspace_param,
                                 uint64_t now_ms, Admission& admission);
  void apply_revocation_journal();
  // Adds what every response carries; `request_headers` give the request id to echo.
  Response finish(Response response, const std::map<std::string, std::string>& request_headers,
                  uint64_t now_ms);
  Id new_id();
  std::string new_token();

  ServerConfig config_;
  Storage& storage_;
  RandomSource& random_;
  std::mutex random_mutex_;  // RandomSource implementations need not be thread-safe
  std::atomic<uint64_t> route_matches_{0};
  std::unique_ptr<RateLimiter>
      creation_limiter_;  // nullptr when workspace_creations_per_minute is 0
};

}  // namespace opsync::server
