// A suite is one vector file: how to generate it and how to check the library against it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/result.h"
#include "vector_file.h"

namespace opsync::vectors {

// How a value is shown in a failure message.
std::string describe(uint64_t value);
std::string describe(bool value);
std::string describe(const std::string& value);
std::string describe(ByteView bytes);
inline std::string describe(const Bytes& bytes) { return describe(ByteView(bytes)); }
template <size_t N>
std::string describe(const FixedBytes<N>& value) {
  return describe(value.view());
}
std::string describe(const Hlc& hlc);
template <typename T>
std::string describe(const std::vector<T>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + describe(values[i]);
  return out + "]";
}
template <typename T>
std::string describe(const std::optional<T>& value) {
  return value ? describe(*value) : "null";
}

// What checking one test case found: the ways the library disagreed with the vector.
class Findings {
 public:
  void add(std::string difference) { differences_.push_back(std::move(difference)); }

  template <typename T>
  void expect_equal(std::string_view what, const T& expected, const T& actual) {
    if (!(expected == actual))
      add(std::string(what) + ": expected " + describe(expected) + ", got " + describe(actual));
  }
  // Byte strings say where they first differ, since long ones are shown cut.
  void expect_equal(std::string_view what, const Bytes& expected, const Bytes& actual);

  // For an invalid test case: the library must have failed with the test's "errorCode" and,
  // when the test has one, "errorField".
  void expect_error(const Json& test, const Status& status);
  template <typename T>
  void expect_error(const Json& test, const Result<T>& result) {
    expect_error(test, result.ok() ? Status() : Status(result.error()));
  }
  // For a valid test case: the library must have succeeded.
  void expect_success(std::string_view what, const Status& status);

  bool empty() const { return differences_.empty(); }
  const std::vector<std::string>& differences() const { return differences_; }

 private:
  std::vector<std::string> differences_;
};

// Checks one test case of a group against the library.
using CaseCheck = void (*)(const Json& group, const Json& test, Findings& findings);

struct GroupKind {
  std::string_view type;  // the group's "type" member
  CaseCheck check;
};

struct Suite {
  std::string_view name;  // the file's stem, e.g. "op_encoding"
  std::string_view algorithm;
  Json (*generate)();
  std::vector<GroupKind> group_kinds;

  std::string file_name() const { return std::string(name) + ".json"; }
};

// Every vector file, in the order they are generated and verified.
std::vector<Suite> all_suites();

Suite op_encoding_suite();
Suite block_hashes_suite();
Suite diff_plans_suite();
Suite hlc_suite();
Suite lww_suite();
Suite file_reconciliation_suite();
Suite key_derivation_suite();
Suite key_wrap_suite();
Suite op_envelope_suite();
Suite file_chunk_envelope_suite();
Suite wire_messages_suite();

}  // namespace opsync::vectors
