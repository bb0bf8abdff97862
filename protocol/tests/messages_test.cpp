#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "property_support.h"
#include "test_support.h"

using namespace opsync;
using Json = nlohmann::ordered_json;
using JsonPointer = Json::json_pointer;

namespace {

// ---- one interface for messages and payloads ----------------------------------------------------

// Payloads (spec 10.1) are parsed like requests (strictly), through their own functions.
template <typename M>
struct Wire {
  static constexpr bool kStrict = M::kIsRequest;
  static Result<M> parse(std::string_view text) { return parse_message<M>(text); }
  static std::string serialize(const M& message) { return serialize_message(message); }
};

template <>
struct Wire<ObjectPayload> {
  static constexpr bool kStrict = true;
  static Result<ObjectPayload> parse(std::string_view text) {
    return parse_payload(to_bytes(text));
  }
  static std::string serialize(const ObjectPayload& payload) {
    return to_string(serialize_payload(payload));
  }
};

// ---- a sample of every message, written from the spec -------------------------------------------

Id id(std::string_view base64url) { return fixed_from_base64url<16>(base64url).value(); }
Hash hash(std::string_view base64url) { return fixed_from_base64url<32>(base64url).value(); }
Bytes bytes(std::string_view base64url) { return from_base64url(base64url).value(); }

// Readable canonical base64url values of the right lengths.
constexpr std::string_view kWorkspace = "WorkspaceIdForTestsAAA";
constexpr std::string_view kOwnerTokenId = "OwnerTokenIdForTestsAA";
constexpr std::string_view kReaderTokenId = "ReaderTokenIdForTestsA";
constexpr std::string_view kOp1 = "FirstOpIdOfTheBatchAAA";
constexpr std::string_view kOp2 = "SecondOpIdOfTheBatchAA";
constexpr std::string_view kOp3 = "ThirdOpIdOfTheBatchAAA";
constexpr std::string_view kDevice = "DeviceIdOfTheLaptopAAA";
constexpr std::string_view kFile1 = "FileIdOfThePhotoJpgAAA";
constexpr std::string_view kFile2 = "FileIdOfTheNotesTxtAAA";
constexpr std::string_view kFile3 = "FileIdOfTheScanPdfAAAA";
constexpr std::string_view kAfterHash = "AfterHashOfTheFirstThousandOpsAAAAAAAAAAAAA";
constexpr std::string_view kBlock0 = "BlockHashOfBlockZeroAAAAAAAAAAAAAAAAAAAAAAA";
constexpr std::string_view kBlock1 = "BlockHashOfBlockOneAAAAAAAAAAAAAAAAAAAAAAAA";
constexpr std::string_view kPhotoSha = "Sha256OfThePhotoPlaintextAAAAAAAAAAAAAAAAAA";
constexpr std::string_view kNotesSha = "Sha256OfTheNotesPlaintextAAAAAAAAAAAAAAAAAA";
constexpr std::string_view kWrapped =
    "WrappedKeyNonceCiphertextAndTagAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
constexpr std::string_view kPayload1 = "EncryptedPayloadOfTheFirstOpAAAAAAAAAAAA";
constexpr std::string_view kPayload2 = "EncryptedPayloadOfTheSecondOpAAAAAAAAAAA";
constexpr std::string_view kPayload3 = "EncryptedPayloadOfTheThirdOpAAAAAAAAAAAA";
constexpr std::string_view kOwnerToken = "ot_6Zq8Wk2Vb3Tn1Xr4Yp7Lm0Hs5Jd9Gf2Cc8Ee1Aa";
constexpr std::string_view kReaderToken = "rt_Q2w8Ev5Rt1Yu7Io3Pa9Sd4Fg6Hj0Kl2Zx8Cv5Bn";

// Substitutes the constants above for their names in a JSON template: {"id": "$kOp1"}.
std::string fill(std::string text) {
  const std::pair<std::string_view, std::string_view> values[] = {
      {"$kWorkspace", kWorkspace},
      {"$kOwnerTokenId", kOwnerTokenId},
      {"$kReaderTokenId", kReaderTokenId},
      {"$kOp1", kOp1},
      {"$kOp2", kOp2},
      {"$kOp3", kOp3},
      {"$kDevice", kDevice},
      {"$kFile1", kFile1},
      {"$kFile2", kFile2},
      {"$kFile3", kFile3},
      {"$kAfterHash", kAfterHash},
      {"$kBlock0", kBlock0},
      {"$kBlock1", kBlock1},
      {"$kPhotoSha", kPhotoSha},
      {"$kNotesSha", kNotesSha},
      {"$kWrapped", kWrapped},
      {"$kPayload1", kPayload1},
      {"$kPayload2", kPayload2},
      {"$kPayload3", kPayload3},
      {"$kOwnerToken", kOwnerToken},
      {"$kReaderToken", kReaderToken}};
  for (const auto& [name, value] : values) {
    for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at))
      text.replace(at, name.size(), value);
  }
  BOOST_REQUIRE(text.find('$') == std::string::npos);
  return text;
}

template <typename M>
struct Sample {
  std::string_view name;                   // as message_type_names() lists it
  std::string json;                        // written from the spec's description of the message
  M value;                                 // what `json` says
  std::set<std::string> optional_members;  // member paths that may be absent
};

template <typename M>
Sample<M> sample();

template <>
Sample<InfoResponse> sample() {
  // Spec 2.6, verbatim.
  InfoResponse m;
  m.versions = {1};
  m.server = {"opsync-reference-server", "0.1.0"};
  m.capabilities = {"files", "workspace_delete"};
  m.registration = Registration::kOpen;
  m.server_time_ms = 1764000000000;
  m.max_clock_skew_ms = 60000;
  m.block_size = 256;
  m.upload_expiry_ms = 604800000;
  m.file_retention_ms = 2592000000;
  m.limits = kReferenceLimits;
  return {"InfoResponse",
          R"({"protocol": "opsync", "versions": [1],
 "server": {"name": "opsync-reference-server", "version": "0.1.0"},
 "capabilities": ["files", "workspace_delete"],
 "registration": "open",
 "server_time_ms": 1764000000000,
 "max_clock_skew_ms": 60000,
 "block_size": 256,
 "upload_expiry_ms": 604800000,
 "file_retention_ms": 2592000000,
 "limits": {"request_body_bytes_max": 8388608, "batch_ops_max": 1000,
            "op_payload_bytes_max": 65536, "page_ops_max": 1000, "page_bytes_max": 4194304,
            "page_blocks_max": 4096, "page_tokens_max": 100, "page_keys_max": 64,
            "key_records_max": 64, "file_status_ids_max": 1000, "chunk_bytes": 1048576,
            "file_chunks_max": 16384}})",
          m,
          {}};
}

template <>
Sample<ErrorBody> sample() {
  // Every optional member present, so that each one's absence and each one's type is checked.
  // The code is one without details of its own (ERR-010): with it, each details member may be
  // absent; the codes that require theirs are tested on their own.
  ErrorBody m;
  m.code_name = "invalid_field";
  m.code = Code::kInvalidField;
  m.message = "chunks are missing";
  m.field = "chunk_count";
  m.details.head_seq = 1003;
  m.details.current_version = 2;
  m.details.chunk_count = 8;
  m.details.limit = 1000;
  m.details.limit_bytes = 8388608;
  m.details.chunks_missing = {{2, 4}, {6, 7}};
  return {"ErrorBody",
          R"({"error": {"code": "invalid_field", "message": "chunks are missing",
 "field": "chunk_count", "details": {"head_seq": 1003, "current_version": 2, "chunk_count": 8,
 "limit": 1000, "limit_bytes": 8388608, "chunks_missing": [[2, 4], [6, 7]]}}})",
          m,
          {"error.field", "error.details", "error.details.head_seq",
           "error.details.current_version", "error.details.chunk_count", "error.details.limit",
           "error.details.limit_bytes", "error.details.chunks_missing"}};
}

template <>
Sample<CreateWorkspaceRequest> sample() {
  return {"CreateWorkspaceRequest", "{}", {}, {}};
}

template <>
Sample<CreateWorkspaceResponse> sample() {
  CreateWorkspaceResponse m;
  m.workspace_id = id(kWorkspace);
  m.owner_token = std::string(kOwnerToken);
  m.owner_token_id = id(kOwnerTokenId);
  m.block_size = 256;
  m.created_at_ms = 1764000000000;
  return {"CreateWorkspaceResponse",
          fill(R"({"workspace_id": "$kWorkspace", "owner_token": "$kOwnerToken",
 "owner_token_id": "$kOwnerTokenId", "block_size": 256, "created_at_ms": 1764000000000})"),
          m,
          {}};
}

template <>
Sample<DeleteWorkspaceResponse> sample() {
  DeleteWorkspaceResponse m;
  m.workspace_id = id(kWorkspace);
  m.deleted_at_ms = 1764000900000;
  return {"DeleteWorkspaceResponse",
          fill(R"({"workspace_id": "$kWorkspace", "deleted_at_ms": 1764000900000})"),
          m,
          {}};
}

template <>
Sample<CreateTokenRequest> sample() {
  return {"CreateTokenRequest",
          R"({"scope": "read_write", "expires_in_ms": 86400000})",
          CreateTokenRequest{Scope::kReadWrite, 86400000},
          {"expires_in_ms"}};
}

template <>
Sample<TokenIssued> sample() {
  TokenIssued m;
  m.token_id = id(kReaderTokenId);
  m.token = std::string(kReaderToken);
  m.scope = Scope::kRead;
  m.created_at_ms = 1764000000000;
  m.expires_at_ms = 1764086400000;
  return {"TokenIssued",
          fill(R"({"token_id": "$kReaderTokenId", "token": "$kReaderToken", "scope": "read",
 "created_at_ms": 1764000000000, "expires_at_ms": 1764086400000})"),
          m,
          {}};
}

TokenEntry reader_token_entry() {
  TokenEntry m;
  m.token_id = id(kReaderTokenId);
  m.scope = Scope::kRead;
  m.created_at_ms = 1764000000000;
  m.expires_at_ms = 1764086400000;
  m.revoked_at_ms = 1764000500000;
  return m;
}

template <>
Sample<TokenEntry> sample() {
  return {"TokenEntry",
          fill(R"({"token_id": "$kReaderTokenId", "scope": "read", "created_at_ms": 1764000000000,
 "expires_at_ms": 1764086400000, "revoked_at_ms": 1764000500000})"),
          reader_token_entry(),
          {}};
}

