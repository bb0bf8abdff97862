// lww.json: last-write-wins resolution with visible conflicts (spec 10.2) and the payload
// plaintext's rules (spec 10.1, LWW-001, LWW-002).
#include "opsync/protocol/lww.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "opsync/protocol/files.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/sha256.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "lww";
constexpr std::string_view kAlgorithm = "LastWriteWins";
constexpr uint64_t kSeed = 0x11ee;
// The verifier applies a case in every order when it has at most this many operations, and in
// kShuffles seeded orders otherwise.
constexpr size_t kAllOrdersMaxOps = 6;
constexpr size_t kShuffles = 48;

constexpr uint64_t kNowMs = 1764000000000;
constexpr uint32_t kChunkBytes = 1048576;

// Ids are a label's ASCII bytes padded with zeros, so that ties broken by id read naturally.
OpId label_id(std::string_view label) {
  require(label.size() <= 16, "label too long");
  OpId id;
  std::copy(label.begin(), label.end(), id.bytes.begin());
  return id;
}

// ---- JSON forms -------------------------------------------------------------------------------

Json file_ref_json(const FileRef& ref) {
  return Json{{"id", hex(ref.id)},
              {"name", ref.name},
              {"size_bytes", ref.size_bytes},
              {"chunk_bytes", ref.chunk_bytes},
              {"chunk_count", ref.chunk_count},
              {"sha256", hex(ref.sha256)}};
}

Json ids_json(const std::vector<OpId>& ids) {
  Json out = Json::array();
  for (const OpId& id : ids) out.push_back(hex(id));
  return out;
}

// The payload with binary values as hex; value and files only for a put.
Json payload_json(const ObjectPayload& payload) {
  Json out{{"type", payload.type == OpType::kPut ? "put" : "delete"}, {"key", payload.key}};
  if (payload.type == OpType::kPut) out["value"] = hex(payload.value);
  out["bases"] = ids_json(payload.bases);
  if (payload.type == OpType::kPut) {
    Json files = Json::array();
    for (const FileRef& ref : payload.files) files.push_back(file_ref_json(ref));
    out["files"] = std::move(files);
  }
  return out;
}

Json op_json(const ObjectOp& op) {
  return Json{{"id", hex(op.id)}, {"hlc", hlc_json(op.hlc)}, {"payload", payload_json(op.payload)}};
}

Json key_view_json(const KeyView& view) {
  return Json{{"winner", view.winner ? Json(hex(*view.winner)) : Json(nullptr)},
              {"present", view.present},
              {"conflicts", ids_json(view.conflicts)}};
}

std::vector<OpId> read_ids(const Json& object, std::string_view name) {
  std::vector<OpId> out;
  const Json& items = read_array(object, name);
  for (size_t i = 0; i < items.size(); ++i)
    out.push_back(fixed_element<16>(items[i], std::string(name) + "[" + std::to_string(i) + "]"));
  return out;
}

FileRef read_file_ref(const Json& json) {
  FileRef ref;
  ref.id = read_fixed<16>(json, "id");
  ref.name = read_string(json, "name");
  ref.size_bytes = read_uint(json, "size_bytes");
  ref.chunk_bytes = static_cast<uint32_t>(read_uint(json, "chunk_bytes", 0xFFFFFFFFu));
  ref.chunk_count = static_cast<uint32_t>(read_uint(json, "chunk_count", 0xFFFFFFFFu));
  ref.sha256 = read_fixed<32>(json, "sha256");
  return ref;
}

ObjectPayload read_payload(const Json& json) {
  ObjectPayload payload;
  const std::string type = read_string(json, "type");
  if (type != "put" && type != "delete") throw MalformedVector("type must be put or delete");
  payload.type = type == "put" ? OpType::kPut : OpType::kDelete;
  payload.key = read_string(json, "key");
  payload.bases = read_ids(json, "bases");
  if (payload.type == OpType::kPut) {
    payload.value = read_hex(json, "value");
    for (const Json& ref : read_array(json, "files")) payload.files.push_back(read_file_ref(ref));
  }
  return payload;
}

ObjectOp read_object_op(const Json& json) {
  return ObjectOp{read_fixed<16>(json, "id"), read_hlc(json, "hlc"),
                  read_payload(read_object(json, "payload"))};
}

// ---- resolution -------------------------------------------------------------------------------

struct OpSpec {
  std::string label;
  uint64_t wall_ms_after_now;
  uint32_t counter;
  OpType type;
  std::vector<std::string> bases;  // labels
  std::string key = "notes/1";
  std::string value = "";           // put only; ASCII text for readability
  std::vector<FileRef> files = {};  // put only
};

ObjectOp object_op(const OpSpec& spec) {
  ObjectOp op;
  op.id = label_id(spec.label);
  op.hlc = Hlc{kNowMs + spec.wall_ms_after_now, spec.counter};
  op.payload.type = spec.type;
  op.payload.key = spec.key;
  for (const std::string& base : spec.bases) op.payload.bases.push_back(label_id(base));
  if (spec.type == OpType::kPut) {
    op.payload.value = to_bytes(spec.value);
    op.payload.files = spec.files;
  }
  return op;
}

