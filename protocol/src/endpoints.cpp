#include "opsync/protocol/endpoints.h"

#include <algorithm>
#include <charconv>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/check.h"

namespace opsync {
namespace {

constexpr uint64_t kU32Max = 0xFFFFFFFFu;

using E = EndpointId;
using P = ParameterSpec;
using S = SuccessResponse;

// Query parameters (TRN-011, LIM-005). A `limit` runs from 1 to the server's matching *_max and,
// absent, means that maximum (no fallback: the caller takes max_under()).
constexpr P limit_of(uint64_t Limits::*max) {
  return P{"limit", ValueKind::kDecimal, 1, 0, max, std::nullopt};
}
constexpr P kAfterSeq{"after_seq", ValueKind::kDecimal, 0, kJsonIntegerMax, nullptr, 0};
constexpr P kStart{"start", ValueKind::kDecimal, 0, kJsonIntegerMax, nullptr, 0};
constexpr P kAfterKeyId{"after", ValueKind::kDecimal, 0, kU32Max, nullptr, 0};
constexpr P kAfterTokenId{"after", ValueKind::kId, 0, 0, nullptr, std::nullopt};

constexpr S ok(std::string_view message) { return S{200, BodyKind::kJson, message}; }
constexpr S created(std::string_view message) { return S{201, BodyKind::kJson, message}; }

// Spec section 14, in its order.
const std::array kCatalog = {
    Endpoint{E::kInfo,
             "GET",
             "/v1/info",
             std::nullopt,
             "",
             BodyKind::kNone,
             "",
             {},
             {ok("InfoResponse")},
             "2.6",
             "INF-001 INF-002 INF-003 INF-004"},
    Endpoint{E::kCreateWorkspace,
             "POST",
             "/v1/workspaces",
             std::nullopt,
             "",
             BodyKind::kJson,
             "CreateWorkspaceRequest",
             {},
             {created("CreateWorkspaceResponse")},
             "4.1",
             "AUTH-001 AUTH-002 AUTH-003 AUTH-004"},
    Endpoint{E::kDeleteWorkspace,
             "DELETE",
             "/v1/workspaces/{workspace_id}",
             Scope::kOwner,
             "workspace_delete",
             BodyKind::kNone,
             "",
             {},
             {ok("DeleteWorkspaceResponse")},
             "4.1",
             "AUTH-005"},
    Endpoint{E::kCreateToken,
             "POST",
             "/v1/workspaces/{workspace_id}/tokens",
             Scope::kOwner,
             "",
             BodyKind::kJson,
             "CreateTokenRequest",
             {},
             {created("TokenIssued")},
             "4.2",
             "AUTH-010 AUTH-013 AUTH-014"},
    Endpoint{E::kListTokens,
             "GET",
             "/v1/workspaces/{workspace_id}/tokens",
             Scope::kOwner,
             "",
             BodyKind::kNone,
             "",
             {kAfterTokenId, limit_of(&Limits::page_tokens_max)},
             {ok("TokenListResponse")},
             "4.2",
             "AUTH-015"},
    Endpoint{E::kTokenSelf,
             "GET",
             "/v1/workspaces/{workspace_id}/tokens/self",
             Scope::kRead,
             "",
             BodyKind::kNone,
             "",
             {},
             {ok("TokenEntry")},
             "4.2",
             "AUTH-018"},
    Endpoint{E::kRevokeToken,
             "DELETE",
             "/v1/workspaces/{workspace_id}/tokens/{token_id}",
             Scope::kOwner,
             "",
             BodyKind::kNone,
             "",
             {},
             {ok("RevokeTokenResponse")},
             "4.2",
             "AUTH-016 AUTH-017"},
    Endpoint{E::kListKeys,
             "GET",
             "/v1/workspaces/{workspace_id}/keys",
             Scope::kRead,
             "",
             BodyKind::kNone,
             "",
             {kAfterKeyId, limit_of(&Limits::page_keys_max)},
             {ok("KeyListResponse")},
             "5.2",
             "KEY-001"},
    Endpoint{E::kPutKey,
             "PUT",
             "/v1/workspaces/{workspace_id}/keys/{key_id}",
             Scope::kReadWrite,
             "",
             BodyKind::kJson,
             "PutKeyRequest",
             {},
             {ok("KeyRecord")},
             "5.2",
             "KEY-002 KEY-003 KEY-004 KEY-005"},
    Endpoint{E::kUploadOps,
             "POST",
             "/v1/workspaces/{workspace_id}/ops",
             Scope::kReadWrite,
             "",
             BodyKind::kJson,
             "UploadOpsRequest",
             {},
             {ok("UploadOpsResponse")},
             "7.1",
             "LOG-001 LOG-002 LOG-003 LOG-004 LOG-005 LOG-006 LOG-007 LOG-008 LOG-009"},
    Endpoint{E::kReadOps,
             "GET",
             "/v1/workspaces/{workspace_id}/ops",
             Scope::kRead,
             "",
             BodyKind::kNone,
             "",
             {kAfterSeq, limit_of(&Limits::page_ops_max)},
             {ok("OpsPageResponse")},
             "7.3",
             "LOG-020 LOG-021 LOG-022 LOG-023 LOG-024"},
    Endpoint{E::kReadBlocks,
             "GET",
             "/v1/workspaces/{workspace_id}/blocks",
             Scope::kRead,
             "",
             BodyKind::kNone,
             "",
             {kStart, limit_of(&Limits::page_blocks_max)},
             {ok("BlocksResponse")},
             "7.4",
             "LOG-031"},
    Endpoint{E::kFileStatus,
             "POST",
             "/v1/workspaces/{workspace_id}/file-status",
             Scope::kRead,
             "files",
             BodyKind::kJson,
             "FileStatusRequest",
             {},
             {ok("FileStatusResponse")},
             "11.2",
             "FILE-007"},
    Endpoint{E::kCreateFile,
             "POST",
             "/v1/workspaces/{workspace_id}/files/{file_id}",
             Scope::kReadWrite,
             "files",
             BodyKind::kJson,
             "CreateFileRequest",
             {},
             {created("FileStatus"), ok("FileStatus")},
             "11.2",
             "FILE-002"},
    Endpoint{E::kGetFile,
             "GET",
             "/v1/workspaces/{workspace_id}/files/{file_id}",
             Scope::kRead,
             "files",
             BodyKind::kNone,
             "",
             {},
             {ok("FileStatus")},
             "11.2",
             "FILE-006"},
    Endpoint{E::kDeleteFile,
             "DELETE",
             "/v1/workspaces/{workspace_id}/files/{file_id}",
             Scope::kReadWrite,
             "files",
             BodyKind::kNone,
             "",
             {},
             {ok("FileStatus")},
             "11.2",
             "FILE-010"},
    Endpoint{E::kCommitFile,
             "POST",
             "/v1/workspaces/{workspace_id}/files/{file_id}/commit",
             Scope::kReadWrite,
             "files",
             BodyKind::kJson,
             "CommitFileRequest",
             {},
             {ok("FileStatus")},
             "11.2",
             "FILE-008"},
    Endpoint{E::kPutChunk,
             "PUT",
             "/v1/workspaces/{workspace_id}/files/{file_id}/chunks/{index}",
             Scope::kReadWrite,
             "files",
             BodyKind::kChunk,
             "",
             {},
             {ok("ChunkStored")},
             "11.2",
             "FILE-003 FILE-004 FILE-005"},
    Endpoint{E::kGetChunk,
             "GET",
             "/v1/workspaces/{workspace_id}/files/{file_id}/chunks/{index}",
             Scope::kRead,
             "files",
             BodyKind::kNone,
             "",
             {},
             {S{200, BodyKind::kChunk, ""}},
             "11.2",
             "FILE-009"},
};

// Path parameters by name (SEC-004, KEY-004, FILE-003).
constexpr std::array kPathParameters = {
    P{"workspace_id", ValueKind::kId, 0, 0, nullptr, std::nullopt},
    P{"token_id", ValueKind::kId, 0, 0, nullptr, std::nullopt},
    P{"file_id", ValueKind::kId, 0, 0, nullptr, std::nullopt},
    P{"key_id", ValueKind::kDecimal, 1, kU32Max, nullptr, std::nullopt},
    P{"index", ValueKind::kDecimal, 0, kU32Max, nullptr, std::nullopt},
};

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool is_version_segment(std::string_view segment) {
  return segment.size() >= 2 && segment[0] == 'v' &&
         std::all_of(segment.begin() + 1, segment.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// The catalog's templates, split once.
struct SplitTemplate {
  const Endpoint* endpoint;
  std::vector<std::string_view> segments;  // after the leading '/'
};

const std::vector<SplitTemplate>& split_templates() {
  static const std::vector<SplitTemplate> templates = [] {
    std::vector<SplitTemplate> out;
    for (const Endpoint& e : kCatalog) {
      OPSYNC_CHECK_MSG(e.path.size() > 1 && e.path[0] == '/', "a template starts with /");
      out.push_back(SplitTemplate{&e, split(e.path.substr(1), '/')});
    }
    return out;
  }();
  return templates;
}

}  // namespace

std::span<const Endpoint> endpoint_catalog() { return kCatalog; }

const Endpoint& endpoint(EndpointId id) {
  const auto index = static_cast<size_t>(id);
  OPSYNC_CHECK(index < kCatalog.size() && kCatalog[index].id == id);
  return kCatalog[index];
}

std::vector<ParameterSpec> Endpoint::path_parameters() const {
  std::vector<ParameterSpec> out;
  for (std::string_view segment : split(path.substr(1), '/')) {
    if (!is_parameter(segment)) continue;
    const std::string_view name = segment.substr(1, segment.size() - 2);
    const auto* spec = std::find_if(kPathParameters.begin(), kPathParameters.end(),
                                    [&](const ParameterSpec& p) { return p.name == name; });
    OPSYNC_CHECK_MSG(spec != kPathParameters.end(), "a path parameter without a specification");
    out.push_back(*spec);
  }
  return out;
}

std::string endpoint_path(EndpointId id, std::initializer_list<std::string_view> parameters) {
  const Endpoint& e = endpoint(id);
  std::string out;
  auto next = parameters.begin();
  for (std::string_view segment : split(e.path.substr(1), '/')) {
    out += '/';
    if (is_parameter(segment)) {
      OPSYNC_CHECK_MSG(next != parameters.end(), "too few path parameters");
      out += *next++;
    } else {
      out += segment;
    }
  }
  OPSYNC_CHECK_MSG(next == parameters.end(), "too many path parameters");
  return out;
}

std::string endpoint_target(EndpointId id, std::initializer_list<std::string_view> parameters,
                            std::initializer_list<std::pair<std::string_view, std::string>> query) {
  std::string target = endpoint_path(id, parameters);
  char separator = '?';
  for (const auto& [name, value] : query) {
    target += separator;
    target += name;
    target += '=';
    target += value;
    separator = '&';
  }
  return target;
}

RouteMatch match_route(std::string_view method, std::string_view path) {
  RouteMatch match;
  if (path.empty() || path[0] != '/') return match;
  const std::vector<std::string_view> segments = split(path.substr(1), '/');
  if (!is_version_segment(segments[0])) return match;
  if (segments[0] != "v1") {
    match.kind = RouteMatch::Kind::kUnsupportedVersion;
    return match;
  }
  // The templates that match, and how many literal segments each matched: where templates differ
  // only in a literal against a parameter, the literal wins (TRN-012).
  std::vector<std::pair<const SplitTemplate*, size_t>> candidates;
  size_t literals_best = 0;
  for (const SplitTemplate& t : split_templates()) {
    if (t.segments.size() != segments.size()) continue;
    size_t literals = 0;
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      if (is_parameter(t.segments[i])) {
        matches = !segments[i].empty();
      } else {
        matches = t.segments[i] == segments[i];
        ++literals;
      }
    }
    if (!matches) continue;
    candidates.emplace_back(&t, literals);
    literals_best = std::max(literals_best, literals);
  }
  for (const auto& [t, literals] : candidates) {
    if (literals != literals_best) continue;
    const Endpoint& e = *t->endpoint;
    match.allowed += (match.allowed.empty() ? "" : ", ") + std::string(e.method);
    if (e.method != method) continue;
    match.kind = RouteMatch::Kind::kMatched;
    match.endpoint = &e;
    for (size_t i = 0; i < segments.size(); ++i)
      if (is_parameter(t->segments[i])) match.parameters.push_back(segments[i]);
  }
  if (match.kind != RouteMatch::Kind::kMatched && !match.allowed.empty())
    match.kind = RouteMatch::Kind::kMethodNotAllowed;
  return match;
}

std::optional<EndpointId> endpoint_of_target(std::string_view method, std::string_view target) {
  const RouteMatch match = match_route(method, target.substr(0, target.find('?')));
  if (match.kind != RouteMatch::Kind::kMatched) return std::nullopt;
  return match.endpoint->id;
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  for (auto& [key, value] : parse_query_string(target.substr(question + 1)))
    if (key == name) return std::move(value);
  return std::nullopt;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
        hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_query_string(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::string_view pair : split(query, '&')) {
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    out.emplace_back(
        percent_decoded(pair.substr(0, equals)),
        equals == std::string_view::npos ? "" : percent_decoded(pair.substr(equals + 1)));
  }
  return out;
}

std::optional<uint64_t> parse_decimal_parameter(std::string_view text, uint64_t min, uint64_t max) {
  // One text form per value: digits only, no sign, no leading zero (TRN-013).
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    return std::nullopt;
  return value;
}

bool valid_parameter(const ParameterSpec& spec, std::string_view text, const Limits& limits) {
  if (spec.kind == ValueKind::kId) return fixed_from_base64url<16>(text).has_value();
  return parse_decimal_parameter(text, spec.min, spec.max_under(limits)).has_value();
}

}  // namespace opsync
