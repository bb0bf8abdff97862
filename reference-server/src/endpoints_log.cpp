// The log: upload, read, blocks (spec 7).
#include <algorithm>

#include "defects.h"
#include "endpoints.h"
#include "opsync/protocol/blocks.h"
#include "opsync/protocol/hlc.h"
#include "opsync/protocol/sha256.h"

namespace opsync::server::endpoints {
namespace {

// prefix_hash(s) from the stored block hashes and at most N - 1 operation hashes (spec 7.4).
Hash stored_prefix_hash(Transaction& txn, const WorkspaceId& ws, uint64_t s, uint32_t n) {
  if (s == 0) return Hash{};
  const uint64_t block = (s - 1) / n;
  if (s % n == 0) {
    const std::vector<Hash> stored = txn.block_hashes(ws, block, 1);
    OPSYNC_CHECK_MSG(stored.size() == 1, "a complete block has no stored hash");
    return stored[0];
  }
  Hash previous;
  if (block > 0) {
    const std::vector<Hash> stored = txn.block_hashes(ws, block - 1, 1);
    OPSYNC_CHECK_MSG(stored.size() == 1, "a complete block has no stored hash");
    previous = stored[0];
  }
  const std::vector<Hash> hashes = txn.op_hashes(ws, block * n + 1, s);
  OPSYNC_CHECK(hashes.size() == s - block * n);
  return chain_block(previous, hashes);
}

// An operation of the batch, prepared outside the transaction: hashing needs no storage.
struct Prepared {
  const WireOp* op;
  Hash hash;
  Bytes encoding;
};

// Appends a validated batch in one transaction and answers it (LOG-002..LOG-009).
Response append_batch(const Call& call, const std::vector<Prepared>& prepared);

}  // namespace

Response upload_ops(const Call& call) {
  Result<UploadOpsRequest> body = parse_body<UploadOpsRequest>(call);
  if (!body.ok()) return error_response(body.error());
  const Limits& limits = call.config.limits;
  if (body->ops.size() > limits.batch_ops_max ||
      (defect(Defect::kFullBatchRefused) && body->ops.size() == limits.batch_ops_max)) {  // LOG-001
    Error e = make_error(
        Code::kTooManyOps,
        "a batch holds at most " + std::to_string(limits.batch_ops_max) + " operations", "ops");
    e.details.limit = limits.batch_ops_max;
    return error_response(e);
  }
  std::vector<Prepared> prepared;
  prepared.reserve(body->ops.size());
  Sha256 hasher;
  for (size_t i = 0; i < body->ops.size(); ++i) {
    const WireOp& op = body->ops[i];
    Status valid = validate_op(op, limits.op_payload_bytes_max, "ops[" + std::to_string(i) + "]");
    if (!valid.ok()) {
      if (defect(Defect::kPartialBatch) && !prepared.empty()) (void)append_batch(call, prepared);
      return error_response(valid.error());
    }
    prepared.push_back(
        Prepared{&op, op_hash(op, hasher), encode_op(op)});  // the server's own hash (OP-020)
  }
  return append_batch(call, prepared);
}

namespace {

Response append_batch(const Call& call, const std::vector<Prepared>& prepared) {
  return run_write(call.storage, [&](Transaction& txn, bool& commit) {
    const WorkspaceId& ws = call.workspace->id;
    const uint32_t n = call.workspace->block_size;
    // Read the head inside the transaction: writers are serialized, so sequence numbers stay dense.
    std::optional<WorkspaceRecord> workspace = txn.workspace(ws);
    OPSYNC_CHECK(workspace.has_value());
    const uint64_t head_before = workspace->head_seq;
    uint64_t head = head_before;
    UploadOpsResponse answer;
    for (const Prepared& p : prepared) {
      OpResult result;
      result.id = p.op->id;
      std::optional<LoggedOp> logged;
      const bool skewed =
          !within_clock_skew(p.op->hlc, call.now_ms, call.config.max_clock_skew_ms) &&
          !defect(Defect::kNoClockSkewCheck);
      if (skewed) {
        logged = txn.op_by_id(ws, p.op->id);  // an old operation resent is a duplicate, not skewed
      } else {
        logged = txn.append_op_if_absent(ws, p.op->id, StoredOp{head + 1, p.hash, p.encoding});
        if (!logged) {  // LOG-003, LOG-010
          ++head;
          result.status = OpStatus::kAccepted;
          result.seq = defect(Defect::kSeqOffByOne) ? head + 1 : head;
        }
      }
      if (logged && logged->hash == p.hash) {  // LOG-004
        result.status =
            defect(Defect::kNoDeduplication) ? OpStatus::kAccepted : OpStatus::kDuplicate;
        result.seq = logged->seq;
      } else if (logged) {  // LOG-005
        result.status = OpStatus::kRejected;
        result.code = Code::kOpIdConflict;
        result.message = "the log holds this id with a different hash";
      } else if (skewed) {  // LOG-006
        result.status = OpStatus::kRejected;
        result.code = Code::kClockSkew;
        result.message = "wall_ms is " + std::to_string(p.op->hlc.wall_ms - call.now_ms) +
                         " ms ahead of the server; at most " +
                         std::to_string(call.config.max_clock_skew_ms) + " allowed";
      }
      answer.results.push_back(std::move(result));
    }
    // Keep block hashes as blocks complete (LOG-032).
    for (uint64_t block = head_before / n; block < head / n; ++block) {
      Hash previous;
      if (block > 0) previous = txn.block_hashes(ws, block - 1, 1).at(0);
      txn.put_block_hash(ws, block,
                         chain_block(previous, txn.op_hashes(ws, block * n + 1, (block + 1) * n)));
    }
    if (head != head_before) txn.set_head_seq(ws, head);
    answer.head_seq = head;  // LOG-009
    commit = head != head_before;
    return json_response(200, answer);
  });
}

}  // namespace

Response read_ops(const Call& call) {
  const Limits& limits = call.config.limits;
  const uint64_t after_seq = query_decimal(call, "after_seq");
  const uint64_t limit =
      defect(Defect::kLimitIgnored) ? limits.page_ops_max : query_decimal(call, "limit");
  return run_read(call.storage, [&](Transaction& txn) {
    // Everything below comes from one read transaction: one state of the log (LOG-024).
    const WorkspaceId& ws = call.workspace->id;
    const std::optional<WorkspaceRecord> workspace = txn.workspace(ws);
    OPSYNC_CHECK(workspace.has_value());
    if (after_seq > workspace->head_seq) {  // LOG-023
      Error e = make_error(Code::kAfterSeqBeyondHead,
                           "the log holds " + std::to_string(workspace->head_seq) + " operations",
                           "after_seq");
      e.details.head_seq = workspace->head_seq;
      if (defect(Defect::kDetailsExtraMember)) e.details.limit = workspace->head_seq;
      return error_response(e);
    }
    OpsPageResponse page;
    page.after_seq = after_seq;
    page.after_hash = stored_prefix_hash(txn, ws, after_seq, workspace->block_size);
    if (defect(Defect::kWrongPrefixHash) && after_seq > 0) page.after_hash.bytes[0] ^= 1;
    page.head_seq = workspace->head_seq;
    for (StoredOp& stored : txn.ops_after(ws, after_seq, limit, limits.page_bytes_max)) {
      Result<WireOp> op = decode_op(stored.encoding);
      OPSYNC_CHECK_MSG(op.ok(), "the log holds an operation that does not decode");
      page.ops.push_back(SequencedOp{stored.seq, std::move(*op)});
    }
    if (!page.ops.empty() && page.ops.back().seq < page.head_seq)
      page.next_after_seq = page.ops.back().seq;
    if (defect(Defect::kCursorOnFullLastPage) && page.ops.size() == limit)
      page.next_after_seq = page.ops.back().seq;
    OPSYNC_CHECK(!page.ops.empty() || after_seq == page.head_seq);
    if (defect(Defect::kLaterSeqFirst)) std::reverse(page.ops.begin(), page.ops.end());
    return json_response(200, page);
  });
}

Response read_blocks(const Call& call) {
  const uint64_t start = query_decimal(call, "start");
  const uint64_t limit = query_decimal(call, "limit");
  return run_read(call.storage, [&](Transaction& txn) {
    const WorkspaceId& ws = call.workspace->id;
    const std::optional<WorkspaceRecord> workspace = txn.workspace(ws);
    OPSYNC_CHECK(workspace.has_value());
    BlocksResponse page;
    page.block_size = workspace->block_size;
    page.head_seq = workspace->head_seq;
    page.block_count = workspace->head_seq / workspace->block_size;  // complete blocks only
    if (start < page.block_count) {
      const uint64_t count = std::min<uint64_t>(limit, page.block_count - start);
      const std::vector<Hash> hashes = txn.block_hashes(ws, start, count);
      OPSYNC_CHECK(hashes.size() == count);
      for (uint64_t i = 0; i < count; ++i) page.blocks.push_back(BlockEntry{start + i, hashes[i]});
      if (defect(Defect::kWrongBlockHash))
        for (BlockEntry& block : page.blocks) block.hash.bytes[0] ^= 1;
      if (start + count < page.block_count) page.next_start = start + count;
      if (defect(Defect::kBlockCursorOnFullLastPage) && count == limit)
        page.next_start = start + count;
    }
    return json_response(200, page);
  });
}

}  // namespace opsync::server::endpoints
