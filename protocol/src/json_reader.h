// Strict JSON parsing and typed member access (spec 2.2). Private to the protocol library.
//
// parse_strict() rejects what nlohmann/json would otherwise accept silently: duplicate member
// names (it keeps the last), nesting deeper than kJsonDepthMax; it builds the document in time
// linear in the text whatever its shape (TRN-050). Reader then walks one object,
// recording the first error with the path of the member at fault; accessors on a failed reader
// return placeholders that the caller discards, because parse functions return the error whenever
// one was recorded. That keeps message parsers linear without hiding a single failure.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/result.h"

namespace opsync::json_detail {

using Json = nlohmann::ordered_json;

Result<Json> parse_strict(std::string_view text);

// Where errors go: the first one wins.
struct ErrorSink {
  std::optional<Error> error;
  void fail(Code code, std::string field, std::string message) {
    if (!error) error = Error(code, std::move(field), std::move(message));
  }
};

class Reader {
 public:
  // Reads `value` as an object at `path` ("" for the top level). In strict mode, members not read
  // by the time finish() runs are errors (unknown_field).
  Reader(const Json& value, std::string path, bool strict, ErrorSink& sink);

  bool failed() const { return sink_.error.has_value(); }
  const std::string& path() const { return path_; }
  std::string member_path(std::string_view name) const;
  ErrorSink& sink() { return sink_; }
  bool strict() const { return strict_; }

  bool has(std::string_view name) const;
  // Required integer in [min, max] (max at most 2^53 - 1).
  uint64_t integer(std::string_view name, uint64_t min, uint64_t max);
  // Absent means nullopt; present must be an integer in range (null is not accepted).
  std::optional<uint64_t> optional_integer(std::string_view name, uint64_t min, uint64_t max);
  // Required member that is null or an integer in range.
  std::optional<uint64_t> nullable_integer(std::string_view name, uint64_t min, uint64_t max);
  // Required string of min..max UTF-8 bytes.
  std::string string(std::string_view name, size_t min_bytes, size_t max_bytes);
  std::optional<std::string> optional_string(std::string_view name, size_t max_bytes);
  // Required canonical base64url of min..max bytes.
  Bytes bytes(std::string_view name, size_t min_bytes, size_t max_bytes);
  template <size_t N>
  FixedBytes<N> fixed(std::string_view name) {
    FixedBytes<N> out;
    Bytes raw = bytes_exact(name, N);
    if (raw.size() == N) std::copy(raw.begin(), raw.end(), out.bytes.begin());
    return out;
  }
  template <size_t N>
  std::optional<FixedBytes<N>> nullable_fixed(std::string_view name) {
    const Json* v = find_required(name);
    if (!v || v->is_null()) return std::nullopt;
    return fixed<N>(name);
  }
  // Required array of min..max elements; nullptr after an error.
  const Json* array(std::string_view name, size_t min_items, size_t max_items);
  // Required object member; a reader on it sharing this reader's sink and strictness.
  Reader object(std::string_view name);
  // A required member, for values read by a caller-supplied function.
  const Json* member(std::string_view name);

  // Records an error on a member (for rules the caller checks).
  void fail(std::string_view name, Code code, std::string message);
  void fail_path(std::string path, Code code, std::string message);

  // Strict mode: rejects members never read. Call once, after all accessors.
  void finish();

 private:
  const Json* find_required(std::string_view name);
  Bytes bytes_exact(std::string_view name, size_t size);

  const Json& value_;
  std::string path_;
  bool strict_;
  ErrorSink& sink_;
  std::vector<std::string> read_;
};

// Element access helpers for arrays read through Reader::array.
std::string element_path(const std::string& array_path, size_t index);
// Integer check on a raw value at `path`; returns placeholder 0 after recording an error.
uint64_t integer_at(const Json& value, const std::string& path, uint64_t min, uint64_t max,
                    ErrorSink& sink);
std::string string_at(const Json& value, const std::string& path, size_t min_bytes,
                      size_t max_bytes, ErrorSink& sink);
template <size_t N>
FixedBytes<N> fixed_at(const Json& value, const std::string& path, ErrorSink& sink) {
  FixedBytes<N> out;
  if (sink.error) return out;
  if (!value.is_string()) {
    sink.fail(Code::kInvalidField, path, "must be a base64url string");
    return out;
  }
  auto decoded = fixed_from_base64url<N>(value.get_ref<const std::string&>());
  if (!decoded) {
    sink.fail(Code::kInvalidField, path,
              "must be canonical unpadded base64url of " + std::to_string(N) + " bytes");
    return out;
  }
  return *decoded;
}

// Serialization helpers.
inline std::string b64(ByteView bytes) { return to_base64url(bytes); }
template <size_t N>
std::string b64(const FixedBytes<N>& value) {
  return to_base64url(value.view());
}

}  // namespace opsync::json_detail
