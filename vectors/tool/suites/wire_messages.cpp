// wire_messages.json: strict parsing of every JSON message (spec 2.2, TRN-020..TRN-025), checked
// through opsync::check_message.
//
// Each message type has a valid specimen. Most invalid cases are derived from it mechanically
// (every member removed, retyped, written as a non-integer number, every binary value mangled,
// unknown members added, ...), so that every member of every message is covered; hand-written
// edits add the rules particular to one message.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <variant>

#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "wire_messages";
constexpr std::string_view kAlgorithm = "WireMessages";
constexpr uint64_t kSeed = 0x3e55a9e;

constexpr uint64_t kNowMs = 1764000000000;
// Stands for a raw JSON token while a text is assembled; cannot occur in a specimen.
constexpr std::string_view kPlaceholder = "@@raw@@";

// ---- paths --------------------------------------------------------------------------------------

// Where a value sits in a message: "ops[0].hlc.wall_ms" for people, a JSON pointer for editing.
class Path {
 public:
  Path member(const std::string& name) const {
    Path out = *this;
    out.steps_.emplace_back(name);
    return out;
  }
  Path element(size_t index) const {
    Path out = *this;
    out.steps_.emplace_back(index);
    return out;
  }
  bool is_top() const { return steps_.empty(); }
  bool is_member() const {
    return !steps_.empty() && std::holds_alternative<std::string>(steps_.back());
  }
  Path parent() const {
    Path out = *this;
    out.steps_.pop_back();
    return out;
  }
  const std::string& member_name() const { return std::get<std::string>(steps_.back()); }
  // The member that names this value: the member itself, or the array an element belongs to.
  std::string naming_member() const {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it)
      if (const auto* name = std::get_if<std::string>(&*it)) return *name;
    return "";
  }

  std::string display() const {
    std::string out;
    for (const auto& step : steps_) {
      if (const auto* name = std::get_if<std::string>(&step))
        out += (out.empty() ? "" : ".") + *name;
      else
        out += "[" + std::to_string(std::get<size_t>(step)) + "]";
    }
    return out;
  }
  // For test ids: the top level is called "top".
  std::string label() const { return is_top() ? "top" : display(); }
  Json::json_pointer pointer() const {
    std::string out;
    for (const auto& step : steps_) {
      if (const auto* name = std::get_if<std::string>(&step))
        out += "/" + *name;
      else
        out += "/" + std::to_string(std::get<size_t>(step));
    }
    return Json::json_pointer(out);
  }

 private:
  std::vector<std::variant<std::string, size_t>> steps_;
};

// Every value of a specimen worth mutating: every member of every object (recursing into the
// first element of each array, and into every element of an array of objects whose members
// differ), and the first element of every array.
void walk(const Json& value, const Path& path,
          const std::function<void(const Path&, const Json&)>& visit) {
  if (value.is_object()) {
    for (const auto& [name, member] : value.items()) {
      visit(path.member(name), member);
      walk(member, path.member(name), visit);
    }
  } else if (value.is_array()) {
    std::set<std::set<std::string>> seen_shapes;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i].is_object()) {
        std::set<std::string> shape;
        for (const auto& [name, member] : value[i].items()) shape.insert(name);
        if (!seen_shapes.insert(shape).second) continue;
      } else if (i > 0) {
        continue;
      }
      visit(path.element(i), value[i]);
      walk(value[i], path.element(i), visit);
    }
  }
}

// ---- texts ------------------------------------------------------------------------------------

// The specimen's text with the value at `path` replaced by the raw JSON text `raw`.
std::string with_raw(const Json& specimen, const Path& path, std::string_view raw) {
  if (path.is_top()) return std::string(raw);
  Json copy = specimen;
  copy[path.pointer()] = std::string(kPlaceholder);
  std::string text = copy.dump();
  const std::string quoted = "\"" + std::string(kPlaceholder) + "\"";
  text.replace(text.find(quoted), quoted.size(), raw);
  return text;
}

std::string without(const Json& specimen, const Path& path) {
  Json copy = specimen;
  copy[path.parent().pointer()].erase(path.member_name());
  return copy.dump();
}

// `object` written with its first member repeated.
std::string with_first_member_twice(const Json& object) {
  std::string text = object.dump();
  const auto first = object.items().begin();
  const std::string repeated = Json(first.key()).dump() + ":" + first.value().dump() + ",";
  return text.insert(1, repeated);
}

// The text with a member "note" holding `raw_string_bytes` between quotes added first.
std::string with_leading_note(const std::string& text, std::string_view raw_string_bytes) {
  const std::string note = "\"note\":\"" + std::string(raw_string_bytes) + "\"";
  return "{" + note + (text == "{}" ? "" : ",") + text.substr(1);
}

std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// Integer forms TRN-024 rejects: 7.0, 7e0 (or 1e3 for 1000), -0.
std::string fraction_form(uint64_t v) { return std::to_string(v) + ".0"; }
std::string exponent_form(uint64_t v) {
  if (v == 0) return "0e0";
  int exponent = 0;
  while (v % 10 == 0) {
    v /= 10;
    ++exponent;
  }
  return std::to_string(v) + "e" + std::to_string(exponent);
}

// ---- binary members ---------------------------------------------------------------------------

// Which binary values a message holds, by member name, and what length each must have.
enum class Binary {
  kNone,
  kFixedLength,  // ids (16 bytes), hashes (32), wrapped keys (60)
  kEnvelope,     // an operation payload: at least 28 bytes, at most a server's limit
  kAnyLength,    // a payload's value
};

Binary binary_kind(const Path& path, const Json& value) {
  if (!value.is_string()) return Binary::kNone;
  static const std::set<std::string> kFixedLength = {
      "id",    "device_id",  "workspace_id", "token_id", "owner_token_id", "file_id",    "file_ids",
      "bases", "next_after", "after_hash",   "hash",     "sha256",         "wrapped_key"};
  const std::string name = path.naming_member();
  if (kFixedLength.count(name)) return Binary::kFixedLength;
  if (name == "payload") return Binary::kEnvelope;
  if (name == "value") return Binary::kAnyLength;
  return Binary::kNone;
}

constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// ---- specimens --------------------------------------------------------------------------------

// A hand-written case: the value at `path` replaced by the JSON text `raw` (the whole message
// when `path` is the top level); `valid` is what the spec says, checked against the library.
struct Edit {
  std::string name;
  std::string comment;
  std::string flag;
  Path path;
  std::string raw;
  bool valid;
};

struct Specimen {
  std::string_view type;
  bool request;
  Json example;
  std::vector<Edit> edits;
  // A few more syntax and encoding cases than other types get.
  bool thorough = false;
};

Path at(std::initializer_list<std::variant<std::string, size_t>> steps) {
  Path out;
  for (const auto& step : steps) {
    if (const auto* name = std::get_if<std::string>(&step))
      out = out.member(*name);
    else
      out = out.element(std::get<size_t>(step));
  }
  return out;
}

Edit replace(std::string name, std::string comment, std::string flag, Path path, std::string raw,
             bool valid) {
  return Edit{std::move(name), std::move(comment), std::move(flag),
              std::move(path), std::move(raw),     valid};
}

// The bytes of an id written in base64url, for ordering as AUTH-024 orders them.
Bytes id_bytes(const Json& text) { return *from_base64url(text.get<std::string>()); }

// Fresh ids, hashes and byte strings in base64url, from one seeded stream.
class Ids {
 public:
  explicit Ids(uint64_t seed) : random_(seed) {}
  std::string id() { return to_base64url(random_.id()); }
  std::string hash() { return to_base64url(random_.fixed<32>()); }
  std::string bytes(size_t count) { return to_base64url(random_.bytes(count)); }

 private:
  SeededRandom random_;
};

