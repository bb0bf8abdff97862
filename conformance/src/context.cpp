// CaseContext: requests, checks, workspaces and data for one running case.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "opsync/conformance/suite.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/hlc.h"
#include "opsync/protocol/sha256.h"
#include "opsync/protocol/wire_check.h"

namespace opsync::conformance {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// A seed for one case: the run's seed mixed with the case id, so a case's data do not depend on
// which other cases run.
uint64_t case_seed(uint64_t seed, std::string_view id) {
  const Hash h = sha256(std::to_string(seed) + "/" + std::string(id));
  uint64_t out = 0;
  for (size_t i = 0; i < 8; ++i) out = out << 8 | h.bytes[i];
  return out;
}

std::string cut(const std::string& text, size_t bytes) {
  if (text.size() <= bytes) return text;
  return text.substr(0, bytes) + "\n[... " + std::to_string(text.size() - bytes) + " more bytes]";
}

// The request as the transcript shows it: the head in full, the body cut.
std::string transcript_of(const std::string& bytes) {
  const size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string::npos) return cut(bytes, kTranscriptBodyBytesMax);
  return bytes.substr(0, head_end + 4) + cut(bytes.substr(head_end + 4), kTranscriptBodyBytesMax);
}

std::string transcript_of(const Result<HttpResponse>& response) {
  if (!response.ok()) return "(no response: " + response.error().message + ")";
  std::string out;
  for (int interim : response->interim_statuses)
    out += "HTTP/1.1 " + std::to_string(interim) + " (interim)\r\n\r\n";
  out += "HTTP/1.1 " + std::to_string(response->status) + " " + response->reason + "\r\n";
  for (const auto& [name, value] : response->headers) out += name + ": " + value + "\r\n";
  out += "\r\n";
  const bool binary =
      response->header("content-type").value_or("").find("octet-stream") != std::string::npos;
  out += binary ? "(" + std::to_string(response->body.size()) + " bytes of ciphertext)"
                : cut(response->body, kTranscriptBodyBytesMax);
  return out;
}

}  // namespace

CaseContext::CaseContext(const Options& options, const RunFacts& facts, const Case& c,
                         CaseResult& result)
    : options_(options),
      facts_(facts),
      case_(c),
      result_(result),
      random_(case_seed(options.seed, c.id)) {
  last_server_time_ms_ = facts.info.server_time_ms;
}

Headers CaseContext::case_headers() const {
  return {{"OpSync-Test-Case", std::string(case_.id)},
          {"OpSync-Request-Id", std::string(case_.id) + "." + std::to_string(requests_)}};
}

void CaseContext::record(const std::string& request_bytes, const Result<HttpResponse>& response,
                         double duration_ms) {
  result_.transcript.push_back(
      Exchange{transcript_of(request_bytes), transcript_of(response), duration_ms});
}

HttpResponse CaseContext::finish(const HttpRequest& request, Result<HttpResponse> response,
                                 double duration_ms) {
  record(request.serialize(options_.server), response, duration_ms);
  if (!response.ok())
    throw CaseStop{Outcome::kFail, "ERR-004: the server did not answer " + request.method + " " +
                                       request.target + ": " + response.error().message};
  // Every answer is held to the rules that need no knowledge of the server's state.
  std::optional<std::string> sent_id;
  for (const auto& [name, value] : request.headers)
    if (name == "OpSync-Request-Id") sent_id = value;
  const WireExchange exchange{request.method,
                              request.target,
                              sent_id ? std::optional<std::string_view>(*sent_id) : std::nullopt,
                              response->status,
                              response->body,
                              [&](std::string_view name) { return response->header(name); }};
  for (const WireViolation& v : check_wire_response(exchange))
    check(false, v.requirement, v.what,
          request.method + " " + request.target + " -> " + std::to_string(response->status));
  if (auto time = response->header("opsync-server-time-ms")) {
    char* end = nullptr;
    const uint64_t ms = std::strtoull(time->c_str(), &end, 10);
    if (end && *end == '\0' && ms > 0) last_server_time_ms_ = ms;
  }
  return std::move(response).value();
}

Result<HttpResponse> CaseContext::try_request(const HttpRequest& request) {
  ++requests_;
  const Clock::time_point started = Clock::now();
  Result<HttpResponse> response = exchange_once(options_.server, request, options_.timeout_ms);
  record(request.serialize(options_.server), response, elapsed_ms(started));
  return response;
}

HttpResponse CaseContext::request(const std::string& method, const std::string& target,
                                  const std::string& token, const std::string& body,
                                  const std::string& content_type, Headers extra) {
  ++requests_;
  HttpRequest r;
  r.method = method;
  r.target = target;
  r.headers = case_headers();
  if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
  if (!content_type.empty()) r.headers.emplace_back("Content-Type", content_type);
  for (auto& header : extra) r.headers.push_back(std::move(header));
  r.body = body;
  const Clock::time_point started = Clock::now();
  Result<HttpResponse> response = exchange_once(options_.server, r, options_.timeout_ms);
  return finish(r, std::move(response), elapsed_ms(started));
}

