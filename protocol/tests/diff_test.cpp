// The diff (spec 9): for any two logs with any overlap, interleaving and duplication, the plan
// uploads exactly what the server lacks and applies exactly what the device lacks, and afterwards
// both hold the same set with equal block hashes. Companion tests run the same property against
// the broken designs the spec replaces and require RapidCheck to find the counterexample.
#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <unordered_set>

#include "opsync/protocol/blocks.h"
#include "opsync/protocol/diff.h"
#include "opsync/protocol/random.h"
#include "property_support.h"
#include "test_support.h"

using namespace opsync;

namespace {

// An operation as the diff sees it: an id and the hash of its encoding.
struct LogOp {
  OpId id;
  Hash hash;
  bool operator==(const LogOp&) const = default;
};

// A log with the hashes a device or server keeps beside it.
struct Log {
  std::vector<OpId> ids;
  std::vector<Hash> op_hashes;
  std::vector<Hash> block_hashes;

  Log(const std::vector<LogOp>& ops, uint32_t block_size) {
    for (const LogOp& op : ops) {
      ids.push_back(op.id);
      op_hashes.push_back(op.hash);
    }
    block_hashes = compute_block_hashes(op_hashes, block_size);
  }
  LogView view() const { return LogView{ids, op_hashes, block_hashes}; }
};

// One device and one server, as they stand when a sync starts.
struct Scenario {
  uint32_t block_size = 1;
  std::vector<LogOp> mirror;  // what the device read from the server earlier, in that order
  std::vector<LogOp> outbox;  // created on the device, not acknowledged
  std::vector<LogOp> server;  // the server's log now
};

std::ostream& operator<<(std::ostream& out, const Scenario& s) {
  auto ids = [&](const std::vector<LogOp>& ops) {
    std::string text;
    for (const LogOp& op : ops) text += to_hex(op.id.view()).substr(0, 4) + " ";
    return text;
  };
  return out << "block_size=" << s.block_size << "\n  mirror: " << ids(s.mirror)
             << "\n  outbox: " << ids(s.outbox) << "\n  server: " << ids(s.server);
}

LogOp fresh_op(SeededRandom& random) { return LogOp{random.id(), random.fixed<32>()}; }

// Builds every shape the spec's diff must handle from one history the device once read:
//  - the server kept that history and others appended to it (the common case);
//  - the server was restored from a backup (it lost a suffix) and then received, in any order,
//    some of the lost operations again (re-uploaded by other devices), some of this device's
//    outbox (uploads whose responses were lost), and operations from other devices.
rc::Gen<Scenario> scenarios() {
  return rc::gen::exec([] {
    Scenario s;
    s.block_size = *rc::gen::element<uint32_t>(1, 2, 3, 4, 8);
    SeededRandom random(*rc::gen::arbitrary<uint64_t>());
    std::vector<LogOp> history(*rc::gen::inRange<size_t>(0, 40));
    for (LogOp& op : history) op = fresh_op(random);
    const size_t mirror_length = *rc::gen::inRange<size_t>(0, history.size() + 1);
    s.mirror.assign(history.begin(), history.begin() + mirror_length);
    s.outbox.resize(*rc::gen::inRange<size_t>(0, 8));
    for (LogOp& op : s.outbox) op = fresh_op(random);

    const bool restored = *rc::gen::arbitrary<bool>();
    const size_t kept =
        restored ? *rc::gen::inRange<size_t>(0, history.size() + 1) : history.size();
    s.server.assign(history.begin(), history.begin() + kept);
    std::vector<LogOp> arrivals;
    for (size_t i = kept; i < history.size(); ++i)
      if (*rc::gen::arbitrary<bool>()) arrivals.push_back(history[i]);  // re-uploaded
    for (const LogOp& op : s.outbox)
      if (*rc::gen::inRange(0, 4) == 0) arrivals.push_back(op);  // upload whose response was lost
    const size_t others = *rc::gen::inRange<size_t>(0, 10);
    for (size_t i = 0; i < others; ++i) arrivals.push_back(fresh_op(random));
    // Any interleaving of the arrivals.
    for (size_t i = arrivals.size(); i > 1; --i)
      std::swap(arrivals[i - 1], arrivals[random.below(i)]);
    s.server.insert(s.server.end(), arrivals.begin(), arrivals.end());
    return s;
  });
}

using Planner = std::function<Result<DiffPlan>(uint32_t, const LogView&,
                                               std::span<const OutboxEntry>, const LogView&)>;

std::set<OpId> ids_of(const std::vector<LogOp>& ops) {
  std::set<OpId> out;
  for (const LogOp& op : ops) out.insert(op.id);
  return out;
}

// The property of issue item 7 / spec 9, for any planner with plan_diff's signature.
void sync_converges(const Planner& plan_sync) {
  const Scenario s = *scenarios();
  RC_TAG(s.mirror.size() < s.server.size() ? "device behind" : "device not behind");
  const Log mirror(s.mirror, s.block_size);
  const Log server(s.server, s.block_size);
  std::vector<OutboxEntry> outbox;
  for (const LogOp& op : s.outbox) outbox.push_back(OutboxEntry{op.id, op.hash});

  Result<DiffPlan> planned = plan_sync(s.block_size, mirror.view(), outbox, server.view());
  RC_ASSERT(planned.ok());
  const DiffPlan& plan = *planned;

  std::map<OpId, LogOp> device_ops;  // everything the device holds
  for (const LogOp& op : s.mirror) device_ops.emplace(op.id, op);
  for (const LogOp& op : s.outbox) device_ops.emplace(op.id, op);
  const std::set<OpId> server_ids = ids_of(s.server);
  std::set<OpId> device_ids;
  for (const auto& [id, op] : device_ops) device_ids.insert(id);

  // Uploads exactly the operations the server lacks, each once.
  const std::set<OpId> upload(plan.upload.begin(), plan.upload.end());
  RC_ASSERT(upload.size() == plan.upload.size());
  std::set<OpId> server_lacks;
  std::set_difference(device_ids.begin(), device_ids.end(), server_ids.begin(), server_ids.end(),
                      std::inserter(server_lacks, server_lacks.end()));
  RC_ASSERT(upload == server_lacks);

  // Applies exactly the operations the device lacks, each once.
  const std::set<OpId> apply(plan.apply.begin(), plan.apply.end());
  RC_ASSERT(apply.size() == plan.apply.size());
  std::set<OpId> device_lacks;
  std::set_difference(server_ids.begin(), server_ids.end(), device_ids.begin(), device_ids.end(),
                      std::inserter(device_lacks, device_lacks.end()));
  RC_ASSERT(apply == device_lacks);

  // After the uploads, the server appends them; after reading, the device's mirror is its own
  // verified prefix followed by the server's operations from there on.
  std::vector<LogOp> server_after = s.server;
  for (const OpId& id : plan.upload) server_after.push_back(device_ops.at(id));
  RC_ASSERT(plan.verified_prefix <= s.mirror.size());
  std::vector<LogOp> mirror_after(s.mirror.begin(), s.mirror.begin() + plan.verified_prefix);
  mirror_after.insert(mirror_after.end(), server_after.begin() + plan.verified_prefix,
                      server_after.end());

  RC_ASSERT(ids_of(mirror_after) == ids_of(server_after));
  const Log final_server(server_after, s.block_size);
  const Log final_mirror(mirror_after, s.block_size);
  RC_ASSERT(final_mirror.block_hashes == final_server.block_hashes);
  RC_ASSERT(prefix_hash(final_mirror.block_hashes, final_mirror.op_hashes, mirror_after.size(),
                        s.block_size) == prefix_hash(final_server.block_hashes,
                                                     final_server.op_hashes, server_after.size(),
                                                     s.block_size));
}

// ---- broken planners: the designs the spec replaces --------------------------------------------

// Dataans' steps 2-4: positions are identity. Walk both logs until the first differing id, then
// upload everything local after it and apply everything remote after it.
Result<DiffPlan> dataans_positional(uint32_t, const LogView& mirror,
                                    std::span<const OutboxEntry> outbox, const LogView& server) {
  std::vector<OpId> local(mirror.ids.begin(), mirror.ids.end());
  for (const OutboxEntry& e : outbox) local.push_back(e.id);
  size_t i = 0;
  while (i < local.size() && i < server.ids.size() && local[i] == server.ids[i]) ++i;
  DiffPlan plan;
  plan.verified_prefix = std::min<uint64_t>(i, mirror.ids.size());
  plan.upload.assign(local.begin() + i, local.end());
  plan.apply.assign(server.ids.begin() + i, server.ids.end());
  return plan;
}

// The set difference without deduplication of the outbox: every outbox operation is uploaded,
// even when the server already holds it (a lost response).
Result<DiffPlan> no_outbox_dedupe(uint32_t n, const LogView& mirror,
                                  std::span<const OutboxEntry> outbox, const LogView& server) {
  Result<DiffPlan> plan = plan_diff(n, mirror, outbox, server);
  if (!plan.ok()) return plan;
  std::unordered_set<OpId, FixedBytesHash> queued(plan->upload.begin(), plan->upload.end());
  for (const OutboxEntry& e : outbox)
    if (queued.insert(e.id).second) plan->upload.push_back(e.id);
  return plan;
}

// Trusts the mirror without the prefix check: assumes the server still holds what the device
// read, so operations the server lost in a restore are never uploaded again.
Result<DiffPlan> trusts_mirror(uint32_t, const LogView& mirror, std::span<const OutboxEntry> outbox,
                               const LogView& server) {
  DiffPlan plan;
  const size_t m = std::min(mirror.ids.size(), server.ids.size());
  plan.verified_prefix = m;
  std::unordered_set<OpId, FixedBytesHash> known(mirror.ids.begin(), mirror.ids.end());
  std::unordered_set<OpId, FixedBytesHash> on_server(server.ids.begin() + m, server.ids.end());
  for (const OutboxEntry& e : outbox) known.insert(e.id);
  for (size_t i = m; i < server.ids.size(); ++i)
    if (!known.count(server.ids[i])) plan.apply.push_back(server.ids[i]);
  for (const OutboxEntry& e : outbox)
    if (!on_server.count(e.id)) plan.upload.push_back(e.id);
  return plan;
}

struct FixedPage {
  std::vector<SequencedOp> ops;
  std::vector<Hash> hashes;
};

FixedPage page_of(uint64_t first_seq, const std::vector<LogOp>& ops) {
  FixedPage page;
  for (size_t i = 0; i < ops.size(); ++i) {
    SequencedOp op;
    op.seq = first_seq + i;
    op.op.id = ops[i].id;
    page.ops.push_back(op);
    page.hashes.push_back(ops[i].hash);
  }
  return page;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(diff)

RC_BOOST_PROP(sync_uploads_and_applies_exactly_the_difference, ()) { sync_converges(&plan_diff); }

using PageClassifier =
    std::function<Result<PageVerdict>(uint64_t, std::span<const SequencedOp>, std::span<const Hash>,
                                      const std::function<HeldOp(const OpId&)>&)>;

// A client reads the server's log after p in pages of any size and classifies each page as it
// arrives; operations it took in become part of its mirror. That must decide exactly what
// plan_diff decides for the whole log at once.
void paged_classification_agrees(const PageClassifier& classify) {
  const Scenario s = *scenarios();
  const Log mirror(s.mirror, s.block_size);
  const Log server(s.server, s.block_size);
  std::vector<OutboxEntry> outbox;
  for (const LogOp& op : s.outbox) outbox.push_back(OutboxEntry{op.id, op.hash});
  Result<DiffPlan> plan = plan_diff(s.block_size, mirror.view(), outbox, server.view());
  RC_ASSERT(plan.ok());
  const uint64_t p = plan->verified_prefix;

  std::map<OpId, HeldOp> held;
  for (const LogOp& op : s.outbox) held.emplace(op.id, HeldOp{Held::kOutbox, op.hash});
  for (size_t i = p; i < s.mirror.size(); ++i)
    held.insert_or_assign(s.mirror[i].id, HeldOp{Held::kCandidate, s.mirror[i].hash});
  auto lookup = [&](const OpId& id) {
    auto it = held.find(id);
    return it == held.end() ? HeldOp{} : it->second;
  };
  std::vector<OpId> applied, acknowledged;
  uint64_t after = p;
  while (after < s.server.size()) {
    const size_t page_size = *rc::gen::inRange<size_t>(1, 8);
    const size_t end = std::min<size_t>(s.server.size(), after + page_size);
    FixedPage page =
        page_of(after + 1, std::vector<LogOp>(s.server.begin() + after, s.server.begin() + end));
    Result<PageVerdict> verdict = classify(after, page.ops, page.hashes, lookup);
    RC_ASSERT(verdict.ok());
    for (size_t i : verdict->apply) applied.push_back(page.ops[i].op.id);
    for (size_t i : verdict->acknowledge) acknowledged.push_back(page.ops[i].op.id);
    for (size_t i = 0; i < page.ops.size(); ++i)
      held.insert_or_assign(page.ops[i].op.id, HeldOp{Held::kMirror, page.hashes[i]});
    after = end;
  }
  RC_ASSERT(applied == plan->apply);
  RC_ASSERT(acknowledged == plan->acknowledge);
}

// A client that forgot what it read before a divergence: candidates look unknown to it, so it
// would apply them again and never acknowledge them.
Result<PageVerdict> forgets_candidates(uint64_t after, std::span<const SequencedOp> page,
                                       std::span<const Hash> hashes,
                                       const std::function<HeldOp(const OpId&)>& lookup) {
  return classify_page(after, page, hashes, [&](const OpId& id) {
    HeldOp held = lookup(id);
    return held.where == Held::kCandidate ? HeldOp{} : held;
  });
}

RC_BOOST_PROP(paged_classification_agrees_with_the_planner, ()) {
  paged_classification_agrees(&classify_page);
}

BOOST_AUTO_TEST_CASE(catches_a_client_that_forgets_candidates) {
  BOOST_TEST(testing::finds_counterexample("forgetful paging agrees with the planner", [] {
    paged_classification_agrees(&forgets_candidates);
  }));
}

BOOST_AUTO_TEST_CASE(catches_dataans_positional_diff) {
  BOOST_TEST(testing::finds_counterexample("positional diff converges",
                                           [] { sync_converges(&dataans_positional); }));
}

BOOST_AUTO_TEST_CASE(catches_missing_outbox_dedupe) {
  BOOST_TEST(testing::finds_counterexample("diff without dedupe converges",
                                           [] { sync_converges(&no_outbox_dedupe); }));
}

BOOST_AUTO_TEST_CASE(catches_trusting_the_mirror_after_a_restore) {
  BOOST_TEST(testing::finds_counterexample("diff trusting the mirror converges",
                                           [] { sync_converges(&trusts_mirror); }));
}

BOOST_AUTO_TEST_CASE(common_case_verifies_the_whole_mirror_without_blocks) {
  // A device missing only the newest operations: the prefix check passes at the mirror's end,
  // so nothing before it is compared or re-read.
  SeededRandom random(1);
  std::vector<LogOp> server(1000);
  for (LogOp& op : server) op = fresh_op(random);
  std::vector<LogOp> mirror(server.begin(), server.begin() + 990);
  Result<DiffPlan> plan = plan_diff(256, Log(mirror, 256).view(), {}, Log(server, 256).view());
  BOOST_REQUIRE(plan.ok());
  BOOST_TEST(!plan->diverged);
  BOOST_TEST(plan->verified_prefix == 990u);
  BOOST_TEST(plan->apply.size() == 10u);
  BOOST_TEST(plan->upload.empty());
}

BOOST_AUTO_TEST_CASE(restore_from_backup_reuploads_what_the_server_lost) {
  SeededRandom random(2);
  std::vector<LogOp> history(20);
  for (LogOp& op : history) op = fresh_op(random);
  std::vector<LogOp> server(history.begin(), history.begin() + 8);  // restored backup
  const LogOp other = fresh_op(random);
  server.push_back(other);  // another device wrote after the restore
  Result<DiffPlan> plan = plan_diff(4, Log(history, 4).view(), {}, Log(server, 4).view());
  BOOST_REQUIRE(plan.ok());
  BOOST_TEST(plan->diverged);
  BOOST_TEST(plan->verified_prefix == 8u);
  BOOST_TEST(plan->apply == std::vector<OpId>{other.id});
  std::vector<OpId> lost;
  for (size_t i = 8; i < 20; ++i) lost.push_back(history[i].id);
  BOOST_TEST(plan->upload == lost);
}

BOOST_AUTO_TEST_CASE(known_id_with_another_hash_is_an_op_id_conflict) {
  SeededRandom random(3);
  const LogOp mine = fresh_op(random);
  LogOp forged = mine;
  forged.hash.bytes[5] ^= 0x80;
  const OutboxEntry outbox[] = {{mine.id, mine.hash}};
  Result<DiffPlan> plan = plan_diff(4, Log({}, 4).view(), outbox, Log({forged}, 4).view());
  BOOST_REQUIRE(!plan.ok());
  BOOST_TEST(plan.error().code == Code::kOpIdConflict);
}

BOOST_AUTO_TEST_CASE(an_id_listed_twice_by_the_server_is_a_protocol_error) {
  SeededRandom random(4);
  const LogOp a = fresh_op(random);
  const LogOp b = fresh_op(random);
  Result<DiffPlan> plan = plan_diff(4, Log({}, 4).view(), {}, Log({a, b, a}, 4).view());
  BOOST_REQUIRE(!plan.ok());
  BOOST_TEST(plan.error().code == Code::kProtocolError);
}

BOOST_AUTO_TEST_CASE(pages_must_be_consecutive) {
  SeededRandom random(5);
  std::vector<LogOp> ops = {fresh_op(random), fresh_op(random), fresh_op(random)};
  auto unknown = [](const OpId&) { return HeldOp{}; };

  FixedPage good = page_of(11, ops);
  Result<PageVerdict> verdict = classify_page(10, good.ops, good.hashes, unknown);
  BOOST_REQUIRE(verdict.ok());
  BOOST_TEST(verdict->apply == (std::vector<size_t>{0, 1, 2}));

  FixedPage late_start = page_of(12, ops);
  Result<PageVerdict> gap = classify_page(10, late_start.ops, late_start.hashes, unknown);
  BOOST_REQUIRE(!gap.ok());
  BOOST_TEST(gap.error().code == Code::kPageGap);
  BOOST_TEST(gap.error().field == "ops[0].seq");

  FixedPage hole = page_of(11, ops);
  hole.ops[2].seq = 14;
  Result<PageVerdict> hole_verdict = classify_page(10, hole.ops, hole.hashes, unknown);
  BOOST_REQUIRE(!hole_verdict.ok());
  BOOST_TEST(hole_verdict.error().field == "ops[2].seq");
}

BOOST_AUTO_TEST_CASE(classify_page_acknowledges_held_operations) {
  SeededRandom random(6);
  std::vector<LogOp> ops = {fresh_op(random), fresh_op(random), fresh_op(random)};
  FixedPage page = page_of(1, ops);
  auto lookup = [&](const OpId& id) {
    if (id == ops[0].id) return HeldOp{Held::kOutbox, ops[0].hash};
    if (id == ops[2].id) return HeldOp{Held::kCandidate, ops[2].hash};
    return HeldOp{};
  };
  Result<PageVerdict> verdict = classify_page(0, page.ops, page.hashes, lookup);
  BOOST_REQUIRE(verdict.ok());
  BOOST_TEST(verdict->acknowledge == (std::vector<size_t>{0, 2}));
  BOOST_TEST(verdict->apply == (std::vector<size_t>{1}));
}

BOOST_AUTO_TEST_CASE(block_search_finds_the_last_equal_block) {
  SeededRandom random(7);
  std::vector<Hash> local(10), server(10);
  for (size_t i = 0; i < 10; ++i) local[i] = server[i] = random.fixed<32>();
  BOOST_TEST(verified_prefix_from_blocks(local, server, 4) == 40u);
  for (size_t first_diff = 0; first_diff < 10; ++first_diff) {
    std::vector<Hash> changed = server;
    for (size_t i = first_diff; i < 10; ++i) changed[i].bytes[0] ^= 1;
    BOOST_TEST(verified_prefix_from_blocks(local, changed, 4) == first_diff * 4);
  }
  // Different lengths: only blocks both hold are compared.
  BOOST_TEST(verified_prefix_from_blocks(std::span(local).first(3), server, 4) == 12u);
  BOOST_TEST(verified_prefix_from_blocks({}, server, 4) == 0u);
}

BOOST_AUTO_TEST_CASE(block_search_never_trusts_an_unverified_block) {
  // A dishonest server whose equal blocks do not form a prefix: whatever the search returns, the
  // block it ends on must be equal, so the chained hash verifies the prefix.
  SeededRandom random(8);
  std::vector<Hash> local(16);
  for (Hash& h : local) h = random.fixed<32>();
  for (uint32_t pattern = 0; pattern < (1u << 8); ++pattern) {
    std::vector<Hash> server = local;
    for (size_t b = 0; b < 8; ++b)
      if (pattern & (1u << b)) server[b * 2].bytes[1] ^= 1;
    const uint64_t p = verified_prefix_from_blocks(local, server, 1);
    if (p > 0) BOOST_TEST(local[p - 1] == server[p - 1]);
  }
}

BOOST_AUTO_TEST_SUITE_END()