std::map<std::string, KeyView> resolve(const std::vector<ObjectOp>& ops,
                                       const std::vector<size_t>& order) {
  ObjectStore store;
  for (size_t i : order) store.apply(ops[i]);
  return store.snapshot();
}

std::vector<size_t> in_order(size_t count) {
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

void add_resolution(TestGroup& group, std::string id, std::string comment,
                    std::vector<std::string> flags, const std::vector<ObjectOp>& ops) {
  Json ops_array = Json::array();
  for (const ObjectOp& op : ops) {
    ops_array.push_back(op_json(op));
    require(parse_payload(serialize_payload(op.payload)).ok(), id + ": payload breaks LWW-001");
  }
  Json state = Json::object();
  for (const auto& [key, view] : resolve(ops, in_order(ops.size())))
    state[key] = key_view_json(view);
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), true,
                     Json{{"ops", std::move(ops_array)}, {"state", std::move(state)}}});
}

void add_resolution(TestGroup& group, std::string id, std::string comment,
                    std::vector<std::string> flags, const std::vector<OpSpec>& specs) {
  std::vector<ObjectOp> ops;
  for (const OpSpec& spec : specs) ops.push_back(object_op(spec));
  add_resolution(group, std::move(id), std::move(comment), std::move(flags), ops);
}

// ---- payload texts ----------------------------------------------------------------------------

std::string b64_id(std::string_view label) { return to_base64url(label_id(label)); }

FileRef sample_file(std::string_view label, std::string name, uint64_t size_bytes,
                    uint32_t chunk_bytes = kChunkBytes) {
  FileRef ref;
  ref.id = label_id(label);
  ref.name = std::move(name);
  ref.size_bytes = size_bytes;
  ref.chunk_bytes = chunk_bytes;
  ref.chunk_count = static_cast<uint32_t>(chunk_count_for(size_bytes, chunk_bytes));
  ref.sha256 = sha256(std::string_view(label));
  return ref;
}

// A compact file_ref text with `name`, `size_bytes`, `chunk_bytes` and `chunk_count` as given.
std::string file_ref_text(std::string_view id_label, std::string_view name_json,
                          uint64_t size_bytes, uint64_t chunk_bytes, uint64_t chunk_count) {
  return "{\"id\":\"" + b64_id(id_label) + "\",\"name\":" + std::string(name_json) +
         ",\"size_bytes\":" + std::to_string(size_bytes) +
         ",\"chunk_bytes\":" + std::to_string(chunk_bytes) +
         ",\"chunk_count\":" + std::to_string(chunk_count) + ",\"sha256\":\"" +
         to_base64url(sha256(std::string_view("file"))) + "\"}";
}

std::string put_text(std::string_view key_json, std::string_view bases_json,
                     std::string_view files_json) {
  return "{\"v\":1,\"type\":\"put\",\"key\":" + std::string(key_json) +
         ",\"value\":\"aGVsbG8\",\"bases\":" + std::string(bases_json) +
         ",\"files\":" + std::string(files_json) + "}";
}

std::string with_file(std::string_view file_ref) {
  return put_text("\"notes/1\"", "[]", "[" + std::string(file_ref) + "]");
}

std::string id_list_text(size_t count) {
  std::string out = "[";
  for (size_t i = 0; i < count; ++i)
    out += (i ? ",\"" : "\"") + b64_id("base" + std::to_string(i)) + "\"";
  return out + "]";
}

void add_payload(TestGroup& group, std::string id, std::string comment,
                 std::vector<std::string> flags, const std::string& text) {
  Result<ObjectPayload> parsed = parse_payload(view_of(text));
  require(parsed.ok(), id + ": parse_payload rejected it: " +
                           (parsed.ok() ? std::string() : parsed.error().to_string()));
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), true,
                     Json{{"payloadJson", text}, {"payload", payload_json(*parsed)}}});
}

