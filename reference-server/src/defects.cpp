#include "faults.h"

#include <algorithm>
#include <array>
#include <atomic>

namespace opsync::server {
namespace {

using F = Fault;

constexpr std::array kNames = {
    FaultName{F::kNoRequestId, "no-request-id", "TRN-008"},
    FaultName{F::kNoAllowHeader, "no-allow-header", "TRN-010"},
    FaultName{F::kRepeatedQueryTaken, "repeated-query-taken", "TRN-011"},
    FaultName{F::kMalformedJson500, "malformed-json-500", "ERR-004 TRN-020"},
    FaultName{F::kDetailsMissing, "details-missing", "ERR-010"},
    FaultName{F::kTokenMissingIs403, "token-missing-is-403", "AUTH-020 ERR-001"},
    FaultName{F::kLimitIgnored, "limit-ignored", "LOG-020 LIM-005"},
    FaultName{F::kUnknownVersionServed, "unknown-version-served", "VER-001"},
    FaultName{F::kExpiredTokenAccepted, "expired-token-accepted", "AUTH-019"},
    FaultName{F::kRevokedTokenAccepted, "revoked-token-accepted", "AUTH-016"},
    FaultName{F::kReadOnlyWrites, "read-only-writes", "AUTH-020"},
    FaultName{F::kCrossWorkspaceRead, "cross-workspace-read", "AUTH-021 AUTH-022"},
    FaultName{F::kTokenListUnsorted, "token-list-unsorted", "AUTH-024"},
    FaultName{F::kKeyVersionIgnored, "key-version-ignored", "KEY-003"},
    FaultName{F::kNoDeduplication, "no-deduplication", "LOG-004"},
    FaultName{F::kSeqOffByOne, "seq-off-by-one", "LOG-010 LOG-003"},
    FaultName{F::kNoClockSkewCheck, "no-clock-skew-check", "LOG-006"},
    FaultName{F::kPartialBatch, "partial-batch", "LOG-007 ERR-003"},
    FaultName{F::kLaterSeqFirst, "later-seq-first", "LOG-011 LOG-028"},
    FaultName{F::kWrongPrefixHash, "wrong-prefix-hash", "LOG-021 LOG-030"},
    FaultName{F::kWrongBlockHash, "wrong-block-hash", "LOG-030 LOG-031"},
    FaultName{F::kCommitWithMissingChunks, "commit-with-missing-chunks", "FILE-008"},
    FaultName{F::kCommittedChunkOverwritten, "committed-chunk-overwritten", "FILE-004"},
    FaultName{F::kAbsentFileDeleted, "absent-file-deleted", "FILE-007"},
    FaultName{F::kRepeatedLengthTaken, "repeated-length-taken", "TRN-051"},
    FaultName{F::kUnstampedHttpErrors, "unstamped-http-errors", "TRN-056"},
    FaultName{F::kRevocationsNotJournaled, "revocations-not-journaled", "AUTH-030"},
    FaultName{F::kFieldNotCut, "field-not-cut", "ERR-023"},
    FaultName{F::kRepeatedFieldFirstWins, "repeated-field-first-wins", "TRN-068"},
    FaultName{F::kChunkedHttp10Served, "chunked-http10-served", "TRN-064"},
    FaultName{F::kExpiryJudgedAfterBody, "expiry-judged-after-body", "AUTH-031"},
    FaultName{F::kFileNotFoundWithoutField, "file-not-found-without-field", "ERR-024"},
    FaultName{F::kSelfIsNoParameter, "self-is-no-parameter", "TRN-060"},
    FaultName{F::kEqualChunkNoActivity, "equal-chunk-no-activity", "FILE-043"},
    FaultName{F::kHeadBodySent, "head-body-sent", "TRN-066"},
    FaultName{F::kAbsoluteFormRefused, "absolute-form-refused", "TRN-067"},
    FaultName{F::kHeadLimitsFirst, "head-limits-first", "TRN-063"},
    FaultName{F::kCursorOnFullLastPage, "cursor-on-full-last-page", "LOG-022 KEY-006"},
    FaultName{F::kTokenWhitespaceTrimmed, "token-whitespace-trimmed", "TRN-031"},
    FaultName{F::kUnheldCursorRestarts, "unheld-cursor-restarts", "AUTH-024"},
    FaultName{F::kBlockCursorOnFullLastPage, "block-cursor-on-full-last-page", "LOG-031 LIM-004"},
    FaultName{F::kAbsentLimitNotMax, "absent-limit-not-max", "LIM-005"},
    FaultName{F::kPlusIsSpace, "plus-is-space", "TRN-013"},
    FaultName{F::kDetailsExtraMember, "details-extra-member", "ERR-011"},
    FaultName{F::kExpiredTokensUnlisted, "expired-tokens-unlisted", "AUTH-024"},
    FaultName{F::kFullBatchRefused, "full-batch-refused", "LOG-001"},
    FaultName{F::kDeleteKeepsUpdatedAt, "delete-keeps-updated-at", "FILE-016"},
    FaultName{F::kBlocksNeedWrite, "blocks-need-write", "LOG-031"},
    FaultName{F::kLongRequestLineMalformed, "long-request-line-malformed", "TRN-063"},
    FaultName{F::kMediaTypeTabsRefused, "media-type-tabs-refused", "TRN-014"},
    FaultName{F::kHttp10LengthRefused, "http10-length-refused", "TRN-064"},
};
static_assert(kNames.size() == static_cast<size_t>(F::kHttp10LengthRefused) + 1,
              "a name for every fault");

#ifdef OPSYNC_FAULT_SWITCHES
// Set before the server starts serving, read by every request thread afterwards.
std::array<std::atomic<bool>, kNames.size()> enabled{};
#endif

}  // namespace

std::span<const FaultName> fault_names() { return kNames; }

std::optional<Fault> fault_from_name(std::string_view name) {
  const auto* found = std::find_if(kNames.begin(), kNames.end(),
                                   [&](const FaultName& f) { return f.name == name; });
  if (found == kNames.end()) return std::nullopt;
  return found->fault;
}

#ifdef OPSYNC_FAULT_SWITCHES
bool fault(Fault f) { return enabled[static_cast<size_t>(f)].load(std::memory_order_relaxed); }
void enable_fault(Fault f) { enabled[static_cast<size_t>(f)].store(true); }
#endif

}  // namespace opsync::server
