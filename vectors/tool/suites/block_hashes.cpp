// block_hashes.json: chained block hashes and prefix hashes over a log (spec 7.4).
#include <algorithm>

#include "opsync/protocol/blocks.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/sha256.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "block_hashes";
constexpr std::string_view kAlgorithm = "BlockHashes";
constexpr uint64_t kSeed = 0xb10c;

constexpr std::string_view kTag = "opsync/v1 block";

std::vector<Hash> random_hashes(SeededRandom& random, size_t count) {
  std::vector<Hash> out(count);
  for (Hash& h : out) h = random.fixed<32>();
  return out;
}

Json hash_list(std::span<const Hash> hashes) {
  Json out = Json::array();
  for (const Hash& h : hashes) out.push_back(hex(h));
  return out;
}

void add_log(TestGroup& group, uint32_t block_size, std::string id, std::string comment,
             std::vector<std::string> flags, std::span<const Hash> op_hashes,
             std::vector<uint64_t> positions) {
  const std::vector<Hash> blocks = compute_block_hashes(op_hashes, block_size);
  Json prefixes = Json::array();
  for (uint64_t s : positions)
    prefixes.push_back(
        Json{{"position", s}, {"hash", hex(prefix_hash(blocks, op_hashes, s, block_size))}});
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), true,
                     Json{{"opHashes", hash_list(op_hashes)},
                          {"blockHashes", hash_list(blocks)},
                          {"prefixHashes", std::move(prefixes)}}});
}

// How a block's hash is computed: the spec's way and the ways it rules out.
enum class Chaining {
  kSpec,
  kUnchainedConcatenation,  // Dataans: SHA-256(op hashes), no tag, no previous hash
  kTagWithoutZeroByte,
  kNoTag,
  kPreviousAfterOpHashes,
  kEveryBlockFromZero,   // tagged, but each block "chained" to zeros
  kChainedToLastOpHash,  // the previous block's last op hash instead of its block hash
  kOpHashesReversed,
};

std::vector<Hash> blocks_chained_as(Chaining chaining, std::span<const Hash> op_hashes,
                                    uint32_t block_size) {
  std::vector<Hash> blocks;
  Hash previous;          // zeros
  Hash previous_last_op;  // zeros
  Sha256 hasher;
  for (size_t start = 0; start + block_size <= op_hashes.size(); start += block_size) {
    std::vector<Hash> ops(op_hashes.begin() + static_cast<std::ptrdiff_t>(start),
                          op_hashes.begin() + static_cast<std::ptrdiff_t>(start + block_size));
    auto add_ops = [&] {
      for (const Hash& h : ops) hasher.update(h.view());
    };
    const Bytes tag_with_zero = [] {
      Bytes tag = to_bytes(kTag);
      tag.push_back(0);
      return tag;
    }();
    switch (chaining) {
      case Chaining::kSpec:
        hasher.update(tag_with_zero).update(previous.view());
        add_ops();
        break;
      case Chaining::kUnchainedConcatenation:
        add_ops();
        break;
      case Chaining::kTagWithoutZeroByte:
        hasher.update(kTag).update(previous.view());
        add_ops();
        break;
      case Chaining::kNoTag:
        hasher.update(previous.view());
        add_ops();
        break;
      case Chaining::kPreviousAfterOpHashes:
        hasher.update(tag_with_zero);
        add_ops();
        hasher.update(previous.view());
        break;
      case Chaining::kEveryBlockFromZero:
        hasher.update(tag_with_zero).update(Hash{}.view());
        add_ops();
        break;
      case Chaining::kChainedToLastOpHash:
        hasher.update(tag_with_zero).update(previous_last_op.view());
        add_ops();
        break;
      case Chaining::kOpHashesReversed:
        std::reverse(ops.begin(), ops.end());
        hasher.update(tag_with_zero).update(previous.view());
        add_ops();
        break;
    }
    previous = hasher.finish();
    previous_last_op = op_hashes[start + block_size - 1];
    blocks.push_back(previous);
  }
  return blocks;
}

