// The log sync (spec 9.1 steps 2 to 5): the prefix check and the divergence search, pages of
// operations, and uploads.
#include <algorithm>
#include <set>

#include "engine_impl.h"
#include "opsync/protocol/check.h"
#include "opsync/protocol/diff.h"
#include "opsync/protocol/limits.h"

namespace opsync::client::engine_parts {

namespace {

constexpr uint32_t kRestampsPerOpMax =
    3;  // re-stamps of one operation in one sync before it fails (HLC-020)

}  // namespace

// ---- the prefix check and the divergence search (spec 9.1 steps 2 and 3) ----------------------

void LogSync::start_divergence_search() {
  // A log that changes under every read (a server restored again and again, or something
  // between device and server altering pages) would send the sync round this cycle forever.
  if (++divergence_searches_ > session_.options.divergence_searches_max)
    fail(Code::kProtocolError, "the server's log changed under this sync " +
                                   std::to_string(divergence_searches_) +
                                   " times; try again later");
  session_.report.diverged = true;
  server_blocks_.clear();
  session_.enter(Phase::kBlocks);
}

void LogSync::send_blocks_request() {
  // Only the blocks the mirror covers can match; hashes chain, so they are a prefix.
  const std::string target = endpoint_target(EndpointId::kReadBlocks, {session_.workspace},
                                             {{"start", std::to_string(server_blocks_.size())}});
  session_.send({"GET", target, "", ""}, [this](const HttpResponse& r, DeviceTime) {
    if (!is_success(r.status)) fail(error_from_response(r));
    take_blocks(parse_or_fail<BlocksResponse>(r, "block list"));
  });
}

void LogSync::take_blocks(const BlocksResponse& blocks) {
  LocalStore& store = session_.store;
  if (blocks.block_size == 0) fail(Code::kProtocolError, "block_size 0");
  const std::vector<Hash> local = take(store.block_hashes(blocks.block_size));
  for (const BlockEntry& entry : blocks.blocks) {
    if (entry.index != server_blocks_.size())
      fail(Code::kProtocolError, "block indexes are not consecutive");
    server_blocks_.push_back(entry.hash);
  }
  const bool enough = server_blocks_.size() >= local.size();
  if (blocks.next_start && !enough && !blocks.blocks.empty()) return;  // read the next page
  const uint64_t p = verified_prefix_from_blocks(local, server_blocks_, blocks.block_size);
  const uint64_t mirror_before = take(store.mirror_size());
  take(store.truncate_mirror(p));
  session_.report.verified_prefix = p;
  session_.report.ops_unverified += mirror_before > p ? mirror_before - p : 0;
  session_.enter(Phase::kPages);
}

// ---- pages of operations (step 4) -------------------------------------------------------------

std::string LogSync::ops_target(uint64_t after_seq) const {
  if (session_.options.page_ops_max == 0)
    return endpoint_target(EndpointId::kReadOps, {session_.workspace},
                           {{"after_seq", std::to_string(after_seq)}});
  return endpoint_target(EndpointId::kReadOps, {session_.workspace},
                         {{"after_seq", std::to_string(after_seq)},
                          {"limit", std::to_string(session_.options.page_ops_max)}});
}

void LogSync::send_ops_read(bool prefix_check) {
  // A held page ends where the mirror will end once it is applied: its seqs are checked to follow
  // after_seq one by one when it is (SYNC-007), or the sync ends before this answer.
  const uint64_t m = held_page_ ? held_page_->page.after_seq + held_page_->page.ops.size()
                                : take(session_.store.mirror_size());
  session_.send({"GET", ops_target(m), "", ""},
                [this, m, prefix_check](const HttpResponse& r, DeviceTime t) {
                  take_ops_answer(r, t, m, prefix_check);
                });
}

void LogSync::take_ops_answer(const HttpResponse& response, DeviceTime now, uint64_t after_seq,
                              bool prefix_check) {
  if (!is_success(response.status)) {
    const Error error = error_from_response(response);
    // The server holds less than the mirror: restored from a backup, before this sync or
    // during it (SYNC-001).
    if (error.code == Code::kAfterSeqBeyondHead) return start_divergence_search();
    fail(error);
  }
  OpsPageResponse page = parse_or_fail<OpsPageResponse>(response, "ops page");
  if (page.after_seq != after_seq) fail(Code::kProtocolError, "the page answers another after_seq");
  if (page.after_hash != take(session_.store.prefix_hash(after_seq)))
    return start_divergence_search();
  if (prefix_check) {
    session_.report.verified_prefix = after_seq;
    session_.enter(Phase::kPages);
  }
  take_page(std::move(page), now.wall_ms);
}

void LogSync::take_page(OpsPageResponse page, uint64_t now_ms) {
  // A page that promised more but held nothing would have the engine ask the same forever;
  // parsing refuses such a page (LOG-028).
  OPSYNC_CHECK_MSG(!page.ops.empty() || !page.next_after_seq,
                   "an empty page with a cursor got through parsing");
  OPSYNC_CHECK_MSG(!held_page_, "a page arrived while another waits to be applied");
  if (page.next_after_seq) {  // phase stays kPages: read on, and apply this one meanwhile
    held_page_ = HeldPage{std::move(page), session_.physical_ms(now_ms)};
    return;
  }
  apply_page(page, session_.physical_ms(now_ms));
  after_pages();
}

void LogSync::apply_held_page() {
  if (!held_page_) return;
  const HeldPage held = std::move(*held_page_);
  held_page_.reset();
  apply_page(held.page, held.physical_ms);
}

void LogSync::apply_page(const OpsPageResponse& page, uint64_t pt) {
  std::vector<PageOp> ops;
  ops.reserve(page.ops.size());
  // Every operation is decrypted and its timestamp taken in (HLC-002), without asking the store
  // first which ones it holds: apply_page decides that in its own transaction and ignores the
  // meaning of operations it acknowledges (this device's own, whose timestamps the clock has
  // already passed). One store transaction per page instead of one lookup per operation.
  for (const SequencedOp& sequenced : page.ops) {
    ops.push_back(PageOp{sequenced, session_.keys.open_op(sequenced.op)});
    session_.clock.observe(sequenced.op.hlc, std::min(pt, kHlcWallMsLimit - 1));
  }
  const PageOutcome outcome =
      take(session_.store.apply_page(page.after_seq, ops, page.head_seq, session_.clock.last()));
  SyncReport& report = session_.report;
  report.ops_applied += outcome.applied.size();
  report.ops_acknowledged += outcome.acknowledged.size();
  report.ops_unreadable += outcome.unreadable.size();
  for (const FileId& id : outcome.files_referenced) files_.referenced(id);
}

// After the last page: files before the first upload round, uploads, then the final file pass.
void LogSync::after_pages() {
  if (upload_round_ > session_.options.upload_rounds_max)
    fail(Code::kProtocolError,
         "operations keep returning to the upload queue; the server's log keeps changing");
  if (upload_round_ == 0 && !files_before_upload_done_) {
    files_before_upload_done_ = true;
    files_.start_pass(/*own_uploads_only=*/true);
    return;
  }
  if (upload_round_ > 0 && take(session_.store.ops_to_upload(1)).empty()) {
    files_.start_pass(/*own_uploads_only=*/false);
    return;
  }
  session_.enter(Phase::kUpload);
}

// ---- uploads (step 5) ----------------------------------------------------------------------

void LogSync::plan_upload() {
  // Batches within the server's limits: operations and an estimate of the body's size.
  const Limits& limits = session_.limits;
  const size_t batch_max = static_cast<size_t>(std::max<uint64_t>(1, limits.batch_ops_max));
  std::vector<PendingOp> pending = take(session_.store.ops_to_upload(batch_max));
  if (pending.empty()) {
    // Everything is acknowledged or accepted ahead; the catch-up read places what is ahead.
    ++upload_round_;
    session_.enter(Phase::kPages);
    return;
  }
  UploadOpsRequest body;
  uint64_t body_bytes = 16;
  for (PendingOp& p : pending) {
    const uint64_t op_bytes = 200 + p.op.payload.size() * 4 / 3;
    if (!body.ops.empty() && body_bytes + op_bytes > limits.request_body_bytes_max) break;
    body_bytes += op_bytes;
    body.ops.push_back(std::move(p.op));
  }
  const size_t sent = body.ops.size();
  session_.send(
      {"POST", endpoint_path(EndpointId::kUploadOps, {session_.workspace}), kJson,
       serialize_message(body)},
      [this, sent](const HttpResponse& r, DeviceTime t) { take_upload_answer(r, t, sent); });
}

void LogSync::take_upload_answer(const HttpResponse& response, DeviceTime now, size_t sent) {
  if (!is_success(response.status)) fail(error_from_response(response));
  const UploadOpsResponse answer = parse_or_fail<UploadOpsResponse>(response, "upload answer");
  if (answer.results.size() != sent)
    fail(Code::kProtocolError, "the upload answer has one result per operation");
  const UploadOutcome outcome = take(session_.store.record_upload_results(answer.results));
  session_.report.ops_uploaded += outcome.acknowledged.size() + outcome.accepted_ahead.size();
  session_.report.ops_rejected += outcome.rejected.size();
  if (!outcome.clock_skew.empty()) {
    session_.observe_server_time(response, now, /*force=*/true);
    restamp(outcome.clock_skew, now.wall_ms);
  }
}

// HLC-020..022: re-stamp operations the server found too far ahead, oldest first. One re-stamp
// with the refreshed offset normally settles an operation; the server rejecting the same one
// again and again means the clock cannot be brought into its skew. The bound is per
// operation, not per round: a device that wrote many batches offline with its clock far ahead
// has each batch rejected once (HLC-022 lets it re-stamp only what was rejected), and must not
// fail for having many.
void LogSync::restamp(const std::vector<OpId>& ids, uint64_t now_ms) {
  for (const OpId& id : ids)
    if (++restamps_[id] > kRestampsPerOpMax)
      fail(Code::kClockSkew,
           "the server keeps rejecting this device's timestamps; check the clock");
  // The offset was refreshed from this very response (observe_server_time, forced).
  LocalStore& store = session_.store;
  HlcClock& clock = session_.clock;
  clock.reset(take(store.largest_accepted_hlc()));
  std::set<OpId> wanted(ids.begin(), ids.end());
  std::vector<PendingOp> pending = take(store.ops_to_upload(SIZE_MAX));
  std::vector<WireOp> ops;
  for (PendingOp& p : pending)
    if (wanted.count(p.op.id) && p.where == Held::kOutbox) ops.push_back(std::move(p.op));
  std::sort(ops.begin(), ops.end(), [](const WireOp& a, const WireOp& b) { return a.hlc < b.hlc; });
  const uint64_t pt = std::min(session_.physical_ms(now_ms), kHlcWallMsLimit - 1);
  for (WireOp& op : ops) {
    const Subkeys* subkeys = session_.keys.find(op.key_id);
    if (!subkeys) fail(Code::kDecryptFailed, "an outbox operation's key is not on this device");
    const Bytes plaintext = take(open_op_payload(subkeys->op_key, op));
    op.hlc = clock.stamp(pt);
    seal_op_payload(subkeys->op_key, op, plaintext, session_.random);
  }
  take(store.restamp_outbox_ops(ops, clock.last()));
  session_.report.ops_restamped += ops.size();
}

}  // namespace opsync::client::engine_parts
