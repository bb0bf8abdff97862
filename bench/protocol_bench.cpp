// Speed of the protocol core: operation hashing, block hashes over a 1M-operation log, and diff
// planning of two 1M-operation logs. Run: build/release/bench/protocol_bench
// (add --benchmark_filter=Diff to pick). Each benchmark pins nothing; run on an idle machine.
#include <benchmark/benchmark.h>

#include <algorithm>

#include "opsync/protocol/blocks.h"
#include "opsync/protocol/diff.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/random.h"
#include "opsync/protocol/sha256.h"

namespace opsync {
namespace {

constexpr size_t kLogOps = 1'000'000;
constexpr uint32_t kBlockSize = 256;
constexpr size_t kPayloadBytes = 200;

WireOp make_op(SeededRandom& random) {
  WireOp op;
  op.id = random.id();
  op.device_id = random.id();
  op.hlc = Hlc{1'764'000'000'000 + random.below(1'000'000), static_cast<uint32_t>(random.below(4))};
  op.key_id = 1;
  op.payload = random.bytes(kPayloadBytes);
  return op;
}

// Op hashing as a server does it on upload (200-byte payloads, one reused hasher).
void BM_OpHash(benchmark::State& state) {
  SeededRandom random(1);
  std::vector<WireOp> ops;
  for (int i = 0; i < 1024; ++i) ops.push_back(make_op(random));
  Sha256 hasher;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(op_hash(ops[i++ & 1023], hasher));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (kPayloadBytes + kOpEncodingOverheadBytes));
}
BENCHMARK(BM_OpHash);

// A log as both sides store it: ids, op hashes, complete block hashes.
struct StoredLog {
  std::vector<OpId> ids;
  std::vector<Hash> op_hashes;
  std::vector<Hash> block_hashes;

  void append(const OpId& id, const Hash& hash) {
    ids.push_back(id);
    op_hashes.push_back(hash);
  }
  void seal() { block_hashes = compute_block_hashes(op_hashes, kBlockSize); }
  LogView view() const { return LogView{ids, op_hashes, block_hashes}; }
};

std::vector<std::pair<OpId, Hash>> random_entries(size_t count, uint64_t seed) {
  SeededRandom random(seed);
  std::vector<std::pair<OpId, Hash>> entries(count);
  for (auto& [id, hash] : entries) {
    id = random.id();
    hash = random.fixed<32>();
  }
  return entries;
}

// Block hashes of a 1M-operation log from its stored operation hashes.
void BM_BlockHashes1M(benchmark::State& state) {
  std::vector<Hash> hashes;
  for (const auto& [id, hash] : random_entries(kLogOps, 2)) hashes.push_back(hash);
  for (auto _ : state) benchmark::DoNotOptimize(compute_block_hashes(hashes, kBlockSize));
  state.SetItemsProcessed(state.iterations() * kLogOps);
}
BENCHMARK(BM_BlockHashes1M)->Unit(benchmark::kMillisecond);

// Two 1M-operation logs that differ only in their last 10 operations: the device lacks the
// server's newest 10 and holds 10 of its own in its outbox. The plan touches one block.
void BM_DiffPlan1M_DifferLast10(benchmark::State& state) {
  const auto shared = random_entries(kLogOps - 10, 3);
  const auto server_new = random_entries(10, 4);
  const auto device_new = random_entries(10, 5);
  StoredLog server, mirror;
  for (const auto& [id, hash] : shared) {
    server.append(id, hash);
    mirror.append(id, hash);
  }
  for (const auto& [id, hash] : server_new) server.append(id, hash);
  server.seal();
  mirror.seal();
  std::vector<OutboxEntry> outbox;
  for (const auto& [id, hash] : device_new) outbox.push_back(OutboxEntry{id, hash});
  for (auto _ : state) {
    Result<DiffPlan> plan = plan_diff(kBlockSize, mirror.view(), outbox, server.view());
    if (!plan.ok() || plan->apply.size() != 10 || plan->upload.size() != 10)
      state.SkipWithError("wrong plan");
    benchmark::DoNotOptimize(plan);
  }
}
BENCHMARK(BM_DiffPlan1M_DifferLast10)->Unit(benchmark::kMicrosecond);

// The same two logs positioned differently in their last 10 operations (the server was restored
// and re-received them): the prefix check fails, the block search finds the last equal block.
void BM_DiffPlan1M_DivergedLast10(benchmark::State& state) {
  const auto shared = random_entries(kLogOps - 10, 3);
  const auto tail = random_entries(10, 6);
  StoredLog server, mirror;
  for (const auto& [id, hash] : shared) {
    server.append(id, hash);
    mirror.append(id, hash);
  }
  for (size_t i = 0; i < tail.size(); ++i) {
    mirror.append(tail[i].first, tail[i].second);
    server.append(tail[tail.size() - 1 - i].first, tail[tail.size() - 1 - i].second);
  }
  server.seal();
  mirror.seal();
  for (auto _ : state) {
    Result<DiffPlan> plan = plan_diff(kBlockSize, mirror.view(), {}, server.view());
    if (!plan.ok() || !plan->diverged || !plan->upload.empty()) state.SkipWithError("wrong plan");
    benchmark::DoNotOptimize(plan);
  }
}
BENCHMARK(BM_DiffPlan1M_DivergedLast10)->Unit(benchmark::kMicrosecond);

// The worst case: the logs hold the same operations but diverge after the 10th position, so
// every block differs and the set difference covers the whole log.
void BM_DiffPlan1M_DivergedEarly(benchmark::State& state) {
  const auto entries = random_entries(kLogOps, 7);
  StoredLog server, mirror;
  for (const auto& [id, hash] : entries) mirror.append(id, hash);
  std::vector<std::pair<OpId, Hash>> reordered = entries;
  std::rotate(reordered.begin() + 10, reordered.begin() + 11, reordered.end());
  for (const auto& [id, hash] : reordered) server.append(id, hash);
  server.seal();
  mirror.seal();
  for (auto _ : state) {
    Result<DiffPlan> plan = plan_diff(kBlockSize, mirror.view(), {}, server.view());
    if (!plan.ok() || plan->verified_prefix != 0 || !plan->upload.empty())
      state.SkipWithError("wrong plan");
    benchmark::DoNotOptimize(plan);
  }
}
BENCHMARK(BM_DiffPlan1M_DivergedEarly)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace opsync

BENCHMARK_MAIN();