void add_claim(TestGroup& group, uint32_t block_size, std::string id, std::string comment,
               std::vector<std::string> flags, std::span<const Hash> op_hashes,
               const std::vector<Hash>& claimed) {
  require(claimed != compute_block_hashes(op_hashes, block_size),
          id + ": the claimed block hashes are the correct ones");
  group.add(
      TestCase{std::move(id), std::move(comment), std::move(flags), false,
               Json{{"opHashes", hash_list(op_hashes)}, {"blockHashes", hash_list(claimed)}}});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"Block hashes and prefix hashes over a log of operation hashes (spec 7.4, LOG-030).",
       "prefix_hash(0) = 32 zero bytes; prefix_hash(s) = SHA-256(\"opsync/v1 block\" || 0x00 || "
       "prefix_hash(b*N) || op_hash(b*N+1) || ... || op_hash(s)) with b = (s-1) div N; "
       "block_hash(b) = prefix_hash((b+1)*N).",
       "Each group shares a block size N. opHashes are the log's operation hashes in order "
       "(seq 1 first); they are random stand-ins, since block hashing never looks inside them.",
       "Binary values are lowercase hex.",
       "Valid cases: blockHashes lists the hashes of the complete blocks (floor(len / N) of "
       "them), and prefixHashes gives prefix_hash at chosen positions, including 0, positions "
       "inside a block, block ends and the log's end.",
       "Invalid cases: blockHashes is a claimed list computed a wrong way; an implementation "
       "must compute a different list from opHashes, so it does not accept the claim.",
       "OperationLogTest groups give the log as `ops`, wire operations in the JSON of spec 6.1 "
       "(binary fields base64url there, as on the wire), in the order a server accepts them; "
       "opHashes are then the expected op hashes of those operations."});
  file.note("Chained", "BASIC", "Block and prefix hashes chained as in spec 7.4.");
  file.note("BlockBoundary", "EDGE_CASE",
            "Prefix hashes at 0, at block ends and just after them, where an off-by-one in "
            "b = (s-1) div N shows.");
  file.note("PartialBlock", "EDGE_CASE",
            "Prefix hashes inside a block, or a log that ends inside a block: the hash chains "
            "from the last complete block over the operations so far.");
  file.note("ReferenceBlockSize", "FUNCTIONALITY",
            "Block size 256, what the reference server gives new workspaces.");
  file.note("UnchainedDataans", "KNOWN_BUG",
            "Dataans hashed each block as SHA-256 of its concatenated operation hashes, without "
            "tag or chaining, so equal block hashes said nothing about earlier blocks (spec 15, "
            "items 5 and 6).");
  file.note("MissingZeroByte", "MISSING_STEP", "The tag without the 0x00 byte after it.");
  file.note("MissingTag", "MISSING_STEP", "No domain tag at all, only the chaining.");
  file.note("WrongPrevious", "MODIFIED_PARAMETER",
            "Chained to something other than the previous block's hash.");
  file.note("WrongOrder", "MODIFIED_PARAMETER", "The right inputs in the wrong order.");
  file.note(
      "FromOperations", "FUNCTIONALITY",
      "The log is given as wire operations (spec 6.1 JSON, base64url like on the wire), so a "
      "server can be fed them and compared: every op hash must be computed from the operation.");
  file.note("TimestampOrder", "KNOWN_BUG",
            "Block hashes over operations sorted by their clocks (Dataans) instead of the server's "
            "acceptance order.");
  file.note("IncompleteBlock", "EDGE_CASE",
            "A list with a hash for the incomplete last block, or without the last complete "
            "one: block hashes cover complete blocks only (LOG-031).");

  SeededRandom random(kSeed);
  {
    TestGroup& group = file.group(Json{{"type", "BlockHashTest"}, {"blockSize", 1}});
    add_log(group, 1, "block-hashes/n1-empty-log",
            "An empty log: no blocks; prefix_hash(0) is zeros.", {"BlockBoundary"}, {}, {0});
    add_log(group, 1, "block-hashes/n1-one-op", "One operation is one complete block.",
            {"Chained", "BlockBoundary"}, random_hashes(random, 1), {0, 1});
    add_log(group, 1, "block-hashes/n1-four-ops", "Every position is a block end.",
            {"Chained", "BlockBoundary"}, random_hashes(random, 4), {0, 1, 2, 3, 4});
  }
  {
    TestGroup& group = file.group(Json{{"type", "BlockHashTest"}, {"blockSize", 2}});
    add_log(group, 2, "block-hashes/n2-five-ops",
            "Two complete blocks and one operation of a third; every position.",
            {"Chained", "BlockBoundary", "PartialBlock"}, random_hashes(random, 5),
            {0, 1, 2, 3, 4, 5});
  }
  {
    TestGroup& group = file.group(Json{{"type", "BlockHashTest"}, {"blockSize", 3}});
    add_log(group, 3, "block-hashes/n3-six-ops", "A log that ends on a block end.",
            {"Chained", "BlockBoundary", "PartialBlock"}, random_hashes(random, 6),
            {0, 1, 2, 3, 4, 5, 6});
    add_log(group, 3, "block-hashes/n3-seven-ops", "A log that ends one past a block end.",
            {"Chained", "BlockBoundary", "PartialBlock"}, random_hashes(random, 7),
            {0, 1, 2, 3, 4, 5, 6, 7});
  }
  {
    TestGroup& group = file.group(Json{{"type", "BlockHashTest"}, {"blockSize", 256}});
    add_log(group, 256, "block-hashes/n256-255-ops",
            "One operation short of the first complete block: no block hashes yet.",
            {"ReferenceBlockSize", "PartialBlock"}, random_hashes(random, 255),
            {0, 1, 128, 254, 255});
    add_log(group, 256, "block-hashes/n256-513-ops",
            "Two complete blocks and one operation of a third.",
            {"ReferenceBlockSize", "Chained", "BlockBoundary", "PartialBlock"},
            random_hashes(random, 513), {0, 1, 128, 255, 256, 257, 384, 511, 512, 513});
  }
  {
    // Every wrong way on one log of 7 operations with N = 3: two complete blocks and a third
    // started, so that chaining and block counting both matter.
    constexpr uint32_t kBlockSize = 3;
    TestGroup& group = file.group(Json{{"type", "BlockHashTest"}, {"blockSize", kBlockSize}});
    const std::vector<Hash> log = random_hashes(random, 7);
    require(blocks_chained_as(Chaining::kSpec, log, kBlockSize) ==
                compute_block_hashes(log, kBlockSize),
            "the spec's chaining written out here disagrees with compute_block_hashes");
    auto claim = [&](std::string id, std::string comment, std::string flag, Chaining chaining) {
      add_claim(group, kBlockSize, std::move(id), std::move(comment), {std::move(flag)}, log,
                blocks_chained_as(chaining, log, kBlockSize));
    };
    claim("block-hashes/unchained-concatenation-dataans",
          "block_hash(b) = SHA-256(op hashes of block b): no tag, no chaining.", "UnchainedDataans",
          Chaining::kUnchainedConcatenation);
    claim("block-hashes/tag-without-zero-byte",
          "SHA-256(\"opsync/v1 block\" || previous || op hashes), the 0x00 left out.",
          "MissingZeroByte", Chaining::kTagWithoutZeroByte);
    claim("block-hashes/no-tag", "SHA-256(previous || op hashes).", "MissingTag", Chaining::kNoTag);
    claim("block-hashes/every-block-chained-to-zeros",
          "Tagged, but every block takes 32 zero bytes as its previous hash; the first block is "
          "right, the second is not.",
          "WrongPrevious", Chaining::kEveryBlockFromZero);
    claim("block-hashes/chained-to-last-op-hash",
          "Each block chained to the last operation hash of the block before it instead of that "
          "block's hash.",
          "WrongPrevious", Chaining::kChainedToLastOpHash);
    claim("block-hashes/previous-after-op-hashes", "SHA-256(tag || 0x00 || op hashes || previous).",
          "WrongOrder", Chaining::kPreviousAfterOpHashes);
    claim("block-hashes/op-hashes-reversed", "Each block's operation hashes in reverse order.",
          "WrongOrder", Chaining::kOpHashesReversed);
    std::vector<Hash> with_partial = compute_block_hashes(log, kBlockSize);
    with_partial.push_back(prefix_hash(with_partial, log, log.size(), kBlockSize));
    add_claim(group, kBlockSize, "block-hashes/incomplete-last-block-listed",
              "The right two block hashes followed by prefix_hash(7), as if the third block were "
              "complete.",
              {"IncompleteBlock"}, log, with_partial);
    std::vector<Hash> missing_last = compute_block_hashes(log, kBlockSize);
    missing_last.pop_back();
    add_claim(group, kBlockSize, "block-hashes/last-complete-block-left-out",
              "Only the first block hash: the second block is complete and must be listed.",
              {"IncompleteBlock"}, log, missing_last);
  }
  {
    // Whole operations, as a server receives them: upload `ops` in order to a workspace of block
    // size 4 and its log must answer exactly these hashes.
    constexpr uint32_t kBlockSize = 4;
    TestGroup& group = file.group(Json{{"type", "OperationLogTest"}, {"blockSize", kBlockSize}});
    UploadOpsRequest upload;
    std::vector<Hash> op_hashes;
    for (int i = 0; i < 10; ++i) {
      WireOp op;
      op.id = random.id();
      op.device_id = random.id();
      // Clocks out of acceptance order, as with devices whose clocks disagree.
      op.hlc =
          Hlc{1'700'000'000'000 + random.below(1'000'000), static_cast<uint32_t>(random.below(3))};
      op.key_id = 1;
      op.payload = random.bytes(28 + random.below(100));
      op_hashes.push_back(op_hash(op));
      upload.ops.push_back(std::move(op));
    }
    const Json ops = Json::parse(serialize_message(upload))["ops"];
    const std::vector<Hash> blocks = compute_block_hashes(op_hashes, kBlockSize);
    Json prefixes = Json::array();
    for (uint64_t s = 0; s <= op_hashes.size(); ++s)
      prefixes.push_back(
          Json{{"position", s}, {"hash", hex(prefix_hash(blocks, op_hashes, s, kBlockSize))}});
    group.add(TestCase{
        "block-hashes/operations-in-acceptance-order",
        "Ten operations uploaded in this order: their hashes, the two complete blocks and the "
        "prefix hash at every position, as GET /ops (after_hash) and GET /blocks report them.",
        {"Chained", "FromOperations", "PartialBlock"},
        true,
        Json{{"ops", ops},
             {"opHashes", hash_list(op_hashes)},
             {"blockHashes", hash_list(blocks)},
             {"prefixHashes", std::move(prefixes)}}});
    // Dataans ordered the log by timestamp; OpSync's blocks follow the server's acceptance order.
    std::vector<size_t> by_clock(op_hashes.size());
    for (size_t i = 0; i < by_clock.size(); ++i) by_clock[i] = i;
    std::stable_sort(by_clock.begin(), by_clock.end(),
                     [&](size_t a, size_t b) { return upload.ops[a].hlc < upload.ops[b].hlc; });
    std::vector<Hash> sorted_hashes;
    for (size_t i : by_clock) sorted_hashes.push_back(op_hashes[i]);
    const std::vector<Hash> claimed = compute_block_hashes(sorted_hashes, kBlockSize);
    require(claimed != blocks, "sorting by clock left the blocks unchanged; pick other clocks");
    group.add(TestCase{
        "block-hashes/operations-sorted-by-timestamp",
        "The same operations, block hashes computed after sorting them by clock as Dataans "
        "did: blocks are cut over the order the server accepted operations in (LOG-010).",
        {"TimestampOrder"},
        false,
        Json{{"ops", ops}, {"blockHashes", hash_list(claimed)}}});
  }
  return file.finish();
}

