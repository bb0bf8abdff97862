// Typed errors and Result<T>.
//
// Every failure that bad input can cause is an Error value carrying one of the spec's stable codes
// (spec 2.3), the field at fault when there is one, and a human-readable message. Nothing in the
// protocol library throws on bad input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "opsync/protocol/check.h"

namespace opsync {

// The error codes of spec section 2.3 (wire codes with an HTTP status), the per-operation
// rejection codes of section 7.1, and the codes a client reports locally. The string form of each
// is its wire name; never renumber or rename: names are part of the protocol.
enum class Code : uint8_t {
  // 400
  kMalformedJson,
  kDuplicateField,
  kUnknownField,
  kMissingField,
  kInvalidField,
  kInvalidQuery,
  kInvalidId,
  kChunkIndexOutOfRange,
  kMalformedRequest,  // the bytes are not one well-formed HTTP/1.1 request (TRN-051)
  // 401
  kTokenMissing,
  kTokenInvalid,
  kTokenExpired,
  kTokenRevoked,
  // 403
  kInsufficientScope,
  kRegistrationClosed,
  // 404
  kNotFound,
  kUnsupportedVersion,
  kWorkspaceNotFound,
  kTokenNotFound,
  kFileNotFound,
  // 405
  kMethodNotAllowed,
  // 409
  kVersionConflict,
  kAfterSeqBeyondHead,
  kCannotRevokeSelf,
  kKeyRecordsFull,
  kFileChunkCountMismatch,
  kFileIncomplete,
  kFileNotUploading,
  kFileNotCommitted,
  kFileDeleted,
  kQuotaExceeded,  // an operator's cap on the workspace (LIM-021, LIM-022)
  // 413
  kBodyTooLarge,
  kTooManyOps,
  kTooManyIds,
  // 414
  kUriTooLong,
  // 415
  kUnsupportedMediaType,
  // 429
  kRateLimited,
  // 431
  kHeadersTooLarge,
  // 500, 501, 503, 505
  kInternalError,
  kUnsupportedTransferCoding,
  kUnavailable,
  kUnsupportedHttpVersion,
  // Per-operation rejections inside an upload result (spec 7.1).
  kClockSkew,
  kOpIdConflict,
  // Local to a client or a decoder; never sent by a server.
  kDecryptFailed,      // an envelope's tag did not verify
  kWrongPassword,      // a key record did not unwrap
  kTruncated,          // a binary encoding ended early or had trailing bytes
  kPageGap,            // a page of operations was not consecutive (SYNC-007)
  kHashMismatch,       // a hash the peer sent disagrees with ours
  kUnsupportedFormat,  // an operation or payload of an unknown format (VER-006, VER-007)
  kProtocolError,      // a response that breaks the spec in some other way
  kTransport,          // no response: connection refused, reset, timed out
};

// The wire name, e.g. "invalid_field".
std::string_view code_name(Code code);
std::optional<Code> code_from_name(std::string_view name);
// The HTTP status the spec pairs with a wire code; 0 for codes that are never a response status.
int http_status(Code code);

// Machine-readable extras of some errors (spec 2.3, column "meaning").
struct ErrorDetails {
  std::optional<uint64_t> head_seq;
  std::optional<uint64_t> current_version;
  std::optional<uint64_t> chunk_count;
  std::optional<uint64_t> limit;
  std::optional<uint64_t> limit_bytes;
  std::optional<std::vector<std::pair<uint32_t, uint32_t>>> chunks_missing;  // half-open ranges

  bool empty() const {
    return !head_seq && !current_version && !chunk_count && !limit && !limit_bytes &&
           !chunks_missing;
  }
  bool operator==(const ErrorDetails&) const = default;
};

struct Error {
  Code code = Code::kInternalError;
  std::string field;    // e.g. "ops[3].hlc.wall_ms"; empty when no single field is at fault
  std::string message;  // for humans; never parsed
  ErrorDetails details;

  Error() = default;
  Error(Code c, std::string msg) : code(c), message(std::move(msg)) {}
  Error(Code c, std::string f, std::string msg)
      : code(c), field(std::move(f)), message(std::move(msg)) {}

  // "invalid_field: ops[3].hlc.wall_ms: must be below 2^48"
  std::string to_string() const;
};

// A value or an error. Accessing the wrong alternative is a programming error and fails an
// always-on check rather than throwing.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    OPSYNC_CHECK_MSG(ok(), "Result::value() on an error");
    return std::get<0>(state_);
  }
  const T& value() const& {
    OPSYNC_CHECK_MSG(ok(), "Result::value() on an error");
    return std::get<0>(state_);
  }
  T&& value() && {
    OPSYNC_CHECK_MSG(ok(), "Result::value() on an error");
    return std::get<0>(std::move(state_));
  }
  const Error& error() const {
    OPSYNC_CHECK_MSG(!ok(), "Result::error() on a value");
    return std::get<1>(state_);
  }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> state_;
};

// Success or an error, for operations without a value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit

  static Status ok_status() { return Status(); }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    OPSYNC_CHECK_MSG(error_.has_value(), "Status::error() on success");
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace opsync
