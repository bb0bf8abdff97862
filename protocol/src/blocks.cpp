#include "opsync/protocol/blocks.h"

#include "opsync/protocol/check.h"
#include "opsync/protocol/sha256.h"

namespace opsync {
namespace {

// "opsync/v1 block" followed by one zero byte (spec 7.4).
constexpr char kBlockTag[] = "opsync/v1 block";
constexpr size_t kBlockTagBytes = sizeof kBlockTag;  // includes the terminating zero byte

}  // namespace

Hash chain_block(const Hash& previous_block_hash, std::span<const Hash> op_hashes_in_block) {
  OPSYNC_CHECK(!op_hashes_in_block.empty());
  thread_local Sha256 hasher;
  hasher.update(kBlockTag, kBlockTagBytes);
  hasher.update(previous_block_hash.view());
  // Hashes are contiguous 32-byte arrays: feed them in one call.
  static_assert(sizeof(Hash) == 32);
  hasher.update(op_hashes_in_block.data(), op_hashes_in_block.size() * sizeof(Hash));
  return hasher.finish();
}

std::vector<Hash> compute_block_hashes(std::span<const Hash> op_hashes, uint32_t block_size) {
  OPSYNC_CHECK(block_size > 0);
  const size_t block_count = op_hashes.size() / block_size;
  std::vector<Hash> blocks;
  blocks.reserve(block_count);
  Hash previous;  // zeros
  for (size_t b = 0; b < block_count; ++b) {
    previous = chain_block(previous, op_hashes.subspan(b * block_size, block_size));
    blocks.push_back(previous);
  }
  return blocks;
}

Hash prefix_hash(std::span<const Hash> block_hashes, std::span<const Hash> op_hashes, uint64_t s,
                 uint32_t block_size) {
  OPSYNC_CHECK(block_size > 0);
  OPSYNC_CHECK(s <= op_hashes.size());
  if (s == 0) return Hash{};
  const uint64_t block = (s - 1) / block_size;
  const uint64_t block_start = block * block_size;
  if (s == block_start + block_size && block < block_hashes.size()) return block_hashes[block];
  OPSYNC_CHECK_MSG(block <= block_hashes.size(), "block hashes missing before position");
  const Hash previous = block == 0 ? Hash{} : block_hashes[block - 1];
  return chain_block(previous, op_hashes.subspan(block_start, s - block_start));
}

PrefixChainer::PrefixChainer(uint32_t block_size, const Hash& last_block_hash,
                             std::span<const Hash> open_block)
    : block_size_(block_size) {
  OPSYNC_CHECK(block_size_ > 0);
  OPSYNC_CHECK_MSG(open_block.size() < block_size_, "an open block must be incomplete");
  this->open_block(last_block_hash);
  hasher_.update(open_block.data(), open_block.size() * sizeof(Hash));
  open_count_ = static_cast<uint32_t>(open_block.size());
}

void PrefixChainer::open_block(const Hash& previous_block_hash) {
  hasher_.update(kBlockTag, kBlockTagBytes);
  hasher_.update(previous_block_hash.view());
  open_count_ = 0;
}

Hash PrefixChainer::append(const Hash& op_hash) {
  hasher_.update(op_hash.view());
  ++open_count_;
  if (open_count_ < block_size_) return hasher_.digest();
  // The block is complete: its hash is the prefix hash here and the start of the next block.
  const Hash block_hash = hasher_.finish();
  open_block(block_hash);
  return block_hash;
}

BlockChainer::BlockChainer(uint32_t block_size)
    : block_size_(block_size), prefixes_(block_size, Hash{}, {}) {}

bool BlockChainer::append(const Hash& op_hash) {
  head_hash_ = prefixes_.append(op_hash);
  ++length_;
  if (length_ % block_size_ != 0) return false;
  block_hashes_.push_back(head_hash_);
  return true;
}

}  // namespace opsync