// `code` and `field` are what LWW-001/LWW-002 and TRN-022 call for; generation stops if the
// library disagrees.
void add_bad_payload(TestGroup& group, std::string id, std::string comment,
                     std::vector<std::string> flags, const std::string& text, Code code,
                     std::string field) {
  Result<ObjectPayload> parsed = parse_payload(view_of(text));
  require(!parsed.ok(), id + ": parse_payload accepted it");
  require(parsed.error().code == code && parsed.error().field == field,
          id + ": parse_payload reports " + parsed.error().to_string() + ", expected " +
              std::string(code_name(code)) + " at " + field);
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), false,
                     Json{{"payloadJson", text},
                          {"errorCode", code_name(code)},
                          {"errorField", std::move(field)}}});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"Objects and conflicts (spec 10): resolution of a key's operations (10.2, LWW-010, "
       "LWW-013) and the payload plaintext (10.1, LWW-001, LWW-002).",
       "Binary values are lowercase hex. In LwwResolutionTest, ids are ASCII labels padded with "
       "zero bytes (\"p1\" is 7031 followed by 14 zero bytes) so that ties broken by id read "
       "naturally; ids compare as unsigned bytes.",
       "LwwResolutionTest: ops is a set of decrypted operations {id, hlc, payload}, the payload "
       "written as in spec 10.1 but with binary values in hex. state gives, for every key the "
       "operations touch, the winner's id (null when no head is left), whether the key is "
       "present (the winner is a put) and the other heads' ids, listed greatest first: the "
       "conflicts are a set, so compare them as one (LWW-015). The state must "
       "not depend on the order in which the operations arrive, nor on duplicates: apply the "
       "operations in every order (up to 6 operations) or in many shuffled orders, and with "
       "every operation applied twice, and compare each result with state.",
       "PayloadParseTest: payloadJson is a payload plaintext exactly as decrypted (its UTF-8 "
       "bytes). Valid texts parse to payload; invalid ones break LWW-001, LWW-002 or the strict "
       "JSON rules that apply to payloads as to requests (TRN-020..TRN-025), and must not be "
       "applied (LWW-003); errorCode and errorField are what the reference library reports."});
  file.note("Ordering", "BASIC",
            "Heads ordered by (hlc.wall_ms, hlc.counter, id): the greatest wins, the rest are "
            "conflicts.");
  file.note("IdTieBreak", "EDGE_CASE",
            "Equal timestamps, so the id decides, compared as unsigned bytes (spec 15, item 3).");
  file.note("Tombstone", "FUNCTIONALITY", "A delete winner makes the key absent (a tombstone).");
  file.note("Concurrent", "FUNCTIONALITY",
            "Writes made without seeing each other: both stay heads, the loser visible as a "
            "conflict.");
  file.note("Supersedes", "FUNCTIONALITY",
            "A write naming others in bases supersedes them whatever their clocks (spec 15, "
            "item 2: a write made after seeing another wins even with a slower clock).");
  file.note("CausalInversion", "KNOWN_BUG",
            "An operation that arrives before the operation it supersedes; Dataans failed to "
            "apply such updates (spec 15, item 4).");
  file.note("Duplicates", "EDGE_CASE", "The same operation held twice counts once (LWW-010).");
  file.note("MultipleKeys", "FUNCTIONALITY", "Operations on several keys resolve per key.");
  file.note("ValidPayload", "BASIC", "A payload plaintext that follows spec 10.1.");
  file.note("PayloadBoundary", "EDGE_CASE", "A payload at a limit LWW-001 or LWW-002 allows.");
  file.note("BadVersion", "MODIFIED_PARAMETER",
            "v other than 1: an unknown payload format (VER-007).");
  file.note("BadType", "MODIFIED_PARAMETER", "type other than put or delete.");
  file.note("BadKey", "MODIFIED_PARAMETER", "A key that is empty, too long or holds U+0000.");
  file.note("BadBases", "MODIFIED_PARAMETER",
            "bases with a repeated id, more than 64 ids, or an id that is not 16 bytes of "
            "canonical base64url.");
  file.note("DeleteWithValue", "MODIFIED_PARAMETER", "A delete carrying value or files.");
  file.note("MissingMember", "MODIFIED_PARAMETER", "A required member left out.");
  file.note("BadFileName", "MODIFIED_PARAMETER",
            "A file name that is empty, too long, \".\", \"..\", or holds /, \\ or U+0000: it "
            "would escape or break a directory when saved.");
  file.note("BadChunking", "MODIFIED_PARAMETER",
            "chunk_bytes outside 65,536..16,777,216, or chunk_count other than "
            "max(1, ceil(size_bytes / chunk_bytes)).");
  file.note("BadFiles", "MODIFIED_PARAMETER", "Repeated file ids or more than 64 files.");
  file.note("UnknownMember", "MODIFIED_PARAMETER",
            "A member the payload does not define: payloads are strict like requests.");
  file.note("BadJson", "MODIFIED_PARAMETER", "Not a JSON object, or a wrongly typed value.");

  TestGroup& resolution = file.group(Json{{"type", "LwwResolutionTest"}});
  using enum OpType;
  add_resolution(resolution, "lww/single-put", "One put: it wins, the key is present.",
                 {"Ordering"}, std::vector<OpSpec>{{"p1", 0, 0, kPut, {}, "notes/1", "hello"}});
  add_resolution(resolution, "lww/later-wall-ms-wins",
                 "Two concurrent puts: the later wall_ms wins, the other is a conflict.",
                 {"Ordering", "Concurrent"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "first"},
                                     {"p2", 2000, 0, kPut, {}, "notes/1", "second"}});
  add_resolution(resolution, "lww/counter-breaks-wall-ms-tie",
                 "Equal wall_ms: the larger counter wins although its id is smaller.",
                 {"Ordering", "Concurrent"},
                 std::vector<OpSpec>{{"p1", 1000, 1, kPut, {}, "notes/1", "counter 1"},
                                     {"p2", 1000, 0, kPut, {}, "notes/1", "counter 0"}});
  add_resolution(resolution, "lww/id-breaks-full-tie",
                 "Equal timestamps: the larger id (\"p2\" > \"p1\") wins on every device.",
                 {"IdTieBreak", "Concurrent"},
                 std::vector<OpSpec>{{"p2", 1000, 3, kPut, {}, "notes/1", "from p2"},
                                     {"p1", 1000, 3, kPut, {}, "notes/1", "from p1"}});
  {
    ObjectOp low = object_op({"p1", 1000, 0, kPut, {}, "notes/1", "id 7fff..."});
    ObjectOp high = object_op({"p2", 1000, 0, kPut, {}, "notes/1", "id 8000..."});
    low.id.bytes.fill(0xff);
    low.id.bytes[0] = 0x7f;
    high.id = OpId{};
    high.id.bytes[0] = 0x80;
    add_resolution(resolution, "lww/id-compared-as-unsigned-bytes",
                   "Ids 7fff...ff and 8000...00 with equal timestamps: 80 is the larger byte "
                   "(a signed comparison would pick 7f).",
                   {"IdTieBreak", "Concurrent"}, std::vector<ObjectOp>{low, high});
  }
  add_resolution(resolution, "lww/delete-is-a-tombstone",
                 "A delete that saw the put: the key is absent, nothing in conflict.",
                 {"Tombstone", "Supersedes"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "doomed"},
                                     {"d1", 2000, 0, kDelete, {"p1"}}});
  add_resolution(resolution, "lww/concurrent-put-beats-earlier-delete",
                 "A put and a delete made without seeing each other; the put is later.",
                 {"Tombstone", "Concurrent"},
                 std::vector<OpSpec>{{"p1", 2000, 0, kPut, {}, "notes/1", "kept"},
                                     {"d1", 1000, 0, kDelete, {}}});
  add_resolution(resolution, "lww/concurrent-delete-beats-earlier-put",
                 "A put and a delete made without seeing each other; the delete is later: the "
                 "key is absent and the put stays visible as a conflict.",
                 {"Tombstone", "Concurrent"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "lost?"},
                                     {"d1", 2000, 0, kDelete, {}}});
  add_resolution(resolution, "lww/equal-timestamps-put-and-delete",
                 "A concurrent put and delete with equal timestamps: id \"p1\" > \"d1\".",
                 {"Tombstone", "Concurrent", "IdTieBreak"},
                 std::vector<OpSpec>{{"d1", 1000, 0, kDelete, {}},
                                     {"p1", 1000, 0, kPut, {}, "notes/1", "same time"}});
  add_resolution(resolution, "lww/supersedes-despite-lower-clock",
                 "p2 names p1 in bases but its clock is four seconds behind: p2 wins alone.",
                 {"Supersedes"},
                 std::vector<OpSpec>{{"p1", 5000, 0, kPut, {}, "notes/1", "fast clock"},
                                     {"p2", 1000, 0, kPut, {"p1"}, "notes/1", "edited after"}});
  add_resolution(resolution, "lww/superseding-op-arrives-first",
                 "p2 (which supersedes p1) is listed first: applying p1 later must not make it "
                 "a head.",
                 {"Supersedes", "CausalInversion"},
                 std::vector<OpSpec>{{"p2", 1000, 0, kPut, {"p1"}, "notes/1", "update"},
                                     {"p1", 500, 0, kPut, {}, "notes/1", "create"}});
  add_resolution(resolution, "lww/duplicates",
                 "p1 listed twice and p2 once: the same as holding each once.",
                 {"Duplicates", "Concurrent"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "twice"},
                                     {"p2", 900, 0, kPut, {}, "notes/1", "once"},
                                     {"p1", 1000, 0, kPut, {}, "notes/1", "twice"}});
  add_resolution(resolution, "lww/write-resolves-conflict",
                 "p3 names both concurrent heads p1 and p2: one head remains.",
                 {"Supersedes", "Concurrent"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "left"},
                                     {"p2", 2000, 0, kPut, {}, "notes/1", "right"},
                                     {"p3", 1500, 0, kPut, {"p1", "p2"}, "notes/1", "merged"}});
  add_resolution(resolution, "lww/partial-resolution",
                 "p4 supersedes only p1: p2, p3 and p4 stay heads, greatest first.",
                 {"Supersedes", "Concurrent"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "a"},
                                     {"p2", 3000, 0, kPut, {}, "notes/1", "b"},
                                     {"p3", 2000, 0, kPut, {}, "notes/1", "c"},
                                     {"p4", 1000, 1, kPut, {"p1"}, "notes/1", "a2"}});
  add_resolution(resolution, "lww/three-way-conflict",
                 "Three concurrent puts: conflicts listed greatest first.",
                 {"Ordering", "Concurrent"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "one"},
                                     {"p2", 3000, 0, kPut, {}, "notes/1", "three"},
                                     {"p3", 2000, 0, kPut, {}, "notes/1", "two"}});
  add_resolution(resolution, "lww/chain-of-edits", "p1 <- p2 <- p3, each naming the one before.",
                 {"Supersedes"},
                 std::vector<OpSpec>{{"p3", 3000, 0, kPut, {"p2"}, "notes/1", "v3"},
                                     {"p1", 1000, 0, kPut, {}, "notes/1", "v1"},
                                     {"p2", 2000, 0, kPut, {"p1"}, "notes/1", "v2"}});
  add_resolution(resolution, "lww/put-after-delete",
                 "A put that saw the tombstone brings the key back.", {"Tombstone", "Supersedes"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "v1"},
                                     {"d1", 2000, 0, kDelete, {"p1"}},
                                     {"p2", 3000, 0, kPut, {"d1"}, "notes/1", "again"}});
  add_resolution(resolution, "lww/base-never-held",
                 "p1 names an operation this device never receives: p1 is still the winner.",
                 {"Supersedes", "CausalInversion"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {"gone"}, "notes/1", "v"}});
  add_resolution(resolution, "lww/bases-only-affect-their-own-key",
                 "q1 on notes/2 names p1 of notes/1 in bases: heads are per key, p1 stays.",
                 {"MultipleKeys", "Supersedes"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "one"},
                                     {"q1", 2000, 0, kPut, {"p1"}, "notes/2", "two"}});
  add_resolution(resolution, "lww/two-keys",
                 "Two keys, each with a superseded put and a concurrent delete.",
                 {"MultipleKeys", "Tombstone", "Concurrent"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "a"},
                                     {"q1", 1000, 0, kPut, {}, "notes/2", "b"},
                                     {"p2", 2000, 0, kPut, {"p1"}, "notes/1", "a2"},
                                     {"q2", 1500, 0, kDelete, {"q1"}, "notes/2"},
                                     {"q3", 1200, 0, kPut, {}, "notes/2", "b2"}});
  add_resolution(resolution, "lww/files-ride-along",
                 "File references are part of a put's value; they do not change resolution.",
                 {"Supersedes"},
                 std::vector<OpSpec>{{"p1",
                                      1000,
                                      0,
                                      kPut,
                                      {},
                                      "notes/1",
                                      "with photo",
                                      {sample_file("f1", "photo.jpg", 3000000)}},
                                     {"p2", 2000, 0, kPut, {"p1"}, "notes/1", "photo removed"}});
  add_resolution(resolution, "lww/empty-value-is-present",
                 "A put with an empty value: present, unlike a delete.", {"Ordering"},
                 std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", ""}});
  add_resolution(
      resolution, "lww/branching-history",
      "Eight operations: two branches merged, deleted, recreated, and a late concurrent edit "
      "with an old clock superseded by a write that saw it. Too many for every order: the "
      "verifier shuffles.",
      {"Supersedes", "Concurrent", "Tombstone", "CausalInversion"},
      std::vector<OpSpec>{{"p1", 1000, 0, kPut, {}, "notes/1", "start"},
                          {"p2", 2000, 0, kPut, {"p1"}, "notes/1", "branch a"},
                          {"p3", 2000, 0, kPut, {"p1"}, "notes/1", "branch b"},
                          {"p4", 3000, 0, kPut, {"p2", "p3"}, "notes/1", "merged"},
                          {"d5", 4000, 0, kDelete, {"p4"}},
                          {"p6", 500, 0, kPut, {}, "notes/1", "offline edit, slow clock"},
                          {"p7", 5000, 0, kPut, {"d5"}, "notes/1", "recreated"},
                          {"p8", 4500, 2, kPut, {"p6"}, "notes/1", "saw the offline edit"}});

  TestGroup& payloads = file.group(Json{{"type", "PayloadParseTest"}});
  {
    ObjectPayload full;
    full.key = "notes/42";
    full.value = to_bytes("hello, world");
    full.bases = {label_id("p1"), label_id("p2")};
    full.files = {sample_file("f1", "photo.jpg", 3000000), sample_file("f2", "empty.txt", 0)};
    add_payload(payloads, "lww/payload-put", "A put with a value, two bases and two files.",
                {"ValidPayload"}, to_string(serialize_payload(full)));
  }
  add_payload(payloads, "lww/payload-put-minimal", "Empty value, no bases, no files.",
              {"ValidPayload"},
              R"({"v":1,"type":"put","key":"k","value":"","bases":[],"files":[]})");
  add_payload(payloads, "lww/payload-delete", "A delete naming the head it saw.", {"ValidPayload"},
              R"({"v":1,"type":"delete","key":"notes/42","bases":[")" + b64_id("p1") + "\"]}");
  add_payload(payloads, "lww/payload-reordered-with-whitespace",
              "Members in another order, with whitespace: JSON, not a byte format.",
              {"ValidPayload"},
              "{\n  \"bases\": [],\n  \"key\": \"notes/1\",\n  \"files\": [],\n  \"type\": "
              "\"put\",\n  \"value\": \"AAEC\",\n  \"v\": 1\n}");
  add_payload(payloads, "lww/payload-key-1024-bytes", "A key of exactly 1,024 bytes.",
              {"PayloadBoundary"}, put_text("\"" + std::string(1024, 'k') + "\"", "[]", "[]"));
  add_payload(payloads, "lww/payload-key-non-ascii",
              "A key in Japanese and with an escaped character: bytes counted in UTF-8.",
              {"ValidPayload"}, put_text("\"notes/\\u65e5\\u672c/日本語\"", "[]", "[]"));
  add_payload(payloads, "lww/payload-64-bases", "The most bases LWW-001 allows.",
              {"PayloadBoundary"}, put_text("\"notes/1\"", id_list_text(64), "[]"));
  add_payload(payloads, "lww/payload-file-name-255-bytes", "A file name of exactly 255 bytes.",
              {"PayloadBoundary"},
              with_file(file_ref_text("f1", "\"" + std::string(251, 'n') + ".txt\"", 10,
                                      kChunkBytesMin, 1)));
  add_payload(payloads, "lww/payload-file-name-dots",
              "Names that merely start with or repeat dots are fine: \"...\" and \".hidden\".",
              {"PayloadBoundary"},
              put_text("\"notes/1\"", "[]",
                       "[" + file_ref_text("f1", "\"...\"", 1, kChunkBytesMin, 1) + "," +
                           file_ref_text("f2", "\".hidden\"", 1, kChunkBytesMin, 1) + "]"));
  add_payload(payloads, "lww/payload-chunk-bytes-bounds",
              "chunk_bytes at both bounds, and sizes one byte past a chunk boundary.",
              {"PayloadBoundary"},
              put_text("\"notes/1\"", "[]",
                       "[" + file_ref_text("f1", "\"a.bin\"", 65537, 65536, 2) + "," +
                           file_ref_text("f2", "\"b.bin\"", 16777217, 16777216, 2) + "]"));
  add_payload(payloads, "lww/payload-empty-file", "An empty file is one (empty) chunk.",
              {"PayloadBoundary"}, with_file(file_ref_text("f1", "\"empty\"", 0, kChunkBytes, 1)));

  using enum Code;
  const std::string base = put_text("\"notes/1\"", "[]", "[]");
  auto bad = [&](std::string id, std::string comment, std::string flag, const std::string& text,
                 Code code, std::string field) {
    add_bad_payload(payloads, "lww/payload-" + id, std::move(comment), {std::move(flag)}, text,
                    code, std::move(field));
  };
  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string text = base;
    const size_t at = text.find(from);
    require(at != std::string::npos, "payload text lacks " + std::string(from));
    return text.replace(at, from.size(), to);
  };
  bad("v-2", "Payload format 2 does not exist.", "BadVersion", replaced("\"v\":1", "\"v\":2"),
      kUnsupportedFormat, "v");
  bad("v-0", "Payload format 0 does not exist.", "BadVersion", replaced("\"v\":1", "\"v\":0"),
      kUnsupportedFormat, "v");
  bad("v-string", "v written as a string.", "BadVersion", replaced("\"v\":1", "\"v\":\"1\""),
      kInvalidField, "v");
  bad("v-1.0", "v written as 1.0 is not an integer (TRN-024).", "BadVersion",
      replaced("\"v\":1", "\"v\":1.0"), kInvalidField, "v");
  bad("v-missing", "No v.", "MissingMember", replaced("\"v\":1,", ""), kMissingField, "v");
  bad("type-capitalized", "type \"Put\": names are case-sensitive.", "BadType",
      replaced("\"put\"", "\"Put\""), kInvalidField, "type");
  bad("type-update", "type \"update\" is not defined.", "BadType",
      replaced("\"put\"", "\"update\""), kInvalidField, "type");
  bad("type-missing", "No type.", "MissingMember", replaced("\"type\":\"put\",", ""), kMissingField,
      "type");
  bad("key-empty", "An empty key.", "BadKey", replaced("\"notes/1\"", "\"\""), kInvalidField,
      "key");
  bad("key-with-nul", "A key holding U+0000 (escaped in the JSON text).", "BadKey",
      replaced("\"notes/1\"", "\"notes\\u00001\""), kInvalidField, "key");
  bad("key-1025-bytes", "A key of 1,025 bytes.", "BadKey",
      replaced("\"notes/1\"", "\"" + std::string(1025, 'k') + "\""), kInvalidField, "key");
  bad("key-1026-bytes-in-513-characters",
      "513 two-byte characters: the limit counts UTF-8 bytes, not characters.", "BadKey",
      replaced(
          "\"notes/1\"", "\"" +
                             [] {
                               std::string key;
                               for (int i = 0; i < 513; ++i) key += "é";
                               return key;
                             }() +
                             "\""),
      kInvalidField, "key");
  bad("key-missing", "No key.", "MissingMember", replaced("\"key\":\"notes/1\",", ""),
      kMissingField, "key");
  bad("bases-duplicate", "The same base twice.", "BadBases",
      replaced("\"bases\":[]", "\"bases\":[\"" + b64_id("p1") + "\",\"" + b64_id("p1") + "\"]"),
      kInvalidField, "bases[1]");
  bad("bases-65", "65 bases, one more than LWW-001 allows.", "BadBases",
      replaced("\"bases\":[]", "\"bases\":" + id_list_text(65)), kInvalidField, "bases");
  bad("bases-15-byte-id", "A base of 15 bytes.", "BadBases",
      replaced("\"bases\":[]", "\"bases\":[\"" + to_base64url(Bytes(15, 1)) + "\"]"), kInvalidField,
      "bases[0]");
  bad("bases-padded-base64url", "A base with = padding.", "BadBases",
      replaced("\"bases\":[]", "\"bases\":[\"" + b64_id("p1") + "==\"]"), kInvalidField,
      "bases[0]");
  bad("bases-missing", "No bases (an empty list is required).", "MissingMember",
      replaced("\"bases\":[],", ""), kMissingField, "bases");
  bad("delete-with-value", "A delete carrying a value.", "DeleteWithValue",
      R"({"v":1,"type":"delete","key":"notes/1","value":"aGVsbG8","bases":[]})", kInvalidField,
      "value");
  bad("delete-with-files", "A delete carrying files.", "DeleteWithValue",
      R"({"v":1,"type":"delete","key":"notes/1","bases":[],"files":[]})", kInvalidField, "files");
  bad("put-without-value", "A put without a value.", "MissingMember",
      replaced("\"value\":\"aGVsbG8\",", ""), kMissingField, "value");
  bad("put-without-files", "A put without files (an empty list is required).", "MissingMember",
      replaced(",\"files\":[]", ""), kMissingField, "files");
  bad("value-non-canonical-base64url", "value \"aGVsbG9\": the last character has unused bits set.",
      "BadJson", replaced("aGVsbG8", "aGVsbG9"), kInvalidField, "value");
  bad("file-name-dot-dot", "A file named \"..\".", "BadFileName",
      with_file(file_ref_text("f1", "\"..\"", 10, kChunkBytes, 1)), kInvalidField, "files[0].name");
  bad("file-name-dot", "A file named \".\".", "BadFileName",
      with_file(file_ref_text("f1", "\".\"", 10, kChunkBytes, 1)), kInvalidField, "files[0].name");
  bad("file-name-with-slash", "A file named \"../etc/passwd\".", "BadFileName",
      with_file(file_ref_text("f1", "\"../etc/passwd\"", 10, kChunkBytes, 1)), kInvalidField,
      "files[0].name");
  bad("file-name-with-backslash", "A file named \"a\\\\b\".", "BadFileName",
      with_file(file_ref_text("f1", "\"a\\\\b\"", 10, kChunkBytes, 1)), kInvalidField,
      "files[0].name");
  bad("file-name-with-nul", "A file name holding U+0000.", "BadFileName",
      with_file(file_ref_text("f1", "\"a\\u0000.txt\"", 10, kChunkBytes, 1)), kInvalidField,
      "files[0].name");
  bad("file-name-empty", "An empty file name.", "BadFileName",
      with_file(file_ref_text("f1", "\"\"", 10, kChunkBytes, 1)), kInvalidField, "files[0].name");
  bad("file-name-256-bytes", "A file name of 256 bytes.", "BadFileName",
      with_file(file_ref_text("f1", "\"" + std::string(256, 'n') + "\"", 10, kChunkBytes, 1)),
      kInvalidField, "files[0].name");
  bad("chunk-count-too-small", "3,000,000 bytes in 1 MiB chunks are 3 chunks, not 2.",
      "BadChunking", with_file(file_ref_text("f1", "\"a.jpg\"", 3000000, kChunkBytes, 2)),
      kInvalidField, "files[0].chunk_count");
  bad("chunk-count-too-large", "1 MiB exactly is 1 chunk, not 2.", "BadChunking",
      with_file(file_ref_text("f1", "\"a.jpg\"", kChunkBytes, kChunkBytes, 2)), kInvalidField,
      "files[0].chunk_count");
  bad("chunk-count-zero-for-empty-file", "An empty file is 1 chunk, not 0.", "BadChunking",
      with_file(file_ref_text("f1", "\"empty\"", 0, kChunkBytes, 0)), kInvalidField,
      "files[0].chunk_count");
  bad("chunk-bytes-too-small", "chunk_bytes 65,535.", "BadChunking",
      with_file(file_ref_text("f1", "\"a.bin\"", 10, 65535, 1)), kInvalidField,
      "files[0].chunk_bytes");
  bad("chunk-bytes-too-large", "chunk_bytes 16,777,217.", "BadChunking",
      with_file(file_ref_text("f1", "\"a.bin\"", 10, 16777217, 1)), kInvalidField,
      "files[0].chunk_bytes");
  bad("file-ids-repeated", "Two file refs with one id.", "BadFiles",
      put_text("\"notes/1\"", "[]",
               "[" + file_ref_text("f1", "\"a\"", 1, kChunkBytes, 1) + "," +
                   file_ref_text("f1", "\"b\"", 1, kChunkBytes, 1) + "]"),
      kInvalidField, "files[1].id");
  {
    std::string files = "[";
    for (int i = 0; i < 65; ++i)
      files += (i ? "," : "") + file_ref_text("f" + std::to_string(i), "\"f\"", 1, kChunkBytes, 1);
    bad("65-files", "65 file refs, one more than LWW-001 allows.", "BadFiles",
        put_text("\"notes/1\"", "[]", files + "]"), kInvalidField, "files");
  }
  bad("unknown-member", "A member the payload does not define.", "UnknownMember",
      replaced("\"v\":1,", "\"v\":1,\"color\":\"red\","), kUnknownField, "color");
  bad("unknown-member-in-file-ref", "A file_ref member the payload does not define.",
      "UnknownMember",
      with_file(file_ref_text("f1", "\"a\"", 1, kChunkBytes, 1).insert(1, "\"mime\":\"x\",")),
      kUnknownField, "files[0].mime");
  bad("not-an-object", "A JSON array, not an object.", "BadJson", "[]", kMalformedJson, "");
  bad("not-json", "Truncated JSON.", "BadJson", base.substr(0, base.size() - 1), kMalformedJson,
      "");
  bad("duplicate-member", "key given twice.", "BadJson",
      replaced("\"key\":\"notes/1\",", "\"key\":\"notes/1\",\"key\":\"notes/2\","), kDuplicateField,
      "key");
  return file.finish();
}