Json limits_json(const Limits& l) {
  return Json{{"request_body_bytes_max", l.request_body_bytes_max},
              {"batch_ops_max", l.batch_ops_max},
              {"op_payload_bytes_max", l.op_payload_bytes_max},
              {"page_ops_max", l.page_ops_max},
              {"page_bytes_max", l.page_bytes_max},
              {"page_blocks_max", l.page_blocks_max},
              {"page_tokens_max", l.page_tokens_max},
              {"page_keys_max", l.page_keys_max},
              {"key_records_max", l.key_records_max},
              {"file_status_ids_max", l.file_status_ids_max},
              {"chunk_bytes", l.chunk_bytes},
              {"file_chunks_max", l.file_chunks_max}};
}

Json http_limits_json(const HttpLimits& l) {
  return Json{{"request_target_bytes_max", l.request_target_bytes_max},
              {"header_fields_max", l.header_fields_max},
              {"header_section_bytes_max", l.header_section_bytes_max}};
}

std::vector<Specimen> specimens() {
  Ids ids(kSeed);
  std::vector<Specimen> out;
  const std::string token_secret = "ops_4gH7kP2xQ9vN3mR8tW5yZ1cB6dF0jL";
  const Json kdf{{"algorithm", kKdfAlgorithm}, {"iterations", 600000}};
  auto op = [&](bool with_seq) {
    Json o = Json::object();
    if (with_seq) o["seq"] = 1001;
    o["v"] = 1;
    o["id"] = ids.id();
    o["device_id"] = ids.id();
    o["hlc"] = Json{{"wall_ms", kNowMs}, {"counter", 0}};
    o["key_id"] = 1;
    o["payload"] = ids.bytes(64);
    return o;
  };
  out.push_back(Specimen{
      "InfoResponse",
      false,
      Json{{"protocol", "opsync"},
           {"versions", Json::array({1})},
           {"server", {{"name", "opsync-reference-server"}, {"version", "0.1.0"}}},
           {"capabilities", Json::array({"files", "workspace_delete"})},
           {"registration", "open"},
           {"server_time_ms", kNowMs},
           {"max_clock_skew_ms", kReferenceMaxClockSkewMs},
           {"block_size", kReferenceBlockSize},
           {"upload_expiry_ms", kReferenceUploadExpiryMs},
           {"file_retention_ms", kReferenceFileRetentionMs},
           {"limits", limits_json(kReferenceLimits)},
           {"http_limits", http_limits_json(kReferenceHttpLimits)}},
      {replace("versions-1-and-2", "A server of versions 1 and 2.", "ValidMessage",
               at({"versions"}), "[1,2]", true),
       replace("no-capabilities", "No optional features.", "ValidMessage", at({"capabilities"}),
               "[]", true),
       replace("unknown-capability", "Clients ignore capability names they do not know (VER-003).",
               "ValidMessage", at({"capabilities"}), R"(["files","teleport"])", true),
       replace("registration-closed", "Closed registration.", "ValidMessage", at({"registration"}),
               R"("closed")", true),
       replace("registration-other", "registration is open or closed.", "Semantics",
               at({"registration"}), R"("invite")", false),
       replace("no-versions", "versions lists at least one version.", "Semantics", at({"versions"}),
               "[]", false),
       replace("version-0", "Versions start at 1.", "Semantics", at({"versions", size_t{0}}), "0",
               false),
       replace("cross/versions-descending", "versions in descending order (INF-005).",
               "CrossMember", at({"versions"}), "[2,1]", false),
       replace("cross/versions-repeated", "A version listed twice (INF-005).", "CrossMember",
               at({"versions"}), "[1,1]", false),
       replace("skew-1000", "max_clock_skew_ms 1,000, the smallest INF-003 allows.", "ValidMessage",
               at({"max_clock_skew_ms"}), "1000", true),
       replace("skew-999", "max_clock_skew_ms below 1,000 (INF-003).", "OutOfRange",
               at({"max_clock_skew_ms"}), "999", false),
       replace("skew-3600001", "max_clock_skew_ms above 3,600,000 (INF-003).", "OutOfRange",
               at({"max_clock_skew_ms"}), "3600001", false),
       replace("upload-expiry-below-an-hour", "upload_expiry_ms below 3,600,000 (INF-004).",
               "OutOfRange", at({"upload_expiry_ms"}), "3599999", false),
       replace("file-retention-below-an-hour", "file_retention_ms below 3,600,000 (INF-004).",
               "OutOfRange", at({"file_retention_ms"}), "3599999", false),
       replace("block-size-0", "A block size of 0.", "OutOfRange", at({"block_size"}), "0", false),
       replace("limits-at-floors", "Every limit at its floor (LIM-001).", "ValidMessage",
               at({"limits"}), limits_json(kLimitFloors).dump(), true),
       replace("batch-ops-below-floor", "batch_ops_max 99, below the floor of 100 (LIM-001).",
               "OutOfRange", at({"limits", "batch_ops_max"}), "99", false),
       replace("chunk-bytes-below-floor", "chunk_bytes 65,535, below the floor (LIM-001).",
               "OutOfRange", at({"limits", "chunk_bytes"}), "65535", false),
       replace("chunk-bytes-above-maximum", "chunk_bytes above 16,777,216 (LIM-001).", "OutOfRange",
               at({"limits", "chunk_bytes"}), "16777217", false),
       replace("http-limits-at-floors", "Every HTTP limit at its floor (INF-010).", "ValidMessage",
               at({"http_limits"}), http_limits_json(kHttpLimitFloors).dump(), true),
       replace("header-fields-below-floor",
               "header_fields_max 31, below the floor of 32 (INF-010).", "OutOfRange",
               at({"http_limits", "header_fields_max"}), "31", false),
       replace("request-target-below-floor",
               "request_target_bytes_max 2,047, below the floor (INF-010).", "OutOfRange",
               at({"http_limits", "request_target_bytes_max"}), "2047", false),
       replace("header-section-below-floor",
               "header_section_bytes_max 8,191, below the floor (INF-010).", "OutOfRange",
               at({"http_limits", "header_section_bytes_max"}), "8191", false)},
      true});

  out.push_back(Specimen{
      "ErrorBody",
      false,
      Json{{"error",
            {{"code", "invalid_field"},
             {"message", "ops[3].hlc.wall_ms: must be below 2^48"},
             {"field", "ops[3].hlc.wall_ms"},
             {"details", Json::object()}}}},
      {replace("code-unknown-to-this-client",
               "A code this client does not know: it acts on the status alone (ERR-005).",
               "ValidMessage", at({"error", "code"}), R"("code_of_a_later_revision")", true),
       replace("details-head-seq", "details of after_seq_beyond_head.", "ValidMessage",
               at({"error", "details"}), R"({"head_seq":1000})", true),
       replace("details-chunks-missing", "details of file_incomplete.", "ValidMessage",
               at({"error", "details"}), R"({"chunks_missing":[[0,2],[5,7]]})", true),
       replace("details-chunks-missing-overlapping", "Overlapping ranges in details.", "Semantics",
               at({"error", "details"}), R"({"chunks_missing":[[0,3],[2,5]]})", false),
       replace("details-limit-negative", "A negative limit in details.", "OutOfRange",
               at({"error", "details"}), R"({"limit":-1})", false),
       replace("details-chunks-missing-adjacent",
               "Adjacent ranges are written as one (section 11.2).", "Semantics",
               at({"error", "details"}), R"({"chunks_missing":[[0,2],[2,4]]})", false),
       replace("cross/file-incomplete-without-chunks-missing",
               "file_incomplete without details.chunks_missing (ERR-010).", "CrossMember", Path(),
               R"({"error":{"code":"file_incomplete","message":"chunks are missing"}})", false),
       replace("cross/after-seq-beyond-head-without-head-seq",
               "after_seq_beyond_head without details.head_seq (ERR-010).", "CrossMember", Path(),
               R"({"error":{"code":"after_seq_beyond_head","message":"m","details":{}}})", false),
       replace(
           "file-incomplete-with-details", "file_incomplete with its details (ERR-010).",
           "ValidMessage", Path(),
           R"({"error":{"code":"file_incomplete","message":"m","details":{"chunks_missing":[[1,3]]}}})",
           true)}});

  out.push_back(Specimen{"CreateWorkspaceRequest", true, Json::object(), {}});

  out.push_back(Specimen{
      "CreateWorkspaceResponse",
      false,
      Json{{"workspace_id", ids.id()},
           {"owner_token", token_secret},
           {"owner_token_id", ids.id()},
           {"block_size", kReferenceBlockSize},
           {"created_at_ms", kNowMs}},
      {replace("owner-token-with-space", "Tokens have no spaces (AUTH-010).", "Semantics",
               at({"owner_token"}), R"("ops_ab cd")", false),
       replace("owner-token-513-characters", "Tokens are at most 512 characters (AUTH-010).",
               "OutOfRange", at({"owner_token"}), "\"" + std::string(513, 'T') + "\"", false),
       replace("owner-token-512-characters", "A token of 512 characters.", "ValidMessage",
               at({"owner_token"}), "\"" + std::string(512, 'T') + "\"", true)}});

  out.push_back(Specimen{"DeleteWorkspaceResponse",
                         false,
                         Json{{"workspace_id", ids.id()}, {"deleted_at_ms", kNowMs}},
                         {}});

  out.push_back(Specimen{
      "CreateTokenRequest",
      true,
      Json{{"scope", "read_write"}, {"expires_in_ms", 86400000}},
      {replace("scope-read", "A read token.", "ValidMessage", at({"scope"}), R"("read")", true),
       replace("scope-admin", "scope is read, read_write or owner.", "Semantics", at({"scope"}),
               R"("admin")", false),
       replace("scope-uppercase", "Scope names are case-sensitive.", "Semantics", at({"scope"}),
               R"("READ")", false),
       replace("owner-with-expiry", "An owner token never expires (AUTH-014).", "Semantics",
               at({"scope"}), R"("owner")", false),
       replace("expires-in-1000", "expires_in_ms 1,000, the smallest (AUTH-013).", "ValidMessage",
               at({"expires_in_ms"}), "1000", true),
       replace("expires-in-999", "expires_in_ms below 1,000 (AUTH-013).", "OutOfRange",
               at({"expires_in_ms"}), "999", false),
       replace("expires-in-ten-years", "expires_in_ms 315,360,000,000, the largest.",
               "ValidMessage", at({"expires_in_ms"}), "315360000000", true),
       replace("expires-in-over-ten-years", "expires_in_ms above 315,360,000,000 (AUTH-013).",
               "OutOfRange", at({"expires_in_ms"}), "315360000001", false)}});
  out.back().edits.push_back(replace("owner-without-expiry", "An owner token request.",
                                     "ValidMessage", Path(), R"({"scope":"owner"})", true));

  out.push_back(Specimen{
      "TokenIssued",
      false,
      Json{{"token_id", ids.id()},
           {"token", token_secret},
           {"scope", "read"},
           {"created_at_ms", kNowMs},
           {"expires_at_ms", kNowMs + 86400000}},
      {replace("token-with-control-character", "Tokens are printable ASCII.", "Semantics",
               at({"token"}), R"("ops_\u0007x")", false),
       replace("token-empty", "An empty token.", "OutOfRange", at({"token"}), R"("")", false)}});

  const Json token_entry{{"token_id", ids.id()},
                         {"scope", "owner"},
                         {"created_at_ms", kNowMs},
                         {"expires_at_ms", nullptr},
                         {"revoked_at_ms", nullptr}};
  out.push_back(Specimen{"TokenEntry",
                         false,
                         token_entry,
                         {replace("revoked", "A revoked token.", "ValidMessage",
                                  at({"revoked_at_ms"}), std::to_string(kNowMs + 1), true)}});

  Json second_entry = token_entry;
  second_entry["token_id"] = ids.id();
  second_entry["scope"] = "read";
  second_entry["expires_at_ms"] = kNowMs + 3600000;
  (void)ids.id();  // once the cursor; still drawn so that every later value stays as published
  {
    // Ascending unsigned byte order of the ids, which is not the order of their text (AUTH-024):
    // the second entry's id is drawn again, from its own stream, until it sorts after the first.
    Ids reordering(kSeed + 1);
    while (!(id_bytes(token_entry["token_id"]) < id_bytes(second_entry["token_id"])))
      second_entry["token_id"] = reordering.id();
    const Json& first = token_entry;
    const Json& second = second_entry;
    Json out_of_order = Json{{"tokens", {second, first}}, {"next_after", first["token_id"]}};
    Json first_as_cursor = Json{{"tokens", {first, second}}, {"next_after", first["token_id"]}};
    Json revoked = second;
    revoked["revoked_at_ms"] = kNowMs + 1;
    out.push_back(Specimen{
        "TokenListResponse",
        false,
        Json{{"tokens", {first, second}}, {"next_after", second["token_id"]}},
        {replace("last-page", "The last page: next_after is null.", "ValidMessage",
                 at({"next_after"}), "null", true),
         replace("empty-page", "No tokens, last page.", "ValidMessage", Path(),
                 R"({"tokens":[],"next_after":null})", true),
         replace("revoked-listed", "A revoked token is listed with its revocation time (AUTH-024).",
                 "ValidMessage", at({"tokens", size_t{1}}), revoked.dump(), true),
         replace("cross/out-of-order", "Tokens not in ascending byte order of token_id (AUTH-024).",
                 "CrossMember", Path(), out_of_order.dump(), false),
         replace("cross/cursor-not-last", "next_after is not the last token listed (AUTH-024).",
                 "CrossMember", Path(), first_as_cursor.dump(), false)}});
  }

  out.push_back(Specimen{
      "RevokeTokenResponse", false, Json{{"token_id", ids.id()}, {"revoked_at_ms", kNowMs}}, {}});

  const Json key_record{{"key_id", 1},
                        {"version", 1},
                        {"kdf", kdf},
                        {"wrapped_key", ids.bytes(kWrappedKeyBytes)},
                        {"updated_at_ms", kNowMs}};
  out.push_back(Specimen{
      "KeyRecord",
      false,
      key_record,
      {replace("key-id-0", "Key ids start at 1.", "OutOfRange", at({"key_id"}), "0", false),
       replace("key-id-2-pow-32", "Key ids are below 2^32.", "OutOfRange", at({"key_id"}),
               "4294967296", false),
       replace("key-id-largest", "Key id 2^32 - 1.", "ValidMessage", at({"key_id"}), "4294967295",
               true),
       replace("version-0", "A stored record has version 1 or more (KEY-002).", "OutOfRange",
               at({"version"}), "0", false),
       replace("kdf-other-algorithm", "Only pbkdf2-hmac-sha256-prehashed (KEY-004).", "Semantics",
               at({"kdf", "algorithm"}), R"("argon2id")", false),
       replace("kdf-iterations-0", "At least 1 iteration (KEY-004).", "OutOfRange",
               at({"kdf", "iterations"}), "0", false),
       replace("kdf-iterations-1", "1 iteration: readable, as in the vectors (CRY-002).",
               "ValidMessage", at({"kdf", "iterations"}), "1", true),
       replace("kdf-iterations-10000000", "10,000,000 iterations, the most (KEY-004).",
               "ValidMessage", at({"kdf", "iterations"}), "10000000", true),
       replace("kdf-iterations-10000001", "Above 10,000,000 iterations (KEY-004).", "OutOfRange",
               at({"kdf", "iterations"}), "10000001", false)}});

  out.push_back(Specimen{
      "PutKeyRequest",
      true,
      Json{{"expected_version", 0}, {"kdf", kdf}, {"wrapped_key", ids.bytes(kWrappedKeyBytes)}},
      {replace("replace-version-3", "Replacing version 3.", "ValidMessage",
               at({"expected_version"}), "3", true),
       replace("kdf-other-algorithm", "Only pbkdf2-hmac-sha256-prehashed (KEY-004).", "Semantics",
               at({"kdf", "algorithm"}), R"("pbkdf2-hmac-sha256")", false),
       replace("kdf-iterations-10000001", "Above 10,000,000 iterations (KEY-004).", "OutOfRange",
               at({"kdf", "iterations"}), "10000001", false)}});

  Json key_record_2 = key_record;
  key_record_2["key_id"] = 2;
  out.push_back(Specimen{
      "KeyListResponse",
      false,
      Json{{"keys", {key_record}}, {"next_after", nullptr}},
      {replace("next-page", "More records after key id 1.", "ValidMessage", at({"next_after"}), "1",
               true),
       replace("cross/out-of-order", "Key records not in ascending key id order (KEY-001).",
               "CrossMember", Path(),
               Json{{"keys", {key_record_2, key_record}}, {"next_after", nullptr}}.dump(), false),
       replace("cross/cursor-not-last", "next_after is not the last key id listed (KEY-006).",
               "CrossMember", at({"next_after"}), "2", false),
       replace("next-after-0", "Key ids start at 1.", "OutOfRange", at({"next_after"}), "0", false),
       replace("next-after-2-pow-32", "Key ids are below 2^32.", "OutOfRange", at({"next_after"}),
               "4294967296", false)}});

  out.push_back(Specimen{
      "UploadOpsRequest",
      true,
      Json{{"ops", {op(false), op(false)}}},
      {replace("empty-batch", "A batch holds at least one operation (LOG-001).", "Semantics",
               at({"ops"}), "[]", false),
       replace("op-version-2", "An unknown operation format in an upload (VER-005).", "Semantics",
               at({"ops", size_t{0}, "v"}), "2", false),
       replace("wall-ms-largest", "wall_ms 2^48 - 1.", "ValidMessage",
               at({"ops", size_t{0}, "hlc", "wall_ms"}), "281474976710655", true),
       replace("wall-ms-2-pow-48", "wall_ms 2^48 (OP-001, HLC-003).", "OutOfRange",
               at({"ops", size_t{0}, "hlc", "wall_ms"}), "281474976710656", false),
       replace("counter-largest", "counter 2^32 - 1.", "ValidMessage",
               at({"ops", size_t{1}, "hlc", "counter"}), "4294967295", true),
       replace("counter-2-pow-32", "counter 2^32 (OP-001).", "OutOfRange",
               at({"ops", size_t{1}, "hlc", "counter"}), "4294967296", false),
       replace("key-id-0", "key_id 0 (OP-001).", "OutOfRange", at({"ops", size_t{1}, "key_id"}),
               "0", false),
       replace("payload-28-bytes", "The shortest payload, 28 bytes (OP-001).", "ValidMessage",
               at({"ops", size_t{0}, "payload"}), "\"" + ids.bytes(28) + "\"", true)},
      true});

  out.push_back(Specimen{
      "UploadOpsResponse",
      false,
      Json{{"results",
            {{{"id", ids.id()}, {"status", "accepted"}, {"seq", 1001}},
             {{"id", ids.id()}, {"status", "duplicate"}, {"seq", 17}},
             {{"id", ids.id()},
              {"status", "rejected"},
              {"code", "clock_skew"},
              {"message", "wall_ms is 3600000 ms ahead of the server"}}}},
           {"head_seq", 1001}},
      {replace("status-pending", "status is accepted, duplicate or rejected.", "Semantics",
               at({"results", size_t{0}, "status"}), R"("pending")", false),
       replace("rejected-with-unknown-code",
               "A rejection code this client does not know: kept, and reported (SYNC-011).",
               "ValidMessage", at({"results", size_t{2}, "code"}), R"("code_of_a_later_revision")",
               true),
       replace("seq-0", "Sequence numbers start at 1 (LOG-010).", "OutOfRange",
               at({"results", size_t{0}, "seq"}), "0", false),
       replace("no-results", "One result per operation, and a batch is never empty (LOG-002).",
               "Semantics", at({"results"}), "[]", false),
       replace("cross/seq-beyond-head", "A result's seq beyond head_seq (LOG-009).", "CrossMember",
               at({"results", size_t{0}, "seq"}), "1002", false)}});

  const Json page{{"after_seq", 1000},
                  {"after_hash", ids.hash()},
                  {"head_seq", 1003},
                  {"ops", {op(true)}},
                  {"next_after_seq", 1001}};
  // A page edited as a whole: the rules between its members (LOG-020, LOG-022, LOG-028).
  const auto page_with = [&](const std::function<void(Json&)>& edit) {
    Json copy = page;
    edit(copy);
    return copy.dump();
  };
  Json second_op = page["ops"][0];  // the same operation again, for a page that skips a seq
  second_op["seq"] = 1002;
  out.push_back(Specimen{
      "OpsPageResponse",
      false,
      page,
      {replace("last-page", "The last page: it ends at head_seq, and next_after_seq is null.",
               "ValidMessage", Path(), page_with([](Json& p) {
                 p["head_seq"] = 1001;
                 p["next_after_seq"] = nullptr;
               }),
               true),
       replace("empty-page", "A page at the log's end holds no operations.", "ValidMessage", Path(),
               page_with([](Json& p) {
                 p["after_seq"] = 1003;
                 p["ops"] = Json::array();
                 p["next_after_seq"] = nullptr;
               }),
               true),
       replace("cross/cursor-at-head",
               "next_after_seq set although the page ends at head_seq (LOG-022).", "CrossMember",
               Path(), page_with([](Json& p) { p["head_seq"] = 1001; }), false),
       replace("cross/cursor-not-last-seq",
               "next_after_seq is not the seq of the page's last operation.", "CrossMember",
               at({"next_after_seq"}), "1002", false),
       replace("cross/empty-before-head", "An empty page although the log goes on (LOG-020).",
               "CrossMember", Path(), page_with([](Json& p) {
                 p["ops"] = Json::array();
                 p["next_after_seq"] = nullptr;
               }),
               false),
       replace("cross/seq-gap", "The page skips seq 1002 (SYNC-007, LOG-028).", "CrossMember",
               Path(), page_with([&](Json& p) {
                 Json skipping = second_op;
                 skipping["seq"] = 1003;
                 p["ops"].push_back(skipping);
                 p["next_after_seq"] = nullptr;
               }),
               false),
       replace("cross/first-seq-not-after-seq-plus-1",
               "The page starts at 1002 after after_seq 1000 (SYNC-007).", "CrossMember",
               at({"ops", size_t{0}, "seq"}), "1002", false),
       replace("cross/seq-beyond-head", "An operation beyond head_seq (LOG-028).", "CrossMember",
               Path(), page_with([](Json& p) {
                 p["head_seq"] = 1000;
                 p["next_after_seq"] = nullptr;
               }),
               false),
       replace("op-version-2",
               "An operation of an unknown format: the client must stop and ask for an upgrade "
               "(VER-006).",
               "Semantics", at({"ops", size_t{0}, "v"}), "2", false),
       replace("seq-0", "Sequence numbers start at 1.", "OutOfRange", at({"ops", size_t{0}, "seq"}),
               "0", false),
       replace("next-after-seq-0", "next_after_seq is a seq, at least 1.", "OutOfRange",
               at({"next_after_seq"}), "0", false)}});

  const Json blocks{{"block_size", kReferenceBlockSize},
                    {"head_seq", 1003},
                    {"block_count", 3},
                    {"blocks",
                     {{{"index", 0}, {"hash", ids.hash()}},
                      {{"index", 1}, {"hash", ids.hash()}},
                      {{"index", 2}, {"hash", ids.hash()}}}},
                    {"next_start", nullptr}};
  Json blocks_first_two = blocks;
  blocks_first_two["blocks"].erase(2);
  blocks_first_two["next_start"] = 2;
  out.push_back(Specimen{
      "BlocksResponse",
      false,
      blocks,
      {replace("empty-list", "A start at or beyond block_count lists nothing (LOG-031).",
               "ValidMessage", at({"blocks"}), "[]", true),
       replace("next-page", "Blocks 0 and 1 of 3: more from index 2 (LOG-031).", "ValidMessage",
               Path(), blocks_first_two.dump(), true),
       replace("cross/next-start-past-last-complete",
               "next_start 3 although block 2 is the last complete block (LOG-031).", "CrossMember",
               at({"next_start"}), "3", false),
       replace("cross/block-count-wrong",
               "block_count is not floor(head_seq / block_size) (LOG-033).", "CrossMember",
               at({"block_count"}), "4", false),
       replace("cross/index-gap", "Indexes 0, 2, 2: not consecutive (LOG-033).", "CrossMember",
               at({"blocks", size_t{1}, "index"}), "2", false),
       replace("cross/incomplete-block-listed", "Index 3 of a log of 3 complete blocks (LOG-033).",
               "CrossMember", at({"blocks", size_t{2}, "index"}), "3", false),
       replace("block-size-0", "A block size of 0.", "OutOfRange", at({"block_size"}), "0",
               false)}});

  out.push_back(Specimen{"CreateFileRequest",
                         true,
                         Json{{"chunk_count", 3}},
                         {replace("chunk-count-0", "A file has at least one chunk (FILE-002).",
                                  "OutOfRange", at({"chunk_count"}), "0", false),
                          replace("chunk-count-1", "An empty or small file: one chunk.",
                                  "ValidMessage", at({"chunk_count"}), "1", true),
                          replace("chunk-count-2-pow-32", "Chunk counts are below 2^32.",
                                  "OutOfRange", at({"chunk_count"}), "4294967296", false)}});

  out.push_back(Specimen{"CommitFileRequest",
                         true,
                         Json{{"chunk_count", 3}},
                         {replace("chunk-count-0", "A file has at least one chunk.", "OutOfRange",
                                  at({"chunk_count"}), "0", false)}});

  out.push_back(
      Specimen{"FileStatus",
               false,
               Json{{"file_id", ids.id()},
                    {"state", "uploading"},
                    {"chunk_count", 8},
                    {"chunks_missing", {{0, 2}, {5, 7}}},
                    {"stored_bytes", 262256},
                    {"updated_at_ms", kNowMs}},
               {replace("state-absent", "A status exists only for a file the server holds.",
                        "Semantics", at({"state"}), R"("absent")", false),
                replace("ranges-overlapping", "Overlapping chunks_missing ranges.", "Semantics",
                        at({"chunks_missing"}), "[[0,3],[2,5]]", false),
                replace("ranges-adjacent",
                        "Adjacent ranges [[0,2],[2,4]] are written as one (section 11.2).",
                        "Semantics", at({"chunks_missing"}), "[[0,2],[2,4]]", false)}});

  out.push_back(
      Specimen{"ChunkStored",
               false,
               Json{{"file_id", ids.id()}, {"index", 2}, {"size_bytes", 65564}},
               {replace("size-28", "The smallest chunk body: an empty plaintext's envelope.",
                        "ValidMessage", at({"size_bytes"}), "28", true),
                replace("size-27", "A chunk body is at least 28 bytes (FILE-003).", "OutOfRange",
                        at({"size_bytes"}), "27", false)}});

  {
    const std::string first = ids.id();
    const std::string second = ids.id();
    out.push_back(
        Specimen{"FileStatusRequest",
                 true,
                 Json{{"file_ids", Json::array({first, second})}},
                 {replace("no-ids", "At least one id (FILE-007).", "Semantics", at({"file_ids"}),
                          "[]", false),
                  replace("repeated-id", "The ids are distinct (FILE-007).", "Semantics",
                          at({"file_ids", size_t{1}}), "\"" + first + "\"", false),
                  replace("repeated-id-before-a-malformed-one",
                          "A repeat, then a malformed id: the element's own check comes first "
                          "(ERR-014, ERR-025).",
                          "Semantics", at({"file_ids"}),
                          "[\"" + first + "\",\"" + first + "\",\"short\"]", false)}});
  }

  out.push_back(
      Specimen{"FileStatusResponse",
               false,
               Json{{"files",
                     {{{"file_id", ids.id()}, {"state", "committed"}},
                      {{"file_id", ids.id()}, {"state", "absent"}}}}},
               {replace("state-other", "state is absent, uploading, committed or deleted.",
                        "Semantics", at({"files", size_t{0}, "state"}), R"("lost")", false)}});

  out.push_back(Specimen{
      "Payload",
      true,
      Json{{"v", 1},
           {"type", "put"},
           {"key", "notes/42"},
           {"value", ids.bytes(12)},
           {"bases", Json::array({ids.id()})},
           {"files",
            {{{"id", ids.id()},
              {"name", "photo.jpg"},
              {"size_bytes", 3000000},
              {"chunk_bytes", 1048576},
              {"chunk_count", 3},
              {"sha256", ids.hash()}}}}},
      {replace("delete", "A delete.", "ValidMessage", Path(),
               R"({"v":1,"type":"delete","key":"notes/42","bases":[]})", true),
       replace("version-2", "An unknown payload format (VER-007).", "Semantics", at({"v"}), "2",
               false),
       replace("version-0", "Format 0, an integer other than 1: unknown, not malformed (VER-009).",
               "Semantics", at({"v"}), "0", false),
       replace("version-256", "256 is no format (VER-009): invalid_field, not unsupported_format.",
               "OutOfRange", at({"v"}), "256", false),
       replace("delete-with-value", "A delete carrying a value (LWW-004).", "Semantics", Path(),
               R"({"v":1,"type":"delete","key":"k","bases":[],"value":""})", false),
       replace("delete-with-files", "A delete carrying files (LWW-004).", "Semantics", Path(),
               R"({"v":1,"type":"delete","key":"k","bases":[],"files":[]})", false),
       replace(
           "repeated-base-then-delete-with-value",
           "A repeated base, then a delete carrying a value: the member's check comes before "
           "the rule between members (ERR-014, ERR-025).",
           "Semantics", Path(),
           R"({"v":1,"type":"delete","key":"k","bases":["AAAAAAAAAAAAAAAAAAAAAA","AAAAAAAAAAAAAAAAAAAAAA"],"value":""})",
           false),
       replace("chunk-count-inconsistent",
               "chunk_count is max(1, ceil(size/chunk_bytes)) (LWW-002).", "Semantics",
               at({"files", size_t{0}, "chunk_count"}), "2", false)},
      true});
  return out;
}

