// diff_plans.json: what a sync uploads, applies and acknowledges (spec 9.1, opsync::plan_diff).
#include <sstream>

#include "opsync/protocol/blocks.h"
#include "opsync/protocol/diff.h"
#include "opsync/protocol/sha256.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "diff_plans";
constexpr std::string_view kAlgorithm = "DiffPlan";

// Operations are written by label: "s3" is the third operation the device synced earlier, "a1"
// this device's first own operation, "b1" another device's; "s3'" is an operation with s3's id
// and a different hash. Ids are the label's ASCII bytes padded with zeros, so plans stay readable.
struct LabeledOp {
  std::string label;
  OpId id;
  Hash hash;
};

LabeledOp labeled(std::string_view text) {
  const bool other_version = text.ends_with('\'');
  const std::string label(text.substr(0, text.size() - (other_version ? 1 : 0)));
  require(!label.empty() && label.size() <= 16, "bad label " + std::string(text));
  LabeledOp op{std::string(text), {}, {}};
  std::copy(label.begin(), label.end(), op.id.bytes.begin());
  op.hash = sha256("opsync vectors diff-plans " + std::string(text));
  return op;
}

std::vector<LabeledOp> ops_of(std::string_view labels) {
  std::vector<LabeledOp> out;
  std::istringstream words{std::string(labels)};
  for (std::string word; words >> word;) out.push_back(labeled(word));
  return out;
}

Json ops_json(const std::vector<LabeledOp>& ops) {
  Json out = Json::array();
  for (const LabeledOp& op : ops)
    out.push_back(Json{{"label", op.label}, {"id", hex(op.id)}, {"hash", hex(op.hash)}});
  return out;
}

Json ids_json(const std::vector<OpId>& ids) {
  Json out = Json::array();
  for (const OpId& id : ids) out.push_back(hex(id));
  return out;
}

// A log as plan_diff takes it, with the block hashes both sides keep.
struct Log {
  std::vector<OpId> ids;
  std::vector<Hash> op_hashes;
  std::vector<Hash> block_hashes;

  Log(std::vector<OpId> log_ids, std::vector<Hash> hashes, uint32_t block_size)
      : ids(std::move(log_ids)),
        op_hashes(std::move(hashes)),
        block_hashes(compute_block_hashes(op_hashes, block_size)) {}
  LogView view() const { return LogView{ids, op_hashes, block_hashes}; }
};

Log log_of(const std::vector<LabeledOp>& ops, uint32_t block_size) {
  std::vector<OpId> ids;
  std::vector<Hash> hashes;
  for (const LabeledOp& op : ops) {
    ids.push_back(op.id);
    hashes.push_back(op.hash);
  }
  return Log(std::move(ids), std::move(hashes), block_size);
}

std::vector<OutboxEntry> outbox_of(const std::vector<LabeledOp>& ops) {
  std::vector<OutboxEntry> out;
  for (const LabeledOp& op : ops) out.push_back(OutboxEntry{op.id, op.hash});
  return out;
}

struct Scenario {
  std::string id;
  std::string comment;
  std::vector<std::string> flags;
  std::string_view mirror;
  std::string_view outbox;
  std::string_view server;
};

Json plan_json(const DiffPlan& plan) {
  return Json{{"diverged", plan.diverged},
              {"verifiedPrefix", plan.verified_prefix},
              {"apply", ids_json(plan.apply)},
              {"acknowledge", ids_json(plan.acknowledge)},
              {"upload", ids_json(plan.upload)}};
}

