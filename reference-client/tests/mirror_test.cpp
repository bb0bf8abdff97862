// The device's copy of the log (spec 9): the mirror's prefix and block hashes are the protocol's,
// a divergence turns the mirror's tail into candidates that later pages acknowledge, upload
// answers move operations where SYNC-006 and SYNC-011 say, and the mirror stays a dense prefix.
#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "client_test_support.h"
#include "opsync/protocol/blocks.h"
#include "property_support.h"
#include "store_impl.h"

using namespace opsync;
using namespace opsync::client;
using namespace opsync::client::testing;

namespace {

ObjectOp foreign(uint8_t n, uint64_t wall_ms, std::string key = "k") {
  return make_object(id_of(0xF0, n), {wall_ms, 0}, std::move(key), OpType::kPut, {},
                     "f" + std::to_string(n));
}
ObjectOp mine(uint8_t n, uint64_t wall_ms, std::string key = "k") {
  return make_object(id_of(0x10, n), {wall_ms, 0}, std::move(key), OpType::kPut, {},
                     "m" + std::to_string(n));
}

// Applies foreign operations as one page at the mirror's end.
PageOutcome read_foreign(LocalStore& store, const std::vector<ObjectOp>& ops,
                         uint64_t head_seq = 0) {
  const uint64_t after = must(store.mirror_size());
  std::vector<PageOp> page;
  for (const ObjectOp& op : ops)
    page.push_back(page_op(after + page.size() + 1, op, other_device()));
  Hlc clock = must(store.meta()).hlc;
  for (const ObjectOp& op : ops) clock = std::max(clock, op.hlc);
  return must(
      store.apply_page(after, page, std::max<uint64_t>(head_seq, after + ops.size()), clock));
}

std::vector<OpId> ids(const std::vector<PendingOp>& pending) {
  std::vector<OpId> out;
  for (const PendingOp& p : pending) out.push_back(p.op.id);
  return out;
}

std::vector<Hash> mirror_op_hashes(LocalStore& store) {
  std::vector<Hash> out;
  const uint64_t m = must(store.mirror_size());
  for (uint64_t seq = 1; seq <= m; ++seq) out.push_back(op_hash(must(store.mirror_op(seq))->op));
  return out;
}

Hash hash_from_hex(const std::string& text) { return fixed_from_hex<32>(text).value(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(mirror)

BOOST_AUTO_TEST_CASE(prefix_and_block_hashes_match_the_test_vectors) {
  std::ifstream file("vectors/block_hashes.json");
  BOOST_REQUIRE(file.good());
  const nlohmann::json vectors = nlohmann::json::parse(file);
  size_t checked = 0;
  for (const auto& group : vectors["testGroups"]) {
    if (group["type"] != "OperationLogTest") continue;
    for (const auto& test : group["tests"]) {
      if (test["result"] != "valid") continue;
      TempDir dir;
      const uint32_t block_size = group["blockSize"];
      auto store = create_store(dir.path(), block_size);
      std::vector<PageOp> page;
      for (const auto& op : test["ops"]) {
        WireOp wire;
        wire.id = fixed_from_base64url<16>(op["id"].get<std::string>()).value();
        wire.device_id = fixed_from_base64url<16>(op["device_id"].get<std::string>()).value();
        wire.hlc = {op["hlc"]["wall_ms"], op["hlc"]["counter"]};
        wire.key_id = op["key_id"];
        wire.payload = from_base64url(op["payload"].get<std::string>()).value();
        // The payloads are sealed under a key this test does not hold: unreadable, which is
        // enough for the log.
        page.push_back(PageOp{SequencedOp{page.size() + 1, wire}, std::nullopt});
      }
      must(store->apply_page(0, page, page.size(), {0, 0}));
      BOOST_TEST_CONTEXT(test["id"].get<std::string>()) {
        for (size_t i = 0; i < page.size(); ++i)
          BOOST_TEST(must(store->lookup(page[i].op.op.id)).hash ==
                     hash_from_hex(test["opHashes"][i]));
        for (const auto& prefix : test["prefixHashes"])
          BOOST_TEST(must(store->prefix_hash(prefix["position"])) == hash_from_hex(prefix["hash"]));
        std::vector<Hash> blocks;
        for (const auto& hash : test["blockHashes"]) blocks.push_back(hash_from_hex(hash));
        BOOST_TEST(must(store->block_hashes(block_size)) == blocks);
        BOOST_TEST(must(store->unreadable_ops()).size() == page.size());
      }
      ++checked;
    }
  }
  BOOST_TEST(checked > 0u);
}

BOOST_AUTO_TEST_CASE(truncating_turns_the_tail_into_candidates_that_later_pages_acknowledge) {
  TempDir dir;
  auto store = create_store(dir.path(), 2);
  const ObjectOp f1 = foreign(1, 10), f2 = foreign(2, 11, "j"), f3 = foreign(3, 12, "j");
  const ObjectOp l1 = mine(1, 20, "l"), l2 = mine(2, 21, "l2");
  must(store->commit_local_edit(local_edit(l1)));
  must(store->commit_local_edit(local_edit(l2)));
  read_foreign(*store, {f1, f2});
  const std::vector<OpResult> first{accepted(l1.id, 3)};
  BOOST_TEST(must(store->record_upload_results(first)).acknowledged == std::vector<OpId>{l1.id});
  read_foreign(*store, {f3});
  const std::vector<OpResult> second{accepted(l2.id, 5)};
  must(store->record_upload_results(second));
  BOOST_REQUIRE_EQUAL(must(store->mirror_size()), 5u);
  const std::vector<std::string> keys_before = must(store->list());

  // The server was restored: only positions 1..2 are verified.
  must(store->truncate_mirror(2));
  BOOST_TEST(must(store->mirror_size()) == 2u);
  for (const ObjectOp& op : {l1, f3, l2})
    BOOST_TEST(must(store->lookup(op.id)).where == Held::kCandidate);
  BOOST_TEST(must(store->lookup(f2.id)).where == Held::kMirror);
  BOOST_TEST(must(store->list()) == keys_before);  // the device holds the same operations

  const ObjectOp l3 = mine(3, 30, "l3");
  must(store->commit_local_edit(local_edit(l3)));
  BOOST_TEST(ids(must(store->ops_to_upload(10))) ==
             (std::vector<OpId>{l1.id, f3.id, l2.id, l3.id}));  // candidates in old order first

  // The restored server now lists f3, a new x, then l1: two acknowledgements and one apply.
  const ObjectOp x = foreign(4, 40, "x");
  std::vector<PageOp> page{page_op(3, f3, other_device()), page_op(4, x, other_device()),
                           page_op(5, l1, this_device())};
  const PageOutcome outcome = must(store->apply_page(2, page, 5, {40, 0}));
  BOOST_TEST(outcome.acknowledged == (std::vector<OpId>{f3.id, l1.id}));
  BOOST_TEST(outcome.applied == std::vector<OpId>{x.id});
  BOOST_TEST(must(store->lookup(l1.id)).seq == 5u);
  BOOST_TEST(ids(must(store->ops_to_upload(10))) == (std::vector<OpId>{l2.id, l3.id}));

  // Prefix hashes are the protocol's over the operations now at 1..5.
  std::vector<Hash> hashes;
  for (const auto& [op, device] : std::vector<std::pair<ObjectOp, DeviceId>>{{f1, other_device()},
                                                                             {f2, other_device()},
                                                                             {f3, other_device()},
                                                                             {x, other_device()},
                                                                             {l1, this_device()}})
    hashes.push_back(op_hash(wire_of(op, device)));
  const std::vector<Hash> blocks = compute_block_hashes(hashes, 2);
  BOOST_TEST(must(store->block_hashes(2)) == blocks);
  for (uint64_t s = 0; s <= 5; ++s)
    BOOST_TEST(must(store->prefix_hash(s)) == opsync::prefix_hash(blocks, hashes, s, 2));
  BOOST_TEST(must(store->block_hashes(3)) == compute_block_hashes(hashes, 3));
}

BOOST_AUTO_TEST_CASE(upload_answers_acknowledge_hold_back_and_report) {
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp a = mine(1, 1), b = mine(2, 2), c = mine(3, 3), d = mine(4, 4), e = mine(5, 5);
  for (const ObjectOp& op : {a, b, c, d, e}) must(store->commit_local_edit(local_edit(op)));

  OpResult dup = accepted(b.id, 2);
  dup.status = OpStatus::kDuplicate;  // SYNC-006: like accepted
  OpResult conflict;
  conflict.id = c.id;
  conflict.status = OpStatus::kRejected;
  conflict.code = Code::kOpIdConflict;
  conflict.message = "known id";
  OpResult skew = conflict;
  skew.id = d.id;
  skew.code = Code::kClockSkew;
  const std::vector<OpResult> results{accepted(a.id, 1), dup, conflict, skew, accepted(e.id, 7)};
  const UploadOutcome outcome = must(store->record_upload_results(results));
  BOOST_TEST(outcome.acknowledged == (std::vector<OpId>{a.id, b.id}));
  BOOST_TEST(outcome.accepted_ahead == std::vector<OpId>{e.id});  // 3..6 came from elsewhere
  BOOST_TEST(outcome.rejected == std::vector<OpId>{c.id});
  BOOST_TEST(outcome.clock_skew == std::vector<OpId>{d.id});
  BOOST_TEST(must(store->mirror_size()) == 2u);

  // SYNC-011: the rejected one is kept and reported, not uploaded; the one accepted ahead waits
  // for the catch-up read; the skewed one is uploaded again (after re-stamping).
  BOOST_TEST(ids(must(store->ops_to_upload(10))) == std::vector<OpId>{d.id});
  const std::vector<RejectedOp> rejected = must(store->rejected_ops());
  BOOST_REQUIRE_EQUAL(rejected.size(), 1u);
  BOOST_TEST(rejected[0].pending.op.id == c.id);
  BOOST_TEST(rejected[0].code == Code::kOpIdConflict);
  BOOST_TEST(rejected[0].message == "known id");
  BOOST_TEST(must(store->lookup(c.id)).where == Held::kOutbox);
  BOOST_TEST(must(store->get("k")).heads.size() == 5u);  // its write still shows

  // Catch-up: 3..6 from another device, then e at 7.
  const std::vector<ObjectOp> others{foreign(1, 1), foreign(2, 2), foreign(3, 3), foreign(4, 4)};
  read_foreign(*store, others, 7);
  BOOST_TEST(must(store->lookup(e.id)).where == Held::kOutbox);
  std::vector<PageOp> page{page_op(7, e, this_device())};
  BOOST_TEST(must(store->apply_page(6, page, 7, {5, 0})).acknowledged == std::vector<OpId>{e.id});
  BOOST_TEST(must(store->lookup(e.id)).seq == 7u);
  BOOST_TEST(must(store->largest_accepted_hlc()) == (Hlc{5, 0}));
}

BOOST_AUTO_TEST_CASE(an_accepted_ahead_claim_beyond_the_servers_head_goes_back_to_upload) {
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp a = mine(1, 1);
  must(store->commit_local_edit(local_edit(a)));
  const std::vector<OpResult> results{accepted(a.id, 3)};
  BOOST_TEST(must(store->record_upload_results(results)).accepted_ahead == std::vector<OpId>{a.id});
  BOOST_TEST(must(store->ops_to_upload(10)).empty());
  BOOST_TEST(must(store->largest_accepted_hlc()) == (Hlc{1, 0}));
  // The server was restored to an empty log before the catch-up read: its head is 0.
  must(store->apply_page(0, {}, 0, {1, 0}));
  BOOST_TEST(ids(must(store->ops_to_upload(10))) == std::vector<OpId>{a.id});
}

BOOST_AUTO_TEST_CASE(the_dense_prefix_check_stops_a_page_that_does_not_start_at_the_mirror_end) {
  TempDir dir;
  {
    auto store = create_store(dir.path());
    read_foreign(*store, {foreign(1, 1), foreign(2, 2)});
  }
  // A page after seq 3 would leave position 3 empty; a page after seq 1 would overwrite 2.
  for (uint64_t after_seq : {uint64_t{3}, uint64_t{1}}) {
    BOOST_TEST(fails_check(
        [&] {
          auto store = open_store(dir.path());
          std::vector<PageOp> page{page_op(after_seq + 1, foreign(9, 9), other_device())};
          (void)store->apply_page(after_seq, page, after_seq + 1, {9, 0});
        },
        "dense prefix"));
  }
  auto store = open_store(dir.path());
  BOOST_TEST(must(store->mirror_size()) == 2u);
  BOOST_TEST(must(store->lookup(id_of(0xF0, 9))).where == Held::kNowhere);
}

BOOST_AUTO_TEST_CASE(unreadable_operations_take_their_place_but_change_no_object) {
  TempDir dir;
  auto store = create_store(dir.path());
  WireOp op = wire_of(foreign(1, 1), other_device());
  op.key_id = 7;  // a key the device does not hold yet
  std::vector<PageOp> page{PageOp{SequencedOp{1, op}, std::nullopt}};
  BOOST_TEST(must(store->apply_page(0, page, 1, {1, 0})).unreadable == std::vector<OpId>{op.id});
  const std::vector<UnreadableOp> unreadable = must(store->unreadable_ops());
  BOOST_REQUIRE_EQUAL(unreadable.size(), 1u);
  BOOST_TEST(unreadable[0].seq == 1u);
  BOOST_TEST(unreadable[0].key_id == 7u);
  BOOST_TEST(must(store->get("k")).heads.empty());
  BOOST_TEST(must(store->mirror_op(1))->op == op);
}

// ---- the property -----------------------------------------------------------------------------

// Logs built through every path into the mirror (pages of foreign operations, acknowledged local
// uploads, acknowledgements by page) have the prefix hash the protocol computes at every position
// and the protocol's block hashes for any block size. `stored_block_size_error` builds the store
// with a block size that much larger than the workspace's, the bug of chaining with a default
// instead of the workspace's size.
void mirror_hashes_are_the_protocols(uint32_t stored_block_size_error) {
  const uint32_t block_size = *rc::gen::inRange<uint32_t>(1, 6);
  const size_t steps = *rc::gen::inRange<size_t>(1, 14);
  TempDir dir;
  auto store =
      must(LocalStore::create(dir.path(),
                              WorkspaceBinding{"https://sync.example", id_of(1), this_device(),
                                               block_size + stored_block_size_error},
                              "token", test_options()));
  uint8_t next = 1;
  for (size_t step = 0; step < steps; ++step) {
    const int kind = *rc::gen::inRange(0, 3);
    const size_t count = *rc::gen::inRange<size_t>(1, 5);
    std::vector<ObjectOp> ops;
    for (size_t i = 0; i < count; ++i, ++next) ops.push_back(foreign(next, next));
    if (kind == 0) {
      read_foreign(*store, ops);
      continue;
    }
    std::vector<ObjectOp> local;
    for (size_t i = 0; i < count; ++i, ++next) local.push_back(mine(next, next));
    for (const ObjectOp& op : local) must(store->commit_local_edit(local_edit(op)));
    const uint64_t m = must(store->mirror_size());
    if (kind == 1) {
      std::vector<OpResult> results;
      for (size_t i = 0; i < local.size(); ++i) results.push_back(accepted(local[i].id, m + i + 1));
      RC_ASSERT(must(store->record_upload_results(results)).acknowledged.size() == local.size());
    } else {
      std::vector<PageOp> page;
      for (const ObjectOp& op : local)
        page.push_back(page_op(m + page.size() + 1, op, this_device()));
      RC_ASSERT(must(store->apply_page(m, page, m + page.size(), {next, 0})).acknowledged.size() ==
                local.size());
    }
  }
  const std::vector<Hash> hashes = mirror_op_hashes(*store);
  const std::vector<Hash> blocks = compute_block_hashes(hashes, block_size);
  RC_ASSERT(must(store->block_hashes(block_size)) == blocks);
  for (uint64_t s = 0; s <= hashes.size(); ++s)
    RC_ASSERT(must(store->prefix_hash(s)) == opsync::prefix_hash(blocks, hashes, s, block_size));
  const uint32_t other_size = *rc::gen::inRange<uint32_t>(1, 8);
  RC_ASSERT(must(store->block_hashes(other_size)) == compute_block_hashes(hashes, other_size));
}

RC_BOOST_PROP(stored_prefix_and_block_hashes_are_the_protocols, ()) {
  mirror_hashes_are_the_protocols(0);
}

BOOST_AUTO_TEST_CASE(catches_prefix_hashes_chained_with_the_wrong_block_size) {
  BOOST_TEST(opsync::testing::finds_counterexample(
      "a mirror chained with a block size one larger matches the protocol",
      [] { mirror_hashes_are_the_protocols(1); }));
}

BOOST_AUTO_TEST_CASE(ids_that_share_their_first_four_bytes_are_told_apart) {
  // The mirror's id index holds the first 4 bytes of each id; the lookup compares the rest.
  TempDir dir;
  auto store = create_store(dir.path());
  ObjectOp a = foreign(1, 1, "a");
  ObjectOp b = foreign(2, 2, "b");
  b.id = a.id;
  b.id.bytes[15] ^= 0x5A;
  read_foreign(*store, {a});
  read_foreign(*store, {b});
  BOOST_TEST(must(store->mirror_size()) == 2u);
  BOOST_TEST(must(store->lookup(a.id)).seq == 1u);
  BOOST_TEST(must(store->lookup(b.id)).seq == 2u);
  OpId stranger = a.id;
  stranger.bytes[8] ^= 1;
  BOOST_TEST(must(store->lookup(stranger)).where == Held::kNowhere);
}

BOOST_AUTO_TEST_CASE(settled_id_lookups_search_the_id_index) {
  TempDir dir;
  create_store(dir.path());  // the current schema, then closed
  sqlite3* db = nullptr;
  BOOST_REQUIRE(sqlite3_open_v2((dir.path() / "state.sqlite3").c_str(), &db, SQLITE_OPEN_READONLY,
                                nullptr) == SQLITE_OK);
  const std::string query = std::string("EXPLAIN QUERY PLAN ") + client::detail::kSettledIdLookup;
  sqlite3_stmt* plan = nullptr;
  BOOST_REQUIRE(sqlite3_prepare_v2(db, query.c_str(), -1, &plan, nullptr) == SQLITE_OK);
  std::string details;
  while (sqlite3_step(plan) == SQLITE_ROW)
    details += std::string(reinterpret_cast<const char*>(sqlite3_column_text(plan, 3))) + "\n";
  sqlite3_finalize(plan);
  sqlite3_close(db);
  BOOST_TEST(details.find("SEARCH i USING PRIMARY KEY (id_prefix=?)") != std::string::npos,
             details);
  BOOST_TEST(details.find("SEARCH m USING INTEGER PRIMARY KEY (rowid=?)") != std::string::npos,
             details);
  BOOST_TEST(details.find("SCAN") == std::string::npos, details);
}

// ---- the id index's two tiers (src/mirror_ids.h) ------------------------------------------------

namespace {

// One number from the store's file, read beside the open store (WAL readers do not block).
int64_t query_number(const std::filesystem::path& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  BOOST_REQUIRE(sqlite3_open_v2((dir / "state.sqlite3").c_str(), &db, SQLITE_OPEN_READONLY,
                                nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  BOOST_REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  BOOST_REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  const int64_t number = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return number;
}
int64_t count_rows(const std::filesystem::path& dir, const std::string& table) {
  return query_number(dir, "SELECT COUNT(*) FROM " + table);
}

StoreOptions settling_every(uint32_t recent_ids_min) {
  StoreOptions options = test_options();
  options.mirror_recent_ids_min = recent_ids_min;
  return options;
}

// An operation whose id starts with random bytes (ids in tests are otherwise alike there, and
// the settled tier is ordered by the first four) and ends with `n`, which keeps it unique.
ObjectOp random_foreign(uint64_t n) {
  ObjectOp op = foreign(0, n, "r" + std::to_string(n));
  const std::vector<uint8_t> bytes =
      *rc::gen::container<std::vector<uint8_t>>(8, rc::gen::arbitrary<uint8_t>());
  std::copy(bytes.begin(), bytes.end(), op.id.bytes.begin());
  for (size_t i = 8; i < 16; ++i) op.id.bytes[i] = static_cast<uint8_t>(n >> (8 * (15 - i)));
  return op;
}

// Points one entry of the settled tier at a position that does not exist, behind the store's
// back (the store is closed): the tier has lost that id.
void misfile_a_settled_entry(const std::filesystem::path& dir) {
  sqlite3* db = nullptr;
  BOOST_REQUIRE(sqlite3_open((dir / "state.sqlite3").c_str(), &db) == SQLITE_OK);
  BOOST_REQUIRE(
      sqlite3_exec(db,
                   "UPDATE mirror_ids SET seq = -seq WHERE seq = (SELECT MIN(seq) FROM mirror_ids)",
                   nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

// Whatever the store goes through (pages of new operations, pages refused for repeating a held
// id, truncations, closing and opening again), every operation it holds in the mirror is found at
// its position, in either tier, and no other id is; a page repeating a held id is refused.
// `break_settled_tier` misfiles a settled entry behind the store's back before the checks: the
// broken variant the property must catch.
void ids_are_found_in_either_tier(bool break_settled_tier) {
  const uint32_t recent_ids_min = *rc::gen::inRange<uint32_t>(1, 6);
  TempDir dir;
  auto store = create_store(dir.path(), 3, settling_every(recent_ids_min));
  std::vector<ObjectOp> mirror;      // the model: position i + 1 holds mirror[i]
  std::vector<ObjectOp> candidates;  // cut from the mirror by truncations
  std::vector<ObjectOp> forgotten;   // in refused pages only
  uint64_t clock = 1;
  const size_t steps = *rc::gen::inRange<size_t>(1, 16);
  for (size_t step = 0; step < steps; ++step) {
    const int kind = *rc::gen::inRange(0, 10);
    if (kind < 5) {  // a page of new operations
      std::vector<ObjectOp> ops;
      for (size_t i = *rc::gen::inRange<size_t>(1, 8); i > 0; --i)
        ops.push_back(random_foreign(clock++));
      read_foreign(*store, ops);
      mirror.insert(mirror.end(), ops.begin(), ops.end());
    } else if (kind < 7 && !mirror.empty()) {  // a page ending with a held operation: refused whole
      std::vector<ObjectOp> ops{random_foreign(clock++),
                                mirror[*rc::gen::inRange<size_t>(0, mirror.size())]};
      const uint64_t m = mirror.size();
      std::vector<PageOp> page{page_op(m + 1, ops[0], other_device()),
                               page_op(m + 2, ops[1], other_device())};
      const Result<PageOutcome> refused = store->apply_page(m, page, m + 2, {clock, 0});
      RC_ASSERT(!refused.ok());
      RC_ASSERT(refused.error().code == Code::kProtocolError);
      forgotten.push_back(ops[0]);
    } else if (kind < 8) {  // the server was restored from a backup
      const size_t keep = *rc::gen::inRange<size_t>(0, mirror.size() + 1);
      must(store->truncate_mirror(keep));
      candidates.insert(candidates.end(), mirror.begin() + static_cast<std::ptrdiff_t>(keep),
                        mirror.end());
      mirror.resize(keep);
    } else {  // closed and opened again
      store.reset();
      store = open_store(dir.path(), settling_every(recent_ids_min));
    }
  }
  if (break_settled_tier && count_rows(dir.path(), "mirror_ids") > 0) {
    store.reset();
    misfile_a_settled_entry(dir.path());
    store = open_store(dir.path(), settling_every(recent_ids_min));
  }
  RC_ASSERT(must(store->mirror_size()) == mirror.size());
  for (size_t i = 0; i < mirror.size(); ++i) {
    const OpLocation found = must(store->lookup(mirror[i].id));
    RC_ASSERT(found.where == Held::kMirror);
    RC_ASSERT(found.seq == i + 1);
    RC_ASSERT(found.hash == op_hash(wire_of(mirror[i], other_device())));
  }
  for (const ObjectOp& op : candidates)
    RC_ASSERT(must(store->lookup(op.id)).where == Held::kCandidate);
  for (const ObjectOp& op : forgotten)
    RC_ASSERT(must(store->lookup(op.id)).where == Held::kNowhere);
  // The tiers split the mirror between them.
  RC_ASSERT(count_rows(dir.path(), "mirror_ids") +
                query_number(dir.path(),
                             "SELECT COALESCE(SUM(length(ids)), 0) / 16 FROM mirror_recent_ids") ==
            static_cast<int64_t>(mirror.size()));
}

}  // namespace

RC_BOOST_PROP(held_ids_are_found_in_either_tier_whatever_the_store_went_through, ()) {
  ids_are_found_in_either_tier(false);
}

BOOST_AUTO_TEST_CASE(catches_a_settled_tier_that_lost_an_entry) {
  BOOST_TEST(opsync::testing::finds_counterexample("a settled id entry pointing nowhere",
                                                   [] { ids_are_found_in_either_tier(true); }));
}

BOOST_AUTO_TEST_CASE(recent_ids_settle_in_the_transaction_that_reaches_the_bound) {
  TempDir dir;
  auto store = create_store(dir.path(), 3, settling_every(4));
  read_foreign(*store, {foreign(1, 1), foreign(2, 2), foreign(3, 3)});
  BOOST_TEST(count_rows(dir.path(), "mirror_ids") == 0);
  BOOST_TEST(count_rows(dir.path(), "mirror_recent_ids") == 1);
  // The page that would reach the bound fails at its last operation: nothing settles.
  StoreOptions failing = settling_every(4);
  failing.fault_point = [](std::string_view point) {
    if (point == "page:after_operation") throw std::runtime_error("injected");
  };
  store.reset();
  {
    auto failing_store = open_store(dir.path(), failing);
    BOOST_CHECK_THROW(read_foreign(*failing_store, {foreign(4, 4)}), std::runtime_error);
    BOOST_TEST(must(failing_store->lookup(foreign(4, 4).id)).where == Held::kNowhere);
    BOOST_TEST(must(failing_store->lookup(foreign(3, 3).id)).seq == 3u);
  }
  BOOST_TEST(count_rows(dir.path(), "mirror_ids") == 0);
  store = open_store(dir.path(), settling_every(4));
  read_foreign(*store, {foreign(4, 4)});
  BOOST_TEST(count_rows(dir.path(), "mirror_ids") == 4);
  BOOST_TEST(count_rows(dir.path(), "mirror_recent_ids") == 0);
  read_foreign(*store, {foreign(5, 5), foreign(6, 6)});
  BOOST_TEST(count_rows(dir.path(), "mirror_ids") == 4);
  BOOST_TEST(count_rows(dir.path(), "mirror_recent_ids") == 1);
  for (uint8_t n = 1; n <= 6; ++n) BOOST_TEST(must(store->lookup(foreign(n, n).id)).seq == n);
  // A page repeating an operation of either tier is refused.
  for (uint8_t n : {2, 5}) {
    std::vector<PageOp> page{page_op(7, foreign(n, n), other_device())};
    const Result<PageOutcome> refused = store->apply_page(6, page, 7, {7, 0});
    BOOST_REQUIRE(!refused.ok());
    BOOST_TEST(refused.error().code == Code::kProtocolError);
  }
  // Truncation inside the settled tier moves the rest out of both.
  must(store->truncate_mirror(2));
  BOOST_TEST(count_rows(dir.path(), "mirror_ids") == 2);
  BOOST_TEST(count_rows(dir.path(), "mirror_recent_ids") == 0);
  BOOST_TEST(must(store->lookup(foreign(3, 3).id)).where == Held::kCandidate);
  BOOST_TEST(must(store->lookup(foreign(2, 2).id)).seq == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- bad input from a server -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(a_page_with_a_gap_is_refused_and_changes_nothing) {
  TempDir dir;
  auto store = create_store(dir.path());
  std::vector<PageOp> page{page_op(1, foreign(1, 1), other_device()),
                           page_op(3, foreign(2, 2), other_device())};
  Result<PageOutcome> outcome = store->apply_page(0, page, 3, {2, 0});
  BOOST_REQUIRE(!outcome.ok());
  BOOST_TEST(outcome.error().code == Code::kPageGap);
  BOOST_TEST(outcome.error().field == "ops[1].seq");
  BOOST_TEST(must(store->mirror_size()) == 0u);
  BOOST_TEST(must(store->list()).empty());
  BOOST_TEST(must(store->meta()).hlc == Hlc{});
}

BOOST_AUTO_TEST_CASE(a_known_id_with_another_hash_is_an_op_id_conflict_and_changes_nothing) {
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp l = mine(1, 1);
  must(store->commit_local_edit(local_edit(l)));
  WireOp forged = wire_of(l, this_device());
  forged.payload.back() ^= 1;
  std::vector<PageOp> page{page_op(1, foreign(1, 1), other_device()),
                           PageOp{SequencedOp{2, forged}, l}};
  Result<PageOutcome> outcome = store->apply_page(0, page, 2, {1, 0});
  BOOST_REQUIRE(!outcome.ok());
  BOOST_TEST(outcome.error().code == Code::kOpIdConflict);
  BOOST_TEST(outcome.error().field == "ops[1].id");
  BOOST_TEST(must(store->mirror_size()) == 0u);
  BOOST_TEST(must(store->lookup(l.id)).where == Held::kOutbox);
  BOOST_TEST(must(store->get("k")).heads.size() == 1u);  // the first op of the page is gone too
}

BOOST_AUTO_TEST_CASE(an_operation_listed_twice_is_a_protocol_error) {
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp f = foreign(1, 1);
  std::vector<PageOp> page{page_op(1, f, other_device()), page_op(2, f, other_device())};
  Result<PageOutcome> outcome = store->apply_page(0, page, 2, {1, 0});
  BOOST_REQUIRE(!outcome.ok());
  BOOST_TEST(outcome.error().code == Code::kProtocolError);
  BOOST_TEST(must(store->mirror_size()) == 0u);
}

BOOST_AUTO_TEST_CASE(a_mirror_operation_listed_again_with_another_clock_is_an_op_id_conflict) {
  // The id is known from an earlier page; its second listing was re-stamped (HLC-020 keeps the id),
  // so only a lookup by id, not by clock or position, can find it.
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp f = foreign(1, 1);
  read_foreign(*store, {f});
  ObjectOp restamped = f;
  restamped.hlc = {5, 0};
  std::vector<PageOp> page{page_op(2, restamped, other_device())};
  Result<PageOutcome> outcome = store->apply_page(1, page, 2, {5, 0});
  BOOST_REQUIRE(!outcome.ok());
  BOOST_TEST(outcome.error().code == Code::kOpIdConflict);
  BOOST_TEST(must(store->mirror_size()) == 1u);
  BOOST_TEST(must(store->lookup(f.id)).seq == 1u);
}

BOOST_AUTO_TEST_CASE(upload_results_naming_strangers_or_verified_positions_change_nothing) {
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp l = mine(1, 1);
  must(store->commit_local_edit(local_edit(l)));
  read_foreign(*store, {foreign(1, 1)});
  const std::vector<OpResult> stranger{accepted(id_of(0x99), 2)};
  Result<UploadOutcome> outcome = store->record_upload_results(stranger);
  BOOST_REQUIRE(!outcome.ok());
  BOOST_TEST(outcome.error().code == Code::kProtocolError);
  BOOST_TEST(outcome.error().field == "results[0].id");
  const std::vector<OpResult> inside{accepted(l.id, 1)};
  outcome = store->record_upload_results(inside);
  BOOST_REQUIRE(!outcome.ok());
  BOOST_TEST(outcome.error().field == "results[0].seq");
  BOOST_TEST(must(store->lookup(l.id)).where == Held::kOutbox);
  BOOST_TEST(ids(must(store->ops_to_upload(10))) == std::vector<OpId>{l.id});
}

BOOST_AUTO_TEST_SUITE_END()