// ---- generation -------------------------------------------------------------------------------

class GroupBuilder {
 public:
  GroupBuilder(TestGroup& group, const Specimen& specimen)
      : group_(group),
        specimen_(specimen),
        prefix_("wire-messages/" + std::string(specimen.type) + "/") {}

  // Adds a case whose outcome the library decides; `valid_flag` replaces `flag` when the
  // library accepts the text. Returns whether the library accepted it.
  bool add(const std::string& name, std::string comment, const std::string& flag,
           const std::string& text, const std::string& valid_flag = "") {
    const Status status = check_message(specimen_.type, text);
    Json fields = Json::object();
    if (is_valid_utf8(text))
      fields["json"] = text;
    else
      fields["jsonHex"] = hex(view_of(text));
    if (!status.ok()) {
      fields["errorCode"] = code_name(status.error().code);
      fields["errorField"] = status.error().field;
    }
    std::string chosen = status.ok() && !valid_flag.empty() ? valid_flag : flag;
    // A value of the right type that breaks a rule between members (a null cursor before the
    // log's end) is a cross-member case, not a type error.
    if (!status.ok() && flag == "WrongType" &&
        (status.error().code == Code::kProtocolError || status.error().code == Code::kPageGap))
      chosen = "CrossMember";
    group_.add(
        TestCase{prefix_ + name, std::move(comment), {chosen}, status.ok(), std::move(fields)});
    return status.ok();
  }