template <>
Sample<TokenListResponse> sample() {
  TokenEntry owner;
  owner.token_id = id(kOwnerTokenId);
  owner.scope = Scope::kOwner;
  owner.created_at_ms = 1763000000000;
  TokenListResponse m;
  m.tokens = {owner, reader_token_entry()};
  m.next_after = id(kReaderTokenId);
  return {"TokenListResponse",
          fill(R"({"tokens": [
 {"token_id": "$kOwnerTokenId", "scope": "owner", "created_at_ms": 1763000000000,
  "expires_at_ms": null, "revoked_at_ms": null},
 {"token_id": "$kReaderTokenId", "scope": "read", "created_at_ms": 1764000000000,
  "expires_at_ms": 1764086400000, "revoked_at_ms": 1764000500000}],
 "next_after": "$kReaderTokenId"})"),
          m,
          {}};
}

template <>
Sample<RevokeTokenResponse> sample() {
  RevokeTokenResponse m;
  m.token_id = id(kReaderTokenId);
  m.revoked_at_ms = 1764000500000;
  return {"RevokeTokenResponse",
          fill(R"({"token_id": "$kReaderTokenId", "revoked_at_ms": 1764000500000})"),
          m,
          {}};
}

KeyRecord key_record(uint32_t key_id, uint64_t version) {
  KeyRecord m;
  m.key_id = key_id;
  m.version = version;
  m.kdf = KdfParams{kKdfAlgorithm, 600000};
  m.wrapped_key = bytes(kWrapped);
  m.updated_at_ms = 1764000000000;
  return m;
}

template <>
Sample<KeyRecord> sample() {
  return {"KeyRecord",
          fill(R"({"key_id": 1, "version": 2, "kdf": {"algorithm": "pbkdf2-hmac-sha256-prehashed",
 "iterations": 600000}, "wrapped_key": "$kWrapped", "updated_at_ms": 1764000000000})"),
          key_record(1, 2),
          {}};
}

template <>
Sample<PutKeyRequest> sample() {
  PutKeyRequest m;
  m.expected_version = 1;
  m.kdf = KdfParams{kKdfAlgorithm, 600000};
  m.wrapped_key = bytes(kWrapped);
  return {"PutKeyRequest",
          fill(R"({"expected_version": 1, "kdf": {"algorithm": "pbkdf2-hmac-sha256-prehashed",
 "iterations": 600000}, "wrapped_key": "$kWrapped"})"),
          m,
          {}};
}

template <>
Sample<KeyListResponse> sample() {
  KeyListResponse m;
  m.keys = {key_record(1, 2), key_record(2, 1)};
  m.next_after = 2;
  return {"KeyListResponse",
          fill(R"({"keys": [
 {"key_id": 1, "version": 2,
  "kdf": {"algorithm": "pbkdf2-hmac-sha256-prehashed", "iterations": 600000},
  "wrapped_key": "$kWrapped", "updated_at_ms": 1764000000000},
 {"key_id": 2, "version": 1,
  "kdf": {"algorithm": "pbkdf2-hmac-sha256-prehashed", "iterations": 600000},
  "wrapped_key": "$kWrapped", "updated_at_ms": 1764000000000}],
 "next_after": 2})"),
          m,
          {}};
}

std::vector<WireOp> batch_of_three() {
  WireOp first;
  first.id = id(kOp1);
  first.device_id = id(kDevice);
  first.hlc = Hlc{1764000000000, 0};
  first.key_id = 1;
  first.payload = bytes(kPayload1);
  WireOp second = first;
  second.id = id(kOp2);
  second.hlc.counter = 1;
  second.payload = bytes(kPayload2);
  WireOp third = first;
  third.id = id(kOp3);
  third.hlc = Hlc{1764000000005, 0};
  third.key_id = 2;
  third.payload = bytes(kPayload3);
  return {first, second, third};
}

constexpr std::string_view kOpsJson = R"(
 {"v": 1, "id": "$kOp1", "device_id": "$kDevice", "hlc": {"wall_ms": 1764000000000, "counter": 0},
  "key_id": 1, "payload": "$kPayload1"},
 {"v": 1, "id": "$kOp2", "device_id": "$kDevice", "hlc": {"wall_ms": 1764000000000, "counter": 1},
  "key_id": 1, "payload": "$kPayload2"},
 {"v": 1, "id": "$kOp3", "device_id": "$kDevice", "hlc": {"wall_ms": 1764000000005, "counter": 0},
  "key_id": 2, "payload": "$kPayload3"})";

template <>
Sample<UploadOpsRequest> sample() {
  return {"UploadOpsRequest",
          fill("{\"ops\": [" + std::string(kOpsJson) + "]}"),
          UploadOpsRequest{batch_of_three()},
          {}};
}

template <>
Sample<UploadOpsResponse> sample() {
  // Spec 7.1.
  UploadOpsResponse m;
  m.results = {OpResult{id(kOp1), OpStatus::kAccepted, 1001, Code::kClockSkew, ""},
               OpResult{id(kOp2), OpStatus::kDuplicate, 17, Code::kClockSkew, ""},
               OpResult{id(kOp3), OpStatus::kRejected, 0, Code::kClockSkew,
                        "wall_ms is 3600000 ms ahead of the server"}};
  m.head_seq = 1001;
  return {"UploadOpsResponse",
          fill(R"({"results": [{"id": "$kOp1", "status": "accepted", "seq": 1001},
                 {"id": "$kOp2", "status": "duplicate", "seq": 17},
                 {"id": "$kOp3", "status": "rejected", "code": "clock_skew",
                  "message": "wall_ms is 3600000 ms ahead of the server"}],
     "head_seq": 1001})"),
          m,
          {}};
}

template <>
Sample<OpsPageResponse> sample() {
  // Spec 7.3, a page that is not the last.
  OpsPageResponse m;
  m.after_seq = 1000;
  m.after_hash = hash(kAfterHash);
  m.head_seq = 1010;
  uint64_t seq = 1001;
  for (const WireOp& op : batch_of_three()) m.ops.push_back(SequencedOp{seq++, op});
  m.next_after_seq = 1003;
  return {"OpsPageResponse",
          fill(R"({"after_seq": 1000, "after_hash": "$kAfterHash", "head_seq": 1010,
 "ops": [
 {"seq": 1001, "v": 1, "id": "$kOp1", "device_id": "$kDevice",
  "hlc": {"wall_ms": 1764000000000, "counter": 0}, "key_id": 1, "payload": "$kPayload1"},
 {"seq": 1002, "v": 1, "id": "$kOp2", "device_id": "$kDevice",
  "hlc": {"wall_ms": 1764000000000, "counter": 1}, "key_id": 1, "payload": "$kPayload2"},
 {"seq": 1003, "v": 1, "id": "$kOp3", "device_id": "$kDevice",
  "hlc": {"wall_ms": 1764000000005, "counter": 0}, "key_id": 2, "payload": "$kPayload3"}],
 "next_after_seq": 1003})"),
          m,
          {}};
}

template <>
Sample<BlocksResponse> sample() {
  // LOG-031, a page of two blocks with one more to follow.
  BlocksResponse m;
  m.block_size = 256;
  m.head_seq = 800;
  m.block_count = 3;
  m.blocks = {BlockEntry{0, hash(kBlock0)}, BlockEntry{1, hash(kBlock1)}};
  m.next_start = 2;
  return {"BlocksResponse",
          fill(R"({"block_size": 256, "head_seq": 800, "block_count": 3,
 "blocks": [{"index": 0, "hash": "$kBlock0"}, {"index": 1, "hash": "$kBlock1"}],
 "next_start": 2})"),
          m,
          {}};
}

template <>
Sample<CreateFileRequest> sample() {
  return {"CreateFileRequest", R"({"chunk_count": 3})", CreateFileRequest{3}, {}};
}

template <>
Sample<CommitFileRequest> sample() {
  return {"CommitFileRequest", R"({"chunk_count": 3})", CommitFileRequest{3}, {}};
}

template <>
Sample<FileStatus> sample() {
  FileStatus m;
  m.file_id = id(kFile1);
  m.state = FileState::kUploading;
  m.chunk_count = 8;
  m.chunks_missing = {{2, 4}, {6, 8}};
  m.stored_bytes = 262256;
  m.updated_at_ms = 1764000000000;
  return {"FileStatus",
          fill(R"({"file_id": "$kFile1", "state": "uploading", "chunk_count": 8,
 "chunks_missing": [[2, 4], [6, 8]], "stored_bytes": 262256, "updated_at_ms": 1764000000000})"),
          m,
          {}};
}

template <>
Sample<ChunkStored> sample() {
  ChunkStored m;
  m.file_id = id(kFile1);
  m.index = 2;
  m.size_bytes = 65564;
  return {"ChunkStored", fill(R"({"file_id": "$kFile1", "index": 2, "size_bytes": 65564})"), m, {}};
}

template <>
Sample<FileStatusRequest> sample() {
  return {"FileStatusRequest",
          fill(R"({"file_ids": ["$kFile1", "$kFile2", "$kFile3"]})"),
          FileStatusRequest{{id(kFile1), id(kFile2), id(kFile3)}},
          {}};
}

template <>
Sample<FileStatusResponse> sample() {
  FileStatusResponse m;
  m.files = {FileStateEntry{id(kFile1), FileState::kCommitted},
             FileStateEntry{id(kFile2), FileState::kUploading},
             FileStateEntry{id(kFile3), FileState::kAbsent}};
  return {"FileStatusResponse",
          fill(R"({"files": [{"file_id": "$kFile1", "state": "committed"},
 {"file_id": "$kFile2", "state": "uploading"}, {"file_id": "$kFile3", "state": "absent"}]})"),
          m,
          {}};
}

template <>
Sample<ObjectPayload> sample() {
  // Spec 10.1: a put with a value, two bases and two attached files.
  ObjectPayload m;
  m.type = OpType::kPut;
  m.key = "notes/42";
  m.value = to_bytes("hello");
  m.bases = {id(kOp1), id(kOp2)};
  m.files = {FileRef{id(kFile1), "photo.jpg", 150000, 65536, 3, hash(kPhotoSha)},
             FileRef{id(kFile2), "notes.txt", 0, 1048576, 1, hash(kNotesSha)}};
  return {"Payload",
          fill(R"({"v": 1, "type": "put", "key": "notes/42", "value": "aGVsbG8",
 "bases": ["$kOp1", "$kOp2"],
 "files": [{"id": "$kFile1", "name": "photo.jpg", "size_bytes": 150000, "chunk_bytes": 65536,
            "chunk_count": 3, "sha256": "$kPhotoSha"},
           {"id": "$kFile2", "name": "notes.txt", "size_bytes": 0, "chunk_bytes": 1048576,
            "chunk_count": 1, "sha256": "$kNotesSha"}]})"),
          m,
          {}};
}

