// The diff: which operations a device uploads, applies and acknowledges (spec section 9).
//
// The planner is a set of pure functions over hashes, so the reference client, the simulator, the
// tests and the benchmarks all run the same decision code. It never reads a position as identity:
// operations are matched by id and hash (SYNC-003).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/result.h"

namespace opsync {

// Step 3 of spec 9.1 (SYNC-002): the number of operations covered by the longest run of equal
// leading complete blocks, given both sides' chained block hashes. Because hashes chain, equality
// of block b implies equality of every block before it, so a binary search suffices; the result
// is verified (the block it ends on is equal), never assumed.
uint64_t verified_prefix_from_blocks(std::span<const Hash> local_blocks,
                                     std::span<const Hash> server_blocks, uint32_t block_size);

// Where a device holds an operation it already knows.
enum class Held : uint8_t {
  kNowhere,    // unknown: apply it
  kOutbox,     // created here, not yet acknowledged
  kCandidate,  // read from the server before a divergence; position no longer trusted
  kMirror,     // at a verified position (cannot appear after the verified prefix)
};

struct HeldOp {
  Held where = Held::kNowhere;
  Hash hash;  // meaningful unless kNowhere
};

// What to do with one page of operations read after the verified prefix (step 4).
struct PageVerdict {
  std::vector<size_t> apply;        // indices into the page: unknown operations
  std::vector<size_t> acknowledge;  // indices: outbox or candidate operations the server holds
};

// Classifies a page read with `after_seq`. Fails with kPageGap unless the page starts at
// after_seq + 1 and is consecutive (SYNC-007), and with kOpIdConflict when a known id arrives with
// a different hash (OP-021). `op_hashes[i]` is the hash the device computed for page[i].
Result<PageVerdict> classify_page(uint64_t after_seq, std::span<const SequencedOp> page,
                                  std::span<const Hash> op_hashes,
                                  const std::function<HeldOp(const OpId&)>& lookup);

// A log with its hashes precomputed, as both sides store them.
struct LogView {
  std::span<const OpId> ids;           // in log order; ids[i] is at seq i + 1
  std::span<const Hash> op_hashes;     // same length as ids
  std::span<const Hash> block_hashes;  // complete blocks only
};

struct OutboxEntry {
  OpId id;
  Hash hash;
};

// The whole decision for one device against one server state: what a complete sync does.
struct DiffPlan {
  bool diverged = false;          // the prefix check failed and blocks were compared
  uint64_t verified_prefix = 0;   // p: positions 1..p match
  std::vector<OpId> apply;        // server operations after p the device lacks, in server order
  std::vector<OpId> acknowledge;  // device operations the server already holds, in server order
  std::vector<OpId> upload;       // device operations the server lacks: candidates, then outbox
};

// Plans a sync of a device holding `mirror` (its copy of positions 1..m as last read) and
// `outbox` against a server holding `server`. Costs O(N + (n - p) + (m - p) + |outbox|) when the
// mirror is a prefix of the server log, touching only what differs (the common case).
// Fails like classify_page on an inconsistent server log.
Result<DiffPlan> plan_diff(uint32_t block_size, const LogView& mirror,
                           std::span<const OutboxEntry> outbox, const LogView& server);

}  // namespace opsync
