// The SQLite backend's in-memory op id index (src/op_id_index.h): on its own, where a known salt
// lets the tests build two ids with one fingerprint, and through SqliteStorage, where the index
// must never disagree with the database: after a rollback, an exception, a restart or an eviction.
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <map>
#include <stdexcept>

#include "op_id_index.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/random.h"
#include "opsync/server/sqlite_storage.h"
#include "server_fixture.h"

using namespace opsync;
using namespace opsync::server;
using namespace opsync::server::testing;

namespace {

// All sequence numbers the index offers for `id`.
std::vector<uint64_t> candidates(OpIdIndex& index, int64_t ws, const OpId& id) {
  std::vector<uint64_t> out;
  index.find(ws, id, [&](uint64_t seq) {
    out.push_back(seq);
    return false;
  });
  return out;
}

OpId id_of(uint64_t low, uint64_t high) {
  OpId id;
  std::memcpy(id.bytes.data(), &low, 8);
  std::memcpy(id.bytes.data() + 8, &high, 8);
  return id;
}

const WorkspaceId kWorkspace = [] {
  WorkspaceId id;
  id.bytes.fill(7);
  return id;
}();

StoredOp stored(uint64_t seq) {
  return StoredOp{seq, Hash{}, Bytes(kOpEncodingOverheadBytes + 10, static_cast<uint8_t>(seq))};
}

// Appends `id` at the next position in one committed transaction; returns what the log held.
std::optional<LoggedOp> append(Storage& storage, const OpId& id) {
  std::optional<LoggedOp> held;
  BOOST_REQUIRE(storage
                    .write([&](Transaction& txn) {
                      const uint64_t head = txn.workspace(kWorkspace)->head_seq;
                      held = txn.append_op_if_absent(kWorkspace, id, stored(head + 1));
                      if (!held) txn.set_head_seq(kWorkspace, head + 1);
                      return true;
                    })
                    .ok());
  return held;
}

std::unique_ptr<SqliteStorage> open_with_workspace(const std::string& dir) {
  auto opened = SqliteStorage::open(dir, Durability::kProcess);
  BOOST_REQUIRE(opened.ok());
  std::unique_ptr<SqliteStorage> storage = std::move(opened.value());
  BOOST_REQUIRE(storage
                    ->write([](Transaction& txn) {
                      if (!txn.workspace(kWorkspace))
                        txn.insert_workspace(WorkspaceRecord{kWorkspace, 4, 1, 0});
                      return true;
                    })
                    .ok());
  return storage;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(op_id_index)

BOOST_AUTO_TEST_CASE(finds_every_id_added_and_none_other_across_growth) {
  OpIdIndex index(12345, size_t{1} << 24);
  index.start(1);
  SeededRandom random(1);
  std::map<OpId, uint64_t> model;
  for (uint64_t seq = 1; seq <= 100'000; ++seq) {
    const OpId id = random.id();
    model[id] = seq;
    index.add(1, id, seq);
  }
  for (const auto& [id, seq] : model) {
    const std::vector<uint64_t> found = candidates(index, 1, id);
    BOOST_REQUIRE(std::find(found.begin(), found.end(), seq) != found.end());
  }
  size_t false_candidates = 0;
  for (int i = 0; i < 100'000; ++i) false_candidates += candidates(index, 1, random.id()).size();
  BOOST_TEST(false_candidates == 0u);  // 64-bit fingerprints: a false candidate is a 2^-64 event
  BOOST_TEST(index.slots() >= 100'000u * 4 / 3);
}

BOOST_AUTO_TEST_CASE(offers_every_id_sharing_a_fingerprint) {
  OpIdIndex index(0, 1024 * 1024);
  index.start(1);
  const OpId first = id_of(1, 2);
  // Salt 0: the same inner value mix(low) ^ high, so the same fingerprint.
  const OpId second = id_of(3, OpIdIndex::mix(1) ^ 2 ^ OpIdIndex::mix(3));
  BOOST_REQUIRE(first != second);
  index.add(1, first, 10);
  index.add(1, second, 11);
  BOOST_TEST(candidates(index, 1, first) == (std::vector<uint64_t>{10, 11}));
  // The caller's confirmation picks the right one.
  uint64_t confirmed = 0;
  BOOST_TEST(index.find(1, second, [&](uint64_t seq) { return (confirmed = seq) == 11; }));
  BOOST_TEST(confirmed == 11u);
}

BOOST_AUTO_TEST_CASE(evicts_the_least_recently_used_workspace_never_the_current) {
  OpIdIndex index(1, 4096);
  index.start(1);
  index.start(2);
  BOOST_TEST(index.loaded(1));
  BOOST_TEST(index.loaded(2));
  index.start(3);                // 3 x 1024 slots: within the bound
  index.add(1, id_of(5, 5), 1);  // 1 is now the most recently used
  index.start(4);                // 4,096 slots held: within the bound still
  index.start(5);                // over: the least recently used (2) goes first
  BOOST_TEST(!index.loaded(2));
  BOOST_TEST(index.loaded(1));
  BOOST_TEST(index.loaded(5));
  BOOST_TEST(index.slots() <= 4096u);
  // A workspace bigger than the whole bound is kept while in use.
  SeededRandom random(2);
  for (uint64_t seq = 1; seq <= 10'000; ++seq) index.add(5, random.id(), seq);
  BOOST_TEST(index.loaded(5));
  BOOST_TEST(!index.loaded(1));
}

BOOST_AUTO_TEST_CASE(sqlite_storage_forgets_appends_that_did_not_commit) {
  TempDir dir;
  auto storage = open_with_workspace(dir.path());
  SeededRandom random(3);
  const OpId kept = random.id(), rolled_back = random.id(), thrown = random.id();
  BOOST_TEST(!append(*storage, kept).has_value());
  // Rolled back by returning false.
  BOOST_REQUIRE(storage
                    ->write([&](Transaction& txn) {
                      BOOST_TEST(
                          !txn.append_op_if_absent(kWorkspace, rolled_back, stored(2)).has_value());
                      return false;
                    })
                    .ok());
  // Rolled back by an exception that is not the storage's own.
  BOOST_CHECK_THROW(storage->write([&](Transaction& txn) -> bool {
    txn.append_op_if_absent(kWorkspace, thrown, stored(2));
    throw std::runtime_error("injected");
  }),
                    std::runtime_error);
  // Neither is held; the committed one is, at its position.
  BOOST_TEST(!append(*storage, rolled_back).has_value());
  BOOST_TEST(!append(*storage, thrown).has_value());
  const std::optional<LoggedOp> again = append(*storage, kept);
  BOOST_REQUIRE(again.has_value());
  BOOST_TEST(again->seq == 1u);
}

BOOST_AUTO_TEST_CASE(sqlite_storage_rebuilds_the_index_after_a_restart) {
  TempDir dir;
  SeededRandom random(4);
  std::vector<OpId> ids;
  {
    auto storage = open_with_workspace(dir.path());
    for (int i = 0; i < 50; ++i) {
      ids.push_back(random.id());
      BOOST_REQUIRE(!append(*storage, ids.back()).has_value());
    }
  }
  auto storage = open_with_workspace(dir.path());
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::optional<LoggedOp> held = append(*storage, ids[i]);
    BOOST_REQUIRE(held.has_value());
    BOOST_TEST(held->seq == i + 1);
  }
  BOOST_TEST(!append(*storage, random.id()).has_value());
  // A read transaction, which has no index, finds the same by scanning.
  BOOST_REQUIRE(storage
                    ->read([&](Transaction& txn) {
                      const std::optional<LoggedOp> held = txn.op_by_id(kWorkspace, ids[7]);
                      BOOST_REQUIRE(held.has_value());
                      BOOST_TEST(held->seq == 8u);
                    })
                    .ok());
}

BOOST_AUTO_TEST_SUITE_END()