std::vector<Hash> read_hash_list(const Json& test, std::string_view name) {
  std::vector<Hash> out;
  const Json& items = read_array(test, name);
  for (size_t i = 0; i < items.size(); ++i)
    out.push_back(fixed_element<32>(items[i], std::string(name) + "[" + std::to_string(i) + "]"));
  return out;
}

void check_block_hashes(const Json& group, const Json& test, Findings& findings) {
  const uint32_t block_size = static_cast<uint32_t>(read_uint(group, "blockSize", kBlockSizeMax));
  if (block_size < kBlockSizeMin) throw MalformedVector("blockSize must be at least 1");
  const std::vector<Hash> op_hashes = read_hash_list(test, "opHashes");
  const std::vector<Hash> claimed = read_hash_list(test, "blockHashes");
  const std::vector<Hash> computed = compute_block_hashes(op_hashes, block_size);
  if (!read_expects_valid(test)) {
    if (claimed == computed) findings.add("the library computes the claimed (wrong) block hashes");
    return;
  }
  findings.expect_equal("blockHashes", claimed, computed);

  // Two ways to the same prefix hashes: from stored block hashes, and appending one by one.
  BlockChainer chainer(block_size);
  std::vector<Hash> heads = {chainer.head_hash()};
  for (const Hash& h : op_hashes) {
    chainer.append(h);
    heads.push_back(chainer.head_hash());
  }
  findings.expect_equal("blockHashes from BlockChainer", claimed, chainer.block_hashes());
  for (const Json& entry : read_array(test, "prefixHashes")) {
    const uint64_t s = read_uint(entry, "position", op_hashes.size());
    const Hash expected = read_fixed<32>(entry, "hash");
    const std::string what = "prefix hash at " + std::to_string(s);
    findings.expect_equal(what, expected, prefix_hash(computed, op_hashes, s, block_size));
    findings.expect_equal(what + " from BlockChainer", expected, heads[s]);
  }
}