// Adds a scenario whose server log plan_diff must accept (`valid`) or reject.
void add_scenario(TestGroup& group, uint32_t block_size, const Scenario& s, bool valid) {
  const std::vector<LabeledOp> mirror = ops_of(s.mirror);
  const std::vector<LabeledOp> outbox = ops_of(s.outbox);
  const std::vector<LabeledOp> server = ops_of(s.server);
  const Log mirror_log = log_of(mirror, block_size);
  const Log server_log = log_of(server, block_size);
  const std::vector<OutboxEntry> outbox_entries = outbox_of(outbox);
  Result<DiffPlan> plan =
      plan_diff(block_size, mirror_log.view(), outbox_entries, server_log.view());
  require(plan.ok() == valid,
          s.id + ": plan_diff " + (plan.ok() ? "accepted" : "rejected") + " the server log");
  Json fields{
      {"mirror", ops_json(mirror)}, {"outbox", ops_json(outbox)}, {"server", ops_json(server)}};
  if (valid)
    fields["plan"] = plan_json(*plan);
  else
    fields["errorCode"] = code_name(plan.error().code);
  group.add(TestCase{s.id, s.comment, s.flags, valid, std::move(fields)});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"The diff of a sync (spec 9.1, SYNC-001..SYNC-005) as opsync::plan_diff computes it.",
       "Each group shares a block size N. A test gives the device's mirror (the server log "
       "positions 1..m as it last read them), its outbox (its own operations the server has "
       "not acknowledged, oldest first) and the server's log now, each as operations "
       "{label, id, hash} in order.",
       "Ids are the label's ASCII bytes padded with zeros: s = operations the device synced "
       "earlier, a = this device's own, b = other devices'. A label ending in ' (\"s3'\") is "
       "an operation with the same id as s3 and a different hash. Hashes are opaque stand-ins "
       "for operation hashes (SHA-256 of a text naming the label). Binary values are lowercase "
       "hex.",
       "Block hashes are not listed: compute them from the hashes as in spec 7.4 (see "
       "block_hashes.json).",
       "Valid cases: plan is the whole decision. diverged: the prefix check at the mirror's "
       "end failed (or the mirror is longer than the server log) and blocks were compared. "
       "verifiedPrefix: p, positions 1..p match. apply: server operations after p the device "
       "lacks, in server order. acknowledge: outbox or candidate operations the server holds "
       "after p, in server order. upload: what the server lacks, candidates (mirror "
       "operations after p) first in mirror order, then the outbox in order.",
       "Invalid cases: the server log is inconsistent with what the device holds and the sync "
       "must stop; errorCode is the code opsync::plan_diff reports (op_id_conflict as in "
       "OP-021; protocol_error for a server that lists one operation twice, which LOG-010 and "
       "LOG-004 rule out)."});
  file.note("UpToDate", "BASIC", "The device and the server hold the same log.");
  file.note("Behind", "BASIC",
            "The device lacks the newest operations: one prefix hash verifies its whole mirror.");
  file.note("Outbox", "BASIC", "The device has operations of its own to upload.");
  file.note("LostResponse", "FUNCTIONALITY",
            "An upload reached the server but its response was lost: the outbox operation is "
            "already in the server's log and is acknowledged, not uploaded again (SYNC-008, "
            "LOG-004).");
  file.note("Interleaving", "KNOWN_BUG",
            "Other devices' operations interleaved with this device's: Dataans re-uploaded and "
            "re-applied such operations and failed forever (spec 15, item 1).");
  file.note("Restore", "FUNCTIONALITY",
            "The server was restored from a backup: it lost a suffix of the log the device had "
            "read, and may have given those positions to other operations since. The device "
            "re-uploads what the server lost (SYNC-001, SYNC-002, SYNC-005).");
  file.note("BlockGranularity", "EDGE_CASE",
            "After a divergence, only complete equal blocks are trusted: p is a multiple of N and "
            "mirror operations after it become candidates, acknowledged if the server lists them.");
  file.note("OpIdConflict", "MODIFIED_PARAMETER",
            "The server lists an id the device holds with a different hash (OP-021).");
  file.note("ListedTwice", "MODIFIED_PARAMETER",
            "The server lists one operation at two positions.");

  {
    TestGroup& group = file.group(Json{{"type", "DiffPlanTest"}, {"blockSize", 2}});
    const std::vector<Scenario> scenarios = {
        {"diff-plans/empty-device-and-server",
         "Nothing anywhere: nothing to do.",
         {"UpToDate"},
         "",
         "",
         ""},
        {"diff-plans/identical-logs",
         "Mirror and server both hold s1..s5.",
         {"UpToDate"},
         "s1 s2 s3 s4 s5",
         "",
         "s1 s2 s3 s4 s5"},
        {"diff-plans/fresh-device",
         "A device that never synced applies the whole log.",
         {"Behind"},
         "",
         "",
         "s1 s2 s3 s4 s5"},
        {"diff-plans/outbox-only",
         "The server holds what the device read; upload a1 and a2.",
         {"Outbox"},
         "s1 s2 s3",
         "a1 a2",
         "s1 s2 s3"},
        {"diff-plans/outbox-and-behind",
         "Apply s4 and s5, upload a1.",
         {"Behind", "Outbox"},
         "s1 s2 s3",
         "a1",
         "s1 s2 s3 s4 s5"},
        {"diff-plans/lost-upload-response",
         "a1 reached the server before the response was lost: acknowledge a1, upload a2.",
         {"LostResponse", "Outbox"},
         "s1 s2 s3",
         "a1 a2",
         "s1 s2 s3 a1"},
        {"diff-plans/lost-upload-response-whole-outbox",
         "The whole outbox reached the server: acknowledge both, upload nothing.",
         {"LostResponse"},
         "s1 s2 s3",
         "a1 a2",
         "s1 s2 s3 a1 a2"},
        {"diff-plans/interleaving-dataans",
         "a1's upload response was lost while b1 and b2 arrived around it: apply b1 and b2, "
         "acknowledge a1, upload nothing.",
         {"Interleaving", "LostResponse"},
         "s1 s2",
         "a1",
         "s1 s2 b1 a1 b2"},
        {"diff-plans/interleaving-acknowledged-out-of-order",
         "The server holds a2 before a1 with b1 between them: acknowledgements follow the "
         "server's order; a3 is uploaded.",
         {"Interleaving", "LostResponse", "Outbox"},
         "s1 s2",
         "a1 a2 a3",
         "s1 s2 a2 b1 a1"},
        {"diff-plans/restored-from-older-backup",
         "The device read s1..s7; the server was restored to s1..s4. The mirror is longer "
         "than the server log, so blocks decide: p = 4, and s5..s7 are re-uploaded.",
         {"Restore"},
         "s1 s2 s3 s4 s5 s6 s7",
         "",
         "s1 s2 s3 s4"},
        {"diff-plans/restored-then-positions-rewritten",
         "After the restore to s1..s4, other devices uploaded b1..b3 at positions 5..7: the "
         "prefix hash at 6 differs, p = 4; apply b1..b3; re-upload s5 and s6, then a1.",
         {"Restore", "Outbox"},
         "s1 s2 s3 s4 s5 s6",
         "a1",
         "s1 s2 s3 s4 b1 b2 b3"},
        {"diff-plans/restored-candidates-reuploaded-elsewhere",
         "After the restore another device re-uploaded s6 and s5 around its own b1: they are "
         "acknowledged as candidates in server order, b1 applied, and only a1 uploaded.",
         {"Restore", "BlockGranularity", "Outbox"},
         "s1 s2 s3 s4 s5 s6",
         "a1",
         "s1 s2 s3 s4 s6 b1 s5"},
        {"diff-plans/restored-to-empty-log",
         "The server lost everything: re-upload the whole mirror, then the outbox.",
         {"Restore", "Outbox"},
         "s1 s2 s3 s4",
         "a1",
         ""},
        {"diff-plans/restored-with-lost-upload-response",
         "Restored to s1 s2, then a1 (whose response this device lost) and b1 arrived: p = 2, "
         "acknowledge a1, apply b1, re-upload s3 and s4.",
         {"Restore", "LostResponse"},
         "s1 s2 s3 s4",
         "a1",
         "s1 s2 a1 b1"},
    };
    for (const Scenario& s : scenarios) add_scenario(group, 2, s, /*valid=*/true);
    const std::vector<Scenario> rejected = {
        {"diff-plans/outbox-id-with-other-hash",
         "The server lists a1's id with a different hash.",
         {"OpIdConflict"},
         "s1 s2",
         "a1",
         "s1 s2 a1'"},
        {"diff-plans/candidate-id-with-other-hash",
         "After a restore to s1 s2, the server lists candidate s3's id with a different hash.",
         {"OpIdConflict", "Restore"},
         "s1 s2 s3 s4",
         "",
         "s1 s2 s3'"},
        {"diff-plans/unknown-id-listed-twice",
         "The server lists b1 at positions 3 and 5.",
         {"ListedTwice"},
         "s1 s2",
         "",
         "s1 s2 b1 b2 b1"},
        {"diff-plans/outbox-id-listed-twice",
         "The server lists the device's a1 at positions 3 and 4.",
         {"ListedTwice"},
         "s1 s2",
         "a1",
         "s1 s2 a1 a1"},
    };
    for (const Scenario& s : rejected) add_scenario(group, 2, s, /*valid=*/false);
  }
  {
    TestGroup& group = file.group(Json{{"type", "DiffPlanTest"}, {"blockSize", 3}});
    const std::vector<Scenario> scenarios = {
        {"diff-plans/behind-mirror-ends-mid-block",
         "The mirror ends inside block 1: the prefix hash at 4 still verifies it; apply "
         "s5..s7.",
         {"Behind"},
         "s1 s2 s3 s4",
         "",
         "s1 s2 s3 s4 s5 s6 s7"},
        {"diff-plans/restored-mid-block",
         "Restored to s1..s5, which ends inside block 1: only block 0 is verified (p = 3); "
         "candidates s4 and s5 are acknowledged, s6 and s7 re-uploaded.",
         {"Restore", "BlockGranularity"},
         "s1 s2 s3 s4 s5 s6 s7",
         "",
         "s1 s2 s3 s4 s5"},
        {"diff-plans/divergence-in-first-block",
         "The server rewrote everything after s1: no block matches, p = 0; s1 is acknowledged "
         "as a candidate although its position never changed, b1..b4 applied, s2..s5 "
         "re-uploaded.",
         {"Restore", "BlockGranularity"},
         "s1 s2 s3 s4 s5",
         "",
         "s1 b1 b2 b3 b4"},
        {"diff-plans/divergence-at-block-end",
         "The mirror's last operation s6 ends block 1, and the server has b1 there instead: "
         "block 1 differs, p = 3; acknowledge s4 and s5, apply b1, re-upload s6.",
         {"Restore", "BlockGranularity"},
         "s1 s2 s3 s4 s5 s6",
         "",
         "s1 s2 s3 s4 s5 b1"},
    };
    for (const Scenario& s : scenarios) add_scenario(group, 3, s, /*valid=*/true);
  }
  {
    TestGroup& group = file.group(Json{{"type", "DiffPlanTest"}, {"blockSize", 4}});
    add_scenario(group, 4,
                 {"diff-plans/behind-longer-log",
                  "Seventeen operations read, twenty on the server: apply s18..s20.",
                  {"Behind"},
                  "s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 s12 s13 s14 s15 s16 s17",
                  "",
                  "s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 s12 s13 s14 s15 s16 s17 s18 s19 s20"},
                 /*valid=*/true);
  }
  {
    TestGroup& group = file.group(Json{{"type", "DiffPlanTest"}, {"blockSize", 256}});
    add_scenario(group, 256,
                 {"diff-plans/behind-no-complete-block",
                  "Block size 256 and a short log: the prefix hash of a partial block verifies "
                  "the mirror; apply b1 b2, upload a1.",
                  {"Behind", "Outbox"},
                  "s1 s2 s3",
                  "a1",
                  "s1 s2 s3 b1 b2"},
                 /*valid=*/true);
  }
  return file.finish();
}

