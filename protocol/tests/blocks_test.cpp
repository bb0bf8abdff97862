// Block and prefix hashes (spec 7.4): the definition, the incremental builder, and the chaining
// property the diff relies on.
#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>

#include "opsync/protocol/blocks.h"
#include "opsync/protocol/random.h"
#include "opsync/protocol/sha256.h"
#include "property_support.h"
#include "test_support.h"

using namespace opsync;

namespace {

std::vector<Hash> random_hashes(size_t count, uint64_t seed) {
  SeededRandom random(seed);
  std::vector<Hash> hashes(count);
  for (Hash& h : hashes) h = random.fixed<32>();
  return hashes;
}

// The spec's formula written out once more, independently of blocks.cpp.
Hash spec_prefix_hash(const std::vector<Hash>& op_hashes, uint64_t s, uint32_t n) {
  if (s == 0) return Hash{};
  const uint64_t block = (s - 1) / n;
  Bytes input = to_bytes("opsync/v1 block");
  input.push_back(0);
  const Hash previous = spec_prefix_hash(op_hashes, block * n, n);
  append_bytes(input, previous.view());
  for (uint64_t i = block * n; i < s; ++i) append_bytes(input, op_hashes[i].view());
  return sha256(input);
}

// Dataans' block hash: SHA-256 of the block's op hashes, not chained to earlier blocks.
std::vector<Hash> unchained_block_hashes(std::span<const Hash> op_hashes, uint32_t n) {
  std::vector<Hash> blocks;
  for (size_t b = 0; b + 1 <= op_hashes.size() / n; ++b) {
    Sha256 hasher;
    for (size_t i = b * n; i < (b + 1) * n; ++i) hasher.update(op_hashes[i].view());
    blocks.push_back(hasher.finish());
  }
  return blocks;
}

using BlockHasher = std::vector<Hash> (*)(std::span<const Hash>, uint32_t);

// The property the diff depends on (SYNC-002): two logs that differ at some position have
// different hashes for every complete block from that position on, so the equal blocks form a
// prefix and one equal hash verifies everything before it.
void equal_block_hash_verifies_prefix(BlockHasher block_hashes) {
  const uint32_t n = *rc::gen::inRange<uint32_t>(1, 9);
  const size_t length = *rc::gen::inRange<size_t>(n, 12 * n);
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  std::vector<Hash> log_a = random_hashes(length, seed);
  std::vector<Hash> log_b = log_a;
  const size_t changed = *rc::gen::inRange<size_t>(0, length);
  log_b[changed].bytes[0] ^= 1;

  const std::vector<Hash> blocks_a = block_hashes(log_a, n);
  const std::vector<Hash> blocks_b = block_hashes(log_b, n);
  RC_ASSERT(blocks_a.size() == blocks_b.size());
  for (size_t b = 0; b < blocks_a.size(); ++b) {
    const bool block_covers_change = (b + 1) * n > changed;
    RC_ASSERT((blocks_a[b] == blocks_b[b]) == !block_covers_change);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(blocks)

BOOST_AUTO_TEST_CASE(empty_log_hashes_to_zeros) {
  BOOST_TEST(prefix_hash({}, {}, 0, 256).is_zero());
  BOOST_TEST(compute_block_hashes({}, 4).empty());
  BlockChainer chainer(4);
  BOOST_TEST(chainer.head_hash().is_zero());
}

BOOST_AUTO_TEST_CASE(matches_the_spec_formula_at_every_position) {
  for (uint32_t n : {1u, 2u, 3u, 5u}) {
    const std::vector<Hash> ops = random_hashes(17, n);
    const std::vector<Hash> blocks = compute_block_hashes(ops, n);
    BOOST_TEST(blocks.size() == 17u / n);
    for (uint64_t s = 0; s <= ops.size(); ++s)
      BOOST_TEST(prefix_hash(blocks, ops, s, n) == spec_prefix_hash(ops, s, n),
                 "n=" << n << " s=" << s);
    for (size_t b = 0; b < blocks.size(); ++b)
      BOOST_TEST(blocks[b] == spec_prefix_hash(ops, (b + 1) * n, n));
  }
}

BOOST_AUTO_TEST_CASE(incremental_chainer_matches_batch_computation) {
  const uint32_t n = 4;
  const std::vector<Hash> ops = random_hashes(23, 7);
  BlockChainer chainer(n);
  size_t completed = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (chainer.append(ops[i])) ++completed;
    BOOST_TEST(chainer.head_hash() == spec_prefix_hash(ops, i + 1, n));
  }
  BOOST_TEST(completed == 5u);
  BOOST_TEST(chainer.block_hashes() == compute_block_hashes(ops, n));
  BOOST_TEST(chainer.length() == 23u);
}

BOOST_AUTO_TEST_CASE(prefix_chainer_matches_the_spec_formula_from_any_resume_point) {
  // A device resumes appending after a restart with the last block hash and its open block: every
  // resume point and every position after it must give the formula's prefix hash.
  for (uint32_t n : {1u, 2u, 3u, 5u, 8u}) {
    const std::vector<Hash> ops = random_hashes(19, 100 + n);
    for (uint64_t resume = 0; resume <= ops.size(); ++resume) {
      const uint64_t block_start = resume - resume % n;
      PrefixChainer chainer(n, spec_prefix_hash(ops, block_start, n),
                            std::span(ops).subspan(block_start, resume - block_start));
      for (uint64_t s = resume + 1; s <= ops.size(); ++s)
        BOOST_TEST(chainer.append(ops[s - 1]) == spec_prefix_hash(ops, s, n),
                   "n=" << n << " resume=" << resume << " s=" << s);
    }
  }
}

BOOST_AUTO_TEST_CASE(digest_leaves_the_hasher_as_it_was) {
  Sha256 hasher;
  hasher.update(std::string_view("opsync"));
  BOOST_TEST(hasher.digest() == sha256(std::string_view("opsync")));
  hasher.update(std::string_view(" log"));
  BOOST_TEST(hasher.digest() == sha256(std::string_view("opsync log")));
  BOOST_TEST(hasher.finish() == sha256(std::string_view("opsync log")));
}

BOOST_AUTO_TEST_CASE(domain_tag_includes_the_zero_byte) {
  // Leaving out the zero byte after the tag is a plausible implementer's mistake: the
  // hash must differ from that variant.
  const std::vector<Hash> ops = random_hashes(1, 3);
  Bytes without_zero = to_bytes("opsync/v1 block");
  append_bytes(without_zero, Hash{}.view());
  append_bytes(without_zero, ops[0].view());
  BOOST_TEST(compute_block_hashes(ops, 1)[0] != sha256(without_zero));
}

RC_BOOST_PROP(equal_chained_block_hash_verifies_the_prefix, ()) {
  equal_block_hash_verifies_prefix(&compute_block_hashes);
}

BOOST_AUTO_TEST_CASE(unchained_block_hashes_fail_the_prefix_property) {
  // Dataans' unchained blocks: a change in block 0 leaves later block hashes equal, so an equal
  // block says nothing about the blocks before it.
  BOOST_TEST(testing::finds_counterexample("unchained block hashes verify prefixes", [] {
    equal_block_hash_verifies_prefix(&unchained_block_hashes);
  }));
}

BOOST_AUTO_TEST_SUITE_END()
