// The checkers that judge the end state: convergence, nothing lost, the log's integrity,
// causality, no resurrection, files and orphans. The others (plaintext, liveness, sync errors,
// transfer cost, position stability) watch the run as it goes, in world.cpp, phases.cpp,
// server_life.cpp and the nodes.
//
// Each reports its first violation with the nodes and operations involved; the world's verdict
// (verdict.h) keeps one per checker.
#include <algorithm>
#include <map>
#include <set>

#include "opsync/protocol/limits.h"
#include "world.h"

namespace opsync::simulator {
namespace {

std::string head_text(const std::vector<HeadView>& heads) {
  if (heads.empty()) return "absent";
  std::string out;
  for (const HeadView& h : heads)
    out += (out.empty() ? "" : " ") + short_id(h.id) +
           (h.deleted ? "(delete)" : "(put " + std::to_string(h.value.size()) + "B)");
  return out;
}

// The state the protocol's rule gives the server's log.
ObjectsView resolve(const EndState& s, const std::vector<std::string>& keys) {
  ObjectsView out;
  if (s.config.protocol == Protocol::kOpsyncV1) {
    ObjectStore store;
    for (const std::optional<ObjectOp>& op : s.server.meanings)
      if (op) store.apply(*op);
    for (const std::string& key : keys) {
      const KeyState* state = store.find(key);
      if (!state || state->empty()) continue;
      std::vector<HeadView>& heads = out[key];
      for (const ObjectOp& op : state->heads()) {
        HeadView head{op.id, op.hlc, op.payload.type == OpType::kDelete, op.payload.value, {}};
        for (const FileRef& ref : op.payload.files) head.files.push_back(ref.id);
        heads.push_back(std::move(head));
      }
    }
    return out;
  }
  // Dataans: the greatest (timestamp, id) write of each key, a delete leaving it absent.
  std::map<std::string, ObjectOp> latest;
  for (const std::optional<ObjectOp>& op : s.server.meanings) {
    if (!op) continue;
    auto it = latest.find(op->payload.key);
    if (it == latest.end() || op_order_less(it->second, *op)) latest[op->payload.key] = *op;
  }
  for (const auto& [key, op] : latest) {
    if (op.payload.type == OpType::kDelete) continue;
    HeadView head{OpId{}, Hlc{}, false, op.payload.value, {}};
    for (const FileRef& ref : op.payload.files) head.files.push_back(ref.id);
    out[key].push_back(std::move(head));
  }
  return out;
}

// What two views compare on: everything for opsync-v1; for Dataans, which has no conflicts and no
// per-object identity beyond the note, presence, value and files.
bool same_key(const std::vector<HeadView>& a, const std::vector<HeadView>& b, Protocol protocol) {
  if (protocol == Protocol::kOpsyncV1) return a == b;
  const bool a_present = !a.empty() && !a.front().deleted;
  const bool b_present = !b.empty() && !b.front().deleted;
  if (a_present != b_present) return false;
  if (!a_present) return true;
  return a.front().value == b.front().value && a.front().files == b.front().files;
}

void check_convergence(World& world, const EndState& s, const std::vector<std::string>& keys,
                       const ObjectsView& reference) {
  static const std::vector<HeadView> kAbsent;
  const DeviceReport* first = nullptr;
  for (const DeviceReport& device : s.devices) {
    if (!device.live) continue;
    for (const std::string& key : keys) {
      auto mine = device.objects.find(key);
      auto expected = reference.find(key);
      const std::vector<HeadView>& have = mine == device.objects.end() ? kAbsent : mine->second;
      const std::vector<HeadView>& want = expected == reference.end() ? kAbsent : expected->second;
      if (same_key(have, want, s.config.protocol)) continue;
      std::vector<std::string> nodes{device.name};
      std::string others;
      if (first && first != &device) {
        auto theirs = first->objects.find(key);
        const std::vector<HeadView>& other =
            theirs == first->objects.end() ? kAbsent : theirs->second;
        others = "; " + first->name + " holds " + head_text(other);
        nodes.push_back(first->name);
      }
      std::vector<std::string> ops;
      for (const HeadView& h : have) ops.push_back(to_base64url(h.id));
      for (const HeadView& h : want) ops.push_back(to_base64url(h.id));
      world.violation("convergence", nodes, ops,
                      "after the heal, " + device.name + " holds " + head_text(have) + " at key " +
                          key + " where the server's log resolves to " + head_text(want) + others);
      return;
    }
    if (!first) first = &device;
  }
}

void check_nothing_lost(World& world, const EndState& s) {
  const std::set<OpId> in_log(s.server.log.begin(), s.server.log.end());
  for (const EditRecord& edit : s.edits) {
    const DeviceReport& device = s.devices.at(edit.device);
    if (!device.live) continue;  // excepted: its token was revoked, or it never rejoined
    if (in_log.count(edit.op)) continue;
    const bool rejected = device.rejected_ops.count(edit.op) != 0;
    world.violation("nothing_lost", {device.name, "server"}, {to_base64url(edit.op)},
                    "edit " + std::to_string(edit.index) + " (" + edit.kind + " " + edit.key +
                        ", operation " + short_id(edit.op) + ") was committed on " + device.name +
                        " and is not in the server's log after the heal" +
                        (rejected ? "; the device holds it as rejected and never uploads it" : ""));
    return;
  }
}

void check_log_integrity(World& world, const EndState& s) {
  std::map<OpId, uint64_t> positions;
  for (size_t i = 0; i < s.server.log.size(); ++i) {
    const OpId& id = s.server.log[i];
    if (s.server.seqs[i] != i + 1) {
      world.violation("log_integrity", {"server"}, {to_base64url(id)},
                      "the log's position " + std::to_string(i + 1) + " holds seq " +
                          std::to_string(s.server.seqs[i]) + ": positions are not dense (LOG-010)");
      return;
    }
    if (!positions.emplace(id, i + 1).second) {
      world.violation("log_integrity", {"server"}, {to_base64url(id)},
                      "operation " + short_id(id) + " is in the log twice, at " +
                          std::to_string(positions[id]) + " and " + std::to_string(i + 1) +
                          " (LOG-004)");
      return;
    }
    // Every operation of the log is one a device committed for an edit it was asked to make: a
    // client that writes an edit again under a new id (instead of resending it, SYNC-008) or
    // uploads operations it never committed shows here.
    auto edit = s.edit_by_op.find(id);
    if (edit == s.edit_by_op.end()) {
      if (s.config.protocol != Protocol::kOpsyncV1) continue;
      world.violation(
          "log_integrity", {"server"}, {to_base64url(id)},
          "operation " + short_id(id) + " at position " + std::to_string(i + 1) +
              " is in the log, and no device committed it: a retry sent a new operation instead of "
              "resending the one it had (SYNC-008)");
      return;
    }
    const EditRecord& record = s.edits[edit->second];
    // What the operation says is what its device told when it committed it: the heads it held
    // as its bases (LWW-011), its key and its type; and the workspace's keys open it (CRY-020).
    if (s.config.protocol == Protocol::kOpsyncV1 && s.keys_known && i < s.server.meanings.size()) {
      const std::string& device_name = s.devices.at(record.device).name;
      const std::optional<ObjectOp>& meaning = s.server.meanings[i];
      if (!meaning) {
        world.violation(
            "log_integrity", {device_name, "server"}, {to_base64url(id)},
            "operation " + short_id(id) + " (" + record.kind + " " + record.key + ") of " +
                device_name +
                " cannot be opened with the workspace's operation key and its own associated data, "
                "or its payload is not one of spec 10.1 (CRY-020, LWW-001)");
        return;
      }
      const bool is_delete = meaning->payload.type == OpType::kDelete;
      const std::set<OpId> bases(meaning->payload.bases.begin(), meaning->payload.bases.end());
      const std::set<OpId> held(record.seen.begin(), record.seen.end());
      std::string wrong;
      if (meaning->payload.key != record.key)
        wrong = "is for key " + meaning->payload.key;
      else if (is_delete != (record.kind == "delete"))
        wrong = std::string("is a ") + (is_delete ? "delete" : "put");
      else if (held.size() <= kBasesMax && bases != held)
        wrong = "names " + std::to_string(bases.size()) + " bases where the device held " +
                std::to_string(held.size()) + " heads of the key when it wrote it (LWW-011)";
      if (!wrong.empty()) {
        world.violation("log_integrity", {device_name, "server"}, {to_base64url(id)},
                        "operation " + short_id(id) + ", which " + device_name + " committed as " +
                            record.kind + " " + record.key + ", " + wrong);
        return;
      }
    }
    if (!record.requested) {
      world.violation("log_integrity", {s.devices.at(record.device).name, "server"},
                      {to_base64url(id)},
                      "operation " + short_id(id) + " (" + record.kind + " " + record.key +
                          ") is in the log, and " + s.devices.at(record.device).name +
                          " made it with no edit asking for it: a retry made a new operation "
                          "instead of resending "
                          "the same one (SYNC-008)");
      return;
    }
  }
}

// A write made after its device saw another carries a larger timestamp (HLC-001, HLC-002,
// HLC-004), and the write a device overwrote never wins over the one that overwrote it.
void check_causality(World& world, const EndState& s, const ObjectsView&) {
  std::map<OpId, Hlc> final_hlc;
  for (size_t i = 0; i < s.server.log.size(); ++i)
    if (s.server.meanings[i]) final_hlc[s.server.log[i]] = s.server.meanings[i]->hlc;
  // Operations that never reached the log: the timestamp their device holds them with now.
  std::map<OpId, Hlc> pending_hlc;
  for (const DeviceReport& device : s.devices)
    pending_hlc.insert(device.pending_hlc.begin(), device.pending_hlc.end());
  // The timestamp an operation ended with in the log or on its device (re-stamping after
  // clock_skew may have changed it, HLC-020), else the one it was last uploaded with (a restore
  // may have removed it from the log after a re-stamp), else the one it was written with.
  auto hlc_of = [&](const OpId& id) -> std::optional<Hlc> {
    auto it = final_hlc.find(id);
    if (it != final_hlc.end()) return it->second;
    if (auto pending = pending_hlc.find(id); pending != pending_hlc.end()) return pending->second;
    if (auto uploaded = s.uploaded_hlc.find(id); uploaded != s.uploaded_hlc.end())
      return uploaded->second;
    auto edit = s.edit_by_op.find(id);
    if (edit != s.edit_by_op.end()) return s.edits[edit->second].hlc;
    return std::nullopt;
  };
  for (const EditRecord& edit : s.edits) {
    const std::optional<Hlc> mine = hlc_of(edit.op);
    if (!mine) continue;
    std::vector<OpId> before = edit.seen;
    if (edit.previous_own) before.push_back(*edit.previous_own);
    for (const OpId& seen : before) {
      const std::optional<Hlc> theirs = hlc_of(seen);
      if (!theirs || *theirs < *mine) continue;
      const bool own = edit.previous_own && seen == *edit.previous_own;
      world.violation("causality", {s.devices.at(edit.device).name},
                      {to_base64url(seen), to_base64url(edit.op)},
                      "operation " + short_id(edit.op) + " (" + edit.kind + " " + edit.key +
                          ") was written after " + s.devices.at(edit.device).name +
                          (own ? " wrote " : " held ") + short_id(seen) + ", yet its timestamp (" +
                          std::to_string(mine->wall_ms) + "," + std::to_string(mine->counter) +
                          ") is not above (" + std::to_string(theirs->wall_ms) + "," +
                          std::to_string(theirs->counter) + ")");
      return;
    }
  }
  // The winner of a key must not be a write that a write in the log was made after seeing (only
  // meaningful once every device has seen the whole log: after a heal that ended quiet).
  if (!s.healed) return;
  std::map<OpId, std::vector<const EditRecord*>> overwritten_by;
  for (const EditRecord& edit : s.edits)
    if (final_hlc.count(edit.op))  // writes the devices could all see: those in the log
      for (const OpId& seen : edit.seen) overwritten_by[seen].push_back(&edit);
  for (const DeviceReport& device : s.devices) {
    if (!device.live) continue;
    for (const auto& [key, heads] : device.objects) {
      if (heads.empty() || heads.front().deleted) continue;
      const OpId winner = heads.front().id;
      auto it = overwritten_by.find(winner);
      if (it == overwritten_by.end()) continue;
      for (const EditRecord* later : it->second) {
        if (later->kind == "delete") continue;  // a delete that saw the winner: no_resurrection's
        world.violation("causality", {device.name, s.devices.at(later->device).name},
                        {to_base64url(it->first), to_base64url(later->op)},
                        device.name + " shows " + short_id(it->first) + " at key " + key +
                            ", which " + s.devices.at(later->device).name + " overwrote with " +
                            short_id(later->op) + " after seeing it");
        return;
      }
    }
  }
}

// A key whose last write, in the order devices saw writes, is a delete stays absent.
void check_no_resurrection(World& world, const EndState& s) {
  const std::set<OpId> in_log(s.server.log.begin(), s.server.log.end());
  std::map<OpId, const EditRecord*> by_op;
  for (const EditRecord& edit : s.edits) by_op[edit.op] = &edit;
  // Everything a delete saw, transitively, within its key.
  auto seen_closure = [&](const EditRecord& edit) {
    std::set<OpId> out;
    std::vector<OpId> work = edit.seen;
    while (!work.empty() && out.size() < 100000) {  // bounded by the edits of the run
      const OpId id = work.back();
      work.pop_back();
      if (!out.insert(id).second) continue;
      auto it = by_op.find(id);
      if (it != by_op.end())
        work.insert(work.end(), it->second->seen.begin(), it->second->seen.end());
    }
    return out;
  };
  for (const EditRecord& edit : s.edits) {
    if (edit.kind != "delete" || !in_log.count(edit.op)) continue;
    const std::set<OpId> saw = seen_closure(edit);
    for (const DeviceReport& device : s.devices) {
      if (!device.live) continue;
      auto it = device.objects.find(edit.key);
      if (it == device.objects.end() || it->second.empty() || it->second.front().deleted) continue;
      const HeadView& winner = it->second.front();
      const bool resurrected = saw.count(winner.id) != 0;
      if (!resurrected) continue;
      world.violation("no_resurrection", {device.name, s.devices.at(edit.device).name},
                      {to_base64url(edit.op), to_base64url(winner.id)},
                      "key " + edit.key + " is present on " + device.name + " although " +
                          s.devices.at(edit.device).name + " deleted it (" + short_id(edit.op) +
                          ") after seeing every write it shows");
      return;
    }
  }
}

}  // namespace

// A file nobody can bring back, by design: the device that attached it was revoked (a revoked
// device can no longer upload, AUTH-016), no other device ever received a chunk of it, and the
// server does not hold it (a restore from a backup older than its commit took it out). Seed 33322:
// device-1 attached and committed a file, a restore removed it, and device-1 was revoked before it
// could upload it again; device-0's operation still references it.
bool file_lost_with_its_revoked_holder(const EndState& s, const FileId& id) {
  auto by = s.file_attached_by.find(id);
  if (by == s.file_attached_by.end() || s.devices.at(by->second).live) return false;
  auto state = s.server.file_states.find(id);
  if (state != s.server.file_states.end() && state->second == "committed") return false;
  auto received = s.file_chunks_received_by.find(id);
  if (received == s.file_chunks_received_by.end()) return true;
  return std::all_of(received->second.begin(), received->second.end(), [&](uint32_t device) {
    return device == by->second || !s.devices.at(device).live;
  });
}

// Seed 36108: device-4 held the only copy of a file, sent DELETE for it and kept the copy for the
// hour FILE-040 asks; device-0, offline with an edit carrying the reference forward, uploaded it
// after that hour. The spec promises the file within the retention time only.
bool file_outlived_its_retention(const EndState& s, const FileId& id) {
  if (s.external_server) return false;  // an external server's retention time is its own
  auto state = s.server.file_states.find(id);
  if (state != s.server.file_states.end() && state->second == "committed") return false;
  auto by = s.file_attached_by.find(id);
  if (by == s.file_attached_by.end()) return false;
  std::set<uint32_t> holders{by->second};
  if (auto received = s.file_chunks_received_by.find(id);
      received != s.file_chunks_received_by.end())
    holders.insert(received->second.begin(), received->second.end());
  // When each operation of the log that references the file reached the server.
  std::vector<uint64_t> referenced_ms;
  for (size_t i = 0; i < s.server.meanings.size() && i < s.log_position_filled_ms.size(); ++i) {
    const std::optional<ObjectOp>& op = s.server.meanings[i];
    if (!op) continue;
    for (const FileRef& file : op->payload.files)
      if (file.id == id) referenced_ms.push_back(s.log_position_filled_ms[i]);
  }
  if (referenced_ms.empty()) return false;
  auto deletes = s.file_delete_answered_ms.find(id);
  if (deletes == s.file_delete_answered_ms.end()) return false;
  for (uint32_t holder : holders) {
    auto answered = deletes->second.find(holder);
    if (answered == deletes->second.end())
      return false;  // it never deleted: its copy must be there
    // A reference that reached the server after this holder's DELETE was answered and within
    // its time obliged it to keep the copy and bring the file back (FILE-040); one that came
    // before, the holder had already weighed when it deleted.
    for (uint64_t at_ms : referenced_ms)
      if (at_ms >= answered->second && at_ms <= answered->second + kRetentionMsMin) return false;
  }
  return true;
}

namespace {

void check_files(World& world, const EndState& s, const ObjectsView& reference) {
  std::set<FileId> referenced;
  for (const auto& [key, heads] : reference)
    for (const HeadView& head : heads)
      if (!head.deleted) referenced.insert(head.files.begin(), head.files.end());
  for (const DeviceReport& device : s.devices) {
    if (!device.live) continue;
    for (const auto& [key, heads] : device.objects)
      for (const HeadView& head : heads)
        for (const FileId& id : head.files) {
          auto want = s.file_contents.find(id);
          if (want == s.file_contents.end()) continue;
          auto have = device.file_copies.find(id);
          if (have == device.file_copies.end()) {
            if (file_lost_with_its_revoked_holder(s, id) || file_outlived_its_retention(s, id))
              continue;
            world.violation("files", {device.name}, {to_base64url(id)},
                            device.name + " references file " + short_id(id) + " at key " + key +
                                " and holds no copy of it after the heal");
            return;
          }
          if (have->second != want->second) {
            world.violation("files", {device.name}, {to_base64url(id)},
                            device.name + "'s copy of file " + short_id(id) + " (" +
                                std::to_string(have->second.size()) + " bytes) differs from the " +
                                std::to_string(want->second.size()) + " bytes that were attached");
            return;
          }
        }
  }
  if (s.config.protocol == Protocol::kOpsyncV1)
    for (const FileId& id : referenced) {
      auto state = s.server.file_states.find(id);
      if (state != s.server.file_states.end() && state->second == "committed") continue;
      if (file_lost_with_its_revoked_holder(s, id) || file_outlived_its_retention(s, id)) continue;
      world.violation(
          "files", {"server"}, {to_base64url(id)},
          "file " + short_id(id) + " is referenced after the heal and the server holds it " +
              (state == s.server.file_states.end() ? "not at all" : "as " + state->second));
      return;
    }
}

void check_orphans(World& world, const EndState& s, const ObjectsView& reference) {
  std::set<FileId> referenced;
  for (const auto& [key, heads] : reference)
    for (const HeadView& head : heads) referenced.insert(head.files.begin(), head.files.end());
  for (const auto& [id, state] : s.server.file_states) {
    if (referenced.count(id)) continue;
    // Excepted: a file a device committed (FILE-021: files before the operations that reference
    // them) and then could not reference, because its token was revoked first.
    auto by = s.file_attached_by.find(id);
    if (by != s.file_attached_by.end() && !s.devices.at(by->second).live) continue;
    world.violation("orphans", {"server"}, {to_base64url(id)},
                    "the server still holds file " + short_id(id) + " (" + state +
                        ") after its collection ran, and no head references it");
    return;
  }
  for (const DeviceReport& device : s.devices) {
    if (!device.live) continue;
    if (!device.unreferenced_copies.empty()) {
      world.violation("orphans", {device.name}, {to_base64url(*device.unreferenced_copies.begin())},
                      device.name + " keeps a copy of file " +
                          short_id(*device.unreferenced_copies.begin()) +
                          " that no head references and that it never deleted (FILE-022)");
      return;
    }
    // The simulated server's retention time (one hour) is long over at the collection.
    if (!s.external_server && !device.retained_copies.empty()) {
      world.violation("orphans", {device.name}, {to_base64url(*device.retained_copies.begin())},
                      device.name + " still keeps a copy of file " +
                          short_id(*device.retained_copies.begin()) +
                          " that no head references, past the retention time (FILE-040)");
      return;
    }
  }
}

void check_mirrors(World& world, const EndState& s) {
  if (s.config.protocol != Protocol::kOpsyncV1 || !s.healed) return;
  for (const DeviceReport& device : s.devices) {
    if (!device.live || !device.mirror_prefix_hash) continue;
    if (device.mirror_length != s.server.log.size())
      world.violation("log_integrity", {device.name, "server"}, {},
                      device.name + " holds " + std::to_string(device.mirror_length) +
                          " operations of the log after the heal; the server holds " +
                          std::to_string(s.server.log.size()));
  }
}

}  // namespace

void run_end_checkers(World& world, const EndState& s) {
  std::vector<std::string> keys = world.keys();
  const ObjectsView reference = resolve(s, keys);
  if (s.healed) {
    // Convergence and files are promises of a healed system; liveness has already failed otherwise.
    check_convergence(world, s, keys, reference);
    check_files(world, s, reference);
    check_orphans(world, s, reference);
    check_mirrors(world, s);
  }
  check_nothing_lost(world, s);
  check_log_integrity(world, s);
  check_causality(world, s, reference);
  if (s.healed) check_no_resurrection(world, s);
}

}  // namespace opsync::simulator