std::vector<LabeledOp> read_ops(const Json& test, std::string_view name) {
  std::vector<LabeledOp> out;
  for (const Json& entry : read_array(test, name))
    out.push_back(LabeledOp{read_string(entry, "label"), read_fixed<16>(entry, "id"),
                            read_fixed<32>(entry, "hash")});
  return out;
}

std::vector<OpId> read_ids(const Json& object, std::string_view name) {
  std::vector<OpId> out;
  const Json& items = read_array(object, name);
  for (size_t i = 0; i < items.size(); ++i)
    out.push_back(fixed_element<16>(items[i], std::string(name) + "[" + std::to_string(i) + "]"));
  return out;
}

void check_plan(const Json& group, const Json& test, Findings& findings) {
  const uint32_t block_size = static_cast<uint32_t>(read_uint(group, "blockSize", kBlockSizeMax));
  if (block_size < kBlockSizeMin) throw MalformedVector("blockSize must be at least 1");
  const Log mirror = log_of(read_ops(test, "mirror"), block_size);
  const Log server = log_of(read_ops(test, "server"), block_size);
  const std::vector<OutboxEntry> outbox = outbox_of(read_ops(test, "outbox"));
  Result<DiffPlan> plan = plan_diff(block_size, mirror.view(), outbox, server.view());
  if (!read_expects_valid(test)) {
    findings.expect_error(test, plan);
    return;
  }
  if (!plan.ok()) {
    findings.add("plan_diff failed: " + plan.error().to_string());
    return;
  }
  const Json& expected = read_object(test, "plan");
  findings.expect_equal("plan.diverged", read_bool(expected, "diverged"), plan->diverged);
  findings.expect_equal("plan.verifiedPrefix", read_uint(expected, "verifiedPrefix"),
                        plan->verified_prefix);
  findings.expect_equal("plan.apply", read_ids(expected, "apply"), plan->apply);
  findings.expect_equal("plan.acknowledge", read_ids(expected, "acknowledge"), plan->acknowledge);
  findings.expect_equal("plan.upload", read_ids(expected, "upload"), plan->upload);
}

}  // namespace

Suite diff_plans_suite() {
  return Suite{kName, kAlgorithm, &generate, {{"DiffPlanTest", &check_plan}}};
}

}  // namespace opsync::vectors
