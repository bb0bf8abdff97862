// Objects in the client store (spec 10.2): the materialized state equals what protocol KeyState
// gives for the same set of operations, whatever the order, the duplication and the path the
// operations took into the store (local edits, pages, acknowledgements, re-reads after a server
// restore, reopening). A companion shows the property catches a store in which the
// latest-arrived operation wins.
#include <rapidcheck/boost_test.h>
#include <rapidcheck/state.h>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "client_test_support.h"
#include "opsync/protocol/blocks.h"
#include "opsync/protocol/diff.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/random.h"
#include "property_support.h"

using namespace opsync;
using namespace opsync::client;
using namespace opsync::client::testing;

namespace {

std::vector<OpId> ids_of(std::span<const ObjectOp> ops) {
  std::vector<OpId> out;
  for (const ObjectOp& op : ops) out.push_back(op.id);
  return out;
}

// ---- examples -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(objects)

BOOST_AUTO_TEST_CASE(an_operation_superseded_before_it_arrives_never_becomes_a_head) {
  // LWW-013: b names a in bases and arrives first; a, arriving later, is not a head.
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp a = make_object(id_of(1), {10, 0}, "note", OpType::kPut, {}, "first");
  const ObjectOp b = make_object(id_of(2), {5, 0}, "note", OpType::kPut, {a.id}, "second");
  std::vector<PageOp> page{page_op(1, b, other_device()), page_op(2, a, other_device())};
  must(store->apply_page(0, page, 2, {10, 0}));
  const ObjectView view = must(store->get("note"));
  BOOST_TEST(ids_of(view.heads) == std::vector<OpId>{b.id});
  BOOST_TEST(to_string(view.winner()->payload.value) == "second");
  BOOST_TEST(must(store->conflicted_keys()).empty());
}

BOOST_AUTO_TEST_CASE(bases_supersede_only_within_their_own_key) {
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp a = make_object(id_of(1), {1, 0}, "a", OpType::kPut, {}, "x");
  const ObjectOp b = make_object(id_of(2), {2, 0}, "b", OpType::kPut, {a.id}, "y");
  must(store->commit_local_edit(local_edit(a)));
  must(store->commit_local_edit(local_edit(b)));
  BOOST_TEST(ids_of(must(store->get("a")).heads) == std::vector<OpId>{a.id});
  BOOST_TEST(must(store->list()) == (std::vector<std::string>{"a", "b"}));
}

BOOST_AUTO_TEST_CASE(a_delete_winner_makes_the_key_absent_and_keeps_the_losing_put_visible) {
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp put = make_object(id_of(1), {1, 0}, "k", OpType::kPut, {}, "kept");
  const ObjectOp del = make_object(id_of(2), {2, 0}, "k", OpType::kDelete);
  must(store->commit_local_edit(local_edit(put)));
  std::vector<PageOp> page{page_op(1, del, other_device())};
  must(store->apply_page(0, page, 1, {2, 0}));
  const ObjectView view = must(store->get("k"));
  BOOST_TEST(!view.present());
  BOOST_TEST(view.winner()->id == del.id);
  BOOST_TEST(ids_of(view.conflicts()) == std::vector<OpId>{put.id});
  BOOST_TEST(must(store->list()).empty());
  BOOST_TEST(must(store->conflicted_keys()) == std::vector<std::string>{"k"});
}

BOOST_AUTO_TEST_CASE(equal_clocks_are_broken_by_id_bytes_and_a_local_write_gets_no_favour) {
  // LWW-012: the local write loses to the greater id at an equal clock.
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp local = make_object(id_of(0x10), {7, 3}, "k", OpType::kPut, {}, "local");
  const ObjectOp remote = make_object(id_of(0x80), {7, 3}, "k", OpType::kPut, {}, "remote");
  must(store->commit_local_edit(local_edit(local)));
  std::vector<PageOp> page{page_op(1, remote, other_device())};
  must(store->apply_page(0, page, 1, {7, 3}));
  const ObjectView view = must(store->get("k"));
  BOOST_TEST(view.winner()->id == remote.id);
  BOOST_TEST(ids_of(view.conflicts()) == std::vector<OpId>{local.id});
}

BOOST_AUTO_TEST_CASE(payloads_come_back_exactly_with_bases_in_order_and_file_references) {
  TempDir dir;
  auto store = create_store(dir.path());
  const FileRef photo = file_ref(id_of(0xF1), "photo.jpg", 200000);
  const FileRef empty = file_ref(id_of(0xF2), "empty.txt", 0);
  const ObjectOp op =
      make_object(id_of(5), {9, 1}, "notes/\xc3\xa9t\xc3\xa9", OpType::kPut,
                  {id_of(9), id_of(3), id_of(7)}, std::string("\0bytes\xff", 7), {photo, empty});
  must(store->commit_local_edit(local_edit(op, {photo.id})));
  store.reset();
  store = open_store(dir.path());
  const ObjectView view = must(store->get(op.payload.key));
  BOOST_REQUIRE_EQUAL(view.heads.size(), 1u);
  BOOST_TEST(view.heads[0] == op);
}

BOOST_AUTO_TEST_CASE(a_write_names_at_most_the_64_greatest_heads) {
  TempDir dir;
  auto store = create_store(dir.path());
  std::vector<PageOp> page;
  std::vector<ObjectOp> ops;
  for (uint8_t i = 0; i < 70; ++i) {
    ops.push_back(make_object(id_of(i + 1, i), {100u + i, 0}, "k", OpType::kPut));
    page.push_back(page_op(i + 1u, ops.back(), other_device()));
  }
  must(store->apply_page(0, page, page.size(), {169, 0}));
  const std::vector<OpId> bases = must(store->bases_for_write("k"));
  BOOST_REQUIRE_EQUAL(bases.size(), size_t{kBasesMax});
  BOOST_TEST(bases.front() == ops.back().id);  // the greatest first
  BOOST_TEST(bases.back() == ops[70 - kBasesMax].id);
  BOOST_TEST(must(store->get("k")).heads.size() == 70u);
}

BOOST_AUTO_TEST_CASE(restamping_an_outbox_operation_moves_it_in_the_order) {
  // HLC-020: a write stamped far ahead wins until it is re-stamped below the remote one.
  TempDir dir;
  auto store = create_store(dir.path());
  const ObjectOp local = make_object(id_of(1), {1000, 0}, "k", OpType::kPut, {}, "ahead");
  const ObjectOp remote = make_object(id_of(2), {500, 0}, "k", OpType::kPut, {}, "remote");
  must(store->commit_local_edit(local_edit(local)));
  std::vector<PageOp> page{page_op(1, remote, other_device())};
  must(store->apply_page(0, page, 1, {1000, 1}));
  BOOST_TEST(must(store->get("k")).winner()->id == local.id);

  WireOp restamped = wire_of(local, this_device());
  restamped.hlc = {400, 0};
  must(store->restamp_outbox_op(restamped, {400, 0}));
  const ObjectView view = must(store->get("k"));
  BOOST_TEST(view.winner()->id == remote.id);
  BOOST_TEST(view.conflicts()[0].hlc == (Hlc{400, 0}));
  BOOST_TEST(must(store->meta()).hlc == (Hlc{400, 0}));
  BOOST_TEST(must(store->ops_to_upload(10))[0].op == restamped);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the property
// ---------------------------------------------------------------------------------

// Keys whose byte order differs from a naive one ("Z" < "a" < "é"), so list() order is checked.
const std::vector<std::string> kKeys = {"a", "b", "Z", "\xc3\xa9"};
const std::vector<FileId> kFiles = {id_of(0xF1), id_of(0xF2), id_of(0xF3)};
constexpr uint32_t kModelBlockSize = 3;

// Everything outside the store: the operations every device wrote, the server's log, and the
// reference state: protocol ObjectStore fed every operation the device receives, in the order
// and with the repeats it receives them. The rc::state model holds nothing: identifiers live here.
struct World {
  TempDir dir;
  std::unique_ptr<LocalStore> store;
  bool latest_arrival_wins = false;  // the broken variant of the companion test

  std::vector<ObjectOp> ops;          // every operation written, by any device
  std::vector<bool> local;            // ops[i] was written on this device
  std::vector<size_t> server_log;     // indices into ops, in log order
  std::vector<size_t> lost;           // foreign operations a server restore dropped
  std::vector<size_t> device_mirror;  // what the device's mirror should hold, in order
  std::set<size_t> held;              // operations the device holds anywhere
  ObjectStore expected;
  Hlc clock;

  explicit World(bool broken) : latest_arrival_wins(broken) {
    store = create_store(dir.path(), kModelBlockSize);
  }

  DeviceId device_of(size_t i) const { return local[i] ? this_device() : other_device(); }
  Hash hash_of(size_t i) const { return op_hash(wire_of(ops[i], device_of(i))); }
  size_t index_of(const OpId& id) const {
    for (size_t i = 0; i < ops.size(); ++i)
      if (ops[i].id == id) return i;
    throw std::logic_error("an id nobody wrote");
  }

  // A fresh id whose byte order is unrelated to creation order.
  OpId next_id() const {
    const size_t n = ops.size();
    OpId id;
    id.bytes[0] = static_cast<uint8_t>((n * 97 + 13) % 251);
    id.bytes[1] = static_cast<uint8_t>(n >> 8);
    id.bytes[2] = static_cast<uint8_t>(n);
    return id;
  }

  std::vector<Hash> hashes_of(std::span<const size_t> indices) const {
    std::vector<Hash> out;
    for (size_t i : indices) out.push_back(hash_of(i));
    return out;
  }

  // Spec 9.1 steps 2 and 3 against the current server log: verify the mirror's prefix hash, and
  // on a mismatch find the verified prefix from block hashes and truncate.
  void verify_prefix() {
    const uint64_t m = must(store->mirror_size());
    const std::vector<Hash> server_hashes = hashes_of(server_log);
    const std::vector<Hash> server_blocks = compute_block_hashes(server_hashes, kModelBlockSize);
    if (m <= server_log.size() &&
        must(store->prefix_hash(m)) ==
            opsync::prefix_hash(server_blocks, server_hashes, m, kModelBlockSize))
      return;
    const uint64_t p = verified_prefix_from_blocks(must(store->block_hashes(kModelBlockSize)),
                                                   server_blocks, kModelBlockSize);
    must(store->truncate_mirror(p));
    device_mirror.resize(p);
  }
};

struct Model {};
using Command = rc::state::Command<Model, World>;

struct LocalWrite : Command {
  size_t key = *rc::gen::inRange<size_t>(0, kKeys.size());
  Hlc hlc{*rc::gen::inRange<uint64_t>(0, 4), *rc::gen::inRange<uint32_t>(0, 2)};
  bool is_delete = *rc::gen::inRange(0, 4) == 0;
  int file = *rc::gen::inRange(-2, static_cast<int>(kFiles.size()));  // negative: none
  void run(const Model&, World& w) const override {
    const std::string& k = kKeys[key];
    // LWW-011: a local write names every head the device holds (at most 64).
    const std::vector<OpId> bases = must(w.store->bases_for_write(k));
    std::vector<FileRef> files;
    if (!is_delete && file >= 0) files.push_back(file_ref(kFiles[file], "f.bin", 70000));
    const ObjectOp op = make_object(w.next_id(), hlc, k, is_delete ? OpType::kDelete : OpType::kPut,
                                    bases, "v" + std::to_string(w.ops.size()), files);
    LocalStore::LocalEdit edit =
        local_edit(op, files.empty() ? std::vector<FileId>{} : std::vector<FileId>{files[0].id});
    w.clock = std::max(w.clock, hlc);
    edit.clock_after = w.clock;
    must(w.store->commit_local_edit(edit));
    w.ops.push_back(op);
    w.local.push_back(true);
    w.held.insert(w.ops.size() - 1);
    w.expected.apply(op);
  }
  void show(std::ostream& os) const override {
    os << "LocalWrite(" << kKeys[key] << " at " << hlc << (is_delete ? ", delete" : "") << ")";
  }
};

struct ForeignWrite : Command {
  size_t key = *rc::gen::inRange<size_t>(0, kKeys.size());
  Hlc hlc{*rc::gen::inRange<uint64_t>(0, 4), *rc::gen::inRange<uint32_t>(0, 2)};
  bool is_delete = *rc::gen::inRange(0, 4) == 0;
  int file = *rc::gen::inRange(-2, static_cast<int>(kFiles.size()));
  uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  void run(const Model&, World& w) const override {
    // Another device names some earlier operations of the key, whether or not this device has
    // them (LWW-013), and now and then one of another key, which must supersede nothing.
    SeededRandom random(seed);
    std::vector<OpId> bases;
    for (const ObjectOp& earlier : w.ops) {
      const uint64_t odds = earlier.payload.key == kKeys[key] ? 3 : 8;
      if (random.below(odds) == 0 && bases.size() < kBasesMax) bases.push_back(earlier.id);
    }
    std::vector<FileRef> files;
    if (!is_delete && file >= 0) files.push_back(file_ref(kFiles[file], "f.bin", 70000));
    w.ops.push_back(make_object(w.next_id(), hlc, kKeys[key],
                                is_delete ? OpType::kDelete : OpType::kPut, bases,
                                "f" + std::to_string(w.ops.size()), files));
    w.local.push_back(false);
    w.server_log.push_back(w.ops.size() - 1);
  }
  void show(std::ostream& os) const override {
    os << "ForeignWrite(" << kKeys[key] << " at " << hlc << (is_delete ? ", delete" : "") << ")";
  }
};

// Spec 9.1 steps 2 to 4: verify the prefix, then read and take in up to `limit` operations.
void read_page(World& w, size_t limit) {
  w.verify_prefix();
  const uint64_t after = must(w.store->mirror_size());
  RC_ASSERT(after == w.device_mirror.size());
  std::vector<PageOp> page;
  for (uint64_t seq = after + 1; seq <= w.server_log.size() && page.size() < limit; ++seq) {
    const size_t i = w.server_log[seq - 1];
    ObjectOp delivered = w.ops[i];
    if (w.latest_arrival_wins && !w.held.count(i)) {
      // The broken store: every arriving operation is taken as if its writer had seen all the
      // device holds, so arrival order decides instead of (hlc, id) and bases.
      for (const OpId& head : must(w.store->bases_for_write(delivered.payload.key)))
        if (std::find(delivered.payload.bases.begin(), delivered.payload.bases.end(), head) ==
            delivered.payload.bases.end())
          delivered.payload.bases.push_back(head);
    }
    page.push_back(PageOp{SequencedOp{seq, wire_of(w.ops[i], w.device_of(i))}, delivered});
    w.clock = std::max(w.clock, w.ops[i].hlc);
  }
  const PageOutcome outcome = must(w.store->apply_page(after, page, w.server_log.size(), w.clock));
  for (const PageOp& entry : page) {
    const size_t i = w.index_of(entry.op.op.id);
    const bool was_held = w.held.count(i) != 0;
    const auto& list = was_held ? outcome.acknowledged : outcome.applied;
    RC_ASSERT(std::find(list.begin(), list.end(), entry.op.op.id) != list.end());
    w.held.insert(i);
    w.device_mirror.push_back(i);
    // Received again or for the first time: the reference applies it either way (LWW-010).
    w.expected.apply(w.ops[i]);
  }
}

struct ReadPage : Command {
  size_t limit = *rc::gen::inRange<size_t>(1, 6);
  void run(const Model&, World& w) const override { read_page(w, limit); }
  void show(std::ostream& os) const override { os << "ReadPage(" << limit << ")"; }
};

struct Upload : Command {
  size_t limit = *rc::gen::inRange<size_t>(1, 5);
  void run(const Model&, World& w) const override {
    w.verify_prefix();
    // Step 4 before step 5: the device reads what it lacks first, as the engine does.
    // Bounded: each page takes at least one operation while the mirror is behind.
    for (size_t round = 0; round <= w.server_log.size(); ++round)
      if (must(w.store->mirror_size()) < w.server_log.size()) read_page(w, 8);
    RC_ASSERT(must(w.store->mirror_size()) == w.server_log.size());
    const std::vector<PendingOp> batch = must(w.store->ops_to_upload(limit));
    std::vector<OpResult> results;
    for (const PendingOp& pending : batch) {
      const size_t i = w.index_of(pending.op.id);
      RC_ASSERT(pending.hash == w.hash_of(i));
      auto at = std::find(w.server_log.begin(), w.server_log.end(), i);
      if (at == w.server_log.end()) {
        w.server_log.push_back(i);
        results.push_back(accepted(pending.op.id, w.server_log.size()));
      } else {
        OpResult duplicate = accepted(pending.op.id, (at - w.server_log.begin()) + 1);
        duplicate.status = OpStatus::kDuplicate;
        results.push_back(duplicate);
      }
    }
    if (results.empty()) return;
    const UploadOutcome outcome = must(w.store->record_upload_results(results));
    for (const OpId& id : outcome.acknowledged) w.device_mirror.push_back(w.index_of(id));
  }
  void show(std::ostream& os) const override { os << "Upload(" << limit << ")"; }
};

// The server is restored from a backup: its log loses everything after some position.
struct ServerRestore : Command {
  uint64_t keep_seed = *rc::gen::arbitrary<uint64_t>();
  void run(const Model&, World& w) const override {
    const size_t keep = static_cast<size_t>(keep_seed % (w.server_log.size() + 1));
    for (size_t at = keep; at < w.server_log.size(); ++at)
      if (!w.local[w.server_log[at]]) w.lost.push_back(w.server_log[at]);
    w.server_log.resize(keep);
  }
  void show(std::ostream& os) const override { os << "ServerRestore"; }
};

// Another device uploads again an operation the restore lost (SYNC-005 on its side).
struct ForeignReupload : Command {
  size_t pick = *rc::gen::arbitrary<size_t>();
  void run(const Model&, World& w) const override {
    if (w.lost.empty()) return;
    const size_t at = pick % w.lost.size();
    const size_t i = w.lost[at];
    w.lost.erase(w.lost.begin() + at);
    if (std::find(w.server_log.begin(), w.server_log.end(), i) == w.server_log.end())
      w.server_log.push_back(i);
  }
  void show(std::ostream& os) const override { os << "ForeignReupload"; }
};

struct Reopen : Command {
  void run(const Model&, World& w) const override {
    w.store.reset();
    w.store = open_store(w.dir.path());
  }
  void show(std::ostream& os) const override { os << "Reopen"; }
};

// The store against the reference, after every command. Heads are compared by everything but
// bases (the broken variant rewrites bases; what must be caught is the state it resolves to).
void check_against_reference(World& w) {
  const std::map<std::string, KeyView> snapshot = w.expected.snapshot();
  std::vector<std::string> present;
  std::vector<std::string> conflicted;
  std::set<FileId> referenced;
  for (const std::string& key : kKeys) {
    const ObjectView view = must(w.store->get(key));
    const KeyState* reference = w.expected.find(key);
    const std::vector<ObjectOp> expected_heads =
        reference ? reference->heads() : std::vector<ObjectOp>{};
    RC_ASSERT(ids_of(view.heads) == ids_of(expected_heads));
    for (size_t h = 0; h < view.heads.size(); ++h) {
      const ObjectOp& got = view.heads[h];
      const ObjectOp& want = expected_heads[h];
      RC_ASSERT(got.hlc == want.hlc);
      RC_ASSERT(got.payload.type == want.payload.type);
      RC_ASSERT(got.payload.value == want.payload.value);
      RC_ASSERT(got.payload.files == want.payload.files);
      for (const FileRef& ref : want.payload.files) referenced.insert(ref.id);
    }
    RC_ASSERT(view.present() == (reference && reference->present()));
    std::vector<OpId> expected_bases = ids_of(expected_heads);
    if (expected_bases.size() > kBasesMax) expected_bases.resize(kBasesMax);
    RC_ASSERT(must(w.store->bases_for_write(key)) == expected_bases);
  }
  for (const auto& [key, view] : snapshot) {
    if (view.present) present.push_back(key);
    if (!view.conflicts.empty()) conflicted.push_back(key);
  }
  RC_ASSERT(must(w.store->list()) == present);
  RC_ASSERT(must(w.store->conflicted_keys()) == conflicted);
  RC_ASSERT(must(w.store->referenced_files()) ==
            std::vector<FileId>(referenced.begin(), referenced.end()));

  // The mirror is what the device read, chained as the protocol chains it.
  RC_ASSERT(must(w.store->mirror_size()) == w.device_mirror.size());
  const std::vector<Hash> mirror_hashes = w.hashes_of(w.device_mirror);
  const std::vector<Hash> blocks = compute_block_hashes(mirror_hashes, kModelBlockSize);
  RC_ASSERT(must(w.store->block_hashes(kModelBlockSize)) == blocks);
  RC_ASSERT(must(w.store->prefix_hash(mirror_hashes.size())) ==
            opsync::prefix_hash(blocks, mirror_hashes, mirror_hashes.size(), kModelBlockSize));
  // Every operation the device holds is in exactly one place.
  for (size_t i : w.held) RC_ASSERT(must(w.store->lookup(w.ops[i].id)).where != Held::kNowhere);
}

// Wraps each command so the comparison runs after it.
template <typename C>
struct Checked : C {
  void run(const Model& m, World& w) const override {
    C::run(m, w);
    check_against_reference(w);
  }
};

void store_matches_key_state(bool latest_arrival_wins) {
  World world(latest_arrival_wins);
  rc::state::check(
      Model{}, world,
      rc::state::gen::execOneOfWithArgs<
          Checked<LocalWrite>, Checked<LocalWrite>, Checked<ForeignWrite>, Checked<ForeignWrite>,
          Checked<ForeignWrite>, Checked<ReadPage>, Checked<ReadPage>, Checked<Upload>,
          Checked<ServerRestore>, Checked<ForeignReupload>, Checked<Reopen>>());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(objects_model)

RC_BOOST_PROP(object_state_is_key_state_of_the_operations_held_whatever_the_path, ()) {
  store_matches_key_state(false);
}

BOOST_AUTO_TEST_CASE(catches_a_store_where_the_latest_arrival_wins) {
  BOOST_TEST(opsync::testing::finds_counterexample(
      "a store letting the latest-arrived operation win matches KeyState",
      [] { store_matches_key_state(true); }));
}

BOOST_AUTO_TEST_SUITE_END()
