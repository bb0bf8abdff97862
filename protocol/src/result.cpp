#include "opsync/protocol/result.h"

#include <array>

namespace opsync {
namespace {

struct CodeInfo {
  Code code;
  std::string_view name;
  int status;
};

// One row per Code, in enum order (checked below), mirroring the table of spec 2.3.
constexpr std::array kCodes = {
    CodeInfo{Code::kMalformedJson, "malformed_json", 400},
    CodeInfo{Code::kDuplicateField, "duplicate_field", 400},
    CodeInfo{Code::kUnknownField, "unknown_field", 400},
    CodeInfo{Code::kMissingField, "missing_field", 400},
    CodeInfo{Code::kInvalidField, "invalid_field", 400},
    CodeInfo{Code::kInvalidQuery, "invalid_query", 400},
    CodeInfo{Code::kInvalidId, "invalid_id", 400},
    CodeInfo{Code::kChunkIndexOutOfRange, "chunk_index_out_of_range", 400},
    CodeInfo{Code::kMalformedRequest, "malformed_request", 400},
    CodeInfo{Code::kTokenMissing, "token_missing", 401},
    CodeInfo{Code::kTokenInvalid, "token_invalid", 401},
    CodeInfo{Code::kTokenExpired, "token_expired", 401},
    CodeInfo{Code::kTokenRevoked, "token_revoked", 401},
    CodeInfo{Code::kInsufficientScope, "insufficient_scope", 403},
    CodeInfo{Code::kRegistrationClosed, "registration_closed", 403},
    CodeInfo{Code::kNotFound, "not_found", 404},
    CodeInfo{Code::kUnsupportedVersion, "unsupported_version", 404},
    CodeInfo{Code::kWorkspaceNotFound, "workspace_not_found", 404},
    CodeInfo{Code::kTokenNotFound, "token_not_found", 404},
    CodeInfo{Code::kFileNotFound, "file_not_found", 404},
    CodeInfo{Code::kMethodNotAllowed, "method_not_allowed", 405},
    CodeInfo{Code::kVersionConflict, "version_conflict", 409},
    CodeInfo{Code::kAfterSeqBeyondHead, "after_seq_beyond_head", 409},
    CodeInfo{Code::kCannotRevokeSelf, "cannot_revoke_self", 409},
    CodeInfo{Code::kKeyRecordsFull, "key_records_full", 409},
    CodeInfo{Code::kFileChunkCountMismatch, "file_chunk_count_mismatch", 409},
    CodeInfo{Code::kFileIncomplete, "file_incomplete", 409},
    CodeInfo{Code::kFileNotUploading, "file_not_uploading", 409},
    CodeInfo{Code::kFileNotCommitted, "file_not_committed", 409},
    CodeInfo{Code::kFileDeleted, "file_deleted", 409},
    CodeInfo{Code::kQuotaExceeded, "quota_exceeded", 409},
    CodeInfo{Code::kBodyTooLarge, "body_too_large", 413},
    CodeInfo{Code::kTooManyOps, "too_many_ops", 413},
    CodeInfo{Code::kTooManyIds, "too_many_ids", 413},
    CodeInfo{Code::kUriTooLong, "uri_too_long", 414},
    CodeInfo{Code::kUnsupportedMediaType, "unsupported_media_type", 415},
    CodeInfo{Code::kRateLimited, "rate_limited", 429},
    CodeInfo{Code::kHeadersTooLarge, "headers_too_large", 431},
    CodeInfo{Code::kInternalError, "internal_error", 500},
    CodeInfo{Code::kUnsupportedTransferCoding, "unsupported_transfer_coding", 501},
    CodeInfo{Code::kUnavailable, "unavailable", 503},
    CodeInfo{Code::kUnsupportedHttpVersion, "unsupported_http_version", 505},
    CodeInfo{Code::kClockSkew, "clock_skew", 0},
    CodeInfo{Code::kOpIdConflict, "op_id_conflict", 0},
    CodeInfo{Code::kDecryptFailed, "decrypt_failed", 0},
    CodeInfo{Code::kWrongPassword, "wrong_password", 0},
    CodeInfo{Code::kTruncated, "truncated", 0},
    CodeInfo{Code::kPageGap, "page_gap", 0},
    CodeInfo{Code::kHashMismatch, "hash_mismatch", 0},
    CodeInfo{Code::kUnsupportedFormat, "unsupported_format", 0},
    CodeInfo{Code::kProtocolError, "protocol_error", 0},
    CodeInfo{Code::kTransport, "transport", 0},
};

constexpr bool codes_in_enum_order() {
  for (size_t i = 0; i < kCodes.size(); ++i)
    if (static_cast<size_t>(kCodes[i].code) != i) return false;
  return static_cast<size_t>(Code::kTransport) + 1 == kCodes.size();
}
static_assert(codes_in_enum_order(), "kCodes must list every Code in enum order");

}  // namespace

std::string_view code_name(Code code) { return kCodes[static_cast<size_t>(code)].name; }

std::optional<Code> code_from_name(std::string_view name) {
  for (const CodeInfo& info : kCodes)
    if (info.name == name) return info.code;
  return std::nullopt;
}

int http_status(Code code) { return kCodes[static_cast<size_t>(code)].status; }

std::string Error::to_string() const {
  std::string out(code_name(code));
  if (!field.empty()) out += ": " + field;
  if (!message.empty()) out += ": " + message;
  return out;
}

}  // namespace opsync
