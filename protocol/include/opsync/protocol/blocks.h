// Block hashes and prefix hashes over a log (spec 7.4).
//
//   prefix_hash(0) = 32 zero bytes
//   prefix_hash(s) = SHA-256("opsync/v1 block" 0x00 || prefix_hash(b*N) || op_hash(b*N+1..s)),
//                    b = (s-1) div N
//   block_hash(b)  = prefix_hash((b+1)*N)
//
// Hashes chain, so equal prefix hashes at s mean equal logs at 1..s.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/sha256.h"

namespace opsync {

// prefix_hash of a position inside block b, given the hash of the block before it
// (`previous_block_hash`, zeros for b = 0) and the hashes of the block's operations up to the
// position (1 to N of them).
Hash chain_block(const Hash& previous_block_hash, std::span<const Hash> op_hashes_in_block);

// Hashes of the complete blocks of a log given all its operation hashes in order.
std::vector<Hash> compute_block_hashes(std::span<const Hash> op_hashes, uint32_t block_size);

// prefix_hash(s) of a log, given its complete block hashes and all its operation hashes.
// Touches at most N - 1 operation hashes. REQUIRES: s <= op_hashes.size().
Hash prefix_hash(std::span<const Hash> block_hashes, std::span<const Hash> op_hashes, uint64_t s,
                 uint32_t block_size);

// Prefix hashes of consecutive positions as operations are appended (what a device stores beside
// each operation of its mirror). Each append costs one hash update and one digest, not a rehash
// of the open block: it keeps the hash state over the block so far.
class PrefixChainer {
 public:
  // Resumes at the end of a log whose last complete block ends with `last_block_hash` (zeros when
  // there is none) and whose open block holds `open_block` (fewer than block_size op hashes).
  PrefixChainer(uint32_t block_size, const Hash& last_block_hash, std::span<const Hash> open_block);

  // Appends one operation hash and returns prefix_hash of the new length.
  Hash append(const Hash& op_hash);

 private:
  void open_block(const Hash& previous_block_hash);

  uint32_t block_size_;
  uint32_t open_count_ = 0;  // operation hashes fed since the last block boundary
  Sha256 hasher_;            // tag, previous block hash and the open block's op hashes so far
};

// Builds block hashes incrementally as operations are appended (what a server keeps, LOG-032),
// with the prefix hash at the end, on a PrefixChainer.
class BlockChainer {
 public:
  explicit BlockChainer(uint32_t block_size);

  // Appends one operation hash; returns true when it completed a block.
  bool append(const Hash& op_hash);
  uint32_t block_size() const { return block_size_; }
  uint64_t length() const { return length_; }
  const std::vector<Hash>& block_hashes() const { return block_hashes_; }
  // prefix_hash(length()).
  Hash head_hash() const { return head_hash_; }

 private:
  uint32_t block_size_;
  uint64_t length_ = 0;
  PrefixChainer prefixes_;
  Hash head_hash_;  // zeros for the empty log
  std::vector<Hash> block_hashes_;
};

}  // namespace opsync
