// Shorthands the case files share. Private to conformance/cases/.
#pragma once

#include <string>
#include <vector>

#include "opsync/conformance/suite.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/wire_check.h"

namespace opsync::conformance::cases {

using E = EndpointId;

inline std::string path(EndpointId id, std::initializer_list<std::string_view> parameters = {}) {
  return endpoint_path(id, parameters);
}

inline std::string file_path(const TestWorkspace& ws, const FileId& file) {
  return endpoint_path(E::kGetFile, {ws.id, to_base64url(file)});
}
inline std::string chunk_path(const TestWorkspace& ws, const FileId& file, std::string_view index) {
  return endpoint_path(E::kPutChunk, {ws.id, to_base64url(file), index});
}

// The error body's code and field, or empty strings when the body is not one.
inline std::pair<std::string, std::string> code_and_field(const HttpResponse& response) {
  Result<ErrorBody> error = parse_message<ErrorBody>(response.body);
  if (!error.ok()) return {"", ""};
  return {error->code_name, error->field};
}

inline ErrorBody error_of(const HttpResponse& response) {
  Result<ErrorBody> error = parse_message<ErrorBody>(response.body);
  return error.ok() ? *error : ErrorBody{};
}

// "status 400 invalid_field at ops[0].v", for observations.
inline std::string describe(const HttpResponse& response) {
  const auto [code, field] = code_and_field(response);
  std::string out = "status " + std::to_string(response.status);
  if (!code.empty()) out += " " + code + (field.empty() ? "" : " at " + field);
  return out;
}

// Checks an error's status, code and, when given, field; `requirement` is what it proves.
inline bool expect_error_at(CaseContext& c, const HttpResponse& response, int status,
                            std::string_view code, std::string_view field,
                            std::string_view requirement) {
  const auto [got_code, got_field] = code_and_field(response);
  const bool holds = response.status == status && got_code == code && got_field == field;
  c.check(holds, requirement,
          "status " + std::to_string(status) + " " + std::string(code) + " at \"" +
              std::string(field) + "\"",
          describe(response));
  return holds;
}

// A chunk body of `size` bytes: the server cannot tell it from an envelope, and needs not.
inline std::string chunk_body(RandomSource& random, size_t size) {
  const Bytes bytes = random.bytes(size);
  return std::string(bytes.begin(), bytes.end());
}

// A key record body the spec accepts (KEY-004).
inline std::string key_body(RandomSource& random, uint64_t expected_version) {
  PutKeyRequest request;
  request.expected_version = expected_version;
  request.kdf.iterations = 1000;
  request.wrapped_key = random.bytes(kWrappedKeyBytes);
  return serialize_message(request);
}

std::span<const Case> discovery_cases();
std::span<const Case> json_cases();
std::span<const Case> errors_cases();
std::span<const Case> limits_cases();
std::span<const Case> auth_cases();
std::span<const Case> keys_cases();
std::span<const Case> upload_cases();
std::span<const Case> log_cases();
std::span<const Case> files_cases();
std::span<const Case> transport_cases();
std::span<const Case> durability_cases();
std::span<const Case> order_cases();
std::span<const Case> depth_cases();

}  // namespace opsync::conformance::cases
