// Routing and admission: which endpoint a request is for, and whether it may reach it.
#include "opsync/server/core.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>
#include <variant>

#include "defects.h"
#include "endpoints.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/sha256.h"
#include "opsync/protocol/text.h"
#include "rate_limiter.h"

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

using Handler = Response (*)(const Call&);

// The handler of each endpoint of the catalog (protocol/endpoints.h), by EndpointId.
constexpr std::array<Handler, 19> kHandlers = {
    &endpoints::info,         &endpoints::create_workspace, &endpoints::delete_workspace,
    &endpoints::create_token, &endpoints::list_tokens,      &endpoints::token_self,
    &endpoints::revoke_token, &endpoints::list_keys,        &endpoints::put_key,
    &endpoints::upload_ops,   &endpoints::read_ops,         &endpoints::read_blocks,
    &endpoints::file_status,  &endpoints::create_file,      &endpoints::get_file,
    &endpoints::delete_file,  &endpoints::commit_file,      &endpoints::put_chunk,
    &endpoints::get_chunk,
};
static_assert(static_cast<size_t>(EndpointId::kGetChunk) + 1 == kHandlers.size(),
              "one handler per endpoint");

// Whether a Content-Type header suits a body (TRN-004, TRN-005, TRN-014): the media type in any
// case, and for JSON at most a charset parameter of utf-8. Empty parameters (a trailing ';') are
// allowed by RFC 9110's grammar.
bool content_type_allowed(std::string_view header, BodyKind body) {
  std::string_view rest = header;
  const size_t end_of_type = rest.find(';');
  if (defect(Defect::kMediaTypeTabsRefused) && header.find('\t') != std::string_view::npos)
    return false;
  const std::string media = ascii_lower(trim_ows(rest.substr(0, end_of_type)));
  rest = end_of_type == std::string_view::npos ? std::string_view() : rest.substr(end_of_type + 1);
  if (media != (body == BodyKind::kJson ? "application/json" : "application/octet-stream"))
    return false;
  bool charset_seen = false;
  while (!rest.empty()) {
    const size_t end = rest.find(';');
    const std::string_view parameter = trim_ows(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (parameter.empty()) continue;
    const size_t equals = parameter.find('=');
    if (body != BodyKind::kJson || charset_seen || equals == std::string_view::npos) return false;
    if (ascii_lower(parameter.substr(0, equals)) != "charset") return false;
    std::string_view value = parameter.substr(equals + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (ascii_lower(value) != "utf-8") return false;
    charset_seen = true;
  }
  return true;
}

bool valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= kRequestIdCharsMax &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
         });
}

std::string describe_range(const ParameterSpec& spec, const Limits& limits) {
  if (spec.kind == ValueKind::kId) return "must be an id: 22 characters of canonical base64url";
  return "must be a decimal integer from " + std::to_string(spec.min) + " to " +
         std::to_string(spec.max_under(limits)) + ", without sign or leading zeros";
}

}  // namespace

std::optional<std::string> Request::header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

ServerCore::ServerCore(ServerConfig config, Storage& storage, RandomSource& random)
    : config_(std::move(config)), storage_(storage), random_(random) {
  OPSYNC_CHECK(limits_meet_floors(config_.limits));
  OPSYNC_CHECK(http_limits_meet_floors(config_.http_limits));
  OPSYNC_CHECK(config_.block_size >= kBlockSizeMin && config_.block_size <= kBlockSizeMax);
  OPSYNC_CHECK(config_.max_clock_skew_ms >= kMaxClockSkewMsMin &&
               config_.max_clock_skew_ms <= kMaxClockSkewMsMax);
  OPSYNC_CHECK(config_.upload_expiry_ms >= kRetentionMsMin &&
               config_.file_retention_ms >= kRetentionMsMin);
  OPSYNC_CHECK(config_.workspace_creations_per_minute <= RateLimiter::kPerMinuteMax);
  if (config_.workspace_creations_per_minute > 0)
    creation_limiter_ = std::make_unique<RateLimiter>(config_.workspace_creations_per_minute);
  apply_revocation_journal();
}

