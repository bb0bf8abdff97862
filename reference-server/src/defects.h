// Deliberate defects, each breaking one rule of the spec, so that the conformance suite can prove
// its cases able to fail (conformance/README.md, "The suite tests itself").
//
// They exist only in opsync-server-defective, built from the same sources with
// OPSYNC_DEFECT_SWITCHES defined; in opsync-server every `defect(...)` is the constant false and
// the code behind it is compiled away. Switched on once, at start-up, from --defect; read-only
// afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace opsync::server {

enum class Defect : uint8_t {
  kNoRequestId,           // TRN-008: responses lack OpSync-Request-Id
  kNoAllowHeader,         // TRN-010: 405 without Allow
  kRepeatedQueryTaken,    // TRN-011: a repeated query parameter is taken, not refused
  kMalformedJson500,      // ERR-004, TRN-020: a malformed body is answered 500
  kDetailsMissing,        // ERR-010: after_seq_beyond_head and version_conflict without details
  kTokenMissingIs403,     // AUTH-020, ERR-001: no token answered 403 insufficient_scope
  kLimitIgnored,          // LOG-020, LIM-005: pages ignore `limit`
  kUnknownVersionServed,  // VER-001: /v2/... is served as /v1/...
  kExpiredTokenAccepted,  // AUTH-019
  kRevokedTokenAccepted,  // AUTH-016
  kReadOnlyWrites,        // AUTH-020: read tokens may write
  kCrossWorkspaceRead,    // AUTH-021: any valid token reaches any existing workspace
  kTokenListUnsorted,     // AUTH-024: the token list in descending order
  kKeyVersionIgnored,     // KEY-003: expected_version is not checked
  kNoDeduplication,       // LOG-004: a resent operation is reported accepted, not duplicate
  kSeqOffByOne,           // LOG-010: accepted operations are reported one seq too far
  kNoClockSkewCheck,      // LOG-006
  kPartialBatch,   // LOG-007, ERR-003: a batch refused for its n-th operation keeps the ones before
  kLaterSeqFirst,  // LOG-011, LOG-028: a page lists its operations last first
  kWrongPrefixHash,            // LOG-021, LOG-030: after_hash of a changed prefix
  kWrongBlockHash,             // LOG-030, LOG-031: block hashes with a byte changed
  kCommitWithMissingChunks,    // FILE-008: a file commits with chunks missing
  kCommittedChunkOverwritten,  // FILE-004: a different chunk replaces a committed one
  kAbsentFileDeleted,          // FILE-007: file-status calls absent files deleted
  kRepeatedLengthTaken,        // TRN-051: Content-Length repeated with equal values is accepted
  kUnstampedHttpErrors,        // TRN-056: the HTTP layer's own answers lack OpSync-Request-Id
  kRevocationsNotJournaled,    // AUTH-030: revocations live only in the data a restore rolls back
  kFieldNotCut,  // ERR-023: field paths longer than the schema's 4096 bytes are sent whole
  kRepeatedFieldFirstWins,    // TRN-068: the first of two Content-Type or Authorization lines is
                              // taken
  kChunkedHttp10Served,       // TRN-064: Transfer-Encoding on HTTP/1.0 is served
  kExpiryJudgedAfterBody,     // AUTH-031: expiry judged again once the body has arrived
  kFileNotFoundWithoutField,  // ERR-024: file_not_found without field file_id
  kSelfIsNoParameter,         // TRN-060: `self` answers 404 wherever it stands, not invalid_id
  kEqualChunkNoActivity,  // FILE-043: an equal chunk re-sent while uploading leaves updated_at_ms
  kHeadBodySent,          // TRN-066: the answer to HEAD carries its body
  kAbsoluteFormRefused,   // TRN-067: absolute-form targets are 400 malformed_request
  kHeadLimitsFirst,       // TRN-063: a target over the limit is 414 before the head's other faults
  kCursorOnFullLastPage,  // LOG-022, KEY-006: a page exactly full at the end of its list sets its
                          // cursor
  kTokenWhitespaceTrimmed,  // TRN-031: spaces around the token are dropped, so `Bearer  t ` is t
  kUnheldCursorRestarts,  // AUTH-024: a token list `after` an id the workspace lacks starts at the
                          // first token
  kBlockCursorOnFullLastPage,  // LOG-031 LIM-004: a block list exactly full at the end of the list
                               // sets next_start
  kAbsentLimitNotMax,          // LIM-005: an absent `limit` means half the maximum, not the maximum
  kPlusIsSpace,                // TRN-013: a `+` in a query name or value is read as a space
  kDetailsExtraMember,     // ERR-011: after_seq_beyond_head carries details.limit beside head_seq
  kExpiredTokensUnlisted,  // AUTH-024: the token list leaves out expired tokens
  kFullBatchRefused,       // LOG-001: a batch of exactly batch_ops_max operations is too_many_ops
  kDeleteKeepsUpdatedAt,   // FILE-016: deleting a file leaves its updated_at_ms
  kBlocksNeedWrite,        // LOG-031: the block list needs a read_write token
  kLongRequestLineMalformed,  // TRN-063: a request line past header_section_bytes_max is 400, not
                              // 414
  kMediaTypeTabsRefused,  // TRN-014: tabs around a media type or its parameters are not whitespace
  kHttp10LengthRefused,   // TRN-064: an HTTP/1.0 request with Content-Length is 400
                          // malformed_request
};

struct DefectName {
  Defect defect;
  std::string_view name;          // as --defect takes it
  std::string_view requirements;  // what it breaks
};
std::span<const DefectName> defect_names();
std::optional<Defect> defect_from_name(std::string_view name);

#ifdef OPSYNC_DEFECT_SWITCHES
bool defect(Defect f);
void enable_defect(Defect f);
#else
constexpr bool defect(Defect) { return false; }
#endif

}  // namespace opsync::server