using MessageTypes =
    std::tuple<InfoResponse, ErrorBody, CreateWorkspaceRequest, CreateWorkspaceResponse,
               DeleteWorkspaceResponse, CreateTokenRequest, TokenIssued, TokenEntry,
               TokenListResponse, RevokeTokenResponse, KeyRecord, PutKeyRequest, KeyListResponse,
               UploadOpsRequest, UploadOpsResponse, OpsPageResponse, BlocksResponse,
               CreateFileRequest, CommitFileRequest, FileStatus, ChunkStored, FileStatusRequest,
               FileStatusResponse, ObjectPayload>;
constexpr size_t kMessageTypeCount = std::tuple_size_v<MessageTypes>;

// Calls f(std::type_identity<M>{}) for every message type M.
template <typename F>
void for_each_message_type(F&& f) {
  [&]<size_t... I>(std::index_sequence<I...>) {
    (f(std::type_identity<std::tuple_element_t<I, MessageTypes>>{}), ...);
  }
  (std::make_index_sequence<kMessageTypeCount>{});
}

template <typename F>
void visit_message_type(size_t index, F&& f) {
  size_t i = 0;
  for_each_message_type([&](auto type) {
    if (i++ == index) f(type);
  });
}

// ---- walking and editing JSON documents ---------------------------------------------------------

struct Member {
  std::string path;     // as the spec writes it: ops[2].hlc.wall_ms
  JsonPointer pointer;  // where it is in the document
  bool in_object;       // an object member (which can be absent), not an array element
};

void collect_members(const Json& value, const std::string& path, const JsonPointer& pointer,
                     std::vector<Member>& out) {
  if (value.is_object()) {
    for (const auto& [name, member] : value.items()) {
      const std::string member_path = path.empty() ? name : path + "." + name;
      out.push_back({member_path, pointer / name, true});
      collect_members(member, member_path, pointer / name, out);
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string element_path = path + "[" + std::to_string(i) + "]";
      out.push_back({element_path, pointer / i, false});
      collect_members(value[i], element_path, pointer / i, out);
    }
  }
}

// Every member and array element of a document, at any depth.
std::vector<Member> members_of(const Json& document) {
  std::vector<Member> out;
  collect_members(document, "", JsonPointer(), out);
  return out;
}

// The path of every object in a document, the top level included as "".
std::vector<std::pair<std::string, JsonPointer>> objects_of(const Json& document) {
  std::vector<std::pair<std::string, JsonPointer>> out{{"", JsonPointer()}};
  for (const Member& member : members_of(document))
    if (document[member.pointer].is_object()) out.emplace_back(member.path, member.pointer);
  return out;
}

std::string child_path(const std::string& parent, std::string_view name) {
  return parent.empty() ? std::string(name) : parent + "." + std::string(name);
}

void replace_once(std::string& text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  BOOST_REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
}

constexpr std::string_view kPlaceholder = "@@placeholder@@";

// The document's text with the value at `pointer` written as `raw`, which need not be valid JSON.
std::string with_raw_value(Json document, const JsonPointer& pointer, std::string_view raw) {
  document[pointer] = std::string(kPlaceholder);
  std::string text = document.dump();
  replace_once(text, "\"" + std::string(kPlaceholder) + "\"", raw);
  return text;
}

// The document's text with a member `name` added to the object at `object`, its value written as
// `raw`; the name itself may also be raw text (it is written between quotes as given).
std::string with_raw_member(Json document, const JsonPointer& object, std::string_view name,
                            std::string_view raw) {
  document[object][std::string(kPlaceholder)] = std::string(kPlaceholder);
  std::string text = document.dump();
  replace_once(text, "\"" + std::string(kPlaceholder) + "\":\"" + std::string(kPlaceholder) + "\"",
               "\"" + std::string(name) + "\":" + std::string(raw));
  return text;
}

// The document's text with the object member at `pointer` written twice.
std::string with_duplicate_member(Json document, const JsonPointer& pointer) {
  const std::string value = document[pointer].dump();
  return with_raw_member(std::move(document), pointer.parent_pointer(), pointer.back(), value);
}

Json without_member(Json document, const JsonPointer& pointer) {
  document[pointer.parent_pointer()].erase(pointer.back());
  return document;
}

// ---- expectations -------------------------------------------------------------------------------

template <typename M>
void expect_error(const Result<M>& parsed, Code code, std::string_view field) {
  BOOST_TEST(!parsed.ok());
  if (parsed.ok()) return;
  BOOST_TEST(parsed.error().code == code);
  BOOST_TEST(parsed.error().field == field);
}

template <typename M>
void expect_code(const Result<M>& parsed, Code code) {
  BOOST_TEST(!parsed.ok());
  if (parsed.ok()) return;
  BOOST_TEST(parsed.error().code == code);
}

template <typename M>
void expect_value(const Result<M>& parsed, const M& expected) {
  BOOST_TEST(parsed.ok());
  if (!parsed.ok()) {
    BOOST_TEST_MESSAGE(parsed.error());
    return;
  }
  BOOST_TEST(Wire<M>::serialize(*parsed) == Wire<M>::serialize(expected));
  BOOST_TEST((*parsed == expected));
}

// Parses the sample of M after an edit of its document.
template <typename M>
Result<M> parse_edited(const std::function<void(Json&)>& edit) {
  Json document = Json::parse(sample<M>().json);
  edit(document);
  return Wire<M>::parse(document.dump());
}

template <typename M>
Result<M> parse_with_raw(std::string_view pointer, std::string_view raw) {
  return Wire<M>::parse(
      with_raw_value(Json::parse(sample<M>().json), JsonPointer(std::string(pointer)), raw));
}

// Members whose value is null in some messages: null is a valid value for them.
bool is_nullable(const std::string& path) {
  for (std::string_view name :
       {"expires_at_ms", "revoked_at_ms", "next_after", "next_after_seq", "next_start"}) {
    if (path == name || (path.size() > name.size() && path.ends_with(name) &&
                         path[path.size() - name.size() - 1] == '.'))
      return true;
  }
  return false;
}

// What a binary member must decode to: an exact size, or a range.
struct BinarySize {
  size_t min;
  size_t max;
};

std::string last_name(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::optional<BinarySize> binary_size(const Member& member, const Json& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string name = last_name(member.path);
  for (std::string_view id_name :
       {"id", "device_id", "workspace_id", "owner_token_id", "token_id", "next_after", "file_id"})
    if (name == id_name) return BinarySize{16, 16};
  if (name.starts_with("bases[") || name.starts_with("file_ids[")) return BinarySize{16, 16};
  if (name == "after_hash" || name == "hash" || name == "sha256") return BinarySize{32, 32};
  if (name == "wrapped_key") return BinarySize{kWrappedKeyBytes, kWrappedKeyBytes};
  if (name == "payload") return BinarySize{kEnvelopeOverheadBytes, SIZE_MAX};
  if (name == "value") return BinarySize{0, SIZE_MAX};
  return std::nullopt;
}

// Text forms of the same bytes that are not canonical unpadded base64url (TRN-025).
std::vector<std::string> non_canonical_forms(const std::string& text) {
  std::vector<std::string> out;
  out.push_back(text +
                std::string(text.size() % 4 == 0 ? 1 : 4 - text.size() % 4, '='));  // padding
  out.push_back(text.substr(0, text.size() / 2) + " " +
                text.substr(text.size() / 2));  // whitespace
  out.push_back(text.substr(0, text.size() / 2) + "\\n" + text.substr(text.size() / 2));
  std::string standard = text;  // the standard alphabet's '+' and '/'
  standard[0] = '+';
  out.push_back(standard);
  standard[0] = '/';
  out.push_back(standard);
  if (text.size() % 4 == 2 || text.size() % 4 == 3) {  // an unused low bit set
    constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string unused_bit = text;
    unused_bit.back() = kAlphabet[kAlphabet.find(text.back()) | 1];
    out.push_back(unused_bit);
  }
  return out;
}

// ---- parsers the strictness property runs against -----------------------------------------------

struct LibraryParser {
  template <typename M>
  static Result<M> parse(std::string_view text) {
    return Wire<M>::parse(text);
  }
};

// Fills in a default message where a required member is missing, instead of failing.
struct MissingFieldSwallowingParser {
  template <typename M>
  static Result<M> parse(std::string_view text) {
    Result<M> parsed = Wire<M>::parse(text);
    if (!parsed.ok() && parsed.error().code == Code::kMissingField) return M{};
    return parsed;
  }
};

// The codes a parser may answer bad text with (TRN-020..TRN-025, VER-006, VER-007).
bool is_parse_error(Code code) {
  // The last two: a response that breaks a rule between its members (LOG-028, LOG-033, ...).
  return code == Code::kMalformedJson || code == Code::kDuplicateField ||
         code == Code::kUnknownField || code == Code::kMissingField ||
         code == Code::kInvalidField || code == Code::kUnsupportedFormat ||
         code == Code::kProtocolError || code == Code::kPageGap;
}

// TRN-020..TRN-025: a damaged message either fails with one of the parse errors, naming the
// member at fault for the member-level codes, or still parses: then every required member that
// the damage left in place is really there (nothing was filled in by default), and the message's
// canonical form parses back to the same value. Never a crash, an exception or another code.
template <typename Parser>
void damaged_messages_parse_or_fail_cleanly() {
  const size_t type_index = *testing::gen_uniform<size_t>(0, kMessageTypeCount);
  visit_message_type(type_index, [&]<typename M>(std::type_identity<M>) {
    const Sample<M> s = sample<M>();
    const std::string damaged = *testing::gen_mutation_of(s.json);
    const Result<M> parsed = Parser::template parse<M>(damaged);
    if (parsed.ok()) {
      const Json original = Json::parse(s.json);
      const Json document = Json::parse(damaged);
      for (const Member& member : members_of(original)) {
        if (!member.in_object || s.optional_members.count(member.path)) continue;
        const JsonPointer parent = member.pointer.parent_pointer();
        if (document.contains(parent) && document[parent].is_object())
          RC_ASSERT(document[parent].contains(member.pointer.back()));
      }
      const Result<M> again = Parser::template parse<M>(Wire<M>::serialize(*parsed));
      RC_ASSERT(again.ok());
      RC_ASSERT(*again == *parsed);
    } else {
      RC_ASSERT(is_parse_error(parsed.error().code));
      if (parsed.error().code == Code::kUnknownField ||
          parsed.error().code == Code::kMissingField ||
          parsed.error().code == Code::kInvalidField ||
          parsed.error().code == Code::kProtocolError || parsed.error().code == Code::kPageGap)
        RC_ASSERT(!parsed.error().field.empty());
    }
  });
}

// ---- payload generators -------------------------------------------------------------------------

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Valid UTF-8 of 1 to max_bytes bytes without U+0000 or any of `excluded`, from every plane.
rc::Gen<std::string> gen_utf8_text(size_t max_bytes, std::string_view excluded) {
  const auto code_point = rc::gen::suchThat(
      rc::gen::weightedOneOf<uint32_t>({{6, rc::gen::inRange<uint32_t>(0x20, 0x7F)},
                                        {1, rc::gen::inRange<uint32_t>(0x01, 0x20)},
                                        {2, rc::gen::inRange<uint32_t>(0x80, 0x800)},
                                        {2, rc::gen::inRange<uint32_t>(0x800, 0xD800)},
                                        {1, rc::gen::inRange<uint32_t>(0xE000, 0x10000)},
                                        {1, rc::gen::inRange<uint32_t>(0x10000, 0x110000)}}),
      [excluded](uint32_t c) {
        return c >= 0x80 || excluded.find(static_cast<char>(c)) == std::string_view::npos;
      });
  return rc::gen::map(rc::gen::container<std::vector<uint32_t>>(code_point),
                      [max_bytes](const std::vector<uint32_t>& cps) {
                        std::string out;
                        for (uint32_t c : cps) {
                          std::string next = out;
                          append_utf8(next, c);
                          if (next.size() > max_bytes) break;
                          out = std::move(next);
                        }
                        return out.empty() ? std::string("k") : out;
                      });
}

rc::Gen<FileRef> gen_file_ref() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::arbitrary<FileId>(), gen_utf8_text(kFileNameBytesMax, "/\\"),
                     rc::gen::inRange<uint64_t>(0, uint64_t{1} << 40),
                     testing::gen_in_range_with_ends<uint32_t>(kChunkBytesMin, kChunkBytesMax),
                     rc::gen::arbitrary<Hash>()),
      [](const std::tuple<FileId, std::string, uint64_t, uint32_t, Hash>& t) {
        const auto& [file_id, name, size, chunk_bytes, sha] = t;
        const uint64_t chunk_count = size == 0 ? 1 : (size + chunk_bytes - 1) / chunk_bytes;
        return FileRef{file_id,
                       name == "." || name == ".." ? "f" + name : name,
                       size,
                       chunk_bytes,
                       static_cast<uint32_t>(chunk_count),
                       sha};
      });
}