  // Adds a case whose outcome the spec fixes; generation stops if the library disagrees.
  // With `code`, the error's code and field must match too.
  void expect(const std::string& name, std::string comment, const std::string& flag,
              const std::string& text, bool valid, std::optional<Code> code = std::nullopt,
              const std::string& field = "") {
    const Status status = check_message(specimen_.type, text);
    require(status.ok() == valid, prefix_ + name + ": check_message " +
                                      (status.ok() ? "accepted" : "rejected") + " it" +
                                      (status.ok() ? "" : ": " + status.error().to_string()));
    if (!valid && code)
      require(status.error().code == *code && status.error().field == field,
              prefix_ + name + ": check_message reports " + status.error().to_string() +
                  ", expected " + std::string(code_name(*code)) + " at \"" + field + "\"");
    add(name, std::move(comment), flag, text);
  }

 private:
  static bool is_valid_utf8(const std::string& text) {
    try {
      (void)Json(text).dump();
      return true;
    } catch (const Json::exception&) {
      return false;
    }
  }

  TestGroup& group_;
  const Specimen& specimen_;
  std::string prefix_;
};

// Syntax errors every strict JSON parser must catch (TRN-020).
void add_syntax_cases(GroupBuilder& b, const std::string& text, bool thorough) {
  using enum Code;
  b.expect("not-json/truncated", "The specimen without its closing brace.", "NotJson",
           text.substr(0, text.size() - 1), false, kMalformedJson);
  b.expect("not-an-object/array", "A JSON array at the top level.", "NotAnObject", "[]", false,
           kMalformedJson);
  b.expect("not-json/byte-order-mark", "The specimen after a UTF-8 byte order mark (TRN-028).",
           "ByteOrderMark", "\xEF\xBB\xBF" + text, false, kMalformedJson);
  b.expect("not-json/lone-high-surrogate", "A string holding the escape \\ud800 alone (TRN-028).",
           "LoneSurrogate", with_leading_note(text, "\\ud800"), false, kMalformedJson);
  if (!thorough) return;
  b.expect("not-json/lone-low-surrogate", "A string holding the escape \\udc00 alone (TRN-028).",
           "LoneSurrogate", with_leading_note(text, "\\udc00"), false, kMalformedJson);
  b.expect("not-json/high-surrogate-then-letter",
           "A high surrogate escape followed by a letter, not a low surrogate (TRN-028).",
           "LoneSurrogate", with_leading_note(text, "\\ud83dx"), false, kMalformedJson);
  // Valid JSON text: a response ignores the extra member, a request rejects it as unknown, not
  // as malformed.
  b.add("surrogate-pair", "A string holding an escaped surrogate pair: valid JSON text.",
        "UnknownMemberRequest", with_leading_note(text, "\\ud83d\\ude00"), "ValidMessage");
  b.expect("not-an-object/null", "null at the top level.", "NotAnObject", "null", false,
           kMalformedJson);
  b.expect("not-an-object/string", "A string at the top level.", "NotAnObject", "\"{}\"", false,
           kMalformedJson);
  struct Syntax {
    std::string name;
    std::string comment;
    std::string text;
  };
  const std::vector<Syntax> syntax = {
      {"empty", "An empty body.", ""},
      {"whitespace-only", "Only whitespace.", " \n"},
      {"open-brace", "An object never closed.", "{"},
      {"trailing-comma", "A comma after the last member.", text.substr(0, text.size() - 1) + ",}"},
      {"single-quotes", "Strings in single quotes.", "{'v':1}"},
      {"unquoted-member-name", "A member name without quotes.", "{v:1}"},
      {"comment", "A comment before the object: JSON has none.", "/* note */" + text},
      {"trailing-garbage", "A byte after the object.", text + "x"},
      {"two-documents", "Two objects back to back.", text + text},
      {"nan", "NaN is not a JSON number.", R"({"v":NaN})"},
      {"leading-zero", "A number with a leading zero.", R"({"v":01})"},
      {"plus-sign", "A number with a plus sign.", R"({"v":+1})"},
      {"hex-number", "A hexadecimal number.", R"({"v":0x1})"},
      {"raw-newline-in-string", "A raw newline inside a string.", "{\"v\":\"a\nb\"}"},
      {"bad-escape", "The escape \\x, which JSON does not have.", R"({"v":"\x41"})"},
  };
  for (const Syntax& bad : syntax)
    b.expect("not-json/" + bad.name, bad.comment, "NotJson", bad.text, false, kMalformedJson);
}

