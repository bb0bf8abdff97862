#include "trace.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "opsync/client/http_driver.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/sha256.h"

namespace opsync::client {
namespace {

constexpr const char* kFormat = "opsync-client-trace/1";

const std::set<std::string>& secret_members() {
  static const std::set<std::string> names = {"token", "owner_token", "wrapped_key", "password",
                                              "passphrase"};
  return names;
}

void redact(nlohmann::json& json) {
  if (json.is_object()) {
    for (auto& [name, value] : json.items()) {
      if (secret_members().count(name) && value.is_string()) {
        const std::string secret = value.get<std::string>();
        value = "redacted:" + secret_fingerprint(secret) + ":" + std::to_string(secret.size());
      } else {
        redact(value);
      }
    }
  } else if (json.is_array()) {
    for (nlohmann::json& item : json) redact(item);
  }
}

// A body as the trace keeps it: JSON with its secrets redacted, other text as it is, binary in
// base64url.
void put_body(nlohmann::json& into, const std::string& content_type, const std::string& body) {
  if (body.empty()) return;
  if (content_type.rfind("application/json", 0) == 0) {
    nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) {
      redact(parsed);
      into["body"] = parsed.dump();
      return;
    }
  }
  if (content_type.rfind("text/", 0) == 0 && is_valid_utf8(body)) {
    into["body"] = body;
    return;
  }
  into["body_base64url"] = to_base64url(to_bytes(body));
}

}  // namespace

std::string secret_fingerprint(const std::string& secret) {
  const Hash hash = sha256(to_bytes(secret));
  return to_hex(hash.view().first(8));
}

Result<std::unique_ptr<TraceWriter>> TraceWriter::open(const std::string& path,
                                                       const std::string& device) {
  std::ofstream out(path, std::ios::app);
  if (!out) return Error(Code::kInvalidField, "cannot write the trace file " + path);
  std::unique_ptr<TraceWriter> writer(new TraceWriter(std::move(out), device));
  writer->line(nlohmann::json{{"type", "trace"},
                              {"format", kFormat},
                              {"device", device},
                              {"client", "opsync-client " OPSYNC_VERSION}}
                   .dump());
  return writer;
}

void TraceWriter::line(const std::string& json) {
  out_ << json << '\n';
  out_.flush();
}

void TraceWriter::exchange(const HttpRequest& request, const std::string& token, uint64_t sent_ms,
                           const Result<HttpResponse>& response, uint64_t received_ms) {
  nlohmann::json req = {{"method", request.method}, {"target", request.target}};
  if (!request.content_type.empty()) req["content_type"] = request.content_type;
  put_body(req, request.content_type, request.body);
  if (request.authorized && !token.empty()) req["token"] = secret_fingerprint(token);
  nlohmann::json out = {{"type", "exchange"},
                        {"device", device_},
                        {"sent_ms", sent_ms},
                        {"received_ms", received_ms},
                        {"request", req}};
  if (response.ok()) {
    nlohmann::json res = {{"status", response->status}};
    const std::string& type = response->header("content-type");
    if (!type.empty()) res["content_type"] = type;
    // When the server handled the request, on its clock (TRN-007): what orders the exchanges of
    // several devices when their traces are imported together.
    if (std::optional<uint64_t> server_time_ms = parse_decimal_parameter(
            response->header("opsync-server-time-ms"), 0, std::numeric_limits<uint64_t>::max()))
      res["server_time_ms"] = *server_time_ms;
    put_body(res, type, response->body);
    out["response"] = res;
  } else {
    out["error"] = response.error().message;
  }
  line(out.dump());
}

void TraceWriter::committed(const std::string& command, const std::vector<WireOp>& ops,
                            uint64_t clock_ms) {
  nlohmann::json list = nlohmann::json::array();
  for (const WireOp& op : ops)
    list.push_back(
        {{"id", to_base64url(op.id)}, {"wall_ms", op.hlc.wall_ms}, {"counter", op.hlc.counter}});
  line(nlohmann::json{{"type", "commit"},
                      {"device", device_},
                      {"clock_ms", clock_ms},
                      {"command", command},
                      {"ops", list}}
           .dump());
}

Result<HttpResponse> TracingTransport::exchange(const HttpRequest& request,
                                                const std::string& token) {
  const uint64_t sent_ms = system_now_ms();
  Result<HttpResponse> response = inner_.exchange(request, token);
  trace_.exchange(request, token, sent_ms, response, system_now_ms());
  return response;
}

}  // namespace opsync::client