// ---- verification -----------------------------------------------------------------------------

std::string describe_view(const std::optional<KeyView>& view) {
  if (!view) return "no such key";
  return "winner " + describe(view->winner) + ", present " + describe(view->present) +
         ", conflicts " + describe(view->conflicts);
}

// The first difference between two states, or "" when they are equal.
std::string state_difference(const std::map<std::string, KeyView>& expected,
                             const std::map<std::string, KeyView>& actual) {
  std::set<std::string> keys;
  for (const auto& [key, view] : expected) keys.insert(key);
  for (const auto& [key, view] : actual) keys.insert(key);
  for (const std::string& key : keys) {
    auto find = [&](const std::map<std::string, KeyView>& state) -> std::optional<KeyView> {
      auto it = state.find(key);
      if (it == state.end()) return std::nullopt;
      return it->second;
    };
    const std::optional<KeyView> want = find(expected);
    const std::optional<KeyView> got = find(actual);
    if (want != got)
      return "key " + describe(key) + ": expected " + describe_view(want) + ", got " +
             describe_view(got);
  }
  return "";
}

std::string describe_order(const std::vector<size_t>& order) {
  std::string out = "[";
  for (size_t i = 0; i < order.size(); ++i) out += (i ? " " : "") + std::to_string(order[i]);
  return out + "]";
}

