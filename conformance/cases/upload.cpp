// Spec 7.1 and 8.2: uploading operations: results, idempotency, conflicts, clock skew.
#include "common.h"

namespace opsync::conformance::cases {
namespace {

void new_operations_are_accepted_in_order(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const std::vector<WireOp> ops = c.make_ops(3);
  const UploadOpsResponse answer = c.upload(ws, ws.owner_token, ops);
  for (size_t i = 0; i < ops.size(); ++i) {
    const OpResult& r = answer.results[i];
    c.check(r.id == ops[i].id, "LOG-002",
            "result " + std::to_string(i) + " names operation " + std::to_string(i));
    c.check(r.status == OpStatus::kAccepted && r.seq == i + 1, "LOG-003",
            "accepted at seq " + std::to_string(i + 1), "seq " + std::to_string(r.seq));
  }
  c.check(answer.head_seq == 3, "LOG-009", "head_seq 3", std::to_string(answer.head_seq));
  // What the server stores is what was sent, byte for byte (OP-004): its hash is the client's.
  const std::vector<SequencedOp> log = c.read_log(ws, ws.owner_token);
  c.require(log.size() == 3, "LOG-003", "three operations in the log", std::to_string(log.size()));
  for (size_t i = 0; i < 3; ++i)
    c.check(log[i].op == ops[i] && log[i].seq == i + 1, "OP-004",
            "operation " + std::to_string(i) + " unchanged");
}

void uploads_are_idempotent(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const std::vector<WireOp> ops = c.make_ops(4);
  c.upload(ws, ws.owner_token, {ops[0], ops[1]});
  // The answer to the first upload was "lost": the client sends everything again (SYNC-008).
  const UploadOpsResponse again = c.upload(ws, ws.owner_token, ops);
  c.check(again.results[0].status == OpStatus::kDuplicate && again.results[0].seq == 1, "LOG-004",
          "the first again: duplicate at seq 1");
  c.check(again.results[1].status == OpStatus::kDuplicate && again.results[1].seq == 2, "LOG-004",
          "the second again: duplicate at seq 2");
  c.check(again.results[2].status == OpStatus::kAccepted && again.results[2].seq == 3, "LOG-003",
          "new: seq 3");
  c.check(again.head_seq == 4, "LOG-009", "head_seq 4", std::to_string(again.head_seq));
  const std::vector<SequencedOp> log = c.read_log(ws, ws.owner_token);
  c.check(log.size() == 4, "LOG-004", "each operation stored once",
          std::to_string(log.size()) + " stored: ");
}

void a_known_id_with_another_hash_is_rejected(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::vector<WireOp> ops = c.make_ops(1);
  const UploadOpsResponse first = c.upload(ws, ws.owner_token, ops);
  WireOp altered = ops[0];
  altered.payload = c.random().bytes(altered.payload.size());
  const UploadOpsResponse answer = c.upload(ws, ws.owner_token, {altered});
  c.check(answer.results[0].status == OpStatus::kRejected &&
              answer.results[0].code == Code::kOpIdConflict,
          "LOG-005", "rejected with op_id_conflict");
  c.check(answer.head_seq == first.head_seq, "LOG-005", "nothing appended");
  const HttpResponse page = c.get(
      endpoint_target(E::kReadOps, {ws.id},
                      {{"after_seq", std::to_string(first.results[0].seq - 1)}, {"limit", "1"}}),
      ws.owner_token);
  const OpsPageResponse read = c.expect_message<OpsPageResponse>(page, 200, "LOG-020");
  c.check(read.ops.size() == 1 && read.ops[0].op == ops[0], "OP-021",
          "the stored operation stays as it was");
}

void one_id_twice_in_a_batch(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  std::vector<WireOp> ops = c.make_ops(2);
  WireOp altered = ops[0];
  altered.payload = c.random().bytes(altered.payload.size());
  const UploadOpsResponse answer = c.upload(ws, ws.owner_token, {ops[0], ops[0], altered, ops[1]});
  c.check(answer.results[0].status == OpStatus::kAccepted && answer.results[0].seq == 1, "LOG-026",
          "first: accepted 1");
  c.check(answer.results[1].status == OpStatus::kDuplicate && answer.results[1].seq == 1, "LOG-026",
          "the same again: duplicate of seq 1");
  c.check(answer.results[2].status == OpStatus::kRejected &&
              answer.results[2].code == Code::kOpIdConflict,
          "LOG-026", "the id with another hash: op_id_conflict");
  c.check(answer.results[3].status == OpStatus::kAccepted && answer.results[3].seq == 2, "LOG-010",
          "the next new one: seq 2");
}

void operations_ahead_of_the_server_clock_are_rejected(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const std::vector<WireOp> ops = c.make_ops(2);
  c.upload(ws, ws.owner_token, {ops[0]});
  std::vector<WireOp> future = c.make_ops(1);
  const uint64_t now = c.server_time_ms();
  // Well past any reasonable round trip, and within 2^48.
  future[0].hlc.wall_ms = now + c.info().max_clock_skew_ms + 60000;
  const UploadOpsResponse answer = c.upload(ws, ws.owner_token, {future[0], ops[1]});
  c.check(
      answer.results[0].status == OpStatus::kRejected && answer.results[0].code == Code::kClockSkew,
      "LOG-006", "rejected with clock_skew");
  c.check(answer.results[1].status == OpStatus::kAccepted && answer.results[1].seq == 2, "LOG-006",
          "the others of the batch go on: seq 2");
  c.check(answer.head_seq == 2, "LOG-009", "head_seq 2: the rejected one is not stored");
  // A known id stamped in the future: its id is judged first (LOG-027).
  WireOp conflicting = ops[0];
  conflicting.hlc.wall_ms = now + c.info().max_clock_skew_ms + 60000;
  const UploadOpsResponse conflict = c.upload(ws, ws.owner_token, {conflicting});
  c.check(conflict.results[0].status == OpStatus::kRejected &&
              conflict.results[0].code == Code::kOpIdConflict,
          "LOG-027", "a known id with another hash is op_id_conflict, not clock_skew");
}

void invalid_operations_reject_the_whole_batch(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string target = path(E::kUploadOps, {ws.id});
  const std::string before = c.fingerprint(ws);
  struct Bad {
    const char* field;
    void (*edit)(WireOp&);
    const char* requirement;
  };
  const Bad bad[] = {
      {"ops[1].v", [](WireOp& op) { op.v = 2; }, "VER-005"},
      {"ops[1].hlc.wall_ms", [](WireOp& op) { op.hlc.wall_ms = kHlcWallMsLimit; }, "OP-001"},
      {"ops[1].key_id", [](WireOp& op) { op.key_id = 0; }, "OP-001"},
      {"ops[1].payload", [](WireOp& op) { op.payload.resize(27); }, "OP-001"},
  };
  for (const Bad& b : bad) {
    std::vector<WireOp> ops = c.make_ops(2);
    b.edit(ops[1]);
    expect_error_at(c,
                    c.post_json(target, ws.owner_token, serialize_message(UploadOpsRequest{ops})),
                    400, "invalid_field", b.field, b.requirement);
  }
  c.check(c.fingerprint(ws) == before, "ERR-003", "no operation of a refused batch stored",
          "the log changed");
}

constexpr std::array kCases = {
    Case{"upload-001", "LOG-002 LOG-003 LOG-009 LOG-025 OP-004 OP-020", Level::kMust,
         Capability::kNewWorkspaces,
         "new operations: one result each, in order, accepted at seq 1, 2, 3; stored as sent",
         &new_operations_are_accepted_in_order},
    Case{"upload-002", "LOG-004 LOG-003 LOG-009 OP-021", Level::kMust, Capability::kNewWorkspaces,
         "operations sent again are duplicates at the seq they have, stored once",
         &uploads_are_idempotent},
    Case{"upload-003", "LOG-005 OP-021", Level::kMust, Capability::kNone,
         "a known id with another hash: rejected op_id_conflict, the stored one unchanged",
         &a_known_id_with_another_hash_is_rejected},
    Case{"upload-004", "LOG-026 LOG-010 LOG-005", Level::kMust, Capability::kNewWorkspaces,
         "one id twice in a batch: the second judged against the first", &one_id_twice_in_a_batch},
    Case{"upload-005", "LOG-006 LOG-027", Level::kMust, Capability::kNewWorkspaces,
         "an operation stamped beyond max_clock_skew_ms: clock_skew; known ids judged by id first",
         &operations_ahead_of_the_server_clock_are_rejected},
    Case{
        "upload-006", "OP-001 VER-005 ERR-003 LOG-007", Level::kMust, Capability::kNone,
        "an operation of another format or out of range refuses the whole batch, naming the member",
        &invalid_operations_reject_the_whole_batch},
};

}  // namespace

std::span<const Case> upload_cases() { return kCases; }

}  // namespace opsync::conformance::cases