Result<HttpResponse> CaseContext::raw(const std::string& bytes, uint64_t timeout_ms) {
  ++requests_;
  const Clock::time_point started = Clock::now();
  Result<HttpResponse> response = [&]() -> Result<HttpResponse> {
    Result<std::unique_ptr<Connection>> connection =
        Connection::open(options_.server, options_.timeout_ms);
    if (!connection.ok()) return connection.error();
    // A server may answer and close before it has read everything (a 413 mid-body): the answer
    // still counts when the rest could not be sent.
    const Status sent = (*connection)->send(bytes);
    Result<HttpResponse> response =
        (*connection)->read_response(timeout_ms ? timeout_ms : options_.timeout_ms);
    if (!response.ok() && !sent.ok()) return sent.error();
    return response;
  }();
  record(bytes, response, elapsed_ms(started));
  return response;
}

std::unique_ptr<Connection> CaseContext::connect() {
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_.server, options_.timeout_ms);
  if (!connection.ok())
    throw CaseStop{Outcome::kError, "cannot connect: " + connection.error().message};
  return std::move(connection).value();
}

void CaseContext::check(bool holds, std::string_view requirement, std::string expected,
                        std::string observed) {
  ++result_.checks[std::string(requirement)];
  if (holds) return;
  Check failure{std::string(requirement), std::move(expected), std::move(observed)};
  // Checks follow the exchange they judge: the last one recorded is the request at fault.
  if (!result_.transcript.empty()) {
    failure.exchange = result_.transcript.size() - 1;
    const std::string& bytes = result_.transcript.back().request;
    constexpr size_t kRequestLineCharsMax = 200;
    failure.request =
        bytes.substr(0, std::min({bytes.find("\r\n"), bytes.find('\n'), kRequestLineCharsMax}));
  }
  result_.failures.push_back(std::move(failure));
}

void CaseContext::require(bool holds, std::string_view requirement, std::string expected,
                          std::string observed) {
  if (holds) return;
  check(false, requirement, std::move(expected), std::move(observed));
  throw CaseStop{Outcome::kFail, "stopped at the first unmet requirement it depends on"};
}

void CaseContext::skip(std::string reason) { throw CaseStop{Outcome::kSkip, std::move(reason)}; }

bool CaseContext::expect_error(const HttpResponse& response, int status, std::string_view code,
                               std::string_view requirement) {
  Result<ErrorBody> error = parse_message<ErrorBody>(response.body);
  const std::string observed = "status " + std::to_string(response.status) + " " +
                               (error.ok() ? error->code_name : response.body.substr(0, 200));
  const bool holds = response.status == status && error.ok() && error->code_name == code;
  check(holds, requirement, "status " + std::to_string(status) + " " + std::string(code), observed);
  return holds;
}

TestWorkspace CaseContext::new_workspace() {
  if (!facts_.can_create_workspaces) skip(facts_.create_workspace_problem);
  const HttpResponse created = request("POST", endpoint_path(EndpointId::kCreateWorkspace, {}),
                                       options_.registration_token, "{}", "application/json");
  const auto ws = expect_message<CreateWorkspaceResponse>(created, 201, "AUTH-001");
  return TestWorkspace{to_base64url(ws.workspace_id), ws.owner_token, ws.block_size};
}

TestWorkspace CaseContext::workspace() {
  if (options_.workspace.empty()) return new_workspace();
  const HttpResponse blocks =
      get(endpoint_path(EndpointId::kReadBlocks, {options_.workspace}), options_.owner_token);
  const auto list = expect_message<BlocksResponse>(blocks, 200, "LOG-031");
  return TestWorkspace{options_.workspace, options_.owner_token, list.block_size};
}

std::string CaseContext::issue_token(const TestWorkspace& ws, Scope scope,
                                     std::optional<uint64_t> expires_in_ms) {
  const HttpResponse issued =
      post_json(endpoint_path(EndpointId::kCreateToken, {ws.id}), ws.owner_token,
                serialize_message(CreateTokenRequest{scope, expires_in_ms}));
  return expect_message<TokenIssued>(issued, 201, "AUTH-013").token;
}

uint64_t CaseContext::server_time_ms() { return last_server_time_ms_; }

