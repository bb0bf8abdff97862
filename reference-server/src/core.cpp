// Routing and admission: which endpoint a request is for, and whether it may reach it.
#include "opsync/server/core.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>
#include <variant>

#include "endpoints.h"
#include "rate_limiter.h"
#include "opsync/protocol/sha256.h"

namespace opsync::server {
namespace {

using endpoints::Call;
using endpoints::error_response;
using endpoints::make_error;

constexpr std::string_view kServerTimeHeader = "OpSync-Server-Time-Ms";
constexpr std::string_view kRequestIdHeader = "OpSync-Request-Id";
constexpr size_t kRequestIdCharsMax = 64;
constexpr std::string_view kTokenPrefix = "opsync_";
constexpr size_t kTokenSecretBytes = 32;  // 256 random bits; AUTH-010 asks for at least 128

enum class Body : uint8_t { kNone, kJson, kChunk };

using Handler = Response (*)(const Call&);

struct Route {
  std::string_view method;
  std::string_view pattern;    // path segments after /v1; "{}" matches one parameter
  std::optional<Scope> scope;  // nullopt: no authorization
  Body body;
  std::array<std::string_view, 2> query;  // the query parameters it accepts
  Handler handler;
};

// The endpoint table of spec section 14.
const std::array kRoutes = {
    Route{"GET", "info", std::nullopt, Body::kNone, {}, &endpoints::info},
    Route{"POST", "workspaces", std::nullopt, Body::kJson, {}, &endpoints::create_workspace},
    Route{"DELETE", "workspaces/{}", Scope::kOwner, Body::kNone, {}, &endpoints::delete_workspace},
    Route{"POST", "workspaces/{}/tokens", Scope::kOwner, Body::kJson, {}, &endpoints::create_token},
    Route{"GET", "workspaces/{}/tokens", Scope::kOwner, Body::kNone, {"after", "limit"}, &endpoints::list_tokens},
    Route{"GET", "workspaces/{}/tokens/self", Scope::kRead, Body::kNone, {}, &endpoints::token_self},
    Route{"DELETE", "workspaces/{}/tokens/{}", Scope::kOwner, Body::kNone, {}, &endpoints::revoke_token},
    Route{"GET", "workspaces/{}/keys", Scope::kRead, Body::kNone, {"after", "limit"}, &endpoints::list_keys},
    Route{"PUT", "workspaces/{}/keys/{}", Scope::kReadWrite, Body::kJson, {}, &endpoints::put_key},
    Route{"POST", "workspaces/{}/ops", Scope::kReadWrite, Body::kJson, {}, &endpoints::upload_ops},
    Route{"GET", "workspaces/{}/ops", Scope::kRead, Body::kNone, {"after_seq", "limit"}, &endpoints::read_ops},
    Route{"GET", "workspaces/{}/blocks", Scope::kRead, Body::kNone, {"start", "limit"}, &endpoints::read_blocks},
    Route{"POST", "workspaces/{}/file-status", Scope::kRead, Body::kJson, {}, &endpoints::file_status},
    Route{"POST", "workspaces/{}/files/{}", Scope::kReadWrite, Body::kJson, {}, &endpoints::create_file},
    Route{"GET", "workspaces/{}/files/{}", Scope::kRead, Body::kNone, {}, &endpoints::get_file},
    Route{"DELETE", "workspaces/{}/files/{}", Scope::kReadWrite, Body::kNone, {}, &endpoints::delete_file},
    Route{"POST", "workspaces/{}/files/{}/commit", Scope::kReadWrite, Body::kJson, {}, &endpoints::commit_file},
    Route{"PUT", "workspaces/{}/files/{}/chunks/{}", Scope::kReadWrite, Body::kChunk, {}, &endpoints::put_chunk},
    Route{"GET", "workspaces/{}/files/{}/chunks/{}", Scope::kRead, Body::kNone, {}, &endpoints::get_chunk},
};

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool pattern_matches(std::string_view pattern, const std::vector<std::string_view>& segments,
                     std::vector<std::string_view>& params) {
  const std::vector<std::string_view> parts = split(pattern, '/');
  if (parts.size() != segments.size()) return false;
  params.clear();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "{}") {
      if (segments[i].empty()) return false;
      params.push_back(segments[i]);
    } else if (parts[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

bool is_version_segment(std::string_view s) {
  return s.size() >= 2 && s[0] == 'v' && std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// "application/json; charset=utf-8" -> "application/json"
std::string media_type(std::string_view content_type) {
  std::string type = lower(content_type.substr(0, content_type.find(';')));
  const auto not_space = [](char c) { return c != ' ' && c != '\t'; };
  type.erase(type.begin(), std::find_if(type.begin(), type.end(), not_space));
  type.erase(std::find_if(type.rbegin(), type.rend(), not_space).base(), type.end());
  return type;
}

bool valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= kRequestIdCharsMax && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

std::string route_name(const Route& route) { return std::string(route.method) + " /v1/" + std::string(route.pattern); }

}  // namespace

std::optional<std::string> Request::header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

// What admission learned about a request that may proceed.
struct ServerCore::Admission {
  const void* route = nullptr;  // const Route*, opaque in the header
  std::vector<std::string_view> params;
  std::optional<TokenRecord> token;
  std::optional<WorkspaceRecord> workspace;
  std::map<std::string, std::string> query;
  uint64_t body_bytes_max = 0;
};

ServerCore::ServerCore(ServerConfig config, Storage& storage, RandomSource& random)
    : config_(std::move(config)), storage_(storage), random_(random) {
  OPSYNC_CHECK(limits_meet_floors(config_.limits));
  OPSYNC_CHECK(http_limits_meet_floors(config_.http_limits));
  OPSYNC_CHECK(config_.block_size >= kBlockSizeMin && config_.block_size <= kBlockSizeMax);
  OPSYNC_CHECK(config_.max_clock_skew_ms >= kMaxClockSkewMsMin && config_.max_clock_skew_ms <= kMaxClockSkewMsMax);
  OPSYNC_CHECK(config_.upload_expiry_ms >= kRetentionMsMin && config_.file_retention_ms >= kRetentionMsMin);
  OPSYNC_CHECK(config_.workspace_creations_per_minute <= RateLimiter::kPerMinuteMax);
  if (config_.workspace_creations_per_minute > 0)
    creation_limiter_ = std::make_unique<RateLimiter>(config_.workspace_creations_per_minute);
}

ServerCore::~ServerCore() = default;

Id ServerCore::new_id() {
  std::lock_guard lock(random_mutex_);
  return random_.id();
}

std::string ServerCore::new_token() {
  std::lock_guard lock(random_mutex_);
  return std::string(kTokenPrefix) + to_base64url(random_.fixed<kTokenSecretBytes>());
}

std::variant<ServerCore::Admission, Response> ServerCore::admit(const RequestHead& head, uint64_t now_ms) {
  // The route (TRN-003, TRN-010, VER-001).
  if (head.path.empty() || head.path[0] != '/') return error_response(make_error(Code::kNotFound, "no such route"));
  std::vector<std::string_view> segments = split(std::string_view(head.path).substr(1), '/');
  if (!is_version_segment(segments[0])) return error_response(make_error(Code::kNotFound, "no such route"));
  if (segments[0] != "v1")
    return error_response(make_error(Code::kUnsupportedVersion, "this server speaks protocol version 1 only"));
  segments.erase(segments.begin());
  const Route* route = nullptr;
  std::vector<std::string_view> params;
  std::string allowed;
  for (const Route& candidate : kRoutes) {
    std::vector<std::string_view> candidate_params;
    if (!pattern_matches(candidate.pattern, segments, candidate_params)) continue;
    allowed += (allowed.empty() ? "" : ", ") + std::string(candidate.method);
    if (candidate.method == head.method) {
      route = &candidate;
      params = std::move(candidate_params);
    }
  }
  if (!route) {
    if (allowed.empty()) return error_response(make_error(Code::kNotFound, "no such route"));
    Response response = error_response(make_error(Code::kMethodNotAllowed, head.method + " is not allowed here"));
    response.headers.emplace_back("Allow", allowed);
    return response;
  }

  auto reject = [&](const Error& e) {
    Response response = error_response(e);
    response.route = route_name(*route);
    if (!params.empty()) response.workspace = std::string(params[0]);
    return response;
  };
  Admission admission;
  admission.route = route;

  // Authorization in the order of spec 4.3 (AUTH-020).
  if (route->scope) {
    constexpr std::string_view kBearer = "bearer ";
    auto authorization = head.headers.find("authorization");
    if (authorization == head.headers.end() || authorization->second.size() <= kBearer.size() ||
        lower(std::string_view(authorization->second).substr(0, kBearer.size())) != kBearer)
      return reject(make_error(Code::kTokenMissing, "send Authorization: Bearer <token>"));
    const std::string_view token = std::string_view(authorization->second).substr(kBearer.size());
    const std::optional<WorkspaceId> path_workspace = fixed_from_base64url<16>(params.at(0));
    Status read = storage_.read([&](Transaction& txn) {
      admission.token = txn.token_by_secret_hash(endpoints::token_hash(token));  // by hash (AUTH-023)
      if (admission.token && path_workspace && admission.token->workspace == *path_workspace)
        admission.workspace = txn.workspace(*path_workspace);
    });
    if (!read.ok()) return reject(read.error());
    const std::optional<TokenRecord>& record = admission.token;
    if (!record) return reject(make_error(Code::kTokenInvalid, "unknown token"));
    if (record->revoked_at_ms) return reject(make_error(Code::kTokenRevoked, "this token was revoked"));
    if (record->expires_at_ms && *record->expires_at_ms <= now_ms)
      return reject(make_error(Code::kTokenExpired, "this token has expired"));
    if (!path_workspace)
      return reject(make_error(Code::kInvalidId, "must be 22 characters of base64url", "workspace_id"));
    if (!admission.workspace) return reject(make_error(Code::kWorkspaceNotFound, "no such workspace for this token"));
    if (!scope_allows(record->scope, *route->scope))
      return reject(make_error(Code::kInsufficientScope,
                               "this needs a token of scope " + std::string(scope_name(*route->scope))));
    params.erase(params.begin());
  }

  // Query parameter names (TRN-011); values are the endpoint's to check.
  for (const auto& [name, value] : head.query) {
    const bool known = !name.empty() && std::find(route->query.begin(), route->query.end(), name) != route->query.end();
    if (!known) return reject(make_error(Code::kInvalidQuery, "unknown query parameter", name));
    if (!admission.query.emplace(name, value).second)
      return reject(make_error(Code::kInvalidQuery, "repeated query parameter", name));
  }

  // Content type and declared size, before any body byte is read (TRN-004, TRN-005, LIM-002).
  if (route->body != Body::kNone) {
    auto content_type = head.headers.find("content-type");
    const std::string type = content_type == head.headers.end() ? "" : media_type(content_type->second);
    const char* expected = route->body == Body::kJson ? "application/json" : "application/octet-stream";
    if (type != expected)
      return reject(make_error(Code::kUnsupportedMediaType, std::string("send Content-Type: ") + expected));
    admission.body_bytes_max = route->body == Body::kJson ? config_.limits.request_body_bytes_max
                                                          : config_.limits.chunk_bytes + kEnvelopeOverheadBytes;
    if (head.content_length && *head.content_length > admission.body_bytes_max) {
      Error e = make_error(Code::kBodyTooLarge, "bodies here are at most " + std::to_string(admission.body_bytes_max) + " bytes");
      e.details.limit_bytes = admission.body_bytes_max;
      return reject(e);
    }
  }
  admission.params = std::move(params);
  return admission;
}

std::optional<Response> ServerCore::preflight(const RequestHead& head, uint64_t now_ms, uint64_t* body_bytes_max) {
  auto admitted = admit(head, now_ms);
  if (auto* response = std::get_if<Response>(&admitted)) return finish(std::move(*response), head, now_ms);
  if (body_bytes_max) *body_bytes_max = std::get<Admission>(admitted).body_bytes_max;
  return std::nullopt;
}

Response ServerCore::handle(const Request& request, uint64_t now_ms) {
  RequestHead head{request.method, request.path, request.query, request.headers, request.body.size(),
                   request.client_address};
  auto admitted = admit(head, now_ms);
  if (auto* response = std::get_if<Response>(&admitted)) return finish(std::move(*response), head, now_ms);
  Admission& admission = std::get<Admission>(admitted);
  const Route& route = *static_cast<const Route*>(admission.route);
  Call call{config_,
            storage_,
            request,
            now_ms,
            admission.token ? &*admission.token : nullptr,
            admission.workspace ? &*admission.workspace : nullptr,
            admission.params,
            admission.query,
            [this] { return new_id(); },
            [this] { return new_token(); },
            creation_limiter_.get()};
  Response response = route.handler(call);
  response.route = route_name(route);
  if (admission.workspace) response.workspace = to_base64url(admission.workspace->id);
  return finish(std::move(response), head, now_ms);
}

// Headers every response carries: the server's time and a request id (TRN-007, TRN-008).
Response ServerCore::finish(Response response, const RequestHead& head, uint64_t now_ms) {
  response.headers.emplace_back(kServerTimeHeader, std::to_string(now_ms));
  auto request_id = head.headers.find("opsync-request-id");
  if (request_id != head.headers.end() && valid_request_id(request_id->second)) {
    response.headers.emplace_back(kRequestIdHeader, request_id->second);
  } else {
    std::lock_guard lock(random_mutex_);
    response.headers.emplace_back(kRequestIdHeader, to_base64url(random_.fixed<12>()));
  }
  return response;
}

Response ServerCore::transport_error(const Error& error, const std::map<std::string, std::string>& request_headers,
                                     uint64_t now_ms) {
  RequestHead head;
  head.headers = request_headers;
  return finish(error_response(error), head, now_ms);
}

Response ServerCore::interim_continue(RequestHead& head, uint64_t now_ms) {
  Response interim;
  interim.status = 100;
  interim.content_type.clear();
  interim = finish(std::move(interim), head, now_ms);
  for (const auto& [name, value] : interim.headers)
    if (name == kRequestIdHeader) head.headers["opsync-request-id"] = value;  // echoed by the final answer
  return interim;
}

uint64_t ServerCore::collect_garbage(uint64_t now_ms, size_t files_max) {
  return endpoints::collect_garbage(storage_, config_, now_ms, files_max);
}

Result<CreateWorkspaceResponse> ServerCore::create_workspace(uint64_t now_ms) {
  return endpoints::new_workspace(storage_, config_, now_ms, [this] { return new_id(); }, [this] { return new_token(); });
}

}  // namespace opsync::server
