#include "opsync/protocol/wire_check.h"

#include <algorithm>
#include <charconv>

#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/text.h"

namespace opsync {
namespace {

constexpr size_t kRequestIdCharsMax = 64;

// "application/json; charset=utf-8" -> "application/json"
std::string media_type(std::string_view content_type) {
  std::string type = ascii_lower(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.erase(type.begin());
  return type;
}

bool is_decimal(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// The statuses the error table of spec 2.3 gives, for codes this library knows.
bool known_status(int status) {
  for (int s : {400, 401, 403, 404, 405, 409, 413, 414, 415, 429, 431, 500, 501, 503, 505})
    if (s == status) return true;
  return false;
}

}  // namespace

bool valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= kRequestIdCharsMax &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
         });
}

std::vector<WireViolation> check_wire_response(const WireExchange& x) {
  std::vector<WireViolation> out;
  auto violated = [&](std::string requirement, std::string what) {
    out.push_back(WireViolation{std::move(requirement), std::move(what)});
  };
  const std::optional<std::string> server_time = x.header("OpSync-Server-Time-Ms");
  if (!server_time || !is_decimal(*server_time))
    violated("TRN-007", "OpSync-Server-Time-Ms is missing or not a decimal number of milliseconds");
  const std::optional<std::string> request_id = x.header("OpSync-Request-Id");
  if (!request_id || !valid_request_id(*request_id)) {
    violated("TRN-008",
             "OpSync-Request-Id is missing or not 1 to 64 characters of A-Z a-z 0-9 . _ -");
  } else if (x.request_id && valid_request_id(*x.request_id) && *request_id != *x.request_id) {
    violated("TRN-008", "the request's OpSync-Request-Id is not echoed");
  }
  if (x.status == 500) violated("ERR-004", "status 500: no input may make the server answer 500");
  const std::string content_type = media_type(x.header("Content-Type").value_or(""));

  if (x.status >= 400) {
    if (content_type != "application/json")
      violated("TRN-006", "an error response is not application/json");
    Result<ErrorBody> error = parse_message<ErrorBody>(x.body);
    if (!error.ok()) {
      violated("ERR-001", "the error body does not parse: " + error.error().to_string());
      return out;
    }
    if (!error->code) {
      if (!known_status(x.status))
        violated("ERR-001", "status " + std::to_string(x.status) + " is in no table");
      violated("ERR-001", "the code " + error->code_name + " is not one of the spec's table");
    } else if (http_status(*error->code) != x.status) {
      violated("ERR-001", "the code " + error->code_name + " goes with status " +
                              std::to_string(http_status(*error->code)) + ", not " +
                              std::to_string(x.status));
    }
    if (x.status == 405 && !x.header("Allow")) violated("TRN-010", "a 405 without an Allow header");
    if (x.status == 429 && !x.header("Retry-After"))
      violated("LIM-020", "a 429 without a Retry-After header");
    return out;
  }

  const std::string_view path = x.target.substr(0, x.target.find('?'));
  const RouteMatch match = match_route(x.method, path);
  if (match.kind != RouteMatch::Kind::kMatched) {
    violated("TRN-010", "a success for a request that matches no endpoint");
    return out;
  }
  const Endpoint& endpoint = *match.endpoint;
  const auto success = std::find_if(endpoint.success.begin(), endpoint.success.end(),
                                    [&](const SuccessResponse& s) { return s.status == x.status; });
  if (success == endpoint.success.end()) {
    violated(std::string(endpoint.section) == "2.6" ? "INF-001" : "ERR-001",
             "status " + std::to_string(x.status) + " is not a success " + endpoint.name() +
                 " answers with");
    return out;
  }
  if (success->body == BodyKind::kChunk) {
    if (content_type != "application/octet-stream")
      violated("TRN-005", "a chunk is not application/octet-stream");
    return out;
  }
  if (content_type != "application/json")
    violated("TRN-006", "a response body is not application/json");
  const Status parsed = check_message(success->message, x.body);
  if (!parsed.ok()) {
    violated("TRN-029",
             std::string(success->message) + " does not parse: " + parsed.error().to_string());
    return out;
  }
  if (success->message == "InfoResponse" && server_time) {
    Result<InfoResponse> info = parse_message<InfoResponse>(x.body);
    if (info.ok() && std::to_string(info->server_time_ms) != *server_time)
      violated("INF-002", "server_time_ms differs from OpSync-Server-Time-Ms");
  }
  return out;
}

}  // namespace opsync