void add_utf8_cases(GroupBuilder& b, const std::string& text, bool thorough) {
  b.expect("invalid-utf8/lone-continuation-byte",
           "A string holding the byte 80, which cannot start a character.", "InvalidUtf8",
           with_leading_note(text, "\x80"), false, Code::kMalformedJson);
  if (!thorough) return;
  const std::vector<std::pair<std::string, std::string>> bad_bytes = {
      {"byte-ff", "\xff"},
      {"overlong-slash", "\xc0\xaf"},
      {"surrogate-d800", "\xed\xa0\x80"},
      {"above-u10ffff", "\xf4\x90\x80\x80"},
      {"truncated-sequence", "\xe2\x82"},
  };
  for (const auto& [name, bytes] : bad_bytes)
    b.expect("invalid-utf8/" + name,
             "A string holding the invalid UTF-8 sequence " + hex(view_of(bytes)) + ".",
             "InvalidUtf8", with_leading_note(text, bytes), false, Code::kMalformedJson);
  b.expect("invalid-utf8/outside-string", "The byte ff between members.", "InvalidUtf8",
           "{\xff" + text.substr(1), false, Code::kMalformedJson);
}

// Requests with several faults: which one is reported (ERR-014), so that two servers answer alike.
void add_precedence_cases(GroupBuilder& b, const Json& example) {
  using enum Code;
  const std::string duplicate_first = "{\"ops\":" + example["ops"].dump() + ",";
  {
    const std::string text = duplicate_first + example.dump().substr(1);
    b.expect("several-faults/duplicate-and-truncated",
             "A repeated member in a text that is cut short: the text's fault first.",
             "SeveralFaults", text.substr(0, text.size() - 1), false, kMalformedJson, "");
  }
  {
    Json copy = example;
    copy["deep"] = std::string(kPlaceholder);
    const std::string text = with_raw(copy, at({"deep"}), nested_arrays(17));
    b.expect("several-faults/duplicate-then-too-deep",
             "A repeated member before a value nested too deep: the text's fault first.",
             "SeveralFaults", duplicate_first + text.substr(1), false, kMalformedJson, "");
  }
  {
    Json copy = example;
    copy["extra"] = 1;
    b.expect("several-faults/duplicate-and-unknown",
             "A repeated member and an unknown one: the repetition first.", "SeveralFaults",
             duplicate_first + copy.dump().substr(1), false, kDuplicateField, "ops");
  }
  {
    Json copy = example;
    copy["ops"][0].erase("id");
    const std::string twice =
        with_raw(copy, at({"ops", size_t{1}}), with_first_member_twice(copy["ops"][1]));
    b.expect(
        "several-faults/late-duplicate-and-early-missing",
        "ops[0] lacks its id and ops[1] repeats a member: the repetition first, wherever it is.",
        "SeveralFaults", twice, false, kDuplicateField,
        "ops[1]." + copy["ops"][1].items().begin().key());
  }
  {
    Json copy = example;
    copy["extra"] = 1;
    copy["ops"][0].erase("id");
    b.expect("several-faults/unknown-top-and-missing-in-op",
             "An unknown top-level member and ops[0] without id: the defined members first.",
             "SeveralFaults", copy.dump(), false, kMissingField, "ops[0].id");
  }
  {
    Json copy = example;
    copy["ops"][0]["extra"] = 1;
    copy["ops"][1]["key_id"] = "1";
    b.expect("several-faults/unknown-in-op-0-and-wrong-type-in-op-1",
             "An unknown member of ops[0] comes before the members of ops[1].", "SeveralFaults",
             copy.dump(), false, kUnknownField, "ops[0].extra");
  }
  {
    Json copy = example;
    copy["ops"][0]["hlc"]["extra"] = 1;
    copy["ops"][0]["key_id"] = 0;
    b.expect("several-faults/unknown-in-hlc-and-bad-key-id",
             "An unknown member of ops[0].hlc comes before key_id, which follows hlc.",
             "SeveralFaults", copy.dump(), false, kUnknownField, "ops[0].hlc.extra");
  }
  {
    Json copy = example;
    copy["ops"][0]["hlc"]["wall_ms"] = kHlcWallMsLimit;
    copy["ops"][0].erase("payload");
    b.expect("several-faults/bad-wall-ms-and-missing-payload",
             "hlc.wall_ms out of range and payload missing: members in the order of the schema.",
             "SeveralFaults", copy.dump(), false, kInvalidField, "ops[0].hlc.wall_ms");
  }
  {
    Json copy = example;
    copy["ops"][1]["id"] = copy["ops"][0]["id"];
    copy["ops"][0]["v"] = 2;
    b.expect("several-faults/unknown-format-first",
             "ops[0] of format 2, and ops[1] repeating ops[0]'s id: the member fault of ops[0].",
             "SeveralFaults", copy.dump(), false, kInvalidField, "ops[0].v");
  }
}

