// Spec 7.1, 7.2 and 9.1 step 3, when the operator lets the suite restart or restore the server:
// acknowledged operations survive a crash, batches are all or nothing, and a server restored from a
// backup serves a consistent log that takes the lost operations back.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "common.h"
#include "opsync/protocol/blocks.h"
#include "opsync/protocol/op.h"

namespace opsync::conformance::cases {
namespace {

void acknowledged_operations_survive_a_restart(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  std::vector<WireOp> sent;
  for (int b = 0; b < 5; ++b) {
    std::vector<WireOp> batch = c.make_ops(20);
    c.upload(ws, ws.owner_token, batch);
    sent.insert(sent.end(), batch.begin(), batch.end());
  }
  // Batches in flight while the server is killed: each is all or nothing (LOG-007), and every
  // one answered is kept (LOG-008).
  std::vector<std::vector<WireOp>> in_flight;
  for (int b = 0; b < 40; ++b) in_flight.push_back(c.make_ops(10));
  std::mutex mutex;
  std::vector<const std::vector<WireOp>*> answered;
  std::atomic<size_t> next{0};
  const Server& server = c.options().server;
  auto uploader = [&] {
    for (size_t b = next++; b < in_flight.size(); b = next++) {
      HttpRequest r{"POST", path(E::kUploadOps, {ws.id}), c.case_headers(),
                    serialize_message(UploadOpsRequest{in_flight[b]}), true};
      r.headers.emplace_back("Authorization", "Bearer " + ws.owner_token);
      r.headers.emplace_back("Content-Type", "application/json");
      Result<HttpResponse> answer = exchange_once(server, r, 5000);
      if (answer.ok() && answer->status == 200) {
        std::lock_guard lock(mutex);
        answered.push_back(&in_flight[b]);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  std::thread a(uploader), b(uploader);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  try {
    c.run_command(c.options().restart_cmd, "--restart-cmd", /*restarts=*/true);
  } catch (...) {
    // A failed command ends the case; the uploaders must be joined first, or their threads'
    // destruction aborts the whole program before any report is written.
    a.join();
    b.join();
    throw;
  }
  a.join();
  b.join();
  const std::vector<SequencedOp> log = c.read_log(ws, ws.owner_token);
  std::map<OpId, uint64_t> stored;
  for (const SequencedOp& op : log) stored[op.op.id] = op.seq;
  for (size_t i = 0; i < sent.size(); ++i)
    c.check(stored.count(sent[i].id) && stored[sent[i].id] == i + 1, "LOG-008",
            "acknowledged operation " + std::to_string(i + 1) + " at its seq after the restart");
  for (const std::vector<WireOp>* batch : answered)
    for (const WireOp& op : *batch)
      c.check(stored.count(op.id) == 1, "LOG-008", "an answered batch survived");
  for (const std::vector<WireOp>& batch : in_flight) {
    size_t present = 0;
    for (const WireOp& op : batch) present += stored.count(op.id);
    c.check(present == 0 || present == batch.size(), "LOG-007", "a batch is all or nothing",
            std::to_string(present) + " of " + std::to_string(batch.size()));
  }
  for (size_t i = 0; i < log.size(); ++i)
    c.check(log[i].seq == i + 1, "LOG-010", "dense seqs after the restart");
}

void a_restored_server_serves_a_consistent_older_log(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const std::vector<WireOp> early = c.make_ops(6);
  c.upload(ws, ws.owner_token, early);
  c.run_command(c.options().restore_cmd + " save", "--restore-cmd save");
  const std::vector<WireOp> late = c.make_ops(4);
  c.upload(ws, ws.owner_token, late);
  c.run_command(c.options().restore_cmd + " restore", "--restore-cmd restore", /*restarts=*/true);
  // The device that read 10 operations asks after seq 10: the log is shorter now (LOG-023).
  const HttpResponse beyond =
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", "10"}}), ws.owner_token);
  if (c.expect_error(beyond, 409, "after_seq_beyond_head", "LOG-023"))
    c.check(error_of(beyond).details.head_seq == 6u, "LOG-023",
            "details.head_seq 6: the backup's log");
  const std::vector<SequencedOp> log = c.read_log(ws, ws.owner_token);
  c.require(log.size() == 6, "LOG-010", "the log as it was when saved", std::to_string(log.size()));
  for (size_t i = 0; i < 6; ++i)
    c.check(log[i].op == early[i], "LOG-012", "the saved prefix unchanged");
  // A client re-uploads what the server lost (SYNC-005): accepted again, at the next seqs.
  const UploadOpsResponse again = c.upload(ws, ws.owner_token, late);
  for (size_t i = 0; i < late.size(); ++i)
    c.check(again.results[i].status == OpStatus::kAccepted && again.results[i].seq == 7 + i,
            "LOG-003", "a lost operation accepted again at seq " + std::to_string(7 + i));
  const std::vector<SequencedOp> healed = c.read_log(ws, ws.owner_token);
  std::vector<Hash> hashes;
  for (const SequencedOp& op : healed) hashes.push_back(op_hash(op.op));
  const HttpResponse page =
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", "10"}}), ws.owner_token);
  c.check(c.expect_message<OpsPageResponse>(page, 200, "LOG-021").after_hash ==
              prefix_hash(compute_block_hashes(hashes, ws.block_size), hashes, 10, ws.block_size),
          "LOG-030", "prefix hashes of the healed log");
}

// AUTH-030: a token revoked after the backup stays revoked once the backup is restored; one
// revoked before it too, and a token issued after it is gone with the data.
void a_revocation_survives_a_restore(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const std::string stolen = c.issue_token(ws, Scope::kReadWrite);
  const std::string earlier = c.issue_token(ws, Scope::kRead);
  auto token_id_of = [&](const std::string& token) {
    return c.expect_message<TokenEntry>(c.get(path(E::kTokenSelf, {ws.id}), token), 200, "AUTH-018")
        .token_id;
  };
  const TokenId stolen_id = token_id_of(stolen);
  const TokenId earlier_id = token_id_of(earlier);
  auto revoke = [&](const TokenId& id) {
    c.expect_message<RevokeTokenResponse>(
        c.request("DELETE", path(E::kRevokeToken, {ws.id, to_base64url(id)}), ws.owner_token), 200,
        "AUTH-016");
  };
  revoke(earlier_id);
  c.upload(ws, stolen, c.make_ops(2));
  c.run_command(c.options().restore_cmd + " save", "--restore-cmd save");
  revoke(stolen_id);
  const std::string later = c.issue_token(ws, Scope::kReadWrite);
  c.run_command(c.options().restore_cmd + " restore", "--restore-cmd restore", /*restarts=*/true);

  // The restored data knows the stolen token as it was when saved, unrevoked: the server must
  // refuse it all the same, as revoked, on a read and on a write.
  const HttpResponse read = c.get(path(E::kTokenSelf, {ws.id}), stolen);
  c.expect_error(read, 401, "token_revoked", "AUTH-030");
  c.expect_error(c.post_json(path(E::kUploadOps, {ws.id}), stolen,
                             serialize_message(UploadOpsRequest{c.make_ops(1)})),
                 401, "token_revoked", "AUTH-030");
  c.check(c.read_log(ws, ws.owner_token).size() == 2, "AUTH-030",
          "nothing written with the revoked token");
  c.expect_error(c.get(path(E::kTokenSelf, {ws.id}), earlier), 401, "token_revoked", "AUTH-030");
  // A token issued after the backup is not in the restored data at all.
  c.expect_error(c.get(path(E::kTokenSelf, {ws.id}), later), 401, "token_invalid", "AUTH-030");
  // The owner sees the revocation in the list too (AUTH-024).
  const TokenListResponse list = c.expect_message<TokenListResponse>(
      c.get(endpoint_target(E::kListTokens, {ws.id}, {{"limit", "100"}}), ws.owner_token), 200,
      "AUTH-015");
  const bool listed_revoked = std::any_of(
      list.tokens.begin(), list.tokens.end(),
      [&](const TokenEntry& e) { return e.token_id == stolen_id && e.revoked_at_ms.has_value(); });
  c.check(listed_revoked, "AUTH-030", "the restored token list shows the token revoked");
}

constexpr std::array kCases = {
    Case{"durability-001", "LOG-007 LOG-008 LOG-010", Level::kMust, Capability::kRestart,
         "a server killed under load keeps every acknowledged operation and no part of a batch",
         &acknowledged_operations_survive_a_restart},
    Case{"durability-002", "LOG-010 LOG-012 LOG-023 LOG-003 LOG-030", Level::kMust,
         Capability::kRestore,
         "a server restored from a backup serves the saved log, 409 beyond it, and takes lost "
         "operations back",
         &a_restored_server_serves_a_consistent_older_log},
    Case{"durability-003", "AUTH-030 AUTH-016", Level::kMust, Capability::kRestore,
         "a token revoked after a backup stays revoked once that backup is restored",
         &a_revocation_survives_a_restore},
};

}  // namespace

std::span<const Case> durability_cases() { return kCases; }

}  // namespace opsync::conformance::cases
