// The mirror's index by operation id (schema version 5), written so that a page of operations
// costs the same at a million held operations as at a thousand.
//
// Operation ids are random. Any B-tree ordered by id puts each new operation on a random leaf, so
// once the tree outgrows a page's worth of operations a page of 1,000 operations dirtied ~1,000
// leaves: at a million operations, 8 MB of write-ahead log per commit for 0.5 MB of rows. The
// index is therefore kept in two tiers:
//
//   settled   mirror_ids (id_prefix, seq): positions 1..settled, ordered by the id's first 4 bytes
//             (the whole id is compared on the mirror row).
//   recent    positions settled+1..m. On disk, mirror_recent_ids holds their ids in position
//             order, one row per commit that appended (a blob of 16-byte ids), so appending costs
//             a sequential write; in memory, a hash table over them answers lookups.
//
// When the recent tier reaches its bound (1/8 of the settled tier, at least 64Ki and at most 256Ki
// ids) it is settled: sorted by prefix and inserted into mirror_ids in one pass, in the
// transaction that reached the bound. Sorted inserts dirty each leaf of mirror_ids once, about
// 1,100 entries a leaf, so settling writes about 8 leaves per 1,000 ids while the bound grows with
// the tier (up to 2M operations), and about 35 per 1,000 ids at 10M.
//
// A lookup of a new id, the common case, would still probe the settled tier's B-tree, whose
// leaves a large store cannot keep in SQLite's cache while pages stream through it. Once a store
// has probed it recent_ids_min / 2 times (a bootstrap or a long catch-up, not a short sync), the
// settled prefixes are read into a sorted array in memory (4 bytes an id, read while the tier is
// still small in a bootstrap) and kept up to date by settling: an id whose prefix is not there is
// not in the tier, and only the rare prefix match is probed.
//
// Invariants (checked when the recent tier is loaded):
//   1. mirror_ids holds exactly (substr(id, 1, 4), seq) for every mirror position <= settled.
//   2. mirror_recent_ids' rows cover settled+1..m, contiguous, in order, each blob a whole
//      number of ids; none when settled == m.
//   3. In memory, recent_[i] is the id at settled+1+i; ids_flushed_ of them are on disk, the rest
//      were appended by the open transaction and are written before it commits (flush).
//
// Not thread-safe; lives in one LocalStore, whose transaction runner discards it whenever a
// transaction rolls back (the next use loads it again from what was committed).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "opsync/client/store.h"
#include "opsync/protocol/bytes.h"
#include "sqlite.h"

namespace opsync::client::detail {

// Lookups in the settled tier: the prefix's entries, then the whole id on the mirror row. The
// mirror suite checks its query plan (a search of mirror_ids' key, then the mirror's rowid).
inline constexpr const char* kSettledIdLookup =
    "SELECT m.seq FROM mirror_ids i JOIN mirror m ON m.seq = i.seq "
    "WHERE i.id_prefix = substr(?1, 1, 4) AND m.id = ?1";

// The recent tier's bound grows with the settled tier (1/8 of it), so that settling rewrites the
// settled tier's leaves about 8 times per doubling at most, and is capped so that its memory
// (about 24 bytes an id) and the time to load it when a store is opened stay small.
inline constexpr uint32_t kMirrorRecentIdsCap = 262'144;
inline constexpr uint32_t kMirrorRecentIdsPerRow = 1'024;  // ids in one mirror_recent_ids blob
static_assert(kMirrorRecentIdsMin <= kMirrorRecentIdsCap);
// Beyond this many settled ids (32 MiB of prefixes) their prefixes are not held in memory.
inline constexpr uint64_t kMirrorSettledPrefixesMax = 8'388'608;

class MirrorIds {
 public:
  // Reads the recent tier. REQUIRES: inside a transaction; `mirror_size` is the mirror's.
  static MirrorIds load(sql::Connection& db, uint64_t mirror_size, uint32_t recent_ids_min);

  // The mirror position holding `id`, or nullopt.
  std::optional<uint64_t> find(sql::Connection& db, const OpId& id);

  // Records `id` at `seq`, the position after the last one. Written by flush.
  void append(const OpId& id, uint64_t seq);

  // The mirror now ends at `size` (truncate_mirror): forgets every position beyond it.
  void truncate(sql::Connection& db, uint64_t size);

  // Writes what the open transaction appended, settling the recent tier if it is due. Called by
  // the transaction runner before every commit of a write transaction.
  void flush(sql::Connection& db);

  uint64_t end() const { return settled_ + recent_.size(); }
  uint64_t settled() const { return settled_; }
  size_t recent_size() const { return recent_.size(); }

 private:
  MirrorIds(uint64_t settled, uint32_t recent_ids_min)
      : settled_(settled), recent_ids_min_(recent_ids_min) {}

  uint64_t recent_ids_max() const;
  void index(size_t i);
  void rehash(size_t capacity);
  void settle(sql::Connection& db);
  void read_settled_prefixes(sql::Connection& db);

  uint64_t settled_;
  uint32_t recent_ids_min_;
  std::vector<OpId> recent_;
  size_t ids_flushed_ = 0;
  bool rewrite_recent_rows_ = false;  // after a truncation: the rows on disk no longer match
  // Open addressing with linear probing over recent_: 0 is an empty slot, i + 1 names recent_[i].
  // At most half full.
  std::vector<uint32_t> slots_;
  // The settled tier's id prefixes (big-endian), sorted, once read; see above.
  std::optional<std::vector<uint32_t>> settled_prefixes_;
  uint64_t settled_probes_ = 0;  // B-tree probes of the settled tier by this object
};

}  // namespace opsync::client::detail