void add_specimen_cases(TestGroup& group, const Specimen& specimen) {
  GroupBuilder b(group, specimen);
  const Json& example = specimen.example;
  const std::string text = example.dump();
  using enum Code;
  b.expect("specimen", "A valid " + std::string(specimen.type) + ".", "ValidMessage", text, true);
  b.expect("specimen-pretty-printed", "The specimen with whitespace and newlines.", "ValidMessage",
           example.dump(2), true);

  add_syntax_cases(b, text, specimen.thorough);
  add_utf8_cases(b, text, specimen.thorough);

  if (!example.empty())
    b.expect("duplicate-member/top",
             "The first member written twice (TRN-021); the error names it.", "DuplicateMember",
             with_raw(example, Path(), with_first_member_twice(example)), false, kDuplicateField,
             example.items().begin().key());
  // Unknown members: rejected in requests (TRN-022), ignored in responses (TRN-023).
  std::vector<Path> objects = {Path()};
  walk(example, Path(), [&](const Path& path, const Json& value) {
    if (value.is_object()) objects.push_back(path);
  });
  bool nested_duplicate_done = false;
  for (const Path& path : objects) {
    Json copy = example;
    copy[path.pointer()]["unknown_member"] = 1;
    const std::string where = path.is_top() ? "the top level" : path.display();
    const std::string field = path.is_top() ? "unknown_member" : path.display() + ".unknown_member";
    if (specimen.request)
      b.expect("unknown-member/" + path.label(),
               "A member this message does not define, in " + where + ".", "UnknownMemberRequest",
               copy.dump(), false, kUnknownField, field);
    else
      b.expect("unknown-member/" + path.label(),
               "A member this message does not define, in " + where + ": ignored.",
               "UnknownMemberResponse", copy.dump(), true);
    if (!path.is_top() && !nested_duplicate_done && !example[path.pointer()].empty()) {
      nested_duplicate_done = true;
      b.expect("duplicate-member/" + path.label(),
               "A member of " + path.display() + " written twice; the error names it.",
               "DuplicateMember",
               with_raw(example, path, with_first_member_twice(example[path.pointer()])), false,
               kDuplicateField,
               path.display() + "." + example[path.pointer()].items().begin().key());
    }
  }
  // Nesting: 16 levels are allowed, 17 are not (TRN-020). The top-level object is level 1.
  {
    Json copy = example;
    copy["deep"] = std::string(kPlaceholder);
    const std::string deep16 = with_raw(copy, at({"deep"}), nested_arrays(15));
    const std::string deep17 = with_raw(copy, at({"deep"}), nested_arrays(16));
    if (specimen.request)
      b.expect("nesting/16-levels",
               "An unknown member nested 16 levels deep: unknown, not too deep.", "Nesting", deep16,
               false, kUnknownField, "deep");
    else
      b.expect("nesting/16-levels", "An unknown member nested 16 levels deep: accepted.", "Nesting",
               deep16, true);
    b.expect("nesting/17-levels", "Nested 17 levels deep.", "Nesting", deep17, false,
             kMalformedJson);
  }

  // Every member and element, mechanically.
  walk(example, Path(), [&](const Path& path, const Json& value) {
    const std::string where = path.display();
    if (path.is_member())
      b.add("missing/" + where, where + " left out.", "MissingMember", without(example, path),
            "OptionalMember");
    if (!value.is_null())
      b.add("wrong-type/" + where + "/null", where + " is null.", "WrongType",
            with_raw(example, path, "null"), "OptionalMember");
    if (value.is_string())
      b.add("wrong-type/" + where + "/number", where + " as a number.", "WrongType",
            with_raw(example, path, "17"));
    else if (value.is_number() || value.is_null())
      b.add("wrong-type/" + where + "/string", where + " as a string.", "WrongType",
            with_raw(example, path, "\"17\""));
    else if (value.is_array())
      b.add("wrong-type/" + where + "/object", where + " as an object.", "WrongType",
            with_raw(example, path, "{}"));
    else if (value.is_object())
      b.add("wrong-type/" + where + "/array", where + " as an array.", "WrongType",
            with_raw(example, path, "[]"));
    if (value.is_number_unsigned()) {
      const uint64_t v = value.get<uint64_t>();
      const std::vector<std::pair<std::string, std::string>> forms = {
          {"fraction", fraction_form(v)}, {"exponent", exponent_form(v)}, {"negative-zero", "-0"}};
      for (const auto& [form, raw] : forms)
        b.expect("non-integer/" + where + "/" + form,
                 where + " written " + raw + ": not an integer here (TRN-024).", "NonIntegerNumber",
                 with_raw(example, path, raw), false, kInvalidField, where);
      b.expect("out-of-range/" + where + "/2-pow-53",
               where + " = 2^53, beyond the integers JSON carries here (spec 1.3).", "OutOfRange",
               with_raw(example, path, "9007199254740992"), false, kInvalidField, where);
      b.expect("out-of-range/" + where + "/negative", where + " = -1.", "OutOfRange",
               with_raw(example, path, "-1"), false, kInvalidField, where);
    }
    const Binary binary = binary_kind(path, value);
    if (binary == Binary::kNone) return;
    const std::string encoded = value.get<std::string>();
    const Bytes decoded = *from_base64url(encoded);
    auto mangled = [&](const std::string& name, const std::string& comment, const std::string& flag,
                       const std::string& bad) {
      b.expect("base64url/" + where + "/" + name, where + ": " + comment, flag,
               with_raw(example, path, Json(bad).dump()), false, kInvalidField, where);
    };
    if (encoded.size() % 4 != 0) {
      mangled("padded", "with = padding.", "NonCanonicalBase64url",
              encoded + std::string(4 - encoded.size() % 4, '='));
      std::string unused_bits = encoded;
      unused_bits.back() = kBase64UrlAlphabet[kBase64UrlAlphabet.find(unused_bits.back()) + 1];
      mangled("unused-bits-set", "the last character's unused low bits set.",
              "NonCanonicalBase64url", unused_bits);
    }
    mangled("standard-alphabet", "a '+' of standard base64 in place of the first character.",
            "NonCanonicalBase64url", "+" + encoded.substr(1));
    mangled("whitespace", "a space inside.", "NonCanonicalBase64url",
            encoded.substr(0, 4) + " " + encoded.substr(4));
    if (binary == Binary::kAnyLength) return;
    Bytes shorter(decoded.begin(), decoded.end() - 1);
    if (binary == Binary::kEnvelope) shorter.resize(kEnvelopeOverheadBytes - 1);
    mangled("too-short", std::to_string(shorter.size()) + " bytes.", "WrongLength",
            to_base64url(shorter));
    if (binary == Binary::kEnvelope) return;  // no fixed upper bound: a server limit
    Bytes longer = decoded;
    longer.push_back(0);
    mangled("too-long", std::to_string(longer.size()) + " bytes.", "WrongLength",
            to_base64url(longer));
  });

  for (const Edit& edit : specimen.edits)
    b.expect(edit.name, edit.comment, edit.flag, with_raw(example, edit.path, edit.raw),
             edit.valid);
  if (specimen.type == "UploadOpsRequest") add_precedence_cases(b, example);
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"Strict parsing of the JSON messages of spec v1 (TRN-020..TRN-025), message by message.",
       "Each group is one message type (messageType, as opsync::message_type_names() lists "
       "them; Payload is the payload plaintext of spec 10.1). direction says whether a server "
       "reads it (request: unknown members are rejected) or a client does (response: unknown "
       "members are ignored, TRN-023).",
       "json is the message text; a text that is not valid UTF-8 cannot be a JSON string, so "
       "it is given as jsonHex, the bytes in lowercase hex, instead.",
       "Valid cases: the text must be accepted.",
       "Invalid cases: the text must be rejected. For requests and Payload, errorCode and "
       "errorField are what the spec requires (malformed_json, duplicate_field, "
       "unknown_field, missing_field, invalid_field, with the member's path such as "
       "ops[0].hlc.wall_ms; errorField \"\" means no single field is at fault), or "
       "unsupported_format for a payload of an unknown format (VER-007). Responses "
       "that break the rules are protocol errors for the client (TRN-023); their codes and "
       "fields are what the reference library reports.",
       "Limits a server advertises (batch_ops_max, op_payload_bytes_max, file_status_ids_max, "
       "file_chunks_max) are not checked here: they depend on the server."});
  file.note("ValidMessage", "BASIC", "A well-formed message.");
  file.note("OptionalMember", "EDGE_CASE",
            "An optional member left out, or a nullable member set to null: still valid.");
  file.note("NotJson", "MODIFIED_PARAMETER", "A text that is not well-formed JSON (TRN-020).");
  file.note("NotAnObject", "MODIFIED_PARAMETER", "Well-formed JSON that is not an object.");
  file.note("InvalidUtf8", "MODIFIED_PARAMETER", "A text that is not valid UTF-8 (TRN-020).");
  file.note("DuplicateMember", "MALLEABILITY",
            "An object repeating a member name (TRN-021): parsers that keep the first or the "
            "last would disagree.");
  file.note("UnknownMemberRequest", "MODIFIED_PARAMETER",
            "A member the request does not define (TRN-022).");
  file.note("UnknownMemberResponse", "FUNCTIONALITY",
            "A member the response does not define: servers may add members, clients ignore "
            "them (TRN-023).");
  file.note("Nesting", "EDGE_CASE", "16 levels of nesting are allowed, 17 are not (TRN-020).");
  file.note("MissingMember", "MODIFIED_PARAMETER", "A required member left out (TRN-022).");
  file.note("WrongType", "MODIFIED_PARAMETER", "A member of the wrong JSON type (TRN-022).");
  file.note("NonIntegerNumber", "MALLEABILITY",
            "An integer written as 7.0, 7e0 or -0, which are not integers here (TRN-024).");
  file.note("OutOfRange", "MODIFIED_PARAMETER", "An integer or string outside its range.");
  file.note("NonCanonicalBase64url", "MALLEABILITY",
            "A binary value not in canonical unpadded base64url: padding, a character of "
            "standard base64, whitespace, or unused bits set (TRN-025).");
  file.note("WrongLength", "MODIFIED_PARAMETER",
            "A binary value of the wrong length for its member (TRN-025).");
  file.note(
      "CrossMember", "MODIFIED_PARAMETER",
      "Members that are each well-formed but break a rule between them (LOG-022, LOG-028, LOG-031, "
      "LOG-033, AUTH-024, KEY-006, INF-005, ERR-010): a client checks these in words, a schema "
      "cannot.");
  file.note("SeveralFaults", "EDGE_CASE",
            "A request with several faults: the code and field are the first fault in the order of "
            "ERR-014 (the text, then repeated members, then members depth-first in schema order).");
  file.note(
      "ByteOrderMark", "MODIFIED_PARAMETER",
      "A text starting with a UTF-8 byte order mark, which JSON text does not have (TRN-028).");
  file.note("LoneSurrogate", "MODIFIED_PARAMETER",
            "A string escape of a lone UTF-16 surrogate, which is no character (TRN-028).");
  file.note("Semantics", "MODIFIED_PARAMETER",
            "A rule of this message beyond types and ranges (for example AUTH-014, LOG-001, "
            "VER-005, FILE-007).");

  std::vector<Specimen> all = specimens();
  std::set<std::string_view> covered;
  for (const Specimen& s : all) covered.insert(s.type);
  for (std::string_view name : message_type_names())
    require(covered.count(name) != 0, "no specimen for message type " + std::string(name));
  require(covered.size() == message_type_names().size(),
          "a specimen names an unknown message type");

  for (std::string_view name : message_type_names()) {
    const Specimen& specimen =
        *std::find_if(all.begin(), all.end(), [&](const Specimen& s) { return s.type == name; });
    TestGroup& group = file.group(Json{{"type", "WireMessageTest"},
                                       {"messageType", specimen.type},
                                       {"direction", specimen.request ? "request" : "response"}});
    add_specimen_cases(group, specimen);
  }
  return file.finish();
}

// ---- verification -----------------------------------------------------------------------------

void check_message_case(const Json& group, const Json& test, Findings& findings) {
  const std::string type = read_string(group, "messageType");
  const auto names = message_type_names();
  if (std::find(names.begin(), names.end(), type) == names.end())
    throw MalformedVector("messageType " + type + " is not a message type of the library");
  std::string text;
  if (test.contains("jsonHex"))
    text = to_string(read_hex(test, "jsonHex"));
  else
    text = read_string(test, "json");
  const Status status = check_message(type, text);
  if (read_expects_valid(test))
    findings.expect_success("check_message", status);
  else
    findings.expect_error(test, status);
}

}  // namespace

Suite wire_messages_suite() {
  return Suite{kName, kAlgorithm, &generate, {{"WireMessageTest", &check_message_case}}};
}

}  // namespace opsync::vectors
