// Objects and conflicts (spec 10): the state is a function of the operation set, and a write
// made after seeing another wins whatever the devices' clocks say. Companions run the same
// properties against the designs the spec replaces.
#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "opsync/protocol/hlc.h"
#include "opsync/protocol/lww.h"
#include "opsync/protocol/random.h"
#include "property_support.h"
#include "test_support.h"

using namespace opsync;

namespace {

ObjectOp make_op(uint8_t id, Hlc hlc, std::string key, OpType type, std::vector<OpId> bases = {},
                 std::string value = "") {
  ObjectOp op;
  op.id.bytes[15] = id;
  op.hlc = hlc;
  op.payload.type = type;
  op.payload.key = std::move(key);
  op.payload.bases = std::move(bases);
  if (type == OpType::kPut) op.payload.value = to_bytes(value);
  return op;
}

OpId id_of(uint8_t id) {
  OpId out;
  out.bytes[15] = id;
  return out;
}

// ---- stores under test: the real one and broken variants with the same interface --------------

// A store that resolves by (hlc, id) over heads: the spec's rule (adapter over ObjectStore).
struct SpecStore {
  ObjectStore store;
  void apply(const ObjectOp& op) { store.apply(op); }
  std::map<std::string, KeyView> snapshot() const { return store.snapshot(); }
  std::vector<OpId> heads(const std::string& key) const {
    const KeyState* state = store.find(key);
    return state ? state->head_ids() : std::vector<OpId>{};
  }
};

// No tie-break: equal clocks keep whichever arrived first (Dataans' strict `<` on timestamps).
struct NoTieBreakStore {
  std::map<std::string, std::vector<ObjectOp>> heads_by_key;
  std::set<OpId> superseded;
  void apply(const ObjectOp& op) {
    for (const OpId& base : op.payload.bases) superseded.insert(base);
    auto& heads = heads_by_key[op.payload.key];
    std::erase_if(heads, [&](const ObjectOp& h) { return superseded.count(h.id) != 0; });
    if (superseded.count(op.id) ||
        std::any_of(heads.begin(), heads.end(), [&](auto& h) { return h.id == op.id; }))
      return;
    // Insert after every head with a clock >= this one: ties keep arrival order.
    auto position =
        std::find_if(heads.begin(), heads.end(), [&](const ObjectOp& h) { return h.hlc < op.hlc; });
    heads.insert(position, op);
  }
  std::map<std::string, KeyView> snapshot() const {
    std::map<std::string, KeyView> out;
    for (const auto& [key, heads] : heads_by_key) {
      KeyView view;
      if (!heads.empty()) {
        view.winner = heads.front().id;
        view.present = heads.front().payload.type == OpType::kPut;
      }
      for (size_t i = 1; i < heads.size(); ++i) view.conflicts.push_back(heads[i].id);
      out[key] = view;
    }
    return out;
  }
};

// No deduplication: an operation applied twice becomes a second head (a duplicated conflict).
struct NoDedupeStore {
  std::map<std::string, std::vector<ObjectOp>> heads_by_key;
  std::set<OpId> superseded;
  void apply(const ObjectOp& op) {
    for (const OpId& base : op.payload.bases) superseded.insert(base);
    auto& heads = heads_by_key[op.payload.key];
    std::erase_if(heads, [&](const ObjectOp& h) { return superseded.count(h.id) != 0; });
    if (superseded.count(op.id)) return;
    auto position = std::find_if(heads.begin(), heads.end(),
                                 [&](const ObjectOp& h) { return op_order_less(h, op); });
    heads.insert(position, op);
  }
  std::map<std::string, KeyView> snapshot() const {
    std::map<std::string, KeyView> out;
    for (const auto& [key, heads] : heads_by_key) {
      KeyView view;
      if (!heads.empty()) {
        view.winner = heads.front().id;
        view.present = heads.front().payload.type == OpType::kPut;
      }
      for (size_t i = 1; i < heads.size(); ++i) view.conflicts.push_back(heads[i].id);
      out[key] = view;
    }
    return out;
  }
};

// ---- property 1: order and duplication independence -------------------------------------------

// A set of operations over a few keys with frequent clock ties, random deletes and random
// supersession of earlier operations of the same key.
rc::Gen<std::vector<ObjectOp>> op_sets() {
  return rc::gen::exec([] {
    const size_t count = *rc::gen::inRange<size_t>(1, 24);
    std::vector<ObjectOp> ops;
    for (size_t i = 0; i < count; ++i) {
      const std::string key = *rc::gen::element<std::string>("a", "b", "c");
      // Tiny clock ranges make equal timestamps common, so tie-breaks matter.
      const Hlc hlc{*rc::gen::inRange<uint64_t>(0, 3), *rc::gen::inRange<uint32_t>(0, 2)};
      const OpType type = *rc::gen::inRange(0, 4) == 0 ? OpType::kDelete : OpType::kPut;
      std::vector<OpId> bases;
      for (const ObjectOp& earlier : ops)
        if (earlier.payload.key == key && *rc::gen::inRange(0, 3) == 0) bases.push_back(earlier.id);
      // Distinct ids in an order unrelated to the clocks.
      ops.push_back(make_op(static_cast<uint8_t>(((i + 1) * 37) % 251), hlc, key, type, bases,
                            "v" + std::to_string(i)));
    }
    return ops;
  });
}

template <typename Store>
void state_is_a_function_of_the_op_set() {
  const std::vector<ObjectOp> ops = *op_sets();
  Store in_order;
  for (const ObjectOp& op : ops) in_order.apply(op);

  // Any order, with any operation possibly applied several times.
  std::vector<ObjectOp> shuffled = ops;
  SeededRandom random(*rc::gen::arbitrary<uint64_t>());
  for (size_t i = shuffled.size(); i > 1; --i)
    std::swap(shuffled[i - 1], shuffled[random.below(i)]);
  const std::vector<size_t> repeats =
      *rc::gen::container<std::vector<size_t>>(shuffled.size(), rc::gen::inRange<size_t>(1, 3));
  Store reordered;
  for (size_t i = 0; i < shuffled.size(); ++i)
    for (size_t r = 0; r < repeats[i]; ++r) reordered.apply(shuffled[i]);

  RC_ASSERT(in_order.snapshot() == reordered.snapshot());
}

// ---- property 2: a write made after seeing another wins ----------------------------------------

// Devices with arbitrary clock errors writing to shared keys and syncing through a central log.
// Parameterized by how a device stamps (Clock) and resolves (Store).
struct HlcStamping {
  HlcClock clock;
  Hlc stamp(uint64_t physical_ms) { return clock.stamp(physical_ms); }
  void observe(const Hlc& remote, uint64_t physical_ms) { clock.observe(remote, physical_ms); }
};

// Dataans: the device's wall clock is the timestamp, and received timestamps change nothing.
struct WallClockStamping {
  Hlc stamp(uint64_t physical_ms) { return Hlc{physical_ms, 0}; }
  void observe(const Hlc&, uint64_t) {}
};

// Dataans' resolution: the largest timestamp wins over all operations, bases ignored.
struct TimestampOnlyStore {
  std::map<std::string, ObjectOp> winner_by_key;
  void apply(const ObjectOp& op) {
    auto it = winner_by_key.find(op.payload.key);
    if (it == winner_by_key.end() || op_order_less(it->second, op))
      winner_by_key[op.payload.key] = op;
  }
  std::map<std::string, KeyView> snapshot() const {
    std::map<std::string, KeyView> out;
    for (const auto& [key, op] : winner_by_key)
      out[key] = KeyView{op.id, op.payload.type == OpType::kPut, {}};
    return out;
  }
  std::vector<OpId> heads(const std::string& key) const {
    auto it = winner_by_key.find(key);
    return it == winner_by_key.end() ? std::vector<OpId>{} : std::vector<OpId>{it->second.id};
  }
};

template <typename Stamping, typename Store>
struct Device {
  int64_t clock_error_ms = 0;
  Stamping stamping;
  Store store;
  std::set<OpId> held;
  size_t log_read = 0;  // how much of the central log this device has read
};

template <typename Stamping, typename Store>
void write_after_seeing_wins() {
  // Clock errors from a day behind to an hour ahead, as in the reference client's tests.
  const size_t device_count = *rc::gen::inRange<size_t>(2, 4);
  std::vector<Device<Stamping, Store>> devices(device_count);
  for (auto& d : devices) d.clock_error_ms = *rc::gen::inRange<int64_t>(-86'400'000, 3'600'001);
  std::vector<ObjectOp> log;
  std::map<OpId, const ObjectOp*> by_id;
  std::vector<std::pair<OpId, OpId>> seen_then_written;  // (seen, written after seeing it)
  uint64_t real_time_ms = 1'700'000'000'000;
  uint8_t next_id = 1;

  auto sync = [&](Device<Stamping, Store>& d) {
    for (; d.log_read < log.size(); ++d.log_read) {
      const ObjectOp& op = log[d.log_read];
      if (d.held.insert(op.id).second) {
        d.store.apply(op);
        d.stamping.observe(op.hlc, real_time_ms + d.clock_error_ms);
      }
    }
  };

  const size_t steps = *rc::gen::inRange<size_t>(1, 30);
  for (size_t step = 0; step < steps && next_id < 250; ++step) {
    real_time_ms += *rc::gen::inRange<uint64_t>(0, 5000);
    auto& d = devices[*rc::gen::inRange<size_t>(0, device_count)];
    if (*rc::gen::arbitrary<bool>()) {
      sync(d);
      continue;
    }
    const std::string key = *rc::gen::element<std::string>("x", "y");
    ObjectOp op = make_op(next_id++, d.stamping.stamp(real_time_ms + d.clock_error_ms), key,
                          OpType::kPut, d.store.heads(key), "w");
    for (const OpId& seen : d.held)
      if (by_id.at(seen)->payload.key == key) seen_then_written.emplace_back(seen, op.id);
    d.store.apply(op);
    d.held.insert(op.id);
    log.push_back(op);
    by_id.clear();
    for (const ObjectOp& o : log) by_id[o.id] = &o;
  }
  for (auto& d : devices) sync(d);

  const auto final_state = devices[0].store.snapshot();
  for (auto& d : devices) RC_ASSERT(d.store.snapshot() == final_state);
  for (const auto& [seen, written] : seen_then_written) {
    const ObjectOp& a = *by_id.at(seen);
    const ObjectOp& b = *by_id.at(written);
    RC_ASSERT(a.hlc < b.hlc);  // via the HLC, whatever the clocks say
    RC_ASSERT(final_state.at(a.payload.key).winner != std::optional<OpId>(a.id));
  }
}

KeyView view_of(const ObjectStore& store, const std::string& key) {
  return store.snapshot().at(key);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lww)

BOOST_AUTO_TEST_CASE(greatest_clock_wins_and_the_loser_is_a_conflict) {
  ObjectStore store;
  store.apply(make_op(1, {10, 0}, "k", OpType::kPut, {}, "old"));
  store.apply(make_op(2, {20, 0}, "k", OpType::kPut, {}, "new"));
  const KeyView view = view_of(store, "k");
  BOOST_TEST((view.winner == std::optional<OpId>(id_of(2))));
  BOOST_TEST(view.present);
  BOOST_TEST(view.conflicts == std::vector<OpId>{id_of(1)});  // concurrent: kept visible
}

BOOST_AUTO_TEST_CASE(equal_clocks_are_broken_by_op_id) {
  ObjectStore store;
  store.apply(make_op(9, {10, 3}, "k", OpType::kPut));
  store.apply(make_op(4, {10, 3}, "k", OpType::kPut));
  BOOST_TEST((view_of(store, "k").winner == std::optional<OpId>(id_of(9))));
}

BOOST_AUTO_TEST_CASE(overwriting_after_seeing_leaves_no_conflict) {
  ObjectStore store;
  store.apply(make_op(1, {10, 0}, "k", OpType::kPut));
  store.apply(make_op(2, {20, 0}, "k", OpType::kPut, {id_of(1)}));
  BOOST_TEST(view_of(store, "k").conflicts.empty());
}

BOOST_AUTO_TEST_CASE(a_superseding_write_wins_even_with_a_lower_clock) {
  // Bases, not clocks, decide "after seeing": even a device whose clock misbehaves cannot lose
  // to the write it overwrote.
  ObjectStore store;
  store.apply(make_op(1, {50, 0}, "k", OpType::kPut));
  store.apply(make_op(2, {10, 0}, "k", OpType::kPut, {id_of(1)}));
  BOOST_TEST((view_of(store, "k").winner == std::optional<OpId>(id_of(2))));
}

BOOST_AUTO_TEST_CASE(delete_is_a_tombstone_and_a_concurrent_put_stays_visible) {
  ObjectStore store;
  store.apply(make_op(1, {10, 0}, "k", OpType::kPut));
  store.apply(make_op(2, {30, 0}, "k", OpType::kDelete, {id_of(1)}));
  store.apply(make_op(3, {20, 0}, "k", OpType::kPut, {id_of(1)}));  // concurrent edit
  const KeyView view = view_of(store, "k");
  BOOST_TEST((view.winner == std::optional<OpId>(id_of(2))));
  BOOST_TEST(!view.present);
  BOOST_TEST(view.conflicts == std::vector<OpId>{id_of(3)});  // the edit is not lost silently
}

BOOST_AUTO_TEST_CASE(a_write_naming_every_head_resolves_the_conflicts) {
  ObjectStore store;
  store.apply(make_op(1, {10, 0}, "k", OpType::kPut));
  store.apply(make_op(2, {11, 0}, "k", OpType::kPut));
  BOOST_TEST(view_of(store, "k").conflicts.size() == 1u);
  store.apply(make_op(3, {12, 0}, "k", OpType::kPut, store.find("k")->head_ids()));
  BOOST_TEST(view_of(store, "k").conflicts.empty());
  BOOST_TEST((view_of(store, "k").winner == std::optional<OpId>(id_of(3))));
}

BOOST_AUTO_TEST_CASE(superseded_operation_arriving_late_is_not_a_head) {
  // Causal inversion (Dataans counterexample 4): the update arrives before what it replaced.
  ObjectStore store;
  store.apply(make_op(2, {20, 0}, "k", OpType::kPut, {id_of(1)}));
  store.apply(make_op(1, {10, 0}, "k", OpType::kPut));
  const KeyView view = view_of(store, "k");
  BOOST_TEST((view.winner == std::optional<OpId>(id_of(2))));
  BOOST_TEST(view.conflicts.empty());
}

RC_BOOST_PROP(state_is_independent_of_order_and_duplication, ()) {
  state_is_a_function_of_the_op_set<SpecStore>();
}

BOOST_AUTO_TEST_CASE(catches_missing_tie_break) {
  BOOST_TEST(testing::finds_counterexample("no tie-break is order independent", [] {
    state_is_a_function_of_the_op_set<NoTieBreakStore>();
  }));
}

BOOST_AUTO_TEST_CASE(catches_missing_dedupe) {
  BOOST_TEST(testing::finds_counterexample("no dedupe is duplication independent", [] {
    state_is_a_function_of_the_op_set<NoDedupeStore>();
  }));
}

RC_BOOST_PROP(write_made_after_seeing_another_wins_whatever_the_clocks, ()) {
  write_after_seeing_wins<HlcStamping, SpecStore>();
}

BOOST_AUTO_TEST_CASE(catches_wall_clock_stamps) {
  // Without the HLC a device a day behind stamps its later write below what it saw.
  BOOST_TEST(testing::finds_counterexample(
      "wall clock stamps order writes after what they saw",
      [] { write_after_seeing_wins<WallClockStamping, SpecStore>(); }));
}

BOOST_AUTO_TEST_CASE(catches_dataans_timestamp_resolution) {
  // Dataans (counterexample 2): wall clocks and "largest timestamp wins" let the write a device
  // made after seeing another lose to it.
  BOOST_TEST(testing::finds_counterexample("timestamp-only LWW lets a later write win", [] {
    write_after_seeing_wins<WallClockStamping, TimestampOnlyStore>();
  }));
}

BOOST_AUTO_TEST_SUITE_END()