// Orders in which the verifier applies a case's operations (indices into ops).
std::vector<std::vector<size_t>> orders_for(size_t count) {
  std::vector<std::vector<size_t>> orders;
  std::vector<size_t> order = in_order(count);
  if (count <= kAllOrdersMaxOps) {
    do orders.push_back(order);
    while (std::next_permutation(order.begin(), order.end()));
  } else {
    SeededRandom random(kSeed);
    orders.push_back(order);
    for (size_t s = 0; s < kShuffles; ++s) {
      for (size_t i = count; i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
      orders.push_back(order);
    }
  }
  // Every operation held twice: each order followed by itself reversed, so that duplicates
  // arrive both right after and long after the original.
  const size_t distinct = orders.size();
  for (size_t i = 0; i < distinct; i += std::max<size_t>(1, distinct / 8)) {
    std::vector<size_t> doubled = orders[i];
    doubled.insert(doubled.end(), orders[i].rbegin(), orders[i].rend());
    orders.push_back(std::move(doubled));
  }
  return orders;
}

void check_resolution(const Json&, const Json& test, Findings& findings) {
  if (!read_expects_valid(test)) throw MalformedVector("LwwResolutionTest cases are all valid");
  std::vector<ObjectOp> ops;
  for (const Json& op : read_array(test, "ops")) ops.push_back(read_object_op(op));
  std::map<std::string, KeyView> expected;
  for (const auto& [key, view] : read_object(test, "state").items()) {
    KeyView out;
    const Json& winner = read_member(view, "winner");
    if (!winner.is_null()) out.winner = fixed_element<16>(winner, "winner");
    out.present = read_bool(view, "present");
    out.conflicts = read_ids(view, "conflicts");
    expected.emplace(key, std::move(out));
  }
  for (const std::vector<size_t>& order : orders_for(ops.size())) {
    const std::string difference = state_difference(expected, resolve(ops, order));
    if (!difference.empty()) {
      findings.add("applied in order " + describe_order(order) + ": " + difference);
      return;
    }
  }
}

void check_payload(const Json&, const Json& test, Findings& findings) {
  const std::string text = read_string(test, "payloadJson");
  Result<ObjectPayload> parsed = parse_payload(view_of(text));
  if (!read_expects_valid(test)) {
    findings.expect_error(test, parsed);
    return;
  }
  if (!parsed.ok()) {
    findings.add("parse_payload failed: " + parsed.error().to_string());
    return;
  }
  if (!(read_payload(read_object(test, "payload")) == *parsed))
    findings.add("payload: the parsed payload differs from the expected one");
}

}  // namespace

Suite lww_suite() {
  return Suite{kName,
               kAlgorithm,
               &generate,
               {{"LwwResolutionTest", &check_resolution}, {"PayloadParseTest", &check_payload}}};
}

}  // namespace opsync::vectors
