#include "opsync/protocol/diff.h"

#include <unordered_map>
#include <unordered_set>

#include "opsync/protocol/blocks.h"
#include "opsync/protocol/check.h"

namespace opsync {
namespace {

// The per-operation decision of step 4, shared by classify_page (pages of wire operations) and
// plan_diff (logs of hashes). `seq_of(i)`, `id_of(i)`, `hash_of(i)` describe operation i of the
// page; `lookup(id)` says where the device holds it.
template <typename SeqOf, typename IdOf, typename HashOf, typename Lookup>
Result<PageVerdict> classify(uint64_t after_seq, size_t count, SeqOf seq_of, IdOf id_of,
                             HashOf hash_of, Lookup lookup) {
  PageVerdict verdict;
  for (size_t i = 0; i < count; ++i) {
    if (seq_of(i) != after_seq + 1 + i)
      return Error(Code::kPageGap, "ops[" + std::to_string(i) + "].seq",
                   "expected seq " + std::to_string(after_seq + 1 + i) + ", got " +
                       std::to_string(seq_of(i)));
    const HeldOp held = lookup(id_of(i));
    if (held.where == Held::kNowhere) {
      verdict.apply.push_back(i);
      continue;
    }
    if (held.hash != hash_of(i))
      return Error(Code::kOpIdConflict, "ops[" + std::to_string(i) + "].id",
                   "the server holds a known operation id with a different hash");
    // A verified-position operation cannot reappear after the verified prefix: the server's log
    // would hold one id twice (LOG-010, OP-021).
    if (held.where == Held::kMirror)
      return Error(Code::kProtocolError, "ops[" + std::to_string(i) + "].id",
                   "the server lists an operation twice");
    verdict.acknowledge.push_back(i);
  }
  return verdict;
}

}  // namespace

uint64_t verified_prefix_from_blocks(std::span<const Hash> local_blocks,
                                     std::span<const Hash> server_blocks, uint32_t block_size) {
  OPSYNC_CHECK(block_size > 0);
  const size_t comparable = std::min(local_blocks.size(), server_blocks.size());
  if (comparable == 0) return 0;
  // Common case first: everything both sides hold matches.
  if (local_blocks[comparable - 1] == server_blocks[comparable - 1])
    return uint64_t{comparable} * block_size;
  // First unequal block, assuming equal blocks form a prefix (true for chained hashes). If a
  // dishonest server breaks that, the answer is still safe: the search only ever moves `low`
  // past a block it saw equal, and an equal chained hash verifies everything before it.
  size_t low = 0;
  size_t high = comparable - 1;  // known unequal
  while (low < high) {
    const size_t mid = low + (high - low) / 2;
    if (local_blocks[mid] == server_blocks[mid])
      low = mid + 1;
    else
      high = mid;
  }
  OPSYNC_CHECK(low == 0 || local_blocks[low - 1] == server_blocks[low - 1]);
  return uint64_t{low} * block_size;
}

Result<PageVerdict> classify_page(uint64_t after_seq, std::span<const SequencedOp> page,
                                  std::span<const Hash> op_hashes,
                                  const std::function<HeldOp(const OpId&)>& lookup) {
  OPSYNC_CHECK(page.size() == op_hashes.size());
  return classify(
      after_seq, page.size(), [&](size_t i) { return page[i].seq; },
      [&](size_t i) -> const OpId& { return page[i].op.id; },
      [&](size_t i) -> const Hash& { return op_hashes[i]; }, lookup);
}

Result<DiffPlan> plan_diff(uint32_t block_size, const LogView& mirror,
                           std::span<const OutboxEntry> outbox, const LogView& server) {
  OPSYNC_CHECK(block_size > 0);
  OPSYNC_CHECK(mirror.ids.size() == mirror.op_hashes.size());
  OPSYNC_CHECK(server.ids.size() == server.op_hashes.size());
  const uint64_t m = mirror.ids.size();
  const uint64_t n = server.ids.size();
  DiffPlan plan;

  // Step 2: one prefix hash at the mirror's end (SYNC-001).
  if (m <= n && prefix_hash(mirror.block_hashes, mirror.op_hashes, m, block_size) ==
                    prefix_hash(server.block_hashes, server.op_hashes, m, block_size)) {
    plan.verified_prefix = m;
  } else {
    // Step 3: the server lost or rewrote positions; trust only equal blocks (SYNC-002).
    plan.diverged = true;
    plan.verified_prefix = verified_prefix_from_blocks(mirror.block_hashes, server.block_hashes,
                                                       block_size);
  }
  const uint64_t p = plan.verified_prefix;
  OPSYNC_CHECK(p <= m && p <= n);

  // What the device holds beyond the verified prefix.
  std::unordered_map<OpId, HeldOp, FixedBytesHash> held;
  held.reserve((m - p) + outbox.size());
  for (uint64_t i = p; i < m; ++i) held.emplace(mirror.ids[i], HeldOp{Held::kCandidate, mirror.op_hashes[i]});
  for (const OutboxEntry& entry : outbox) held.emplace(entry.id, HeldOp{Held::kOutbox, entry.hash});

  // Step 4: the server's operations after p.
  Result<PageVerdict> verdict = classify(
      p, n - p, [&](size_t i) { return p + 1 + i; },
      [&](size_t i) -> const OpId& { return server.ids[p + i]; },
      [&](size_t i) -> const Hash& { return server.op_hashes[p + i]; },
      [&](const OpId& id) {
        auto it = held.find(id);
        return it == held.end() ? HeldOp{} : it->second;
      });
  if (!verdict.ok()) return verdict.error();

  std::unordered_set<OpId, FixedBytesHash> acknowledged;
  for (size_t i : verdict->apply) plan.apply.push_back(server.ids[p + i]);
  for (size_t i : verdict->acknowledge) {
    plan.acknowledge.push_back(server.ids[p + i]);
    acknowledged.insert(server.ids[p + i]);
  }

  // Step 5: everything held that the server lacks, oldest first (SYNC-005).
  for (uint64_t i = p; i < m; ++i)
    if (!acknowledged.count(mirror.ids[i])) plan.upload.push_back(mirror.ids[i]);
  std::unordered_set<OpId, FixedBytesHash> queued(plan.upload.begin(), plan.upload.end());
  for (const OutboxEntry& entry : outbox)
    if (!acknowledged.count(entry.id) && queued.insert(entry.id).second) plan.upload.push_back(entry.id);
  return plan;
}

}  // namespace opsync