// AUTH-030: the data may have been restored from a backup older than some revocations; they are
// applied again before anything is served. Revoking a token the data holds revoked already, or
// does not hold (issued after the backup, or its workspace deleted), changes nothing.
void ServerCore::apply_revocation_journal() {
  Result<std::vector<Revocation>> journal = storage_.journaled_revocations();
  OPSYNC_CHECK_MSG(journal.ok(), "the revocation journal cannot be read");
  if (journal->empty()) return;
  const Status applied = storage_.write([&](Transaction& txn) {
    bool changed = false;
    for (const Revocation& revocation : *journal) {
      std::optional<TokenRecord> token = txn.token(revocation.workspace, revocation.token);
      if (!token || token->revoked_at_ms) continue;
      token->revoked_at_ms = revocation.revoked_at_ms;
      txn.put_token(*token);
      changed = true;
    }
    return changed;
  });
  OPSYNC_CHECK_MSG(applied.ok(), "the revocation journal cannot be applied to the data");
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

std::variant<Admission, Response> ServerCore::preflight(const RequestHead& head, uint64_t now_ms) {
  std::variant<Admission, Response> admitted = admit(head, now_ms);
  if (auto* response = std::get_if<Response>(&admitted))
    *response = finish(std::move(*response), head.headers, now_ms);
  return admitted;
}

// The checks of one request, in the order of spec TRN-040: the first failure is the answer.
std::variant<Admission, Response> ServerCore::admit(const RequestHead& head, uint64_t now_ms) {
  // 1-3. Version, route, method (VER-001, TRN-003, TRN-010, TRN-012).
  route_matches_.fetch_add(1, std::memory_order_relaxed);
  const RouteMatch match = match_route(head.method, head.path);
  switch (match.kind) {
    case RouteMatch::Kind::kNotFound:
      return error_response(make_error(Code::kNotFound, "no such route"));
    case RouteMatch::Kind::kUnsupportedVersion:
      return error_response(
          make_error(Code::kUnsupportedVersion, "this server speaks protocol version 1 only"));
    case RouteMatch::Kind::kMethodNotAllowed: {
      Response response =
          error_response(make_error(Code::kMethodNotAllowed, head.method + " is not allowed here"));
      if (!defect(Defect::kNoAllowHeader)) response.headers.emplace_back("Allow", match.allowed);
      return response;
    }
    case RouteMatch::Kind::kMatched:
      break;
  }
  const Endpoint& endpoint = *match.endpoint;
  std::vector<std::string_view> params = match.parameters;
  if (defect(Defect::kSelfIsNoParameter) &&
      std::find(params.begin(), params.end(), "self") != params.end())
    return error_response(make_error(Code::kNotFound, "no such route"));
  const bool has_workspace =
      endpoint.scope.has_value();  // every authorized route names its workspace first
  auto reject = [&](const Error& e) {
    Response response = error_response(e);
    response.route = endpoint.name();
    if (has_workspace) response.workspace = std::string(params.at(0));
    return response;
  };
  Admission admission;
  admission.endpoint_ = &endpoint;
  admission.method_ = head.method;
  admission.path_ = head.path;

  // 4. Query parameters in the order sent: unknown, repeated or invalid (TRN-011, TRN-013).
  for (const auto& parameter : head.query) {
    std::string name = parameter.first;
    if (defect(Defect::kPlusIsSpace)) std::replace(name.begin(), name.end(), '+', ' ');
    const std::string& value = parameter.second;
    const auto* spec =
        std::find_if(endpoint.query.begin(), endpoint.query.end(),
                     [&](const ParameterSpec& p) { return p.present() && p.name == name; });
    if (spec == endpoint.query.end())
      return reject(make_error(Code::kInvalidQuery, "unknown query parameter", name));
    if (!admission.query_.emplace(name, value).second && !defect(Defect::kRepeatedQueryTaken))
      return reject(make_error(Code::kInvalidQuery, "repeated query parameter", name));
    if (!valid_parameter(*spec, value, config_.limits))
      return reject(make_error(Code::kInvalidQuery, describe_range(*spec, config_.limits), name));
  }

  // 5-6. Content type and declared size, before any body byte is read (TRN-004, TRN-005, LIM-002).
  // An endpoint that takes no body ignores one, within the JSON body limit.
  admission.body_bytes_max_ = endpoint.request_body == BodyKind::kChunk
                                  ? config_.limits.chunk_bytes + kEnvelopeOverheadBytes
                                  : config_.limits.request_body_bytes_max;
  if (endpoint.request_body != BodyKind::kNone) {
    auto content_type = head.headers.find("content-type");
    if (content_type == head.headers.end() ||
        !content_type_allowed(content_type->second, endpoint.request_body))
      return reject(make_error(
          Code::kUnsupportedMediaType,
          endpoint.request_body == BodyKind::kJson
              ? "send Content-Type: application/json (charset=utf-8 is the one parameter allowed)"
              : "send Content-Type: application/octet-stream"));
  }
  if (head.content_length && *head.content_length > admission.body_bytes_max_) {
    Error e =
        make_error(Code::kBodyTooLarge, "bodies here are at most " +
                                            std::to_string(admission.body_bytes_max_) + " bytes");
    e.details.limit_bytes = admission.body_bytes_max_;
    return reject(e);
  }

  // 7. Authorization in the order of spec 4.3 (AUTH-020).
  if (endpoint.scope) {
    if (std::optional<Error> refused = authorize(head, params.at(0), now_ms, admission))
      return reject(*refused);
    params.erase(params.begin());
  }
  admission.params_.assign(params.begin(), params.end());
  return admission;
}

// Step 7 of ERR-013 for a route with a scope: the bearer token, looked up by its hash in the
// same read as the workspace its path names (`workspace_param`), then revocation, expiry, the
// workspace and the scope, in the order of spec 4.3. Fills the admission's token and workspace;
// returns why the request is refused, or nullopt.
std::optional<Error> ServerCore::authorize(const RequestHead& head,
                                           std::string_view workspace_param, uint64_t now_ms,
                                           Admission& admission) {
  const Endpoint& endpoint = *admission.endpoint_;
  constexpr std::string_view kBearer = "bearer ";
  auto authorization = head.headers.find("authorization");
  if (authorization == head.headers.end() || authorization->second.size() <= kBearer.size() ||
      ascii_lower(std::string_view(authorization->second).substr(0, kBearer.size())) != kBearer)
    return defect(Defect::kTokenMissingIs403)
               ? make_error(Code::kInsufficientScope, "no token")
               : make_error(Code::kTokenMissing, "send Authorization: Bearer <token>");
  std::string_view token = std::string_view(authorization->second).substr(kBearer.size());
  if (defect(Defect::kTokenWhitespaceTrimmed)) token = trim_ows(token);
  const std::optional<WorkspaceId> path_workspace = fixed_from_base64url<16>(workspace_param);
  Status read = storage_.read([&](Transaction& txn) {
    admission.token_ =
        txn.token_by_secret_hash(endpoints::token_hash(token));  // by hash (AUTH-023)
    if (admission.token_ && path_workspace &&
        (admission.token_->workspace == *path_workspace || defect(Defect::kCrossWorkspaceRead)))
      admission.workspace_ = txn.workspace(*path_workspace);
  });
  if (!read.ok()) return read.error();
  const std::optional<TokenRecord>& record = admission.token_;
  if (!record) return make_error(Code::kTokenInvalid, "unknown token");
  if (record->revoked_at_ms && !defect(Defect::kRevokedTokenAccepted))
    return make_error(Code::kTokenRevoked, "this token was revoked");
  if (record->expires_at_ms && *record->expires_at_ms <= now_ms &&
      !defect(Defect::kExpiredTokenAccepted))
    return make_error(Code::kTokenExpired, "this token has expired");
  if (!path_workspace)
    return make_error(Code::kInvalidId, "must be 22 characters of base64url", "workspace_id");
  if (!admission.workspace_)
    return make_error(Code::kWorkspaceNotFound, "no such workspace for this token");
  const bool blocks_need_write =
      defect(Defect::kBlocksNeedWrite) && endpoint.id == EndpointId::kReadBlocks;
  if ((!scope_allows(record->scope, *endpoint.scope) ||
       (blocks_need_write && record->scope == Scope::kRead)) &&
      !(defect(Defect::kReadOnlyWrites) && *endpoint.scope == Scope::kReadWrite))
    return make_error(Code::kInsufficientScope,
                      "this needs a token of scope " + std::string(scope_name(*endpoint.scope)));
  return std::nullopt;
}

Response ServerCore::handle(const Admission& admission, const Request& request, uint64_t now_ms) {
  // The request must be the head that was admitted: its route and token were judged on that.
  OPSYNC_CHECK(admission.endpoint_ != nullptr && request.method == admission.method_ &&
               request.path == admission.path_);
  const Endpoint& endpoint = *admission.endpoint_;
  const TokenRecord* token = admission.token_ ? &*admission.token_ : nullptr;
  if (defect(Defect::kExpiryJudgedAfterBody) && token && token->expires_at_ms &&
      *token->expires_at_ms <= now_ms) {
    Response response = error_response(make_error(Code::kTokenExpired, "this token has expired"));
    response.route = endpoint.name();
    if (admission.workspace_) response.workspace = to_base64url(admission.workspace_->id);
    return finish(std::move(response), request.headers, now_ms);
  }
  Call call{config_,
            storage_,
            request,
            now_ms,
            token,
            admission.workspace_ ? &*admission.workspace_ : nullptr,
            endpoint,
            std::vector<std::string_view>(admission.params_.begin(), admission.params_.end()),
            admission.query_,
            [this] { return new_id(); },
            [this] { return new_token(); },
            creation_limiter_.get()};
  Response response = kHandlers[static_cast<size_t>(endpoint.id)](call);
  response.route = endpoint.name();
  if (admission.workspace_) response.workspace = to_base64url(admission.workspace_->id);
  return finish(std::move(response), request.headers, now_ms);
}

Response ServerCore::handle(const Request& request, uint64_t now_ms) {
  const RequestHead head{request.method,  request.path,        request.query,
                         request.headers, request.body.size(), request.client_address};
  std::variant<Admission, Response> admitted = preflight(head, now_ms);
  if (auto* response = std::get_if<Response>(&admitted)) return std::move(*response);
  return handle(std::get<Admission>(admitted), request, now_ms);
}

// Headers every response carries: the server's time and a request id (TRN-007, TRN-008).
Response ServerCore::finish(Response response,
                            const std::map<std::string, std::string>& request_headers,
                            uint64_t now_ms) {
  response.headers.emplace_back(kServerTimeHeader, std::to_string(now_ms));
  if (defect(Defect::kNoRequestId)) return response;
  auto request_id = request_headers.find("opsync-request-id");
  if (request_id != request_headers.end() && valid_request_id(request_id->second)) {
    response.headers.emplace_back(kRequestIdHeader, request_id->second);
  } else {
    std::lock_guard lock(random_mutex_);
    response.headers.emplace_back(kRequestIdHeader, to_base64url(random_.fixed<12>()));
  }
  return response;
}

Response ServerCore::transport_error(const Error& error,
                                     const std::map<std::string, std::string>& request_headers,
                                     uint64_t now_ms) {
  return finish(error_response(error), request_headers, now_ms);
}

Response ServerCore::interim_continue(RequestHead& head, uint64_t now_ms) {
  Response interim;
  interim.status = 100;
  interim.content_type.clear();
  interim = finish(std::move(interim), head.headers, now_ms);
  for (const auto& [name, value] : interim.headers)
    if (name == kRequestIdHeader)
      head.headers["opsync-request-id"] = value;  // echoed by the final answer
  return interim;
}

uint64_t ServerCore::collect_garbage(uint64_t now_ms, size_t files_max) {
  return endpoints::collect_garbage(storage_, config_, now_ms, files_max);
}

Result<CreateWorkspaceResponse> ServerCore::create_workspace(uint64_t now_ms) {
  return endpoints::new_workspace(
      storage_, config_, now_ms, [this] { return new_id(); }, [this] { return new_token(); });
}

}  // namespace opsync::server
