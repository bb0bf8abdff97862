// Routing and admission: which endpoint a request is for, and whether it may reach it.
#include "opsync/server/core.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>
#include <variant>

#include "endpoints.h"
#include "faults.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/sha256.h"
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

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// Whether a Content-Type header suits a body (TRN-004, TRN-005, TRN-014): the media type in any
// case, and for JSON at most a charset parameter of utf-8. Empty parameters (a trailing ';') are
// allowed by RFC 9110's grammar.
bool content_type_allowed(std::string_view header, BodyKind body) {
  std::string_view rest = header;
  const size_t end_of_type = rest.find(';');
  if (fault(Fault::kMediaTypeTabsRefused) && header.find('\t') != std::string_view::npos)
    return false;
  const std::string media = lower(trim(rest.substr(0, end_of_type)));
  rest = end_of_type == std::string_view::npos ? std::string_view() : rest.substr(end_of_type + 1);
  if (media != (body == BodyKind::kJson ? "application/json" : "application/octet-stream"))
    return false;
  bool charset_seen = false;
  while (!rest.empty()) {
    const size_t end = rest.find(';');
    const std::string_view parameter = trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (parameter.empty()) continue;
    const size_t equals = parameter.find('=');
    if (body != BodyKind::kJson || charset_seen || equals == std::string_view::npos) return false;
    if (lower(parameter.substr(0, equals)) != "charset") return false;
    std::string_view value = parameter.substr(equals + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (lower(value) != "utf-8") return false;
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

// What admission learned about a request that may proceed.
struct ServerCore::Admission {
  const Endpoint* endpoint = nullptr;
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

std::variant<ServerCore::Admission, Response> ServerCore::admit(const RequestHead& head,
                                                                uint64_t now_ms) {
  // The checks of one request, in the order of spec TRN-040: the first failure is the answer.
  // 1-3. Version, route, method (VER-001, TRN-003, TRN-010, TRN-012).
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
      if (!fault(Fault::kNoAllowHeader)) response.headers.emplace_back("Allow", match.allowed);
      return response;
    }
    case RouteMatch::Kind::kMatched:
      break;
  }
  const Endpoint& endpoint = *match.endpoint;
  std::vector<std::string_view> params = match.parameters;
  if (fault(Fault::kSelfIsNoParameter) &&
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
  admission.endpoint = &endpoint;

  // 4. Query parameters in the order sent: unknown, repeated or invalid (TRN-011, TRN-013).
  for (const auto& parameter : head.query) {
    std::string name = parameter.first;
    if (fault(Fault::kPlusIsSpace)) std::replace(name.begin(), name.end(), '+', ' ');
    const std::string& value = parameter.second;
    const auto* spec =
        std::find_if(endpoint.query.begin(), endpoint.query.end(),
                     [&](const ParameterSpec& p) { return p.present() && p.name == name; });
    if (spec == endpoint.query.end())
      return reject(make_error(Code::kInvalidQuery, "unknown query parameter", name));
    if (!admission.query.emplace(name, value).second && !fault(Fault::kRepeatedQueryTaken))
      return reject(make_error(Code::kInvalidQuery, "repeated query parameter", name));
    if (!valid_parameter(*spec, value, config_.limits))
      return reject(make_error(Code::kInvalidQuery, describe_range(*spec, config_.limits), name));
  }

  // 5-6. Content type and declared size, before any body byte is read (TRN-004, TRN-005, LIM-002).
  // An endpoint that takes no body ignores one, within the JSON body limit.
  admission.body_bytes_max = endpoint.request_body == BodyKind::kChunk
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
  if (head.content_length && *head.content_length > admission.body_bytes_max) {
    Error e =
        make_error(Code::kBodyTooLarge, "bodies here are at most " +
                                            std::to_string(admission.body_bytes_max) + " bytes");
    e.details.limit_bytes = admission.body_bytes_max;
    return reject(e);
  }

  // 7. Authorization in the order of spec 4.3 (AUTH-020).
  if (endpoint.scope) {
    constexpr std::string_view kBearer = "bearer ";
    auto authorization = head.headers.find("authorization");
    if (authorization == head.headers.end() || authorization->second.size() <= kBearer.size() ||
        lower(std::string_view(authorization->second).substr(0, kBearer.size())) != kBearer)
      return reject(fault(Fault::kTokenMissingIs403)
                        ? make_error(Code::kInsufficientScope, "no token")
                        : make_error(Code::kTokenMissing, "send Authorization: Bearer <token>"));
    std::string_view token = std::string_view(authorization->second).substr(kBearer.size());
    if (fault(Fault::kTokenWhitespaceTrimmed)) token = trim(token);
    const std::optional<WorkspaceId> path_workspace = fixed_from_base64url<16>(params.at(0));
    Status read = storage_.read([&](Transaction& txn) {
      admission.token =
          txn.token_by_secret_hash(endpoints::token_hash(token));  // by hash (AUTH-023)
      if (admission.token && path_workspace &&
          (admission.token->workspace == *path_workspace || fault(Fault::kCrossWorkspaceRead)))
        admission.workspace = txn.workspace(*path_workspace);
    });
    if (!read.ok()) return reject(read.error());
    const std::optional<TokenRecord>& record = admission.token;
    if (!record) return reject(make_error(Code::kTokenInvalid, "unknown token"));
    if (record->revoked_at_ms && !fault(Fault::kRevokedTokenAccepted))
      return reject(make_error(Code::kTokenRevoked, "this token was revoked"));
    if (record->expires_at_ms && *record->expires_at_ms <= now_ms &&
        !fault(Fault::kExpiredTokenAccepted))
      return reject(make_error(Code::kTokenExpired, "this token has expired"));
    if (!path_workspace)
      return reject(
          make_error(Code::kInvalidId, "must be 22 characters of base64url", "workspace_id"));
    if (!admission.workspace)
      return reject(make_error(Code::kWorkspaceNotFound, "no such workspace for this token"));
    const bool blocks_need_write =
        fault(Fault::kBlocksNeedWrite) && endpoint.id == EndpointId::kReadBlocks;
    if ((!scope_allows(record->scope, *endpoint.scope) ||
         (blocks_need_write && record->scope == Scope::kRead)) &&
        !(fault(Fault::kReadOnlyWrites) && *endpoint.scope == Scope::kReadWrite))
      return reject(
          make_error(Code::kInsufficientScope,
                     "this needs a token of scope " + std::string(scope_name(*endpoint.scope))));
    params.erase(params.begin());
  }
  admission.params = std::move(params);
  return admission;
}

std::optional<Response> ServerCore::preflight(const RequestHead& head, uint64_t now_ms,
                                              uint64_t* body_bytes_max) {
  auto admitted = admit(head, now_ms);
  if (auto* response = std::get_if<Response>(&admitted))
    return finish(std::move(*response), head, now_ms);
  if (body_bytes_max) *body_bytes_max = std::get<Admission>(admitted).body_bytes_max;
  return std::nullopt;
}

Response ServerCore::handle(const Request& request, uint64_t now_ms) {
  RequestHead head{request.method,  request.path,        request.query,
                   request.headers, request.body.size(), request.client_address};
  const uint64_t authorized_at_ms =
      request.authorized_at_ms && !fault(Fault::kExpiryJudgedAfterBody) ? *request.authorized_at_ms
                                                                        : now_ms;
  auto admitted = admit(head, authorized_at_ms);
  if (auto* response = std::get_if<Response>(&admitted))
    return finish(std::move(*response), head, now_ms);
  Admission& admission = std::get<Admission>(admitted);
  const Endpoint& endpoint = *admission.endpoint;
  Call call{config_,
            storage_,
            request,
            now_ms,
            admission.token ? &*admission.token : nullptr,
            admission.workspace ? &*admission.workspace : nullptr,
            endpoint,
            admission.params,
            admission.query,
            [this] { return new_id(); },
            [this] { return new_token(); },
            creation_limiter_.get()};
  Response response = kHandlers[static_cast<size_t>(endpoint.id)](call);
  response.route = endpoint.name();
  if (admission.workspace) response.workspace = to_base64url(admission.workspace->id);
  return finish(std::move(response), head, now_ms);
}

// Headers every response carries: the server's time and a request id (TRN-007, TRN-008).
Response ServerCore::finish(Response response, const RequestHead& head, uint64_t now_ms) {
  response.headers.emplace_back(kServerTimeHeader, std::to_string(now_ms));
  if (fault(Fault::kNoRequestId)) return response;
  auto request_id = head.headers.find("opsync-request-id");
  if (request_id != head.headers.end() && valid_request_id(request_id->second)) {
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
