#include "suite.h"

#include <algorithm>

namespace opsync::vectors {

std::string describe(uint64_t value) { return std::to_string(value); }

std::string describe(bool value) { return value ? "true" : "false"; }

std::string describe(const std::string& value) { return "\"" + value + "\""; }

std::string describe(ByteView bytes) {
  // Long values are cut: the length and the first bytes tell which one it is.
  constexpr size_t kShownBytes = 40;
  if (bytes.size() <= kShownBytes) return hex(bytes);
  return hex(bytes.first(kShownBytes)) + "... (" + std::to_string(bytes.size()) + " bytes)";
}

std::string describe(const Hlc& hlc) {
  return "(" + std::to_string(hlc.wall_ms) + ", " + std::to_string(hlc.counter) + ")";
}

void Findings::expect_equal(std::string_view what, const Bytes& expected, const Bytes& actual) {
  if (expected == actual) return;
  const auto [expected_end, actual_end] =
      std::mismatch(expected.begin(), expected.end(), actual.begin(), actual.end());
  const size_t offset = static_cast<size_t>(expected_end - expected.begin());
  const ByteView expected_rest = ByteView(expected).subspan(offset);
  const ByteView actual_rest = ByteView(actual).subspan(offset);
  add(std::string(what) + ": differs from byte " + std::to_string(offset) + " of " +
      std::to_string(expected.size()) + " expected (" + std::to_string(actual.size()) +
      " computed): expected " + (expected_rest.empty() ? "the end" : describe(expected_rest)) +
      ", got " + (actual_rest.empty() ? "the end" : describe(actual_rest)));
}

void Findings::expect_error(const Json& test, const Status& status) {
  const std::string expected_code = read_string(test, "errorCode");
  if (status.ok()) {
    add("expected error " + expected_code + ", got success");
    return;
  }
  expect_equal("error code", expected_code, std::string(code_name(status.error().code)));
  if (test.contains("errorField"))
    expect_equal("error field", read_string(test, "errorField"), status.error().field);
}

void Findings::expect_success(std::string_view what, const Status& status) {
  if (!status.ok())
    add(std::string(what) + ": expected success, got " + status.error().to_string());
}

std::vector<Suite> all_suites() {
  return {
      op_encoding_suite(), block_hashes_suite(),        diff_plans_suite(),     hlc_suite(),
      lww_suite(),         file_reconciliation_suite(), key_derivation_suite(), key_wrap_suite(),
      op_envelope_suite(), file_chunk_envelope_suite(), wire_messages_suite()};
}

}  // namespace opsync::vectors
