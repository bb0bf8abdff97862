#include "defects.h"

#include <algorithm>
#include <array>
#include <atomic>

namespace opsync::server {
namespace {

using F = Defect;

constexpr std::array kNames = {
    DefectName{F::kNoRequestId, "no-request-id", "TRN-008"},
    DefectName{F::kNoAllowHeader, "no-allow-header", "TRN-010"},
    DefectName{F::kRepeatedQueryTaken, "repeated-query-taken", "TRN-011"},
    DefectName{F::kMalformedJson500, "malformed-json-500", "ERR-004 TRN-020"},
    DefectName{F::kDetailsMissing, "details-missing", "ERR-010"},
    DefectName{F::kTokenMissingIs403, "token-missing-is-403", "AUTH-020 ERR-001"},
    DefectName{F::kLimitIgnored, "limit-ignored", "LOG-020 LIM-005"},
    DefectName{F::kUnknownVersionServed, "unknown-version-served", "VER-001"},
    DefectName{F::kExpiredTokenAccepted, "expired-token-accepted", "AUTH-019"},
    DefectName{F::kRevokedTokenAccepted, "revoked-token-accepted", "AUTH-016"},
    DefectName{F::kReadOnlyWrites, "read-only-writes", "AUTH-020"},
    DefectName{F::kCrossWorkspaceRead, "cross-workspace-read", "AUTH-021 AUTH-022"},
    DefectName{F::kTokenListUnsorted, "token-list-unsorted", "AUTH-024"},
    DefectName{F::kKeyVersionIgnored, "key-version-ignored", "KEY-003"},
    DefectName{F::kNoDeduplication, "no-deduplication", "LOG-004"},
    DefectName{F::kSeqOffByOne, "seq-off-by-one", "LOG-010 LOG-003"},
    DefectName{F::kNoClockSkewCheck, "no-clock-skew-check", "LOG-006"},
    DefectName{F::kPartialBatch, "partial-batch", "LOG-007 ERR-003"},
    DefectName{F::kLaterSeqFirst, "later-seq-first", "LOG-011 LOG-028"},
    DefectName{F::kWrongPrefixHash, "wrong-prefix-hash", "LOG-021 LOG-030"},
    DefectName{F::kWrongBlockHash, "wrong-block-hash", "LOG-030 LOG-031"},
    DefectName{F::kCommitWithMissingChunks, "commit-with-missing-chunks", "FILE-008"},
    DefectName{F::kCommittedChunkOverwritten, "committed-chunk-overwritten", "FILE-004"},
    DefectName{F::kAbsentFileDeleted, "absent-file-deleted", "FILE-007"},
    DefectName{F::kRepeatedLengthTaken, "repeated-length-taken", "TRN-051"},
    DefectName{F::kUnstampedHttpErrors, "unstamped-http-errors", "TRN-056"},
    DefectName{F::kRevocationsNotJournaled, "revocations-not-journaled", "AUTH-030"},
    DefectName{F::kFieldNotCut, "field-not-cut", "ERR-023"},
    DefectName{F::kRepeatedFieldFirstWins, "repeated-field-first-wins", "TRN-068"},
    DefectName{F::kChunkedHttp10Served, "chunked-http10-served", "TRN-064"},
    DefectName{F::kExpiryJudgedAfterBody, "expiry-judged-after-body", "AUTH-031"},
    DefectName{F::kFileNotFoundWithoutField, "file-not-found-without-field", "ERR-024"},
    DefectName{F::kSelfIsNoParameter, "self-is-no-parameter", "TRN-060"},
    DefectName{F::kEqualChunkNoActivity, "equal-chunk-no-activity", "FILE-043"},
    DefectName{F::kHeadBodySent, "head-body-sent", "TRN-066"},
    DefectName{F::kAbsoluteFormRefused, "absolute-form-refused", "TRN-067"},
    DefectName{F::kHeadLimitsFirst, "head-limits-first", "TRN-063"},
    DefectName{F::kCursorOnFullLastPage, "cursor-on-full-last-page", "LOG-022 KEY-006"},
    DefectName{F::kTokenWhitespaceTrimmed, "token-whitespace-trimmed", "TRN-031"},
    DefectName{F::kUnheldCursorRestarts, "unheld-cursor-restarts", "AUTH-024"},
    DefectName{F::kBlockCursorOnFullLastPage, "block-cursor-on-full-last-page", "LOG-031 LIM-004"},
    DefectName{F::kAbsentLimitNotMax, "absent-limit-not-max", "LIM-005"},
    DefectName{F::kPlusIsSpace, "plus-is-space", "TRN-013"},
    DefectName{F::kDetailsExtraMember, "details-extra-member", "ERR-011"},
    DefectName{F::kExpiredTokensUnlisted, "expired-tokens-unlisted", "AUTH-024"},
    DefectName{F::kFullBatchRefused, "full-batch-refused", "LOG-001"},
    DefectName{F::kDeleteKeepsUpdatedAt, "delete-keeps-updated-at", "FILE-016"},
    DefectName{F::kBlocksNeedWrite, "blocks-need-write", "LOG-031"},
    DefectName{F::kLongRequestLineMalformed, "long-request-line-malformed", "TRN-063"},
    DefectName{F::kMediaTypeTabsRefused, "media-type-tabs-refused", "TRN-014"},
    DefectName{F::kHttp10LengthRefused, "http10-length-refused", "TRN-064"},
};
static_assert(kNames.size() == static_cast<size_t>(F::kHttp10LengthRefused) + 1,
              "a name for every defect");

#ifdef OPSYNC_DEFECT_SWITCHES
// Set before the server starts serving, read by every request thread afterwards.
std::array<std::atomic<bool>, kNames.size()> enabled{};
#endif

}  // namespace

std::span<const DefectName> defect_names() { return kNames; }

std::optional<Defect> defect_from_name(std::string_view name) {
  const auto* found = std::find_if(kNames.begin(), kNames.end(),
                                   [&](const DefectName& f) { return f.name == name; });
  if (found == kNames.end()) return std::nullopt;
  return found->defect;
}

#ifdef OPSYNC_DEFECT_SWITCHES
bool defect(Defect f) { return enabled[static_cast<size_t>(f)].load(std::memory_order_relaxed); }
void enable_defect(Defect f) { enabled[static_cast<size_t>(f)].store(true); }
#endif

}  // namespace opsync::server