// The operations of an OperationLogTest, parsed as the body of an upload would be.
std::vector<WireOp> read_ops(const Json& test) {
  Result<UploadOpsRequest> upload =
      parse_message<UploadOpsRequest>(Json{{"ops", read_array(test, "ops")}}.dump());
  if (!upload.ok()) throw MalformedVector("ops: " + upload.error().to_string());
  return upload->ops;
}

void check_operation_log(const Json& group, const Json& test, Findings& findings) {
  const uint32_t block_size = static_cast<uint32_t>(read_uint(group, "blockSize", kBlockSizeMax));
  if (block_size < kBlockSizeMin) throw MalformedVector("blockSize must be at least 1");
  std::vector<Hash> op_hashes;
  for (const WireOp& op : read_ops(test)) op_hashes.push_back(op_hash(op));
  const std::vector<Hash> claimed = read_hash_list(test, "blockHashes");
  const std::vector<Hash> computed = compute_block_hashes(op_hashes, block_size);
  if (!read_expects_valid(test)) {
    if (claimed == computed) findings.add("the library computes the claimed (wrong) block hashes");
    return;
  }
  findings.expect_equal("opHashes", read_hash_list(test, "opHashes"), op_hashes);
  findings.expect_equal("blockHashes", claimed, computed);
  for (const Json& entry : read_array(test, "prefixHashes")) {
    const uint64_t s = read_uint(entry, "position", op_hashes.size());
    findings.expect_equal("prefix hash at " + std::to_string(s), read_fixed<32>(entry, "hash"),
                          prefix_hash(computed, op_hashes, s, block_size));
  }
}

}  // namespace

Suite block_hashes_suite() {
  return Suite{
      kName,
      kAlgorithm,
      &generate,
      {{"BlockHashTest", &check_block_hashes}, {"OperationLogTest", &check_operation_log}}};
}

}  // namespace opsync::vectors