std::vector<WireOp> CaseContext::make_ops(size_t count, size_t payload_bytes) {
  std::vector<WireOp> ops;
  const DeviceId device = random_.id();
  HlcClock clock;
  for (size_t i = 0; i < count; ++i) {
    WireOp op;
    op.v = kOpFormatVersion;
    op.id = random_.id();
    op.device_id = device;
    op.hlc = clock.stamp(last_server_time_ms_);
    op.key_id = 1;
    op.payload = random_.bytes(std::max<size_t>(payload_bytes, kEnvelopeOverheadBytes));
    ops.push_back(std::move(op));
  }
  return ops;
}

UploadOpsResponse CaseContext::upload(const TestWorkspace& ws, const std::string& token,
                                      const std::vector<WireOp>& ops) {
  const HttpResponse answer = post_json(endpoint_path(EndpointId::kUploadOps, {ws.id}), token,
                                        serialize_message(UploadOpsRequest{ops}));
  UploadOpsResponse parsed = expect_message<UploadOpsResponse>(answer, 200, "LOG-002");
  require(parsed.results.size() == ops.size(), "LOG-025", "one result per operation",
          std::to_string(parsed.results.size()) + " results for " + std::to_string(ops.size()));
  return parsed;
}

std::vector<SequencedOp> CaseContext::read_log(const TestWorkspace& ws, const std::string& token) {
  std::vector<SequencedOp> log;
  uint64_t after = 0;
  // Bounded: every page but the last holds at least one operation (LOG-020), and a log longer
  // than this is not one the suite wrote.
  for (int pages = 0; pages < 10000; ++pages) {
    const HttpResponse r =
        get(endpoint_target(EndpointId::kReadOps, {ws.id}, {{"after_seq", std::to_string(after)}}),
            token);
    OpsPageResponse page = expect_message<OpsPageResponse>(r, 200, "LOG-020");
    for (SequencedOp& op : page.ops) log.push_back(std::move(op));
    if (!page.next_after_seq) return log;
    after = *page.next_after_seq;
  }
  require(false, "LOG-020", "a log the suite wrote ends within 10,000 pages");
  return log;
}

std::string CaseContext::fingerprint(const TestWorkspace& ws, const std::vector<FileId>& files) {
  Sha256 digest;
  auto add = [&](const HttpResponse& r) {
    digest.update(std::to_string(r.status) + "\n");
    digest.update(r.body);
  };
  add(get(endpoint_path(EndpointId::kReadOps, {ws.id}), ws.owner_token));
  add(get(endpoint_path(EndpointId::kReadBlocks, {ws.id}), ws.owner_token));
  add(get(endpoint_path(EndpointId::kListKeys, {ws.id}), ws.owner_token));
  add(get(endpoint_path(EndpointId::kListTokens, {ws.id}), ws.owner_token));
  for (const FileId& file : files) {
    // The status's updated_at_ms is part of it: a request that must change nothing leaves it.
    add(get(endpoint_path(EndpointId::kGetFile, {ws.id, to_base64url(file)}), ws.owner_token));
  }
  return to_hex(digest.finish().view());
}

void CaseContext::run_command(const std::string& command, std::string_view what, bool restarts) {
  // A kept-alive connection that has served one request: a real restart closes it.
  std::unique_ptr<Connection> kept;
  if (restarts) {
    Result<std::unique_ptr<Connection>> opened =
        Connection::open(options_.server, options_.timeout_ms);
    HttpRequest info{"GET", endpoint_path(EndpointId::kInfo, {}), case_headers(), "", true};
    if (opened.ok() && (*opened)->send(info.serialize(options_.server)).ok() &&
        (*opened)->read_response(options_.timeout_ms).ok())
      kept = std::move(*opened);
  }
  const Clock::time_point started = Clock::now();
  const int status = std::system(command.c_str());
  record("(" + std::string(what) + ") " + command,
         Error(Code::kTransport, "exit status " + std::to_string(status)), elapsed_ms(started));
  if (status != 0) throw CaseStop{Outcome::kError, std::string(what) + " failed: " + command};
  // The server answers again within the timeout, or the case cannot go on.
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(std::max<uint64_t>(options_.timeout_ms, 30000));
  HttpRequest info{"GET", endpoint_path(EndpointId::kInfo, {}), case_headers(), "", true};
  while (Clock::now() < deadline) {
    if (exchange_once(options_.server, info, 1000).ok()) {
      // The kept connection either closed (the process that held it is gone) or answers no
      // more; one that still serves a request was never restarted.
      if (kept) {
        const bool still_served =
            kept->send(info.serialize(options_.server)).ok() && kept->read_response(1000).ok();
        check(
            !still_served, "LOG-008",
            std::string(what) + " restarts the server: a connection kept open across it is closed",
            "the connection opened before the command still serves requests: nothing was "
            "restarted");
      }
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw CaseStop{Outcome::kError,
                 "the server did not answer within 30 s after " + std::string(what)};
}

}  // namespace opsync::conformance
