// Helpers shared by the endpoints: errors, transactions, parameters.
#include "defects.h"
#include "endpoints.h"
#include "opsync/protocol/sha256.h"

namespace opsync::server::endpoints {

Error make_error(Code code, std::string message, std::string field) {
  return Error(code, std::move(field), std::move(message));
}

constexpr size_t kFieldBytesMax = 4096;

Response error_response(const Error& given) {
  Error error = given;
  if (defect(Defect::kMalformedJson500) && error.code == Code::kMalformedJson)
    error.code = Code::kInternalError;
  if (defect(Defect::kDetailsMissing)) error.details = ErrorDetails{};
  // ERR-023: the schema bounds field at 4096 bytes; a longer path (a long member name) is cut on
  // a character boundary, never inside a UTF-8 sequence.
  if (error.field.size() > kFieldBytesMax && !defect(Defect::kFieldNotCut)) {
    size_t end = kFieldBytesMax;
    while (end > 0 && (static_cast<unsigned char>(error.field[end]) & 0xC0) == 0x80) --end;
    error.field.resize(end);
  }
  Response response;
  response.status = http_status(error.code);
  // Every error a client can cause has a 4xx status; a code without one is a bug here.
  OPSYNC_CHECK_MSG(response.status >= 400, "error code without an HTTP status");
  OPSYNC_CHECK_MSG(response.status != 500 || error.code == Code::kInternalError,
                   "500 is internal_error's alone");
  response.body = serialize_error(error);
  response.error_code = std::string(code_name(error.code));
  if (error.code == Code::kUnavailable) response.headers.emplace_back("Retry-After", "1");
  return response;
}

Response run_write(Storage& storage,
                   const std::function<Response(Transaction&, bool& commit)>& body) {
  Response response;
  Status status = storage.write([&](Transaction& txn) {
    bool commit = false;
    response = body(txn, commit);
    // A response that reports an error must leave storage unchanged (ERR-003).
    return commit && response.status < 400;
  });
  if (!status.ok()) return error_response(status.error());
  return response;
}

Response run_read(Storage& storage, const std::function<Response(Transaction&)>& body) {
  Response response;
  Status status = storage.read([&](Transaction& txn) { response = body(txn); });
  if (!status.ok()) return error_response(status.error());
  return response;
}

namespace {

const ParameterSpec& query_spec(const Call& call, std::string_view name) {
  for (const ParameterSpec& spec : call.endpoint.query)
    if (spec.present() && spec.name == name) return spec;
  OPSYNC_CHECK_MSG(false, "a query parameter the endpoint does not define");
  __builtin_unreachable();
}

}  // namespace

uint64_t query_decimal(const Call& call, std::string_view name) {
  const ParameterSpec& spec = query_spec(call, name);
  OPSYNC_CHECK(spec.kind == ValueKind::kDecimal);
  const uint64_t max = spec.max_under(call.config.limits);
  auto it = call.query.find(std::string(name));
  if (it == call.query.end()) {
    if (defect(Defect::kAbsentLimitNotMax) && name == "limit")
      return std::max<uint64_t>(1, max / 2);
    return spec.fallback.value_or(max);
  }
  std::optional<uint64_t> value = parse_decimal_parameter(it->second, spec.min, max);
  OPSYNC_CHECK_MSG(value.has_value(), "admission let an invalid query value through");
  return *value;
}

std::optional<Id> query_id(const Call& call, std::string_view name) {
  OPSYNC_CHECK(query_spec(call, name).kind == ValueKind::kId);
  auto it = call.query.find(std::string(name));
  if (it == call.query.end()) return std::nullopt;
  std::optional<Id> id = fixed_from_base64url<16>(it->second);
  OPSYNC_CHECK_MSG(id.has_value(), "admission let an invalid query value through");
  return id;
}

Result<Id> path_id(const Call& call, size_t index, std::string_view field) {
  OPSYNC_CHECK(index < call.params.size());
  std::optional<Id> id = fixed_from_base64url<16>(call.params[index]);
  if (!id)
    return make_error(Code::kInvalidId, "must be 22 characters of base64url", std::string(field));
  return *id;
}

Result<uint64_t> path_integer(const Call& call, size_t index, std::string_view field, uint64_t min,
                              uint64_t max) {
  OPSYNC_CHECK(index < call.params.size());
  std::optional<uint64_t> value = parse_decimal_parameter(call.params[index], min, max);
  if (!value)
    return make_error(
        Code::kInvalidId,
        "must be a decimal integer from " + std::to_string(min) + " to " + std::to_string(max),
        std::string(field));
  return *value;
}

Hash token_hash(std::string_view token) { return sha256(token); }

}  // namespace opsync::server::endpoints
