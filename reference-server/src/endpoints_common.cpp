// Helpers shared by the endpoints: errors, transactions, parameters.
#include <charconv>

#include "endpoints.h"
#include "opsync/protocol/sha256.h"

namespace opsync::server::endpoints {

Error make_error(Code code, std::string message, std::string field) {
  return Error(code, std::move(field), std::move(message));
}

Response error_response(const Error& error) {
  Response response;
  response.status = http_status(error.code);
  // Every error a client can cause has a 4xx status; a code without one is a bug here.
  OPSYNC_CHECK_MSG(response.status >= 400, "error code without an HTTP status");
  response.body = serialize_error(error);
  response.error_code = std::string(code_name(error.code));
  if (error.code == Code::kUnavailable) response.headers.emplace_back("Retry-After", "1");
  return response;
}

Response run_write(Storage& storage, const std::function<Response(Transaction&, bool& commit)>& body) {
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

std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max) {
  // Plain decimal: no sign, no leading zeros (one text form per value), within range.
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

}  // namespace

Result<uint64_t> query_integer(const Call& call, const std::string& name, uint64_t min, uint64_t max,
                               uint64_t fallback) {
  auto it = call.query.find(name);
  if (it == call.query.end()) return fallback;
  std::optional<uint64_t> value = parse_decimal(it->second, max);
  if (!value || *value < min)
    return make_error(Code::kInvalidQuery, "must be a decimal integer from " + std::to_string(min) + " to " +
                                               std::to_string(max), name);
  return *value;
}

Result<Id> path_id(const Call& call, size_t index, std::string_view field) {
  OPSYNC_CHECK(index < call.params.size());
  std::optional<Id> id = fixed_from_base64url<16>(call.params[index]);
  if (!id) return make_error(Code::kInvalidId, "must be 22 characters of base64url", std::string(field));
  return *id;
}

Result<uint64_t> path_integer(const Call& call, size_t index, std::string_view field, uint64_t min, uint64_t max) {
  OPSYNC_CHECK(index < call.params.size());
  std::optional<uint64_t> value = parse_decimal(call.params[index], max);
  if (!value || *value < min)
    return make_error(Code::kInvalidId, "must be a decimal integer from " + std::to_string(min) + " to " +
                                            std::to_string(max), std::string(field));
  return *value;
}

Hash token_hash(std::string_view token) { return sha256(token); }

}  // namespace opsync::server::endpoints