template <typename T, typename Key>
std::vector<T> distinct_by(std::vector<T> items, Key key, size_t max_items) {
  std::vector<T> out;
  std::set<std::decay_t<decltype(key(items[0]))>> seen;
  for (T& item : items)
    if (out.size() < max_items && seen.insert(key(item)).second) out.push_back(std::move(item));
  return out;
}

// A payload satisfying LWW-001 and LWW-002.
rc::Gen<ObjectPayload> gen_payload_plaintext() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::arbitrary<bool>(), gen_utf8_text(kObjectKeyBytesMax, ""),
                     rc::gen::arbitrary<Bytes>(), rc::gen::arbitrary<std::vector<OpId>>(),
                     rc::gen::mapcat(rc::gen::weightedOneOf<int>(
                                         {{1, rc::gen::just(0)}, {2, testing::gen_uniform(1, 5)}}),
                                     [](int count) {
                                       return rc::gen::container<std::vector<FileRef>>(
                                           static_cast<size_t>(count), gen_file_ref());
                                     })),
      [](const std::tuple<bool, std::string, Bytes, std::vector<OpId>, std::vector<FileRef>>& t) {
        const auto& [is_put, key, value, bases, files] = t;
        ObjectPayload payload;
        payload.type = is_put ? OpType::kPut : OpType::kDelete;
        payload.key = key;
        payload.bases = distinct_by(
            bases, [](const OpId& id) { return id; }, kBasesMax);
        if (is_put) {
          payload.value = value;
          payload.files = distinct_by(
              files, [](const FileRef& f) { return f.id; }, kFileRefsMax);
        }
        return payload;
      });
}

// ---- round-trip properties ----------------------------------------------------------------------

// LWW-001, LWW-002: every valid payload survives serialization.
template <typename Serialize>
void payload_round_trips(Serialize serialize) {
  const ObjectPayload payload = *gen_payload_plaintext();
  const Result<ObjectPayload> parsed = parse_payload(serialize(payload));
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == payload);
}

// Leaves out "files" when a put attaches none.
Bytes serialize_payload_without_empty_files(const ObjectPayload& payload) {
  Json document = Json::parse(to_string(serialize_payload(payload)));
  if (document.contains("files") && document["files"].empty()) document.erase("files");
  return to_bytes(document.dump());
}

// Spec 6.1, 7.1: any batch of valid operations survives serialization.
template <typename Serialize>
void upload_request_round_trips(Serialize serialize) {
  const auto ops = *rc::gen::mapcat(testing::gen_uniform(1, 9), [](int count) {
    return rc::gen::container<std::vector<WireOp>>(static_cast<size_t>(count),
                                                   testing::gen_valid_op());
  });
  const UploadOpsRequest request{ops};
  const Result<UploadOpsRequest> parsed = parse_message<UploadOpsRequest>(serialize(request));
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == request);
}

// Writes hlc.wall_ms as a floating-point number, as a JavaScript client might.
std::string serialize_with_float_wall_clock(const UploadOpsRequest& request) {
  Json document = Json::parse(serialize_message(request));
  for (Json& op : document["ops"])
    op["hlc"]["wall_ms"] = static_cast<double>(op["hlc"]["wall_ms"].get<uint64_t>());
  return document.dump();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(messages)

// ---- every message: the spec's form and round trips ---------------------------------------------

BOOST_AUTO_TEST_CASE(every_message_type_has_a_sample) {
  std::set<std::string_view> sampled;
  for_each_message_type(
      [&]<typename M>(std::type_identity<M>) { sampled.insert(sample<M>().name); });
  const std::span<const std::string_view> names = message_type_names();
  BOOST_TEST(sampled == std::set<std::string_view>(names.begin(), names.end()),
             boost::test_tools::per_element());
  BOOST_TEST(sampled.size() == kMessageTypeCount);
}

BOOST_AUTO_TEST_CASE(the_spec_form_of_every_message_parses_to_its_value) {
  for_each_message_type([]<typename M>(std::type_identity<M>) {
    const Sample<M> s = sample<M>();
    BOOST_TEST_CONTEXT(s.name) {
      expect_value(Wire<M>::parse(s.json), s.value);
      BOOST_TEST(check_message(s.name, s.json).ok());
    }
  });
}

BOOST_AUTO_TEST_CASE(every_message_serializes_to_the_spec_form_and_round_trips) {
  for_each_message_type([]<typename M>(std::type_identity<M>) {
    const Sample<M> s = sample<M>();
    BOOST_TEST_CONTEXT(s.name) {
      const std::string text = Wire<M>::serialize(s.value);
      // Compared as JSON values: member order and white space are free.
      BOOST_TEST(nlohmann::json::parse(text) == nlohmann::json::parse(s.json));
      expect_value(Wire<M>::parse(text), s.value);
    }
  });
}

BOOST_AUTO_TEST_CASE(check_message_refuses_an_unknown_type_name) {
  const Status status = check_message("NoSuchMessage", "{}");
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().code == Code::kInvalidField);
  BOOST_TEST(status.error().field == "type");
  // And reports a parse error as the parser does.
  const Status bad = check_message("CreateFileRequest", R"({"chunk_count": 0})");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().field == "chunk_count");
}

