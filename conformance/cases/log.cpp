// Spec 7.2 to 7.4: sequence numbers under concurrent uploaders, pages, prefix and block hashes.
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "common.h"
#include "opsync/protocol/blocks.h"
#include "opsync/protocol/op.h"

namespace opsync::conformance::cases {
namespace {

std::vector<Hash> hashes_of(const std::vector<SequencedOp>& log) {
  std::vector<Hash> out;
  for (const SequencedOp& op : log) out.push_back(op_hash(op.op));
  return out;
}

// Uploads `count` operations in batches of at most `batch`.
void fill(CaseContext& c, const TestWorkspace& ws, uint64_t count, uint64_t batch) {
  for (uint64_t done = 0; done < count;) {
    const uint64_t n = std::min({count - done, batch, c.limits().batch_ops_max});
    c.upload(ws, ws.owner_token, c.make_ops(n, kEnvelopeOverheadBytes));
    done += n;
  }
}

void concurrent_uploaders_leave_a_dense_log(CaseContext& c) {
  constexpr int kUploaders = 8;
  constexpr int kBatches = 6;
  constexpr int kOpsPerBatch = 5;
  const TestWorkspace ws = c.new_workspace();
  const std::string writer = c.issue_token(ws, Scope::kReadWrite);
  // Operations drawn before the threads start: the context's random stream is not shared.
  std::vector<std::vector<WireOp>> batches;
  for (int i = 0; i < kUploaders * kBatches; ++i)
    batches.push_back(c.make_ops(kOpsPerBatch, kEnvelopeOverheadBytes));
  const Server& server = c.options().server;
  const uint64_t timeout_ms = c.options().timeout_ms;
  std::mutex mutex;
  std::vector<std::string> problems;
  std::map<OpId, uint64_t> acknowledged;
  std::atomic<bool> uploading{true};
  auto send = [&](const std::string& method, const std::string& target, const std::string& body) {
    HttpRequest r{method, target, c.case_headers(), body, true};
    r.headers.emplace_back("Authorization", "Bearer " + writer);
    if (!body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    return exchange_once(server, r, timeout_ms);
  };
  std::vector<std::thread> threads;
  for (int u = 0; u < kUploaders; ++u) {
    threads.emplace_back([&, u] {
      for (int b = 0; b < kBatches; ++b) {
        const std::vector<WireOp>& ops = batches[u * kBatches + b];
        Result<HttpResponse> r =
            send("POST", path(E::kUploadOps, {ws.id}), serialize_message(UploadOpsRequest{ops}));
        std::lock_guard lock(mutex);
        Result<UploadOpsResponse> answer = r.ok() && r->status == 200
                                               ? parse_message<UploadOpsResponse>(r->body)
                                               : Result<UploadOpsResponse>(Error());
        if (!answer.ok() || answer->results.size() != ops.size()) {
          problems.push_back("an upload failed under load: " +
                             (r.ok() ? std::to_string(r->status) : r.error().message));
          continue;
        }
        for (size_t i = 0; i < ops.size(); ++i) acknowledged[ops[i].id] = answer->results[i].seq;
      }
    });
  }
  // A reader polls the head while they run: it must never see seq k+1 without k (LOG-011).
  std::thread reader([&] {
    for (int polls = 0; polls < 200 && uploading; ++polls) {
      Result<HttpResponse> r = send("GET", path(E::kReadOps, {ws.id}), "");
      if (!r.ok() || r->status != 200) continue;
      Result<OpsPageResponse> page = parse_message<OpsPageResponse>(r->body);
      std::lock_guard lock(mutex);
      if (!page.ok())
        problems.push_back("a page during uploads breaks LOG-028: " + page.error().to_string());
    }
  });
  for (std::thread& t : threads) t.join();
  uploading = false;
  reader.join();
  for (const std::string& p : problems)
    c.check(false, "LOG-011", "pages and uploads keep working under load", p);
  const std::vector<SequencedOp> log = c.read_log(ws, ws.owner_token);
  const size_t total = kUploaders * kBatches * kOpsPerBatch;
  c.check(log.size() == total, "LOG-010",
          std::to_string(total) + " operations, none lost or duplicated",
          std::to_string(log.size()));
  std::set<OpId> distinct;
  for (size_t i = 0; i < log.size(); ++i) {
    distinct.insert(log[i].op.id);
    auto it = acknowledged.find(log[i].op.id);
    c.check(it != acknowledged.end() && it->second == log[i].seq, "LOG-012",
            "the seq acknowledged is the seq read", "seq " + std::to_string(log[i].seq));
  }
  c.check(distinct.size() == log.size(), "LOG-010", "no operation twice");
}

void pages_hold_what_follows_after_seq(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  fill(c, ws, 12, 5);
  for (uint64_t after : {0u, 1u, 7u, 11u, 12u}) {
    const HttpResponse r =
        c.get(endpoint_target(E::kReadOps, {ws.id},
                              {{"after_seq", std::to_string(after)}, {"limit", "4"}}),
              ws.owner_token);
    // Parsing checks the rules between members (LOG-022, LOG-028).
    const OpsPageResponse page = c.expect_message<OpsPageResponse>(r, 200, "LOG-028");
    c.check(page.after_seq == after && page.head_seq == 12, "LOG-021",
            "after_seq as asked, head_seq 12");
    c.check(page.ops.size() == std::min<uint64_t>(4, 12 - after), "LOG-020",
            "four operations, or the rest");
    c.check(
        page.next_after_seq == (after + 4 < 12 ? std::optional<uint64_t>(after + 4) : std::nullopt),
        "LOG-022", "a cursor at the last operation while more follow");
  }
  const HttpResponse beyond =
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", "13"}}), ws.owner_token);
  if (c.expect_error(beyond, 409, "after_seq_beyond_head", "LOG-023"))
    c.check(error_of(beyond).details.head_seq == 12u, "LOG-023", "details.head_seq 12");
  const HttpResponse first = c.get(path(E::kReadOps, {ws.id}), ws.owner_token);
  c.check(c.expect_message<OpsPageResponse>(first, 200, "LOG-021").after_seq == 0, "LOG-021",
          "after_seq defaults to 0");
}

void after_hash_is_the_prefix_hash(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const uint32_t n = ws.block_size;
  if (n > 1024) c.skip("block_size " + std::to_string(n) + " is too large to fill two blocks here");
  fill(c, ws, 2ull * n + 3, 500);
  const std::vector<SequencedOp> log = c.read_log(ws, ws.owner_token);
  c.require(log.size() == 2ull * n + 3, "LOG-010", "the log as uploaded");
  const std::vector<Hash> hashes = hashes_of(log);
  const std::vector<Hash> blocks = compute_block_hashes(hashes, n);
  for (uint64_t s : {uint64_t{0}, uint64_t{1}, uint64_t{n - 1}, uint64_t{n}, uint64_t{n + 1},
                     uint64_t{2ull * n}, uint64_t{2ull * n + 3}}) {
    const HttpResponse r = c.get(
        endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", std::to_string(s)}}), ws.owner_token);
    const OpsPageResponse page = c.expect_message<OpsPageResponse>(r, 200, "LOG-021");
    c.check(page.after_hash == prefix_hash(blocks, hashes, s, n), "LOG-030",
            "after_hash = prefix_hash(" + std::to_string(s) + ") as spec 7.4 computes it",
            to_base64url(page.after_hash));
  }
}

void block_lists_are_chained_complete_blocks(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const uint32_t n = ws.block_size;
  if (n > 1024)
    c.skip("block_size " + std::to_string(n) + " is too large to fill three blocks here");
  fill(c, ws, 3ull * n + 2, 500);
  const std::vector<Hash> hashes = hashes_of(c.read_log(ws, ws.owner_token));
  const std::vector<Hash> expected = compute_block_hashes(hashes, n);
  std::vector<Hash> listed;
  uint64_t start = 0;
  for (int page = 0; page < 10; ++page) {
    const HttpResponse r =
        c.get(endpoint_target(E::kReadBlocks, {ws.id},
                              {{"start", std::to_string(start)}, {"limit", "2"}}),
              ws.owner_token);
    const BlocksResponse list =
        c.expect_message<BlocksResponse>(r, 200, "LOG-031");  // LOG-033 in parsing
    c.check(list.block_count == 3 && list.block_size == n, "LOG-031",
            "3 complete blocks of block_size");
    c.check(list.blocks.empty() || list.blocks[0].index == start, "LOG-031",
            "the list starts at start");
    for (const BlockEntry& b : list.blocks) listed.push_back(b.hash);
    if (!list.next_start) break;
    start = *list.next_start;
  }
  c.check(listed == expected, "LOG-030",
          "the block hashes spec 7.4 computes, chained, complete blocks only");
  const HttpResponse past =
      c.get(endpoint_target(E::kReadBlocks, {ws.id}, {{"start", "7"}}), ws.owner_token);
  const BlocksResponse empty = c.expect_message<BlocksResponse>(past, 200, "LOG-031");
  c.check(empty.blocks.empty() && !empty.next_start, "LOG-031",
          "a start beyond block_count lists nothing");
  // Pages exactly full at the end of the list have no cursor (LOG-031, LIM-004): the cursor is
  // read from the text, before the page's own rules (LOG-033) are checked in parsing.
  for (const auto& [start_at, limit] : {std::pair{"1", "2"}, std::pair{"0", "3"}}) {
    const HttpResponse r =
        c.get(endpoint_target(E::kReadBlocks, {ws.id}, {{"start", start_at}, {"limit", limit}}),
              ws.owner_token);
    const nlohmann::json page = nlohmann::json::parse(r.body, nullptr, false);
    const bool no_cursor =
        page.is_object() && page.contains("next_start") && page["next_start"].is_null();
    c.check(no_cursor, "LOG-031",
            std::string("start=") + start_at + "&limit=" + limit +
                " of 3 blocks: the last page, next_start null",
            r.body.substr(0, 200));
    c.check(no_cursor, "LIM-004", "the cursor is null on the last page");
    const BlocksResponse last = c.expect_message<BlocksResponse>(r, 200, "LOG-033");
    c.check(last.blocks.size() == 3 - std::stoul(start_at), "LOG-031",
            "the blocks up to the last complete one");
  }
}

constexpr std::array kCases = {
    Case{"log-001", "LOG-010 LOG-011 LOG-012 LOG-024 LOG-028", Level::kMust,
         Capability::kNewWorkspaces,
         "8 uploaders at once: every operation once, seqs dense and as acknowledged, no page with "
         "a gap",
         &concurrent_uploaders_leave_a_dense_log},
    Case{"log-002", "LOG-020 LOG-021 LOG-022 LOG-023 LOG-028", Level::kMust,
         Capability::kNewWorkspaces,
         "pages from several after_seq: consecutive, within head_seq, cursors while more follow, "
         "409 beyond",
         &pages_hold_what_follows_after_seq},
    Case{"log-003", "LOG-021 LOG-030 OP-010 OP-020", Level::kMust, Capability::kNewWorkspaces,
         "after_hash is the prefix hash of spec 7.4 inside, at and across block ends",
         &after_hash_is_the_prefix_hash},
    Case{"log-004", "LOG-030 LOG-031 LOG-033 LIM-004", Level::kMust, Capability::kNewWorkspaces,
         "block lists: chained hashes of complete blocks, paged from start",
         &block_lists_are_chained_complete_blocks},
};

}  // namespace

std::span<const Case> log_cases() { return kCases; }

}  // namespace opsync::conformance::cases
