// The endpoint catalog of spec v1 (section 14): every endpoint's method, path template, scope,
// query parameters, request and response messages, and the requirements that define it.
//
// This is the one place where route strings are written. The server derives its route table from
// it, the client builds its request targets with it, the fuzzer and the conformance suite draw
// their requests from it, and a test checks that the spec's table says the same.
//
// Matching (spec TRN-003, TRN-010, TRN-012): paths are compared byte for byte, without
// percent-decoding, case-sensitively, with no trailing slash. Where a path segment equals a
// literal segment of some template (`tokens/self`), only templates with that literal match it,
// never a parameter.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"

namespace opsync {

enum class EndpointId : uint8_t {
  kInfo,
  kCreateWorkspace,
  kDeleteWorkspace,
  kCreateToken,
  kListTokens,
  kTokenSelf,
  kRevokeToken,
  kListKeys,
  kPutKey,
  kUploadOps,
  kReadOps,
  kReadBlocks,
  kFileStatus,
  kCreateFile,
  kGetFile,
  kDeleteFile,
  kCommitFile,
  kPutChunk,
  kGetChunk,
};

// What a request or a response carries as its body.
enum class BodyKind : uint8_t { kNone, kJson, kChunk };

// The text form of a query parameter or a path parameter (spec TRN-011, TRN-013, SEC-004).
enum class ValueKind : uint8_t {
  kDecimal,  // plain decimal: digits only, no sign, no leading zero, within [min, max]
  kId,       // 16 bytes as 22 characters of canonical unpadded base64url
};

struct ParameterSpec {
  std::string_view name;  // empty: no parameter in this slot
  ValueKind kind = ValueKind::kDecimal;
  uint64_t min = 0;
  uint64_t max = 0;                       // used when max_limit is null
  uint64_t Limits::*max_limit = nullptr;  // the server's advertised limit, when it bounds the value
  std::optional<uint64_t> fallback;       // the value when absent (decimal query parameters)

  bool present() const { return !name.empty(); }
  // The largest valid value under the given limits.
  uint64_t max_under(const Limits& limits) const { return max_limit ? limits.*max_limit : max; }
};

struct SuccessResponse {
  int status = 0;  // 0: no entry in this slot
  BodyKind body = BodyKind::kJson;
  std::string_view message;  // the message type (message_type_names()); empty for a chunk body
};

struct Endpoint {
  EndpointId id;
  std::string_view method;      // "GET", "POST", "PUT", "DELETE"
  std::string_view path;        // "/v1/workspaces/{workspace_id}/files/{file_id}"
  std::optional<Scope> scope;   // nullopt: no authorization
  std::string_view capability;  // "files", "workspace_delete", or empty (always served)
  BodyKind request_body = BodyKind::kNone;
  std::string_view request_message;  // for kJson bodies
  std::array<ParameterSpec, 2> query;
  std::array<SuccessResponse, 2> success;
  std::string_view section;       // "7.1"
  std::string_view requirements;  // "LOG-001 LOG-002 ..."

  // "POST /v1/workspaces/{workspace_id}/ops", for logs and reports.
  std::string name() const { return std::string(method) + " " + std::string(path); }
  // The path parameters' specifications, in template order.
  std::vector<ParameterSpec> path_parameters() const;
};

// Every endpoint, in the order of spec section 14.
std::span<const Endpoint> endpoint_catalog();
const Endpoint& endpoint(EndpointId id);

// The path of an endpoint with its parameters filled in, in template order. The caller passes
// exactly as many values as the template has parameters (checked).
std::string endpoint_path(EndpointId id, std::initializer_list<std::string_view> parameters);
// The path with a query string appended: `name=value` pairs joined by `&`, in the order given.
// Values are written as given: every parameter of this version is a decimal or base64url text,
// neither of which needs percent-encoding.
std::string endpoint_target(EndpointId id, std::initializer_list<std::string_view> parameters,
                            std::initializer_list<std::pair<std::string_view, std::string>> query);

// The outcome of matching a request's method and path against the catalog.
struct RouteMatch {
  enum class Kind : uint8_t {
    kMatched,             // `endpoint` and `parameters` are set
    kNotFound,            // no template matches the path (404 not_found)
    kUnsupportedVersion,  // the first segment is `v` and digits other than `v1` (VER-001)
    kMethodNotAllowed,    // templates match the path, none with this method (405); see `allowed`
  };
  Kind kind = Kind::kNotFound;
  const Endpoint* endpoint = nullptr;
  std::vector<std::string_view> parameters;  // views into the matched path, in template order
  std::string allowed;                       // "GET, DELETE": the methods of the matching templates
};

// Matches a request path (without its query string) and method. Pure: reads nothing but its
// arguments and the catalog. REQUIRES: `path` outlives the result, whose parameters view it.
RouteMatch match_route(std::string_view method, std::string_view path);

// The endpoint a request's method and target (path and query) name, or nullopt when none does.
// For observers of traffic (the simulator, trace tools) that sort requests by endpoint.
std::optional<EndpointId> endpoint_of_target(std::string_view method, std::string_view target);
// The value of the query parameter `name` in a target, percent-decoded; the first when repeated.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

// Splits a query string (what follows '?', without it) into name=value pairs in order, as
// TRN-013 reads it: pairs separated by '&', empty ones skipped, a name without '=' has the empty
// value, and names and values are percent-decoded (%XX; '+' stays a plus; a '%' not followed by
// two hex digits stays as it is, which no valid value contains). Repeats are kept, so that the
// server can refuse them (TRN-011).
std::vector<std::pair<std::string, std::string>> parse_query_string(std::string_view query);

// Checks a parameter's text against its specification. Returns the value (an id's bytes are not
// returned; callers decode ids themselves) or nullopt when the text is not a valid value.
std::optional<uint64_t> parse_decimal_parameter(std::string_view text, uint64_t min, uint64_t max);
bool valid_parameter(const ParameterSpec& spec, std::string_view text, const Limits& limits);

}  // namespace opsync