// ---- malformed JSON (TRN-020) -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(text_that_is_not_json_is_malformed_json) {
  const std::string_view not_json[] = {"",
                                       " ",
                                       "not json",
                                       "{",
                                       "}",
                                       "nul",
                                       "{\"a\":}",
                                       "{'a': 1}",
                                       "{\"a\": 1,}",
                                       "{} {}",
                                       "{}x",
                                       "// comment\n{}",
                                       "{\"a\": 01}",
                                       "{\"a\": .5}",
                                       "{\"a\": +1}",
                                       "{\"a\": NaN}",
                                       "{\"a\": \"\x01\"}",
                                       "{\"a\": \"\\x41\"}"};
  for_each_message_type([&]<typename M>(std::type_identity<M>) {
    for (std::string_view text : not_json) {
      BOOST_TEST_CONTEXT(sample<M>().name << " <- " << text) {
        expect_error(Wire<M>::parse(text), Code::kMalformedJson, "");
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(every_truncation_of_every_message_is_malformed_json) {
  for_each_message_type([]<typename M>(std::type_identity<M>) {
    const std::string text = sample<M>().json;
    for (size_t length = 0; length < text.size(); ++length) {
      BOOST_TEST_CONTEXT(sample<M>().name << " cut at " << length) {
        expect_error(Wire<M>::parse(std::string_view(text).substr(0, length)), Code::kMalformedJson,
                     "");
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(invalid_utf8_anywhere_is_malformed_json) {
  const std::string_view invalid[] = {
      "\xff",                  // never valid
      "\x80",                  // a continuation byte alone
      "\xc3(",                 // a lead byte without its continuation
      "\xc0\xaf",              // overlong encoding of '/'
      "\xed\xa0\x80",          // a UTF-16 surrogate
      "\xf4\x90\x80\x80",      // above U+10FFFF
      "\xf8\x88\x80\x80\x80",  // five-byte form
      "\\ud800",               // an escaped lone high surrogate
      "\\udc00x",              // an escaped lone low surrogate
  };
  for_each_message_type([&]<typename M>(std::type_identity<M>) {
    const Json document = Json::parse(sample<M>().json);
    for (std::string_view bad : invalid) {
      const std::string in_text = "ab" + std::string(bad) + "cd";
      BOOST_TEST_CONTEXT(sample<M>().name << " member name with " << to_hex(to_bytes(bad))) {
        expect_error(Wire<M>::parse(with_raw_member(document, JsonPointer(), in_text, "1")),
                     Code::kMalformedJson, "");
      }
      for (const Member& member : members_of(document)) {
        if (!document[member.pointer].is_string()) continue;
        BOOST_TEST_CONTEXT(sample<M>().name << " " << member.path << " with "
                                            << to_hex(to_bytes(bad))) {
          expect_error(
              Wire<M>::parse(with_raw_value(document, member.pointer, "\"" + in_text + "\"")),
              Code::kMalformedJson, "");
        }
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(a_top_level_value_other_than_an_object_is_malformed_json) {
  for_each_message_type([]<typename M>(std::type_identity<M>) {
    for (const std::string& text :
         {std::string("[]"), "[" + sample<M>().json + "]", std::string("\"{}\""), std::string("1"),
          std::string("null"), std::string("true")}) {
      BOOST_TEST_CONTEXT(sample<M>().name << " <- " << text) {
        expect_error(Wire<M>::parse(text), Code::kMalformedJson, "");
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(nesting_deeper_than_16_levels_is_malformed_json) {
  // The message object is level 1, so 15 nested arrays inside a member reach level 16 exactly.
  const std::string depth_16 = std::string(15, '[') + std::string(15, ']');
  const std::string depth_17 = std::string(16, '[') + std::string(16, ']');
  std::string objects_17 = "1";
  for (int i = 0; i < 16; ++i) objects_17 = "{\"a\":" + objects_17 + "}";
  for_each_message_type([&]<typename M>(std::type_identity<M>) {
    const Sample<M> s = sample<M>();
    const Json document = Json::parse(s.json);
    BOOST_TEST_CONTEXT(s.name) {
      const Result<M> at_limit =
          Wire<M>::parse(with_raw_member(document, JsonPointer(), "deep", depth_16));
      if (Wire<M>::kStrict) {
        expect_error(at_limit, Code::kUnknownField, "deep");
      } else {
        expect_value(at_limit, s.value);
      }
      expect_error(Wire<M>::parse(with_raw_member(document, JsonPointer(), "deep", depth_17)),
                   Code::kMalformedJson, "");
      expect_error(Wire<M>::parse(with_raw_member(document, JsonPointer(), "deep", objects_17)),
                   Code::kMalformedJson, "");
    }
  });
  // Far too deep: rejected early, without exhausting the stack.
  expect_error(parse_message<UploadOpsRequest>(std::string(1000000, '[')), Code::kMalformedJson,
               "");
}

// ---- duplicate and unknown members (TRN-021, TRN-022, TRN-023) ----------------------------------

BOOST_AUTO_TEST_CASE(a_repeated_member_at_any_depth_is_duplicate_field) {
  for_each_message_type([]<typename M>(std::type_identity<M>) {
    const Json document = Json::parse(sample<M>().json);
    for (const Member& member : members_of(document)) {
      if (!member.in_object) continue;
      BOOST_TEST_CONTEXT(sample<M>().name << " " << member.path << " twice") {
        // The error names the repeated member (ERR-002).
        expect_error(Wire<M>::parse(with_duplicate_member(document, member.pointer)),
                     Code::kDuplicateField, member.path);
      }
    }
    // Duplicates count even where unknown members would be ignored, and with different values.
    BOOST_TEST_CONTEXT(sample<M>().name << " unknown member twice") {
      Json twice = document;
      twice["extra"] = 1;
      expect_error(Wire<M>::parse(with_raw_member(twice, JsonPointer(), "extra", "2")),
                   Code::kDuplicateField, "extra");
    }
  });
}

BOOST_AUTO_TEST_CASE(an_unknown_member_is_rejected_in_requests_and_ignored_in_responses) {
  for_each_message_type([]<typename M>(std::type_identity<M>) {
    const Sample<M> s = sample<M>();
    const Json document = Json::parse(s.json);
    for (const auto& [path, pointer] : objects_of(document)) {
      BOOST_TEST_CONTEXT(s.name << " with " << child_path(path, "unknown_member")) {
        const Result<M> parsed =
            Wire<M>::parse(with_raw_member(document, pointer, "unknown_member", "{\"x\": [1]}"));
        if (Wire<M>::kStrict) {
          expect_error(parsed, Code::kUnknownField, child_path(path, "unknown_member"));
        } else {
          expect_value(parsed, s.value);
        }
      }
    }
  });
}

// ---- missing members (TRN-022, TRN-023) ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_required_member_missing_is_missing_field_naming_it) {
  for_each_message_type([]<typename M>(std::type_identity<M>) {
    const Sample<M> s = sample<M>();
    const Json document = Json::parse(s.json);
    for (const Member& member : members_of(document)) {
      if (!member.in_object) continue;
      BOOST_TEST_CONTEXT(s.name << " without " << member.path) {
        const Result<M> parsed = Wire<M>::parse(without_member(document, member.pointer).dump());
        if (s.optional_members.count(member.path)) {
          BOOST_TEST(parsed.ok());
        } else {
          expect_error(parsed, Code::kMissingField, member.path);
        }
      }
    }
  });
}

// ---- wrong types and ranges (TRN-022, TRN-024, TRN-025) -----------------------------------------

BOOST_AUTO_TEST_CASE(a_member_of_the_wrong_json_type_is_invalid_field_naming_it) {
  for_each_message_type([]<typename M>(std::type_identity<M>) {
    const Json document = Json::parse(sample<M>().json);
    for (const Member& member : members_of(document)) {
      const Json& value = document[member.pointer];
      std::vector<std::string> wrong{"true", "false"};
      if (!value.is_string()) wrong.push_back("\"1\"");
      // A nullable member that is null here may hold an integer in other messages.
      if (!value.is_number() && !(value.is_null() && is_nullable(member.path)))
        wrong.push_back("1");
      if (!value.is_array()) wrong.push_back("[]");
      if (!value.is_object()) wrong.push_back("{}");
      if (!value.is_null() && !is_nullable(member.path)) wrong.push_back("null");
      for (const std::string& raw : wrong) {
        BOOST_TEST_CONTEXT(sample<M>().name << " " << member.path << " = " << raw) {
          expect_error(Wire<M>::parse(with_raw_value(document, member.pointer, raw)),
                       Code::kInvalidField, member.path);
        }
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(an_integer_not_written_as_a_plain_integer_in_range_is_invalid_field) {
  // TRN-024 and spec 1.3: no fraction, exponent or sign, and at most 2^53 - 1.
  const std::string_view not_plain[] = {
      "1.0", "1e3", "1E3", "10e-1", "-0", "-1", "0.0", "9007199254740992", "18446744073709551616"};
  for_each_message_type([&]<typename M>(std::type_identity<M>) {
    const Json document = Json::parse(sample<M>().json);
    for (const Member& member : members_of(document)) {
      if (!document[member.pointer].is_number()) continue;
      for (std::string_view raw : not_plain) {
        BOOST_TEST_CONTEXT(sample<M>().name << " " << member.path << " = " << raw) {
          expect_error(Wire<M>::parse(with_raw_value(document, member.pointer, raw)),
                       Code::kInvalidField, member.path);
        }
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(a_binary_member_not_in_canonical_base64url_of_its_length_is_invalid_field) {
  for_each_message_type([]<typename M>(std::type_identity<M>) {
    const Json document = Json::parse(sample<M>().json);
    for (const Member& member : members_of(document)) {
      const Json& value = document[member.pointer];
      const std::optional<BinarySize> size = binary_size(member, value);
      if (!size) continue;
      const std::string text = value.get<std::string>();
      std::vector<std::string> bad = non_canonical_forms(text);
      const Bytes decoded = from_base64url(text).value();
      if (size->min > 0) bad.push_back(to_base64url(ByteView(decoded).first(size->min - 1)));
      if (size->max == size->min) {
        Bytes longer = decoded;
        longer.push_back(0);
        bad.push_back(to_base64url(longer));
      }
      for (const std::string& form : bad) {
        BOOST_TEST_CONTEXT(sample<M>().name << " " << member.path << " = " << form) {
          expect_error(Wire<M>::parse(with_raw_value(document, member.pointer, "\"" + form + "\"")),
                       Code::kInvalidField, member.path);
        }
      }
    }
  });
}

// ---- member-specific rules, with nested paths ---------------------------------------------------

BOOST_AUTO_TEST_CASE(upload_request_names_the_operation_member_at_fault) {
  using M = UploadOpsRequest;
  expect_error(parse_with_raw<M>("/ops/2/hlc/wall_ms", "281474976710656"), Code::kInvalidField,
               "ops[2].hlc.wall_ms");
  BOOST_TEST(parse_with_raw<M>("/ops/2/hlc/wall_ms", "281474976710655").ok());
  expect_error(parse_with_raw<M>("/ops/1/hlc/counter", "4294967296"), Code::kInvalidField,
               "ops[1].hlc.counter");
  BOOST_TEST(parse_with_raw<M>("/ops/1/hlc/counter", "4294967295").ok());
  expect_error(parse_with_raw<M>("/ops/0/key_id", "0"), Code::kInvalidField, "ops[0].key_id");
  expect_error(parse_with_raw<M>("/ops/0/key_id", "4294967296"), Code::kInvalidField,
               "ops[0].key_id");
  BOOST_TEST(parse_with_raw<M>("/ops/0/key_id", "4294967295").ok());
  // VER-005: in an upload, an operation of another format is invalid input.
  expect_error(parse_with_raw<M>("/ops/2/v", "2"), Code::kInvalidField, "ops[2].v");
  expect_error(parse_with_raw<M>("/ops/2/v", "256"), Code::kInvalidField, "ops[2].v");
  // OP-001: at least 28 bytes of nonce and tag.
  const std::string short_payload = "\"" + to_base64url(Bytes(27, 1)) + "\"";
  expect_error(parse_with_raw<M>("/ops/1/payload", short_payload), Code::kInvalidField,
               "ops[1].payload");
  BOOST_TEST(parse_with_raw<M>("/ops/1/payload", "\"" + to_base64url(Bytes(28, 1)) + "\"").ok());
  // LOG-001: an empty batch.
  expect_error(parse_message<M>(R"({"ops": []})"), Code::kInvalidField, "ops");
}

BOOST_AUTO_TEST_CASE(a_page_of_operations_of_an_unknown_format_is_unsupported_format) {
  // VER-006: a client reading an operation of a format it does not know must stop and ask for an
  // upgrade, which the distinct code lets it do.
  expect_error(parse_with_raw<OpsPageResponse>("/ops/1/v", "2"), Code::kUnsupportedFormat,
               "ops[1].v");
  expect_error(parse_with_raw<OpsPageResponse>("/ops/0/seq", "0"), Code::kInvalidField,
               "ops[0].seq");
  expect_error(parse_with_raw<OpsPageResponse>("/next_after_seq", "0"), Code::kInvalidField,
               "next_after_seq");
  const Result<OpsPageResponse> last_page = parse_edited<OpsPageResponse>([](Json& d) {
    d["next_after_seq"] = nullptr;
    d["head_seq"] = 1003;
  });
  BOOST_REQUIRE(last_page.ok());
  BOOST_TEST(!last_page->next_after_seq.has_value());
}

BOOST_AUTO_TEST_CASE(a_page_keeps_the_rules_between_its_members) {
  // LOG-028: consecutive from after_seq + 1, within head_seq, a cursor exactly when more follow.
  using M = OpsPageResponse;
  expect_error(parse_edited<M>([](Json& d) { d["ops"][1]["seq"] = 1003; }), Code::kPageGap,
               "ops[1].seq");
  expect_error(parse_edited<M>([](Json& d) { d["ops"][0]["seq"] = 1000; }), Code::kPageGap,
               "ops[0].seq");
  expect_error(parse_edited<M>([](Json& d) { d["head_seq"] = 1002; }), Code::kProtocolError,
               "ops[2].seq");
  expect_error(parse_edited<M>([](Json& d) { d["after_seq"] = 1011; }), Code::kProtocolError,
               "after_seq");
  expect_error(parse_edited<M>([](Json& d) { d["next_after_seq"] = 1002; }), Code::kProtocolError,
               "next_after_seq");
  expect_error(parse_edited<M>([](Json& d) { d["next_after_seq"] = nullptr; }),
               Code::kProtocolError, "next_after_seq");
  expect_error(parse_edited<M>([](Json& d) { d["head_seq"] = 1003; }), Code::kProtocolError,
               "next_after_seq");
  expect_error(parse_edited<M>([](Json& d) { d["ops"] = Json::array(); }), Code::kProtocolError,
               "ops");
  BOOST_TEST(parse_edited<M>([](Json& d) {
               d["ops"] = Json::array();
               d["after_seq"] = 1010;
               d["next_after_seq"] = nullptr;
             }).ok());  // an empty page at the head
}

BOOST_AUTO_TEST_CASE(a_block_list_keeps_the_rules_between_its_members) {
  // LOG-033; the sample lists blocks 0 and 1 of 3 with next_start 2.
  using M = BlocksResponse;
  expect_error(parse_edited<M>([](Json& d) { d["block_count"] = 2; }), Code::kProtocolError,
               "block_count");
  expect_error(parse_edited<M>([](Json& d) { d["blocks"][1]["index"] = 2; }), Code::kProtocolError,
               "blocks[1].index");
  expect_error(parse_edited<M>([](Json& d) { d["next_start"] = 3; }), Code::kProtocolError,
               "next_start");
  expect_error(parse_edited<M>([](Json& d) { d["next_start"] = nullptr; }), Code::kProtocolError,
               "next_start");
  expect_error(parse_edited<M>([](Json& d) {
                 d["blocks"][0]["index"] = 2;
                 d["blocks"][1]["index"] = 3;
                 d["next_start"] = nullptr;
               }),
               Code::kProtocolError, "blocks[1].index");
  expect_error(parse_edited<M>([](Json& d) { d["blocks"] = Json::array(); }), Code::kProtocolError,
               "next_start");
  BOOST_TEST(parse_edited<M>([](Json& d) {
               d["blocks"] = Json::array();
               d["next_start"] = nullptr;
             }).ok());  // a start at or beyond block_count
}

BOOST_AUTO_TEST_CASE(lists_of_tokens_and_keys_are_ordered_with_the_last_entry_as_cursor) {
  // AUTH-024, KEY-006.
  expect_error(
      parse_edited<TokenListResponse>([](Json& d) { std::swap(d["tokens"][0], d["tokens"][1]); }),
      Code::kProtocolError, "tokens[1].token_id");
  expect_error(parse_edited<TokenListResponse>(
                   [](Json& d) { d["next_after"] = d["tokens"][0]["token_id"]; }),
               Code::kProtocolError, "next_after");
  expect_error(
      parse_edited<KeyListResponse>([](Json& d) { std::swap(d["keys"][0], d["keys"][1]); }),
      Code::kProtocolError, "keys[1].key_id");
  expect_error(parse_edited<KeyListResponse>([](Json& d) { d["next_after"] = 1; }),
               Code::kProtocolError, "next_after");
  BOOST_TEST(parse_edited<KeyListResponse>([](Json& d) { d["next_after"] = nullptr; }).ok());
}

BOOST_AUTO_TEST_CASE(error_codes_come_with_the_details_the_table_gives_them) {
  // ERR-010: each code with its required details member; unknown codes and codes without
  // details are read as they are.
  const auto body = [](std::string_view code, std::string_view details) {
    return parse_message<ErrorBody>(
        std::string(R"({"error": {"code": ")") + std::string(code) + R"(", "message": "m")" +
        (details.empty() ? "" : R"(, "details": )" + std::string(details)) + "}}");
  };
  for (const auto& [code, member, value] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"chunk_index_out_of_range", "chunk_count", "3"},
           {"file_chunk_count_mismatch", "chunk_count", "3"},
           {"version_conflict", "current_version", "0"},
           {"after_seq_beyond_head", "head_seq", "0"},
           {"file_incomplete", "chunks_missing", "[[0, 1]]"},
           {"body_too_large", "limit_bytes", "1048576"},
           {"too_many_ops", "limit", "100"},
           {"too_many_ids", "limit", "100"}}) {
    BOOST_TEST_CONTEXT(code) {
      BOOST_TEST(body(code, "{\"" + member + "\": " + value + "}").ok());
      expect_error(body(code, ""), Code::kProtocolError, "error.details." + member);
      expect_error(body(code, "{}"), Code::kProtocolError, "error.details." + member);
    }
  }
  expect_error(body("file_incomplete", R"({"chunks_missing": []})"), Code::kProtocolError,
               "error.details.chunks_missing");
  expect_error(body("file_chunk_count_mismatch", R"({"chunk_count": 0})"), Code::kProtocolError,
               "error.details.chunk_count");
  BOOST_TEST(body("invalid_field", "").ok());
  BOOST_TEST(body("a_code_from_the_future", "").ok());
}

BOOST_AUTO_TEST_CASE(info_limits_and_bounds_are_checked_with_their_paths) {
  using M = InfoResponse;
  expect_error(parse_with_raw<M>("/limits/chunk_bytes", "65535"), Code::kInvalidField,
               "limits.chunk_bytes");
  expect_error(parse_with_raw<M>("/limits/chunk_bytes", "16777217"), Code::kInvalidField,
               "limits.chunk_bytes");
  BOOST_TEST(parse_with_raw<M>("/limits/chunk_bytes", "16777216").ok());
  BOOST_TEST(parse_with_raw<M>("/limits/chunk_bytes", "65536").ok());
  // LIM-001: every limit at least its floor.
  expect_error(parse_with_raw<M>("/limits/batch_ops_max", "99"), Code::kInvalidField,
               "limits.batch_ops_max");
  expect_error(parse_with_raw<M>("/limits/page_keys_max", "15"), Code::kInvalidField,
               "limits.page_keys_max");
  expect_error(parse_with_raw<M>("/limits/request_body_bytes_max", "1048575"), Code::kInvalidField,
               "limits.request_body_bytes_max");
  // INF-003, INF-004.
  expect_error(parse_with_raw<M>("/max_clock_skew_ms", "999"), Code::kInvalidField,
               "max_clock_skew_ms");
  expect_error(parse_with_raw<M>("/max_clock_skew_ms", "3600001"), Code::kInvalidField,
               "max_clock_skew_ms");
  BOOST_TEST(parse_with_raw<M>("/max_clock_skew_ms", "1000").ok());
  BOOST_TEST(parse_with_raw<M>("/max_clock_skew_ms", "3600000").ok());
  expect_error(parse_with_raw<M>("/upload_expiry_ms", "3599999"), Code::kInvalidField,
               "upload_expiry_ms");
  expect_error(parse_with_raw<M>("/file_retention_ms", "3599999"), Code::kInvalidField,
               "file_retention_ms");
  expect_error(parse_with_raw<M>("/registration", "\"maybe\""), Code::kInvalidField,
               "registration");
  const Result<M> closed = parse_with_raw<M>("/registration", "\"closed\"");
  BOOST_REQUIRE(closed.ok());
  BOOST_TEST((closed->registration == Registration::kClosed));
  expect_error(parse_with_raw<M>("/versions", "[]"), Code::kInvalidField, "versions");
  expect_error(parse_with_raw<M>("/versions", "[1, 0]"), Code::kInvalidField, "versions[1]");
  expect_error(parse_with_raw<M>("/block_size", "0"), Code::kInvalidField, "block_size");
  expect_error(parse_with_raw<M>("/capabilities", "[\"files\", \"\"]"), Code::kInvalidField,
               "capabilities[1]");
  // Capabilities this client does not know are kept, not refused (VER-003).
  const Result<M> future = parse_with_raw<M>("/capabilities", "[\"files\", \"teleport\"]");
  BOOST_REQUIRE(future.ok());
  BOOST_TEST(future->has_capability("teleport"));
  BOOST_TEST(!future->has_capability("workspace_delete"));
}

BOOST_AUTO_TEST_CASE(error_body_keeps_codes_it_does_not_know) {
  // Spec 2.3's example, and ERR-005: an unknown code is kept by name for the caller to act on the
  // status alone.
  const Result<ErrorBody> example = parse_message<ErrorBody>(
      R"({"error": {"code": "invalid_field", "message": "ops[3].hlc.wall_ms: must be below 2^48",
                    "field": "ops[3].hlc.wall_ms", "details": {}}})");
  BOOST_REQUIRE(example.ok());
  BOOST_TEST((example->code == Code::kInvalidField));
  BOOST_TEST(example->field == "ops[3].hlc.wall_ms");
  BOOST_TEST(example->details.empty());

  const Result<ErrorBody> unknown =
      parse_message<ErrorBody>(R"({"error": {"code": "slow_down", "message": ""}})");
  BOOST_REQUIRE(unknown.ok());
  BOOST_TEST(!unknown->code.has_value());
  BOOST_TEST(unknown->code_name == "slow_down");
  BOOST_TEST(parse_message<ErrorBody>(serialize_message(*unknown)).value().code_name ==
             "slow_down");
}

BOOST_AUTO_TEST_CASE(serialize_error_writes_the_error_body_of_spec_2_3) {
  Error error(Code::kFileIncomplete, "chunk_count", "3 chunks missing");
  error.details.chunks_missing = std::vector<std::pair<uint32_t, uint32_t>>{{0, 2}, {5, 6}};
  const nlohmann::json body = nlohmann::json::parse(serialize_error(error));
  BOOST_TEST(body == nlohmann::json::parse(
                         R"({"error": {"code": "file_incomplete", "message": "3 chunks missing",
      "field": "chunk_count", "details": {"chunks_missing": [[0, 2], [5, 6]]}}})"));
  const Result<ErrorBody> parsed = parse_message<ErrorBody>(serialize_error(error));
  BOOST_REQUIRE(parsed.ok());
  BOOST_TEST((*parsed == ErrorBody::from_error(error)));
  // Without a field or details, neither member is written.
  BOOST_TEST(
      nlohmann::json::parse(serialize_error(Error(Code::kNotFound, "no such route"))) ==
      nlohmann::json::parse(R"({"error": {"code": "not_found", "message": "no such route"}})"));
}

BOOST_AUTO_TEST_CASE(owner_tokens_cannot_expire) {
  // AUTH-014.
  expect_error(
      parse_message<CreateTokenRequest>(R"({"scope": "owner", "expires_in_ms": 86400000})"),
      Code::kInvalidField, "expires_in_ms");
  expect_value(parse_message<CreateTokenRequest>(R"({"scope": "owner"})"),
               CreateTokenRequest{Scope::kOwner, {}});
  expect_value(parse_message<CreateTokenRequest>(R"({"scope": "read", "expires_in_ms": 1000})"),
               CreateTokenRequest{Scope::kRead, 1000});
  // AUTH-013: expires_in_ms from 1,000 to 315,360,000,000.
  expect_error(parse_message<CreateTokenRequest>(R"({"scope": "read", "expires_in_ms": 999})"),
               Code::kInvalidField, "expires_in_ms");
  expect_value(
      parse_message<CreateTokenRequest>(R"({"scope": "read", "expires_in_ms": 315360000000})"),
      CreateTokenRequest{Scope::kRead, 315360000000});
  expect_error(
      parse_message<CreateTokenRequest>(R"({"scope": "read", "expires_in_ms": 315360000001})"),
      Code::kInvalidField, "expires_in_ms");
  expect_error(parse_message<CreateTokenRequest>(R"({"scope": "admin"})"), Code::kInvalidField,
               "scope");
  expect_error(parse_message<CreateTokenRequest>(R"({"scope": "Owner"})"), Code::kInvalidField,
               "scope");
}

BOOST_AUTO_TEST_CASE(tokens_are_printable_ascii_without_spaces) {
  // AUTH-010: at most 512 printable ASCII characters without spaces.
  const auto with_token = [](const std::string& token) {
    return parse_with_raw<TokenIssued>("/token", nlohmann::json(token).dump());
  };
  BOOST_TEST(with_token(std::string(512, 'x')).ok());
  expect_error(with_token(std::string(513, 'x')), Code::kInvalidField, "token");
  expect_error(with_token(""), Code::kInvalidField, "token");
  expect_error(with_token("two words"), Code::kInvalidField, "token");
  expect_error(with_token("tab\there"), Code::kInvalidField, "token");
  expect_error(with_token("caf\xc3\xa9"), Code::kInvalidField, "token");
  expect_error(parse_with_raw<CreateWorkspaceResponse>("/owner_token", "\"a b\""),
               Code::kInvalidField, "owner_token");
}

BOOST_AUTO_TEST_CASE(scopes_are_ordered_read_read_write_owner) {
  for (Scope scope : {Scope::kRead, Scope::kReadWrite, Scope::kOwner})
    BOOST_TEST((scope_from_name(scope_name(scope)) == scope));
  BOOST_TEST(scope_name(Scope::kReadWrite) == "read_write");
  BOOST_TEST(!scope_from_name("write").has_value());
  BOOST_TEST(scope_allows(Scope::kOwner, Scope::kReadWrite));
  BOOST_TEST(scope_allows(Scope::kReadWrite, Scope::kRead));
  BOOST_TEST(scope_allows(Scope::kRead, Scope::kRead));
  BOOST_TEST(!scope_allows(Scope::kRead, Scope::kReadWrite));
  BOOST_TEST(!scope_allows(Scope::kReadWrite, Scope::kOwner));
}

BOOST_AUTO_TEST_CASE(key_records_check_kdf_and_versions) {
  // KEY-004, CRY-002.
  expect_error(parse_with_raw<KeyRecord>("/kdf/algorithm", "\"pbkdf2-hmac-sha256\""),
               Code::kInvalidField, "kdf.algorithm");
  expect_error(parse_with_raw<KeyRecord>("/kdf/iterations", "0"), Code::kInvalidField,
               "kdf.iterations");
  expect_error(parse_with_raw<KeyRecord>("/kdf/iterations", "10000001"), Code::kInvalidField,
               "kdf.iterations");
  BOOST_TEST(parse_with_raw<KeyRecord>("/kdf/iterations", "10000000").ok());
  BOOST_TEST(parse_with_raw<KeyRecord>("/kdf/iterations", "1").ok());
  expect_error(parse_with_raw<KeyRecord>("/key_id", "0"), Code::kInvalidField, "key_id");
  expect_error(parse_with_raw<KeyRecord>("/key_id", "4294967296"), Code::kInvalidField, "key_id");
  expect_error(parse_with_raw<KeyRecord>("/version", "0"), Code::kInvalidField, "version");
  expect_error(parse_with_raw<PutKeyRequest>("/kdf/iterations", "0"), Code::kInvalidField,
               "kdf.iterations");
  BOOST_TEST(parse_with_raw<PutKeyRequest>("/expected_version", "0").ok());
  expect_error(parse_with_raw<KeyListResponse>("/keys/1/kdf/iterations", "0"), Code::kInvalidField,
               "keys[1].kdf.iterations");
  expect_error(parse_with_raw<KeyListResponse>("/next_after", "0"), Code::kInvalidField,
               "next_after");
}

BOOST_AUTO_TEST_CASE(upload_results_check_status_and_its_members) {
  using M = UploadOpsResponse;
  expect_error(parse_with_raw<M>("/results/0/status", "\"pending\""), Code::kInvalidField,
               "results[0].status");
  expect_error(parse_with_raw<M>("/results/1/seq", "0"), Code::kInvalidField, "results[1].seq");
  expect_error(parse_with_raw<M>("/results", "[]"), Code::kInvalidField, "results");
  // A rejection's code need not be one this client knows; it stays a rejection.
  const Result<M> unknown_code = parse_with_raw<M>("/results/2/code", "\"rate_limited\"");
  BOOST_REQUIRE(unknown_code.ok());
  BOOST_TEST((unknown_code->results[2].status == OpStatus::kRejected));
  const Result<M> conflict = parse_with_raw<M>("/results/2/code", "\"op_id_conflict\"");
  BOOST_REQUIRE(conflict.ok());
  BOOST_TEST(conflict->results[2].code == Code::kOpIdConflict);
}

BOOST_AUTO_TEST_CASE(blocks_and_chunk_replies_check_their_ranges) {
  expect_error(parse_with_raw<BlocksResponse>("/block_size", "0"), Code::kInvalidField,
               "block_size");
  expect_error(parse_with_raw<BlocksResponse>("/block_size", "65537"), Code::kInvalidField,
               "block_size");
  expect_error(parse_with_raw<BlocksResponse>("/blocks/1/index", "-1"), Code::kInvalidField,
               "blocks[1].index");
  expect_error(parse_with_raw<ChunkStored>("/size_bytes", "27"), Code::kInvalidField, "size_bytes");
  BOOST_TEST(parse_with_raw<ChunkStored>("/size_bytes", "28").ok());
  expect_error(parse_with_raw<ChunkStored>("/index", "4294967296"), Code::kInvalidField, "index");
  expect_error(parse_with_raw<CreateFileRequest>("/chunk_count", "0"), Code::kInvalidField,
               "chunk_count");
  expect_error(parse_with_raw<CommitFileRequest>("/chunk_count", "4294967296"), Code::kInvalidField,
               "chunk_count");
  BOOST_TEST(parse_with_raw<CommitFileRequest>("/chunk_count", "1").ok());
}

BOOST_AUTO_TEST_CASE(file_status_checks_state_and_missing_ranges) {
  using M = FileStatus;
  expect_error(parse_with_raw<M>("/state", "\"absent\""), Code::kInvalidField, "state");
  expect_error(parse_with_raw<M>("/state", "\"committed\""), Code::kInvalidField, "chunks_missing");
  const Result<M> committed = parse_edited<M>([](Json& d) {
    d["state"] = "committed";
    d["chunks_missing"] = Json::array();
  });
  BOOST_REQUIRE(committed.ok());
  BOOST_TEST((committed->state == FileState::kCommitted));
  expect_error(parse_with_raw<M>("/chunks_missing", "[[2, 2]]"), Code::kInvalidField,
               "chunks_missing[0]");
  expect_error(parse_with_raw<M>("/chunks_missing", "[[4, 6], [1, 2]]"), Code::kInvalidField,
               "chunks_missing[1]");
  expect_error(parse_with_raw<M>("/chunks_missing", "[[1, 5], [3, 6]]"), Code::kInvalidField,
               "chunks_missing[1]");
  expect_error(parse_with_raw<M>("/chunks_missing", "[[6, 9]]"), Code::kInvalidField,
               "chunks_missing[0]");
  expect_error(parse_with_raw<M>("/chunks_missing", "[[1, 2, 3]]"), Code::kInvalidField,
               "chunks_missing[0]");
  BOOST_TEST(parse_with_raw<M>("/chunks_missing", "[[0, 8]]").ok());
  expect_error(parse_with_raw<M>("/chunk_count", "0"), Code::kInvalidField, "chunk_count");
  // FILE-007: the short status may say absent; an unknown state may not.
  expect_error(parse_with_raw<FileStatusResponse>("/files/1/state", "\"gone\""),
               Code::kInvalidField, "files[1].state");
  BOOST_TEST(parse_with_raw<FileStatusResponse>("/files/0/state", "\"deleted\"").ok());
}

BOOST_AUTO_TEST_CASE(file_status_request_needs_distinct_ids) {
  expect_error(parse_with_raw<FileStatusRequest>("/file_ids/2", "\"" + std::string(kFile1) + "\""),
               Code::kInvalidField, "file_ids[2]");
  expect_error(parse_message<FileStatusRequest>(R"({"file_ids": []})"), Code::kInvalidField,
               "file_ids");
}

// ---- payload plaintext (spec 10.1, LWW-001, LWW-002) --------------------------------------------

Result<ObjectPayload> parse_payload_text(const std::string& text) {
  return parse_payload(to_bytes(text));
}

Result<ObjectPayload> payload_with(std::string_view pointer, std::string_view raw) {
  return parse_with_raw<ObjectPayload>(pointer, raw);
}

std::string json_string(const std::string& text) { return nlohmann::json(text).dump(); }

std::string id_list(size_t count) {
  std::string out = "[";
  for (size_t i = 0; i < count; ++i) {
    Id id;
    id.bytes[0] = static_cast<uint8_t>(i);
    id.bytes[1] = static_cast<uint8_t>(i >> 8);
    out += (i ? ",\"" : "\"") + to_base64url(id) + "\"";
  }
  return out + "]";
}

std::string file_list(size_t count) {
  std::string out = "[";
  for (size_t i = 0; i < count; ++i) {
    Id id;
    id.bytes[0] = static_cast<uint8_t>(i);
    out +=
        std::string(i ? "," : "") + R"({"id": ")" + to_base64url(id) +
        R"(", "name": "f", "size_bytes": 1, "chunk_bytes": 65536, "chunk_count": 1, "sha256": ")" +
        std::string(kPhotoSha) + "\"}";
  }
  return out + "]";
}

BOOST_AUTO_TEST_CASE(a_delete_payload_has_no_value_or_files) {
  const std::string base =
      R"({"v": 1, "type": "delete", "key": "notes/42", "bases": [")" + std::string(kOp1) + "\"]";
  ObjectPayload expected;
  expected.type = OpType::kDelete;
  expected.key = "notes/42";
  expected.bases = {id(kOp1)};
  expect_value(parse_payload_text(base + "}"), expected);
  expect_error(parse_payload_text(base + R"(, "value": ""})"), Code::kInvalidField, "value");
  expect_error(parse_payload_text(base + R"(, "files": []})"), Code::kInvalidField, "files");
  const Bytes serialized = serialize_payload(expected);
  BOOST_TEST(nlohmann::json::parse(to_string(serialized)) == nlohmann::json::parse(base + "}"));
}

BOOST_AUTO_TEST_CASE(payload_format_and_type_are_checked) {
  // VER-007: a payload of another format is unsupported, not invalid.
  expect_error(payload_with("/v", "2"), Code::kUnsupportedFormat, "v");
  expect_error(payload_with("/v", "0"), Code::kUnsupportedFormat, "v");
  expect_error(payload_with("/v", "256"), Code::kInvalidField, "v");
  expect_error(payload_with("/type", "\"update\""), Code::kInvalidField, "type");
  expect_error(payload_with("/type", "\"PUT\""), Code::kInvalidField, "type");
}

BOOST_AUTO_TEST_CASE(payload_key_is_1_to_1024_bytes_of_utf8_without_nul) {
  BOOST_TEST(payload_with("/key", json_string(std::string(1024, 'k'))).ok());
  expect_error(payload_with("/key", json_string(std::string(1025, 'k'))), Code::kInvalidField,
               "key");
  expect_error(payload_with("/key", "\"\""), Code::kInvalidField, "key");
  // Bytes are counted, not characters: 512 two-byte characters fit, 513 do not.
  std::string two_byte;
  for (int i = 0; i < 512; ++i) two_byte += "\xc3\xa9";
  BOOST_TEST(payload_with("/key", json_string(two_byte)).ok());
  expect_error(payload_with("/key", json_string(two_byte + "\xc3\xa9")), Code::kInvalidField,
               "key");
  expect_error(payload_with("/key", "\"a\\u0000b\""), Code::kInvalidField, "key");
  expect_error(payload_with("/key", "\"a\xff\""), Code::kMalformedJson, "");
  const Result<ObjectPayload> unicode =
      payload_with("/key", "\"notes/\\u00e9t\\u00e9 \xf0\x9f\x8c\x9e\"");
  BOOST_REQUIRE(unicode.ok());
  BOOST_TEST(unicode->key == "notes/\xc3\xa9t\xc3\xa9 \xf0\x9f\x8c\x9e");
}

BOOST_AUTO_TEST_CASE(payload_bases_are_at_most_64_distinct_ids) {
  BOOST_TEST(payload_with("/bases", "[]").ok());
  const Result<ObjectPayload> full = payload_with("/bases", id_list(64));
  BOOST_REQUIRE(full.ok());
  BOOST_TEST(full->bases.size() == 64u);
  expect_error(payload_with("/bases", id_list(65)), Code::kInvalidField, "bases");
  expect_error(payload_with("/bases", "[\"" + std::string(kOp1) + "\", \"" + std::string(kOp2) +
                                          "\", \"" + std::string(kOp1) + "\"]"),
               Code::kInvalidField, "bases[2]");
}

BOOST_AUTO_TEST_CASE(put_payload_needs_value_and_files) {
  expect_error(parse_edited<ObjectPayload>([](Json& d) { d.erase("value"); }), Code::kMissingField,
               "value");
  expect_error(parse_edited<ObjectPayload>([](Json& d) { d.erase("files"); }), Code::kMissingField,
               "files");
  const Result<ObjectPayload> empty_value = payload_with("/value", "\"\"");
  BOOST_REQUIRE(empty_value.ok());
  BOOST_TEST(empty_value->value.empty());
  BOOST_TEST(payload_with("/files", file_list(64)).ok());
  expect_error(payload_with("/files", file_list(65)), Code::kInvalidField, "files");
  expect_error(payload_with("/files/1/id", "\"" + std::string(kFile1) + "\""), Code::kInvalidField,
               "files[1].id");
}

BOOST_AUTO_TEST_CASE(file_names_follow_lww_002) {
  const auto named = [](const std::string& name) {
    return payload_with("/files/0/name", json_string(name));
  };
  for (const std::string& good :
       {std::string("photo.jpg"), std::string("..."), std::string(".hidden"), std::string("a..b"),
        std::string(255, 'n'), std::string("\xc3\xa9t\xc3\xa9.txt")}) {
    BOOST_TEST_CONTEXT(good) { BOOST_TEST(named(good).ok()); }
  }
  for (const std::string& bad : {std::string(""), std::string("."), std::string(".."),
                                 std::string("dir/photo.jpg"), std::string("dir\\photo.jpg"),
                                 std::string("/"), std::string("a\0b", 3), std::string(256, 'n')}) {
    BOOST_TEST_CONTEXT(to_hex(to_bytes(bad))) {
      expect_error(named(bad), Code::kInvalidField, "files[0].name");
    }
  }
}

BOOST_AUTO_TEST_CASE(file_chunk_count_matches_size_and_chunk_bytes) {
  // chunk_count = max(1, ceil(size_bytes / chunk_bytes)); chunk_bytes from 65,536 to 16,777,216.
  struct Case {
    uint64_t size;
    uint32_t chunk_bytes;
    uint32_t chunk_count;
  };
  for (const Case& c :
       {Case{0, 65536, 1}, Case{1, 65536, 1}, Case{65536, 65536, 1}, Case{65537, 65536, 2},
        Case{150000, 65536, 3}, Case{16777216, 16777216, 1}, Case{16777217, 16777216, 2}}) {
    BOOST_TEST_CONTEXT(c.size << "/" << c.chunk_bytes) {
      const auto with = [&](uint32_t count) {
        return parse_edited<ObjectPayload>([&](Json& d) {
          d["files"][0]["size_bytes"] = c.size;
          d["files"][0]["chunk_bytes"] = c.chunk_bytes;
          d["files"][0]["chunk_count"] = count;
        });
      };
      BOOST_TEST(with(c.chunk_count).ok());
      expect_error(with(c.chunk_count + 1), Code::kInvalidField, "files[0].chunk_count");
      if (c.chunk_count > 1)
        expect_error(with(c.chunk_count - 1), Code::kInvalidField, "files[0].chunk_count");
    }
  }
  expect_error(payload_with("/files/0/chunk_bytes", "65535"), Code::kInvalidField,
               "files[0].chunk_bytes");
  expect_error(payload_with("/files/1/chunk_bytes", "16777217"), Code::kInvalidField,
               "files[1].chunk_bytes");
  expect_error(payload_with("/files/1/chunk_count", "0"), Code::kInvalidField,
               "files[1].chunk_count");
}

// ---- properties ---------------------------------------------------------------------------------

RC_BOOST_PROP(damaged_messages_parse_or_fail_with_a_parse_error, ()) {
  damaged_messages_parse_or_fail_cleanly<LibraryParser>();
}

BOOST_AUTO_TEST_CASE(damage_property_catches_a_parser_that_fills_in_missing_members) {
  BOOST_TEST(opsync::testing::finds_counterexample("defaults for missing members", [] {
    damaged_messages_parse_or_fail_cleanly<MissingFieldSwallowingParser>();
  }));
}

RC_BOOST_PROP(any_valid_payload_round_trips, ()) {
  payload_round_trips([](const ObjectPayload& payload) { return serialize_payload(payload); });
}

BOOST_AUTO_TEST_CASE(payload_round_trip_property_catches_leaving_out_empty_files) {
  BOOST_TEST(opsync::testing::finds_counterexample("files left out when empty", [] {
    payload_round_trips(&serialize_payload_without_empty_files);
  }));
}

RC_BOOST_PROP(any_batch_of_valid_operations_round_trips, ()) {
  upload_request_round_trips(
      [](const UploadOpsRequest& request) { return serialize_message(request); });
}

BOOST_AUTO_TEST_CASE(upload_round_trip_property_catches_a_floating_point_clock) {
  BOOST_TEST(opsync::testing::finds_counterexample(
      "wall_ms as a float", [] { upload_request_round_trips(&serialize_with_float_wall_clock); }));
}

BOOST_AUTO_TEST_CASE(serializing_invalid_utf8_never_throws) {
  // Nothing in the library throws on input; a client checks is_valid_utf8 before it writes a
  // key, so the replacement here only keeps a programming error from becoming a crash.
  ObjectPayload payload;
  payload.key = "bad \xC0 key";
  const Bytes text = serialize_payload(payload);
  BOOST_TEST(parse_payload(text).ok());
  BOOST_TEST(!is_valid_utf8(payload.key));
}

BOOST_AUTO_TEST_SUITE_END()
