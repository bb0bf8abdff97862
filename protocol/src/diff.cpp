#include "opsync/protocol/diff.h"

#include <algorithm>
#include <optional>

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
    plan.verified_prefix =
        verified_prefix_from_blocks(mirror.block_hashes, server.block_hashes, block_size);
  }
  const uint64_t p = plan.verified_prefix;
  OPSYNC_CHECK(p <= m && p <= n);

  // Everything after p, matched by id with a sort and a merge over flat arrays rather than a
  // hash table: after a divergence early in a long log this touches a million entries, and
  // sequential passes over sorted arrays cost a fraction of a hash table's random accesses.
  //
  // Held operations are numbered in upload order (candidates oldest first, then the outbox);
  // `covered[k]` records that held operation k needs no upload: the server lists it, or an
  // earlier held operation has the same id.
  const uint64_t candidates = m - p;
  const uint64_t held_count = candidates + outbox.size();
  auto held_id = [&](uint64_t k) -> const OpId& {
    return k < candidates ? mirror.ids[p + k] : outbox[k - candidates].id;
  };
  auto held_hash = [&](uint64_t k) -> const Hash& {
    return k < candidates ? mirror.op_hashes[p + k] : outbox[k - candidates].hash;
  };
  // An id as two big-endian words: integer comparisons give the bytewise order without memcmp.
  struct Key {
    uint64_t high, low, index;
    Key() = default;
    Key(const OpId& id, uint64_t at)
        : high(read_u64(id.data())), low(read_u64(id.data() + 8)), index(at) {}
    bool same_id(const Key& other) const { return high == other.high && low == other.low; }
    bool id_less(const Key& other) const {
      return high != other.high ? high < other.high : low < other.low;
    }
  };
  auto by_id_then_index = [](const Key& a, const Key& b) {
    return a.same_id(b) ? a.index < b.index : a.id_less(b);
  };
  std::vector<Key> held(held_count);
  for (uint64_t k = 0; k < held_count; ++k) held[k] = Key(held_id(k), k);
  std::sort(held.begin(), held.end(), by_id_then_index);
  std::vector<bool> covered(held_count, false);
  for (size_t i = 1; i < held.size(); ++i)
    if (held[i].same_id(held[i - 1])) covered[held[i].index] = true;

  std::vector<Key> listed(n - p);
  for (uint64_t i = 0; i < n - p; ++i) listed[i] = Key(server.ids[p + i], i);
  std::sort(listed.begin(), listed.end(), by_id_then_index);

  // Step 4: decide each listed operation (apply or acknowledge), remembering the earliest
  // violation so the error names the same operation a page-by-page client would stop at.
  std::vector<bool> acknowledged(n - p, false);
  std::optional<std::pair<uint64_t, Error>> first_error;
  auto report = [&](uint64_t offset, Code code, std::string message) {
    if (!first_error || offset < first_error->first)
      first_error.emplace(
          offset, Error(code, "ops[" + std::to_string(offset) + "].id", std::move(message)));
  };
  size_t h = 0;
  for (size_t i = 0; i < listed.size(); ++i) {
    const Key& entry = listed[i];
    if (i > 0 && listed[i - 1].same_id(entry)) {
      report(entry.index, Code::kProtocolError, "the server lists an operation twice");
      continue;
    }
    while (h < held.size() && held[h].id_less(entry)) ++h;
    if (h == held.size() || !held[h].same_id(entry)) continue;  // unknown: apply
    if (held_hash(held[h].index) != server.op_hashes[p + entry.index]) {
      report(entry.index, Code::kOpIdConflict,
             "the server holds a known operation id with a different hash");
      continue;
    }
    covered[held[h].index] = true;
    acknowledged[entry.index] = true;
  }
  if (first_error) return first_error->second;
  for (uint64_t i = 0; i < n - p; ++i)
    (acknowledged[i] ? plan.acknowledge : plan.apply).push_back(server.ids[p + i]);

  // Step 5: everything held that the server lacks, oldest first, each once (SYNC-005).
  for (uint64_t k = 0; k < held_count; ++k)
    if (!covered[k]) plan.upload.push_back(held_id(k));
  return plan;
}

}  // namespace opsync
