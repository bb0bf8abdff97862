// libFuzzer target over the server core: each input is a short sequence of requests that
// ServerCore::handle answers against a populated in-memory workspace, and every answer must be one
// the spec allows (ERR-001, ERR-003, ERR-004, TRN-007, TRN-008, TRN-010).
//
// Input format (README.md has the full table): a sequence of up to kRequestsMax request records.
// A record picks a route template from the endpoint table of spec section 14 (or a near miss),
// then a method, a token and an Authorization scheme, a Content-Type, a request id, one choice
// per path parameter, up to three query parameters and a body. Choices index pools of things that
// exist (workspaces, tokens, token ids, files), so most requests get past authorization and reach
// the endpoints; the byte 0xFF in any choice instead reads a raw string, so nothing is out of
// reach. A body is generated from a few bytes (a valid message for the route, with ids from the
// pools), raw bytes, or absent. Reads past the end give zeros, so every byte string is an input.
//
// Independence: every input starts from the same fixture (three workspaces with tokens of every
// scope, key records, operations and files in every state), the same random seed and the same
// clock. After an input that committed a write the fixture is restored (its recorded writes are
// replayed into fresh storage); otherwise it is kept, since a rolled-back or read-only transaction
// leaves MemoryStorage exactly as it was. An input therefore replays alone exactly as it ran in a
// campaign.
//
// `opsync_core_fuzz --write-corpus DIR` writes the seed corpus (corpus/ in the source tree).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "opsync/protocol/check.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/random.h"
#include "opsync/protocol/text.h"
#include "opsync/protocol/wire_check.h"
#include "opsync/server/core.h"
#include "opsync/server/forwarding_storage.h"
#include "opsync/server/memory_storage.h"

namespace opsync::server {
namespace {

// ---- configuration and the clock ---------------------------------------------------------------

constexpr uint64_t kSetupMs = 1764000000000;
// An hour after the fixture was made: its token issued with a one-second expiry has expired.
constexpr uint64_t kNowMs = kSetupMs + 3600000;
constexpr uint64_t kSetupSeed = 1;
constexpr uint64_t kRequestSeed = 2;
constexpr size_t kRequestsMax = 16;

// The smallest limits the spec allows and small blocks, so that every limit and complete blocks
// are within reach of a few kilobytes of input; the operator caps (LIM-020..LIM-022) just above
// what the fixture holds (4 live tokens and under 100 bytes of unfinished uploads in the main
// workspace), so a few requests reach each. The fixture is built without them.
ServerConfig fuzz_config(bool caps = true) {
  ServerConfig config;
  config.block_size = 4;
  config.limits = kLimitFloors;
  if (!caps) return config;
  config.workspace_creations_per_minute = 2;
  config.tokens_per_workspace_max = 6;
  config.uploading_bytes_per_workspace_max = 4096;
  return config;
}

// ---- the input format --------------------------------------------------------------------------

constexpr uint8_t kRaw = 0xFF;            // in any choice: a raw string follows
constexpr uint8_t kNoToken = 0xFE;        // token choice: no Authorization header
constexpr uint8_t kFreshIds = 0xE0;       // id choices from here: ids nothing holds yet
constexpr uint8_t kOwnMethods = 0xC0;     // method choices below this: the template's own method
constexpr uint8_t kTokenIdValues = 0xC0;  // query value choices from here: token ids

// Reads an input front to back. Past the end every read gives zero or empty.
class InputReader {
 public:
  InputReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool done() const { return position_ >= size_; }
  size_t position() const { return position_; }
  uint8_t byte() { return done() ? 0 : data_[position_++]; }
  std::string bytes(size_t count) {
    count = std::min(count, size_ - position_);
    std::string out(reinterpret_cast<const char*>(data_ + position_), count);
    position_ += count;
    return out;
  }
  std::string text() { return bytes(byte()); }  // u8 length, then the bytes
  std::string blob() {                          // u16 length (big-endian), then the bytes
    const size_t high = byte();
    return bytes(high << 8 | byte());
  }
  std::string rest() { return bytes(size_ - position_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
};

// Writes what InputReader reads (for the seed corpus).
class InputWriter {
 public:
  void byte(uint8_t value) { data_.push_back(static_cast<char>(value)); }
  void text(std::string_view value) {
    OPSYNC_CHECK(value.size() <= 0xFF);
    byte(static_cast<uint8_t>(value.size()));
    data_ += value;
  }
  void blob(std::string_view value) {
    OPSYNC_CHECK(value.size() <= 0xFFFF);
    byte(static_cast<uint8_t>(value.size() >> 8));
    byte(static_cast<uint8_t>(value.size()));
    data_ += value;
  }
  void rest(std::string_view value) { data_ += value; }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

// How a template's generated body is made (BodyMode::kGenerated).
enum class Generated : uint8_t {
  kNone,
  kEmptyObject,
  kToken,
  kKey,
  kOps,
  kFileStatus,
  kChunkCount,
  kChunk
};
enum class BodyMode : uint8_t { kGenerated, kRawRest, kRawBlob, kAbsent };
constexpr uint8_t kBodyModes = 4;

// A path template: {workspace_id} a workspace id, {token_id} a token id, {file_id} a file id,
// {key_id} and {index} a decimal, {p} a whole path from kOddPaths.
struct Template {
  std::string_view method;
  std::string_view path;
  Generated body;
};

// The body each endpoint of the catalog gets when generated, by EndpointId.
constexpr std::array kGeneratedBodies = {
    Generated::kNone,       Generated::kEmptyObject, Generated::kNone, Generated::kToken,
    Generated::kNone,       Generated::kNone,        Generated::kNone, Generated::kNone,
    Generated::kKey,        Generated::kOps,         Generated::kNone, Generated::kNone,
    Generated::kFileStatus, Generated::kChunkCount,  Generated::kNone, Generated::kNone,
    Generated::kChunkCount, Generated::kChunk,       Generated::kNone,
};

// Near misses of the endpoint table, after the catalog's own templates.
constexpr std::array kNearMisses = {
    Template{"GET", "/v1/info/", Generated::kNone},
    Template{"GET", "/v2/info", Generated::kNone},
    Template{"GET", "/V1/info", Generated::kNone},
    Template{"GET", "/v1", Generated::kNone},
    Template{"GET", "/v1/workspaces/{workspace_id}/files", Generated::kNone},
    Template{"GET", "/v1/workspaces/{workspace_id}/tokens/{token_id}", Generated::kNone},
    Template{"PATCH", "/v1/workspaces/{workspace_id}/files/{file_id}/chunks", Generated::kChunk},
    Template{"GET", "{p}", Generated::kNone},
};

// The endpoint table of spec section 14 (from the catalog), in its order, then the near misses.
const std::vector<Template>& templates() {
  static const std::vector<Template> all = [] {
    static_assert(kGeneratedBodies.size() == static_cast<size_t>(EndpointId::kGetChunk) + 1);
    std::vector<Template> out;
    for (const Endpoint& e : endpoint_catalog())
      out.push_back(Template{e.method, e.path, kGeneratedBodies[static_cast<size_t>(e.id)]});
    out.insert(out.end(), kNearMisses.begin(), kNearMisses.end());
    return out;
  }();
  return all;
}

// Indices of templates(), for the seeds: the catalog's endpoints by EndpointId, then the near
// misses.
constexpr uint8_t route(EndpointId id) { return static_cast<uint8_t>(id); }
constexpr uint8_t kEndpointCount = route(EndpointId::kGetChunk) + 1;
enum NearMiss : uint8_t {
  kInfoTrailingSlash = kEndpointCount,
  kOtherVersion,
  kUpperCaseVersion,
  kVersionOnly,
  kFilesWithoutId,
  kGetTokenById,
  kChunksWithoutIndex,
  kRawPath,
};
static_assert(kRawPath + 1 == kEndpointCount + kNearMisses.size());

constexpr std::array<std::string_view, 9> kMethods = {"GET",     "POST", "PUT", "DELETE", "PATCH",
                                                      "OPTIONS", "HEAD", "get", ""};
constexpr std::array<std::string_view, 8> kSchemes = {"Bearer ",  "bearer ", "BEARER ", "Basic ",
                                                      "Bearer  ", "Bearer",  "Token ",  ""};
// Content-Type choices; "" at index 0 stands for the one the route expects.
constexpr std::array<std::string_view, 8> kContentTypes = {"",
                                                           "application/json; charset=utf-8",
                                                           "application/json",
                                                           "application/octet-stream",
                                                           "text/plain",
                                                           " Application/JSON ;",
                                                           "application/jsonx",
                                                           "multipart/form-data"};
constexpr std::array<std::string_view, 8> kOddPaths = {"",
                                                       "/",
                                                       "//",
                                                       "/v1/",
                                                       "/v01/info",
                                                       "/v1/workspaces/",
                                                       "/v1/info?x=1",
                                                       "/v1/workspaces/../info"};
constexpr std::array<std::string_view, 7> kQueryNames = {"limit", "after", "after_seq", "start",
                                                         "LIMIT", "",      "cursor"};
// Decimal choices past the small ones: bounds and spellings a strict parser must reject.
constexpr uint8_t kSmallNumbers = 0x70;
constexpr std::array<std::string_view, 16> kSpecialNumbers = {"4294967295",
                                                              "4294967296",
                                                              "00",
                                                              "01",
                                                              "-1",
                                                              "+1",
                                                              "1.0",
                                                              "1e3",
                                                              "18446744073709551615",
                                                              "18446744073709551616",
                                                              "9007199254740991",
                                                              "9007199254740992",
                                                              "256",
                                                              "257",
                                                              "",
                                                              " 1"};
constexpr std::array<uint32_t, 8> kChunkCounts = {1, 2, 3, 4, 0, 1024, 1025, 0xFFFFFFFF};
constexpr std::array<uint32_t, 4> kIterations = {1, kKdfIterationsForNewRecords, kKdfIterationsMax,
                                                 kKdfIterationsMax + 1};

std::string number_text(uint8_t choice) {
  if (choice < kSmallNumbers) return std::to_string(choice);
  return std::string(kSpecialNumbers[(choice - kSmallNumbers) % kSpecialNumbers.size()]);
}

// Ids that nothing in the fixture holds, distinct per (kind, index).
Id derived_id(char kind, uint8_t index) {
  Id id;
  id.bytes.fill(0x5A);
  id.bytes[0] = static_cast<uint8_t>(kind);
  id.bytes[1] = index;
  return id;
}

// Operations are a function of two bytes, so a later request can repeat one exactly (duplicate),
// reuse its id with other content (op_id_conflict) or date it too far ahead (clock_skew).
constexpr uint8_t kFutureVariant = 0x80;
WireOp fuzz_op(uint8_t id_index, uint8_t variant) {
  WireOp op;
  op.id = derived_id('o', id_index);
  op.device_id = derived_id('d', 0);
  op.hlc.wall_ms =
      (variant & kFutureVariant) ? kNowMs + 2 * kReferenceMaxClockSkewMs : kSetupMs + id_index;
  op.hlc.counter = variant & 0x7F;
  op.key_id = 1 + id_index % 3;
  op.payload = Bytes(kEnvelopeOverheadBytes + id_index % 8, static_cast<uint8_t>('p' + id_index));
  return op;
}

// A chunk body of 27 to 90 bytes (27 is one short of an envelope), or one past the largest.
constexpr uint8_t kOversizeChunk = 0xFF;
std::string fuzz_chunk(uint8_t size, uint8_t fill) {
  const size_t bytes = size == kOversizeChunk
                           ? kLimitFloors.chunk_bytes + kEnvelopeOverheadBytes + 1
                           : kEnvelopeOverheadBytes - 1 + size % 64;
  return std::string(bytes, static_cast<char>(fill));
}

// ---- things that exist, for choices to pick from -----------------------------------------------

// Positions in the pools the fixture fills, for the seeds. Requests that create workspaces or
// issue tokens append to the pools.
enum WorkspaceChoice : uint8_t {
  kMainWorkspace,
  kOtherWorkspace,
  kDeletedWorkspace,
  kFixtureWorkspaces
};
enum TokenChoice : uint8_t {
  kOwnerToken,
  kReadWriteToken,
  kReadToken,
  kSecondOwnerToken,
  kRevokedToken,
  kExpiredToken,
  kOtherOwnerToken,
  kDeletedWorkspaceToken,  // its workspace was deleted; no token id in the pool
  kFixtureTokens,
};
enum FileChoice : uint8_t {
  kCommittedFile,  // 2 chunks
  kUploadingFile,  // 3 chunks, only chunk 1 present
  kDeletedFile,    // 1 chunk
  kCompleteFile,   // 1 chunk present, not committed
  kOtherWorkspaceFile,
};
// Chunks of the fixture's files are fuzz_chunk(kFixtureChunkSize, kFixtureChunkFill).
constexpr uint8_t kFixtureChunkSize = 13;
constexpr uint8_t kFixtureChunkFill = 'c';
constexpr uint8_t kFixtureOps = 10;
constexpr uint8_t kFixtureKeys = 15;  // one below key_records_max

struct Pools {
  std::vector<std::string> workspaces;  // base64url
  std::vector<std::string> tokens;      // secrets
  std::vector<Id> token_ids;
  std::vector<Id> files;

  template <typename T>
  static const T& pick(const std::vector<T>& pool, uint8_t choice) {
    return pool[choice % pool.size()];
  }
  Id file(uint8_t choice) const {
    return choice >= kFreshIds ? derived_id('f', choice) : pick(files, choice);
  }
  Id token_id(uint8_t choice) const {
    return choice >= kFreshIds ? derived_id('t', choice) : pick(token_ids, choice);
  }
};

// ---- decoding a request ------------------------------------------------------------------------

std::string choose(InputReader& in, uint8_t choice,
                   const std::function<std::string(uint8_t)>& pick) {
  return choice == kRaw ? in.text() : pick(choice);
}

std::string generated_body(InputReader& in, Generated kind, const Pools& pools) {
  switch (kind) {
    case Generated::kNone:
      return "";
    case Generated::kEmptyObject:
      return "{}";
    case Generated::kToken: {
      const uint8_t choice = in.byte();
      CreateTokenRequest request;
      request.scope = static_cast<Scope>(choice % 3);
      if (choice / 3 % 3 == 1) request.expires_in_ms = kTokenExpiresInMsMin;
      if (choice / 3 % 3 == 2) request.expires_in_ms = kTokenExpiresInMsMax;
      return serialize_message(request);
    }
    case Generated::kKey: {
      PutKeyRequest request;
      request.expected_version = in.byte() % 4;
      request.kdf.iterations = kIterations[in.byte() % kIterations.size()];
      request.wrapped_key = Bytes(kWrappedKeyBytes, in.byte());
      return serialize_message(request);
    }
    case Generated::kOps: {
      UploadOpsRequest request;
      const size_t count = 1 + in.byte() % 8;
      for (size_t i = 0; i < count; ++i) {
        const uint8_t id_index = in.byte();
        request.ops.push_back(fuzz_op(id_index, in.byte()));
      }
      return serialize_message(request);
    }
    case Generated::kFileStatus: {
      FileStatusRequest request;
      const size_t count = 1 + in.byte() % 8;
      for (size_t i = 0; i < count; ++i) request.file_ids.push_back(pools.file(in.byte()));
      return serialize_message(request);
    }
    case Generated::kChunkCount:
      return serialize_message(CreateFileRequest{kChunkCounts[in.byte() % kChunkCounts.size()]});
    case Generated::kChunk: {
      const uint8_t size = in.byte();
      return fuzz_chunk(size, in.byte());
    }
  }
  return "";
}

Request decode_request(InputReader& in, const Pools& pools) {
  const Template& route = templates()[in.byte() % templates().size()];
  Request request;

  const uint8_t method = in.byte();
  if (method == kRaw)
    request.method = in.text();
  else if (method < kOwnMethods)
    request.method = route.method;
  else
    request.method = kMethods[method % kMethods.size()];

  const uint8_t token = in.byte();
  const std::string_view scheme = kSchemes[in.byte() % kSchemes.size()];
  if (token != kNoToken)
    request.headers["authorization"] = std::string(scheme) + choose(in, token, [&](uint8_t c) {
                                         return Pools::pick(pools.tokens, c);
                                       });

  const uint8_t content = in.byte();
  const std::string content_type = choose(
      in, content, [&](uint8_t c) { return std::string(kContentTypes[c % kContentTypes.size()]); });
  if (content != 0) {
    request.headers["content-type"] = content_type;
  } else if (route.body == Generated::kChunk) {
    request.headers["content-type"] = "application/octet-stream";
  } else if (route.body != Generated::kNone) {
    request.headers["content-type"] = "application/json";
  }
  if (in.byte() == kRaw) request.headers["opsync-request-id"] = in.text();

  // The path, one placeholder at a time.
  std::string_view pattern = route.path;
  while (!pattern.empty()) {
    const size_t open = pattern.find('{');
    request.path += pattern.substr(0, open);
    if (open == std::string_view::npos) break;
    const size_t close = pattern.find('}', open);
    OPSYNC_CHECK(close != std::string_view::npos);
    const std::string_view placeholder = pattern.substr(open + 1, close - open - 1);
    pattern.remove_prefix(close + 1);
    const uint8_t choice = in.byte();
    if (placeholder == "workspace_id") {
      request.path +=
          choose(in, choice, [&](uint8_t c) { return Pools::pick(pools.workspaces, c); });
    } else if (placeholder == "token_id") {
      request.path +=
          choose(in, choice, [&](uint8_t c) { return to_base64url(pools.token_id(c)); });
    } else if (placeholder == "file_id") {
      request.path += choose(in, choice, [&](uint8_t c) { return to_base64url(pools.file(c)); });
    } else if (placeholder == "key_id" || placeholder == "index") {
      request.path += choose(in, choice, number_text);
    } else {
      OPSYNC_CHECK(placeholder == "p");  // the whole path
      request.path += choose(
          in, choice, [](uint8_t c) { return std::string(kOddPaths[c % kOddPaths.size()]); });
    }
  }

  const size_t queries = in.byte() % 4;
  for (size_t i = 0; i < queries; ++i) {
    std::string name = choose(
        in, in.byte(), [](uint8_t c) { return std::string(kQueryNames[c % kQueryNames.size()]); });
    // Values: decimals, or token ids (the cursor of the token list).
    std::string value = choose(in, in.byte(), [&](uint8_t c) {
      return c >= kTokenIdValues ? to_base64url(Pools::pick(pools.token_ids, c)) : number_text(c);
    });
    request.query.emplace_back(std::move(name), std::move(value));
  }

  switch (static_cast<BodyMode>(in.byte() % kBodyModes)) {
    case BodyMode::kGenerated:
      request.body = generated_body(in, route.body, pools);
      break;
    case BodyMode::kRawRest:
      request.body = in.rest();
      break;
    case BodyMode::kRawBlob:
      request.body = in.blob();
      break;
    case BodyMode::kAbsent:
      break;
  }
  return request;
}

// ---- checking a response -----------------------------------------------------------------------

[[noreturn]] void violated(const char* rule, const Request& request, const Response& response) {
  std::fprintf(
      stderr, "core_fuzz: %s\n  request: %s %s (%zu body bytes)\n  response: %d %s\n  body: %.*s\n",
      rule, request.method.c_str(), request.path.c_str(), request.body.size(), response.status,
      response.route.c_str(), static_cast<int>(std::min<size_t>(response.body.size(), 2000)),
      response.body.data());
  std::fflush(stderr);
  std::abort();
}

void check_response(const Request& request, const Response& response, bool committed) {
  auto expect = [&](bool holds, const char* rule) {
    if (!holds) violated(rule, request, response);
  };
  // Everything any response must look like, as the conformance suite checks it over the wire.
  const std::optional<std::string> sent_id = request.header("opsync-request-id");
  const auto response_header = [&](std::string_view name) -> std::optional<std::string> {
    if (ascii_lower(name) == "content-type") return response.content_type;
    for (const auto& [key, value] : response.headers)
      if (ascii_lower(key) == ascii_lower(name)) return value;
    return std::nullopt;
  };
  const WireExchange exchange{request.method,
                              request.path,
                              sent_id ? std::optional<std::string_view>(*sent_id) : std::nullopt,
                              response.status,
                              response.body,
                              response_header};
  for (const WireViolation& violation : check_wire_response(exchange))
    violated((violation.requirement + ": " + violation.what).c_str(), request, response);

  // What only the core can be held to here: the statuses it makes, the time it was given, that an
  // error changed nothing, and that the logged code is the one sent.
  const int s = response.status;
  expect(s == 200 || s == 201 || s == 400 || s == 401 || s == 403 || s == 404 || s == 405 ||
             s == 409 || s == 413 || s == 415 || s == 429,
         "ERR-001: the status is one the core gives");
  expect(response_header("OpSync-Server-Time-Ms") == std::to_string(kNowMs),
         "TRN-007: OpSync-Server-Time-Ms holds the server's clock");
  if (s >= 400) {
    expect(!committed, "ERR-003: a request that gets an error changes nothing");
    expect(response.error_code == parse_message<ErrorBody>(response.body)->code_name,
           "the logged code is the code sent");
    return;
  }
  if (response.content_type == "application/octet-stream")
    expect(response.body.size() >= kEnvelopeOverheadBytes &&
               response.body.size() <= kLimitFloors.chunk_bytes + kEnvelopeOverheadBytes,
           "FILE-003: a chunk is an envelope within chunk_bytes");
}

// Workspaces and tokens a request created become choices for the requests after it.
void learn(const Response& response, Pools& pools) {
  if (response.status != 201) return;
  if (response.route == endpoint(EndpointId::kCreateWorkspace).name()) {
    Result<CreateWorkspaceResponse> created = parse_message<CreateWorkspaceResponse>(response.body);
    pools.workspaces.push_back(to_base64url(created->workspace_id));
    pools.tokens.push_back(created->owner_token);
    pools.token_ids.push_back(created->owner_token_id);
  } else if (response.route == endpoint(EndpointId::kCreateToken).name()) {
    Result<TokenIssued> issued = parse_message<TokenIssued>(response.body);
    pools.tokens.push_back(issued->token);
    pools.token_ids.push_back(issued->token_id);
  }
}

// ---- the fixture -------------------------------------------------------------------------------

// One write a transaction made, to be made again on other storage.
using Write = std::function<void(Transaction&)>;

// Passes every call through and records the writes.
class RecordingTransaction final : public ForwardingTransaction {
 public:
  RecordingTransaction(Transaction& inner, std::vector<Write>& writes)
      : ForwardingTransaction(inner), writes_(writes) {}

  void insert_workspace(const WorkspaceRecord& r) override {
    inner().insert_workspace(r);
    writes_.push_back([r](Transaction& t) { t.insert_workspace(r); });
  }
  void set_head_seq(const WorkspaceId& id, uint64_t head_seq) override {
    inner().set_head_seq(id, head_seq);
    writes_.push_back([id, head_seq](Transaction& t) { t.set_head_seq(id, head_seq); });
  }
  void delete_workspace(const WorkspaceId& id) override {
    inner().delete_workspace(id);
    writes_.push_back([id](Transaction& t) { t.delete_workspace(id); });
  }
  void put_token(const TokenRecord& r) override {
    inner().put_token(r);
    writes_.push_back([r](Transaction& t) { t.put_token(r); });
  }
  void put_key(const WorkspaceId& workspace, const KeyRecord& r) override {
    inner().put_key(workspace, r);
    writes_.push_back([workspace, r](Transaction& t) { t.put_key(workspace, r); });
  }
  std::optional<LoggedOp> append_op_if_absent(const WorkspaceId& workspace, const OpId& id,
                                              const StoredOp& op) override {
    auto held = inner().append_op_if_absent(workspace, id, op);
    if (!held) {
      writes_.push_back(
          [workspace, id, op](Transaction& t) { t.append_op_if_absent(workspace, id, op); });
    }
    return held;
  }
  void put_block_hash(const WorkspaceId& workspace, uint64_t index, const Hash& hash) override {
    inner().put_block_hash(workspace, index, hash);
    writes_.push_back(
        [workspace, index, hash](Transaction& t) { t.put_block_hash(workspace, index, hash); });
  }
  void put_file(const WorkspaceId& workspace, const FileRecord& r) override {
    inner().put_file(workspace, r);
    writes_.push_back([workspace, r](Transaction& t) { t.put_file(workspace, r); });
  }
  void delete_file(const WorkspaceId& workspace, const FileId& id) override {
    inner().delete_file(workspace, id);
    writes_.push_back([workspace, id](Transaction& t) { t.delete_file(workspace, id); });
  }
  void put_chunk(const WorkspaceId& workspace, const FileId& id, uint32_t index,
                 ByteView body) override {
    inner().put_chunk(workspace, id, index, body);
    writes_.push_back([workspace, id, index, bytes = Bytes(body.begin(), body.end())](
                          Transaction& t) { t.put_chunk(workspace, id, index, bytes); });
  }

 private:
  std::vector<Write>& writes_;
};

// MemoryStorage that counts committed write transactions (a changed count means the fixture must
// be restored, and a commit during a request that got an error breaks ERR-003) and, when asked,
// records their writes.
class FuzzStorage final : public Storage {
 public:
  Status read(const std::function<void(Transaction&)>& body) override { return inner_.read(body); }
  Status write(const std::function<bool(Transaction&)>& body) override {
    return inner_.write([&](Transaction& txn) {
      std::vector<Write> writes;
      RecordingTransaction recording(txn, writes);
      const bool commit = recording_ ? body(recording) : body(txn);
      if (commit) {
        ++commits_;
        if (recording_) recording_->insert(recording_->end(), writes.begin(), writes.end());
      }
      return commit;
    });
  }
  Status journal_revocation(const Revocation& revocation) override {
    return inner_.journal_revocation(revocation);
  }
  Result<std::vector<Revocation>> journaled_revocations() override {
    return inner_.journaled_revocations();
  }
  uint64_t commits() const { return commits_; }
  // Committed writes from now on go to `writes`; nullptr stops recording.
  void record(std::vector<Write>* writes) { recording_ = writes; }

 private:
  MemoryStorage inner_;
  uint64_t commits_ = 0;
  std::vector<Write>* recording_ = nullptr;
};

// Sends the fixture's requests, each of which must succeed.
class SetupClient {
 public:
  explicit SetupClient(ServerCore& core) : core_(core) {}

  Response send(std::string method, std::string path, const std::string& token, std::string body,
                std::string content_type = "application/json") {
    Request request;
    request.method = std::move(method);
    request.path = std::move(path);
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    if (!body.empty()) request.headers["content-type"] = std::move(content_type);
    request.body = std::move(body);
    Response response = core_.handle(request, kSetupMs);
    if (response.status != 200 && response.status != 201)
      violated("the fixture's setup succeeds", request, response);
    return response;
  }

  CreateWorkspaceResponse create_workspace() {
    return *parse_message<CreateWorkspaceResponse>(
        send("POST", endpoint_path(EndpointId::kCreateWorkspace, {}), "", "{}").body);
  }
  TokenIssued issue(const std::string& ws, const std::string& owner, Scope scope,
                    std::optional<uint64_t> expires_in_ms = std::nullopt) {
    return *parse_message<TokenIssued>(
        send("POST", endpoint_path(EndpointId::kCreateToken, {ws}), owner,
             serialize_message(CreateTokenRequest{scope, expires_in_ms}))
            .body);
  }
  // A file of `chunk_count` chunks holding the chunks `present`.
  void upload(const std::string& ws, const std::string& writer, const Id& file,
              uint32_t chunk_count, std::initializer_list<uint32_t> present) {
    const std::string file_id = to_base64url(file);
    send("POST", endpoint_path(EndpointId::kCreateFile, {ws, file_id}), writer,
         serialize_message(CreateFileRequest{chunk_count}));
    for (uint32_t index : present)
      send("PUT", endpoint_path(EndpointId::kPutChunk, {ws, file_id, std::to_string(index)}),
           writer, fuzz_chunk(kFixtureChunkSize, kFixtureChunkFill), "application/octet-stream");
  }

 private:
  ServerCore& core_;
};

// The state every input starts from. It is made once through the server itself; its committed
// writes are recorded, and replaying them into fresh storage restores it after an input changed
// it, in a fraction of the time the requests take.
class Fixture {
 public:
  Fixture() { build(); }

  // The storage at the fixture's state, and the pools that name its contents.
  FuzzStorage& storage() {
    if (storage_->commits() != commits_at_rest_) restore();
    return *storage_;
  }
  const Pools& pools() const { return pools_; }

 private:
  void restore() {
    storage_ = std::make_unique<FuzzStorage>();
    Status replayed = storage_->write([&](Transaction& txn) {
      for (const Write& write : writes_) write(txn);
      return true;
    });
    OPSYNC_CHECK(replayed.ok());
    commits_at_rest_ = storage_->commits();
  }

  void build() {
    storage_ = std::make_unique<FuzzStorage>();
    storage_->record(&writes_);
    SeededRandom random(kSetupSeed);
    ServerCore core(fuzz_config(/*caps=*/false), *storage_, random);
    SetupClient client(core);

    const CreateWorkspaceResponse main = client.create_workspace();
    const CreateWorkspaceResponse other = client.create_workspace();
    const CreateWorkspaceResponse doomed = client.create_workspace();
    const std::string ws = to_base64url(main.workspace_id);
    const std::string other_ws = to_base64url(other.workspace_id);
    const std::string& owner = main.owner_token;

    const TokenIssued writer = client.issue(ws, owner, Scope::kReadWrite);
    const TokenIssued reader = client.issue(ws, owner, Scope::kRead);
    const TokenIssued second_owner = client.issue(ws, owner, Scope::kOwner);
    const TokenIssued revoked = client.issue(ws, owner, Scope::kRead);
    const TokenIssued expired = client.issue(ws, owner, Scope::kRead, kTokenExpiresInMsMin);
    client.send("DELETE",
                endpoint_path(EndpointId::kRevokeToken, {ws, to_base64url(revoked.token_id)}),
                owner, "");

    for (uint32_t key_id = 1; key_id <= kFixtureKeys; ++key_id)
      client.send("PUT", endpoint_path(EndpointId::kPutKey, {ws, std::to_string(key_id)}),
                  writer.token,
                  serialize_message(PutKeyRequest{0, KdfParams{}, Bytes(kWrappedKeyBytes, 'k')}));
    UploadOpsRequest batch;
    for (uint8_t i = 0; i < kFixtureOps; ++i) batch.ops.push_back(fuzz_op(i, 0));
    client.send("POST", endpoint_path(EndpointId::kUploadOps, {ws}), writer.token,
                serialize_message(batch));

    const std::array files = {derived_id('f', kCommittedFile), derived_id('f', kUploadingFile),
                              derived_id('f', kDeletedFile), derived_id('f', kCompleteFile),
                              derived_id('f', kOtherWorkspaceFile)};
    client.upload(ws, writer.token, files[kCommittedFile], 2, {0, 1});
    client.send("POST",
                endpoint_path(EndpointId::kCommitFile, {ws, to_base64url(files[kCommittedFile])}),
                writer.token, serialize_message(CommitFileRequest{2}));
    client.upload(ws, writer.token, files[kUploadingFile], 3, {1});
    client.upload(ws, writer.token, files[kDeletedFile], 1, {0});
    client.send("POST",
                endpoint_path(EndpointId::kCommitFile, {ws, to_base64url(files[kDeletedFile])}),
                writer.token, serialize_message(CommitFileRequest{1}));
    client.send("DELETE",
                endpoint_path(EndpointId::kDeleteFile, {ws, to_base64url(files[kDeletedFile])}),
                writer.token, "");
    client.upload(ws, writer.token, files[kCompleteFile], 1, {0});

    client.send("POST", endpoint_path(EndpointId::kUploadOps, {other_ws}), other.owner_token,
                serialize_message(UploadOpsRequest{{fuzz_op(0, 0)}}));
    client.upload(other_ws, other.owner_token, files[kOtherWorkspaceFile], 1, {0});
    client.send("DELETE",
                endpoint_path(EndpointId::kDeleteWorkspace, {to_base64url(doomed.workspace_id)}),
                doomed.owner_token, "");

    pools_.workspaces = {to_base64url(main.workspace_id), to_base64url(other.workspace_id),
                         to_base64url(doomed.workspace_id)};
    pools_.tokens = {owner,         writer.token,  reader.token,      second_owner.token,
                     revoked.token, expired.token, other.owner_token, doomed.owner_token};
    pools_.token_ids = {main.owner_token_id,   writer.token_id,  reader.token_id,
                        second_owner.token_id, revoked.token_id, expired.token_id,
                        other.owner_token_id};
    pools_.files.assign(files.begin(), files.end());
    OPSYNC_CHECK(pools_.workspaces.size() == kFixtureWorkspaces &&
                 pools_.tokens.size() == kFixtureTokens);
    storage_->record(nullptr);
    commits_at_rest_ = storage_->commits();
  }

  std::unique_ptr<FuzzStorage> storage_;
  std::vector<Write> writes_;  // the committed writes of build(), in order
  uint64_t commits_at_rest_ = 0;
  Pools pools_;
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

// With OPSYNC_FUZZ_TRACE set, every request and its answer go to stderr (for reading a crash).
void trace(const Request& request, const Response& response) {
  static const bool enabled = std::getenv("OPSYNC_FUZZ_TRACE") != nullptr;
  if (!enabled) return;
  std::string query;
  for (const auto& [name, value] : request.query)
    query += (query.empty() ? "?" : "&") + name + "=" + value;
  std::fprintf(stderr, "%s %s%s (%zu body bytes) -> %d %s %.*s\n", request.method.c_str(),
               request.path.c_str(), query.c_str(), request.body.size(), response.status,
               response.error_code.c_str(),
               static_cast<int>(std::min<size_t>(response.body.size(), 300)), response.body.data());
}

void run(const uint8_t* data, size_t size) {
  FuzzStorage& storage = fixture().storage();
  Pools pools = fixture().pools();
  SeededRandom random(kRequestSeed);
  ServerCore core(fuzz_config(), storage, random);
  InputReader in(data, size);
  for (size_t i = 0; i < kRequestsMax && !in.done(); ++i) {
    const Request request = decode_request(in, pools);
    const uint64_t commits_before = storage.commits();
    const Response response = core.handle(request, kNowMs);
    trace(request, response);
    check_response(request, response, storage.commits() != commits_before);
    learn(response, pools);
  }
}

// ---- the seed corpus ---------------------------------------------------------------------------

// One choice byte, or a raw string (written after the escape byte).
using Choice = std::variant<uint8_t, std::string>;

struct Body {
  BodyMode mode = BodyMode::kGenerated;
  std::string bytes;  // generator bytes, or the raw body
};
Body generated(std::string bytes = "") { return Body{BodyMode::kGenerated, std::move(bytes)}; }
Body raw(std::string bytes) { return Body{BodyMode::kRawRest, std::move(bytes)}; }
Body raw_blob(std::string bytes) { return Body{BodyMode::kRawBlob, std::move(bytes)}; }
Body absent() { return Body{BodyMode::kAbsent, ""}; }

// One request of a seed, in the order decode_request reads it.
struct Call {
  uint8_t route;
  Choice token = uint8_t{kOwnerToken};
  std::vector<Choice> params = {};
  std::vector<std::pair<Choice, Choice>> query = {};
  Body body = generated();
  Choice method = uint8_t{0};
  uint8_t scheme = 0;
  Choice content_type = uint8_t{0};
  std::optional<std::string> request_id = std::nullopt;
};

void write_choice(InputWriter& out, const Choice& choice) {
  if (const auto* text = std::get_if<std::string>(&choice)) {
    out.byte(kRaw);
    out.text(*text);
  } else {
    out.byte(std::get<uint8_t>(choice));
  }
}

std::string bytes_of(std::initializer_list<uint8_t> values) {
  return std::string(values.begin(), values.end());
}

// The bytes of a generated body, padded with zeros to as many as the generator reads, so that the
// next request starts where the decoder will look for it.
std::string generator_bytes(Generated kind, std::string bytes) {
  const std::string padded = bytes + std::string(64, '\0');
  InputReader reader(reinterpret_cast<const uint8_t*>(padded.data()), padded.size());
  generated_body(reader, kind, fixture().pools());
  OPSYNC_CHECK(bytes.size() <= reader.position());
  bytes.resize(reader.position(), '\0');
  return bytes;
}

std::string encode(const std::vector<Call>& calls) {
  InputWriter out;
  for (const Call& call : calls) {
    out.byte(call.route);
    write_choice(out, call.method);
    // The token choice comes before the scheme, its raw text after both.
    const auto* token_text = std::get_if<std::string>(&call.token);
    out.byte(token_text ? kRaw : std::get<uint8_t>(call.token));
    out.byte(call.scheme);
    if (token_text) out.text(*token_text);
    write_choice(out, call.content_type);
    if (call.request_id) {
      out.byte(kRaw);
      out.text(*call.request_id);
    } else {
      out.byte(0);
    }
    for (const Choice& param : call.params) write_choice(out, param);
    out.byte(static_cast<uint8_t>(call.query.size()));
    for (const auto& [name, value] : call.query) {
      write_choice(out, name);
      write_choice(out, value);
    }
    out.byte(static_cast<uint8_t>(call.body.mode));
    switch (call.body.mode) {
      case BodyMode::kGenerated:
        out.rest(generator_bytes(templates()[call.route].body, call.body.bytes));
        break;
      case BodyMode::kRawRest:
        OPSYNC_CHECK_MSG(&call == &calls.back(),
                         "a body that runs to the end of the input ends it");
        out.rest(call.body.bytes);
        break;
      case BodyMode::kRawBlob:
        out.blob(call.body.bytes);
        break;
      case BodyMode::kAbsent:
        break;
    }
  }
  return out.data();
}

Choice query_name(std::string_view name) {
  for (size_t i = 0; i < kQueryNames.size(); ++i)
    if (kQueryNames[i] == name) return static_cast<uint8_t>(i);
  return std::string(name);
}
Choice number(uint8_t value) {
  OPSYNC_CHECK(value < kSmallNumbers);
  return value;
}
Choice special_number(std::string_view text) {
  for (size_t i = 0; i < kSpecialNumbers.size(); ++i)
    if (kSpecialNumbers[i] == text) return static_cast<uint8_t>(kSmallNumbers + i);
  return std::string(text);
}
Choice method_choice(std::string_view method) {
  for (unsigned c = kOwnMethods; c < kRaw; ++c)
    if (kMethods[c % kMethods.size()] == method) return static_cast<uint8_t>(c);
  return std::string(method);
}
Choice content_choice(std::string_view type) {
  for (size_t i = 1; i < kContentTypes.size(); ++i)
    if (kContentTypes[i] == type) return static_cast<uint8_t>(i);
  return std::string(type);
}
uint8_t token_id_value(TokenChoice token) { return static_cast<uint8_t>(kTokenIdValues + token); }

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  OPSYNC_CHECK(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::vector<std::pair<std::string, std::vector<Call>>> seeds() {
  const Choice ws = uint8_t{kMainWorkspace};
  const Choice committed = uint8_t{kCommittedFile};
  const Choice uploading = uint8_t{kUploadingFile};
  const Choice deleted = uint8_t{kDeletedFile};
  const Choice complete = uint8_t{kCompleteFile};
  const Choice fresh_file = uint8_t{kFreshIds};
  const uint8_t writer = kReadWriteToken;
  const uint8_t reader = kReadToken;
  // Raw bodies start from valid messages, so mutations of them are near-valid.
  const std::string key_json =
      serialize_message(PutKeyRequest{0, KdfParams{}, Bytes(kWrappedKeyBytes, 'k')});
  const std::string ops_json =
      serialize_message(UploadOpsRequest{{fuzz_op(30, 0), fuzz_op(31, 0)}});
  const std::string file_status_json =
      serialize_message(FileStatusRequest{{derived_id('f', kCommittedFile)}});
  return {
      // GET /v1/info
      {"info.valid", {{.route = route(EndpointId::kInfo), .token = kNoToken, .body = absent()}}},
      {"info.post_not_allowed",
       {{.route = route(EndpointId::kInfo),
         .token = kNoToken,
         .body = absent(),
         .method = method_choice("POST")}}},
      {"info.unknown_query",
       {{.route = route(EndpointId::kInfo),
         .token = kNoToken,
         .query = {{query_name("limit"), number(1)}}}}},
      {"info.request_id",
       {{.route = route(EndpointId::kInfo), .token = kNoToken, .request_id = "abc.DEF_123-x"}}},
      // POST /v1/workspaces
      {"create_workspace.valid",
       {{.route = route(EndpointId::kCreateWorkspace), .token = kNoToken}}},
      {"create_workspace.unknown_field",
       {{.route = route(EndpointId::kCreateWorkspace),
         .token = kNoToken,
         .body = raw(R"({"name":1})")}}},
      {"create_workspace.malformed",
       {{.route = route(EndpointId::kCreateWorkspace), .token = kNoToken, .body = raw("{\"a\":")}}},
      {"create_workspace.deep",
       {{.route = route(EndpointId::kCreateWorkspace),
         .token = kNoToken,
         .body = raw(std::string(17, '[') + std::string(17, ']'))}}},
      {"create_workspace.text_plain",
       {{.route = route(EndpointId::kCreateWorkspace),
         .token = kNoToken,
         .content_type = content_choice("text/plain")}}},
      {"create_workspace.then_use",
       {{.route = route(EndpointId::kCreateWorkspace), .token = kNoToken},
        {.route = route(EndpointId::kTokenSelf),
         .token = uint8_t{kFixtureTokens},
         .params = {uint8_t{kFixtureWorkspaces}}},
        {.route = route(EndpointId::kUploadOps),
         .token = uint8_t{kFixtureTokens},
         .params = {uint8_t{kFixtureWorkspaces}},
         .body = generated(bytes_of({2, 0, 0, 1, 0, 2, 0}))},
        {.route = route(EndpointId::kDeleteWorkspace),
         .token = uint8_t{kFixtureTokens},
         .params = {uint8_t{kFixtureWorkspaces}}},
        {.route = route(EndpointId::kTokenSelf),
         .token = uint8_t{kFixtureTokens},
         .params = {uint8_t{kFixtureWorkspaces}}}}},
      // DELETE /v1/workspaces/{id}
      {"delete_workspace.valid",
       {{.route = route(EndpointId::kDeleteWorkspace), .params = {ws}},
        {.route = route(EndpointId::kListKeys), .token = reader, .params = {ws}}}},
      {"delete_workspace.other",
       {{.route = route(EndpointId::kDeleteWorkspace),
         .token = uint8_t{kOtherOwnerToken},
         .params = {ws}}}},
      {"delete_workspace.deleted",
       {{.route = route(EndpointId::kDeleteWorkspace),
         .token = uint8_t{kDeletedWorkspaceToken},
         .params = {uint8_t{kDeletedWorkspace}}}}},
      // POST /v1/workspaces/{id}/tokens
      {"create_token.read_then_use",
       {{.route = route(EndpointId::kCreateToken),
         .params = {ws},
         .body = generated(bytes_of({0}))},
        {.route = route(EndpointId::kReadOps), .token = uint8_t{kFixtureTokens}, .params = {ws}},
        {.route = route(EndpointId::kUploadOps),
         .token = uint8_t{kFixtureTokens},
         .params = {ws}}}},
      {"create_token.expiring_writer",
       {{.route = route(EndpointId::kCreateToken),
         .params = {ws},
         .body = generated(bytes_of({4}))}}},
      {"create_token.expiring_owner",
       {{.route = route(EndpointId::kCreateToken),
         .params = {ws},
         .body = generated(bytes_of({5}))}}},
      {"create_token.raw",
       {{.route = route(EndpointId::kCreateToken),
         .params = {ws},
         .body = raw(R"({"scope":"read_write","expires_in_ms":60000})")}}},
      {"create_token.bad_scope",
       {{.route = route(EndpointId::kCreateToken),
         .params = {ws},
         .body = raw(R"({"scope":"admin"})")}}},
      // GET /v1/workspaces/{id}/tokens
      {"list_tokens.valid", {{.route = route(EndpointId::kListTokens), .params = {ws}}}},
      {"list_tokens.page",
       {{.route = route(EndpointId::kListTokens),
         .params = {ws},
         .query = {{query_name("limit"), number(2)},
                   {query_name("after"), token_id_value(kReadToken)}}}}},
      {"list_tokens.repeated_query",
       {{.route = route(EndpointId::kListTokens),
         .params = {ws},
         .query = {{query_name("limit"), number(1)}, {query_name("limit"), number(2)}}}}},
      // GET /v1/workspaces/{id}/tokens/self
      {"token_self.reader",
       {{.route = route(EndpointId::kTokenSelf), .token = reader, .params = {ws}}}},
      {"token_self.revoked",
       {{.route = route(EndpointId::kTokenSelf), .token = uint8_t{kRevokedToken}, .params = {ws}}}},
      {"token_self.expired",
       {{.route = route(EndpointId::kTokenSelf), .token = uint8_t{kExpiredToken}, .params = {ws}}}},
      {"token_self.missing",
       {{.route = route(EndpointId::kTokenSelf), .token = kNoToken, .params = {ws}}}},
      // DELETE /v1/workspaces/{id}/tokens/{token_id}
      {"revoke_token.reader_then_use",
       {{.route = route(EndpointId::kRevokeToken), .params = {ws, uint8_t{kReadToken}}},
        {.route = route(EndpointId::kTokenSelf), .token = reader, .params = {ws}}}},
      {"revoke_token.again",
       {{.route = route(EndpointId::kRevokeToken), .params = {ws, uint8_t{kRevokedToken}}}}},
      {"revoke_token.self",
       {{.route = route(EndpointId::kRevokeToken), .params = {ws, uint8_t{kOwnerToken}}}}},
      {"revoke_token.other_workspace",
       {{.route = route(EndpointId::kRevokeToken), .params = {ws, uint8_t{kOtherOwnerToken}}}}},
      {"revoke_token.bad_id",
       {{.route = route(EndpointId::kRevokeToken), .params = {ws, std::string("self")}}}},
      // GET /v1/workspaces/{id}/keys
      {"list_keys.valid",
       {{.route = route(EndpointId::kListKeys), .token = reader, .params = {ws}}}},
      {"list_keys.page",
       {{.route = route(EndpointId::kListKeys),
         .token = reader,
         .params = {ws},
         .query = {{query_name("after"), number(10)}, {query_name("limit"), number(3)}}}}},
      // PUT /v1/workspaces/{id}/keys/{key_id}
      {"put_key.until_full",
       {{.route = route(EndpointId::kPutKey), .token = writer, .params = {ws, number(16)}},
        {.route = route(EndpointId::kPutKey), .token = writer, .params = {ws, number(17)}}}},
      {"put_key.update",
       {{.route = route(EndpointId::kPutKey),
         .token = writer,
         .params = {ws, number(1)},
         .body = generated(bytes_of({1, 1, 'x'}))}}},
      {"put_key.conflict",
       {{.route = route(EndpointId::kPutKey),
         .token = writer,
         .params = {ws, number(1)},
         .body = generated(bytes_of({0, 1, 'x'}))}}},
      {"put_key.zero_id",
       {{.route = route(EndpointId::kPutKey), .token = writer, .params = {ws, number(0)}}}},
      {"put_key.raw",
       {{.route = route(EndpointId::kPutKey),
         .token = writer,
         .params = {ws, number(16)},
         .body = raw(key_json)}}},
      // POST /v1/workspaces/{id}/ops
      {"upload_ops.new_and_duplicate",
       {{.route = route(EndpointId::kUploadOps),
         .token = writer,
         .params = {ws},
         .body = generated(bytes_of({3, 10, 0, 11, 5, 0, 0}))}}},
      {"upload_ops.conflict_and_skew",
       {{.route = route(EndpointId::kUploadOps),
         .token = writer,
         .params = {ws},
         .body = generated(bytes_of({2, 0, 1, 12, kFutureVariant}))}}},
      {"upload_ops.same_id_twice",
       {{.route = route(EndpointId::kUploadOps),
         .token = writer,
         .params = {ws},
         .body = generated(bytes_of({1, 20, 0, 20, 1}))}}},
      {"upload_ops.raw",
       {{.route = route(EndpointId::kUploadOps),
         .token = writer,
         .params = {ws},
         .body = raw(ops_json)}}},
      {"upload_ops.bad_version",
       {{.route = route(EndpointId::kUploadOps),
         .token = writer,
         .params = {ws},
         .body = raw(replaced(ops_json, "\"v\":1", "\"v\":2"))}}},
      {"upload_ops.empty",
       {{.route = route(EndpointId::kUploadOps),
         .token = writer,
         .params = {ws},
         .body = raw(R"({"ops":[]})")}}},
      // GET /v1/workspaces/{id}/ops
      {"read_ops.valid", {{.route = route(EndpointId::kReadOps), .token = reader, .params = {ws}}}},
      {"read_ops.page",
       {{.route = route(EndpointId::kReadOps),
         .token = reader,
         .params = {ws},
         .query = {{query_name("after_seq"), number(5)}, {query_name("limit"), number(3)}}}}},
      {"read_ops.block_end",
       {{.route = route(EndpointId::kReadOps),
         .token = reader,
         .params = {ws},
         .query = {{query_name("after_seq"), number(8)}}}}},
      {"read_ops.beyond_head",
       {{.route = route(EndpointId::kReadOps),
         .token = reader,
         .params = {ws},
         .query = {{query_name("after_seq"), number(11)}}}}},
      {"read_ops.leading_zero",
       {{.route = route(EndpointId::kReadOps),
         .token = reader,
         .params = {ws},
         .query = {{query_name("after_seq"), special_number("01")}}}}},
      // GET /v1/workspaces/{id}/blocks
      {"read_blocks.valid",
       {{.route = route(EndpointId::kReadBlocks), .token = reader, .params = {ws}}}},
      {"read_blocks.page",
       {{.route = route(EndpointId::kReadBlocks),
         .token = reader,
         .params = {ws},
         .query = {{query_name("start"), number(1)}, {query_name("limit"), number(1)}}}}},
      // POST /v1/workspaces/{id}/file-status
      {"file_status.every_state",
       {{.route = route(EndpointId::kFileStatus),
         .token = reader,
         .params = {ws},
         .body = generated(bytes_of({5, 0, 1, 2, 3, 4, kFreshIds}))}}},
      {"file_status.repeated_id",
       {{.route = route(EndpointId::kFileStatus),
         .token = reader,
         .params = {ws},
         .body = generated(bytes_of({1, 0, 0}))}}},
      {"file_status.raw",
       {{.route = route(EndpointId::kFileStatus),
         .token = reader,
         .params = {ws},
         .body = raw(file_status_json)}}},
      // POST /v1/workspaces/{id}/files/{file_id}
      {"create_file.fresh",
       {{.route = route(EndpointId::kCreateFile),
         .token = writer,
         .params = {ws, fresh_file},
         .body = generated(bytes_of({2}))}}},
      {"create_file.existing",
       {{.route = route(EndpointId::kCreateFile),
         .token = writer,
         .params = {ws, uploading},
         .body = generated(bytes_of({2}))}}},
      {"create_file.mismatch",
       {{.route = route(EndpointId::kCreateFile),
         .token = writer,
         .params = {ws, uploading},
         .body = generated(bytes_of({0}))}}},
      {"create_file.deleted",
       {{.route = route(EndpointId::kCreateFile), .token = writer, .params = {ws, deleted}}}},
      {"create_file.too_many_chunks",
       {{.route = route(EndpointId::kCreateFile),
         .token = writer,
         .params = {ws, fresh_file},
         .body = generated(bytes_of({6}))}}},
      // GET /v1/workspaces/{id}/files/{file_id}
      {"get_file.uploading",
       {{.route = route(EndpointId::kGetFile), .token = reader, .params = {ws, uploading}}}},
      {"get_file.other_workspace",
       {{.route = route(EndpointId::kGetFile),
         .token = reader,
         .params = {ws, uint8_t{kOtherWorkspaceFile}}}}},
      {"get_file.bad_id",
       {{.route = route(EndpointId::kGetFile),
         .token = reader,
         .params = {ws, std::string("AAAAAAAAAAAAAAAAAAAAAB")}}}},
      // DELETE /v1/workspaces/{id}/files/{file_id}
      {"delete_file.committed",
       {{.route = route(EndpointId::kDeleteFile), .token = writer, .params = {ws, committed}}}},
      {"delete_file.uploading",
       {{.route = route(EndpointId::kDeleteFile), .token = writer, .params = {ws, uploading}}}},
      // POST /v1/workspaces/{id}/files/{file_id}/commit
      {"commit_file.complete",
       {{.route = route(EndpointId::kCommitFile), .token = writer, .params = {ws, complete}}}},
      {"commit_file.incomplete",
       {{.route = route(EndpointId::kCommitFile),
         .token = writer,
         .params = {ws, uploading},
         .body = generated(bytes_of({2}))}}},
      {"commit_file.restore",
       {{.route = route(EndpointId::kCommitFile), .token = writer, .params = {ws, deleted}}}},
      // PUT /v1/workspaces/{id}/files/{file_id}/chunks/{index}
      {"put_chunk.uploading",
       {{.route = route(EndpointId::kPutChunk),
         .token = writer,
         .params = {ws, uploading, number(0)},
         .body = generated(bytes_of({40, 'z'}))}}},
      {"put_chunk.committed_same",
       {{.route = route(EndpointId::kPutChunk),
         .token = writer,
         .params = {ws, committed, number(1)},
         .body = generated(bytes_of({kFixtureChunkSize, kFixtureChunkFill}))}}},
      {"put_chunk.committed_different",
       {{.route = route(EndpointId::kPutChunk),
         .token = writer,
         .params = {ws, committed, number(1)},
         .body = generated(bytes_of({3, 'y'}))}}},
      {"put_chunk.out_of_range",
       {{.route = route(EndpointId::kPutChunk),
         .token = writer,
         .params = {ws, uploading, number(3)},
         .body = generated(bytes_of({3, 'y'}))}}},
      {"put_chunk.too_long",
       {{.route = route(EndpointId::kPutChunk),
         .token = writer,
         .params = {ws, uploading, number(2)},
         .body = generated(bytes_of({kOversizeChunk, 'y'}))}}},
      {"put_chunk.json_type",
       {{.route = route(EndpointId::kPutChunk),
         .token = writer,
         .params = {ws, uploading, number(2)},
         .content_type = content_choice("application/json")}}},
      // GET /v1/workspaces/{id}/files/{file_id}/chunks/{index}
      {"get_chunk.committed",
       {{.route = route(EndpointId::kGetChunk),
         .token = reader,
         .params = {ws, committed, number(1)}}}},
      {"get_chunk.uploading",
       {{.route = route(EndpointId::kGetChunk),
         .token = reader,
         .params = {ws, uploading, number(1)}}}},
      {"get_chunk.deleted",
       {{.route = route(EndpointId::kGetChunk),
         .token = reader,
         .params = {ws, deleted, number(0)}}}},
      {"get_chunk.out_of_range",
       {{.route = route(EndpointId::kGetChunk),
         .token = reader,
         .params = {ws, committed, number(2)}}}},
      // A whole file's life in one input.
      {"file_lifecycle",
       {{.route = route(EndpointId::kCreateFile),
         .token = writer,
         .params = {ws, fresh_file},
         .body = generated(bytes_of({1}))},
        {.route = route(EndpointId::kPutChunk),
         .token = writer,
         .params = {ws, fresh_file, number(0)},
         .body = generated(bytes_of({20, 'a'}))},
        {.route = route(EndpointId::kPutChunk),
         .token = writer,
         .params = {ws, fresh_file, number(1)},
         .body = generated(bytes_of({21, 'b'}))},
        {.route = route(EndpointId::kCommitFile),
         .token = writer,
         .params = {ws, fresh_file},
         .body = generated(bytes_of({1}))},
        {.route = route(EndpointId::kGetChunk),
         .token = reader,
         .params = {ws, fresh_file, number(1)}},
        {.route = route(EndpointId::kDeleteFile), .token = writer, .params = {ws, fresh_file}},
        {.route = route(EndpointId::kCommitFile),
         .token = writer,
         .params = {ws, fresh_file},
         .body = generated(bytes_of({1}))},
        {.route = route(EndpointId::kFileStatus),
         .token = reader,
         .params = {ws},
         .body = generated(bytes_of({0, kFreshIds}))}}},
      // Near misses of the endpoint table.
      {"near.trailing_slash", {{.route = kInfoTrailingSlash, .token = kNoToken}}},
      {"near.other_version", {{.route = kOtherVersion, .token = kNoToken}}},
      {"near.files_without_id", {{.route = kFilesWithoutId, .params = {ws}}}},
      {"near.get_token_by_id", {{.route = kGetTokenById, .params = {ws, uint8_t{kReadToken}}}}},
      {"near.chunks_without_index",
       {{.route = kChunksWithoutIndex, .token = writer, .params = {ws, uploading}}}},
      {"near.raw_path",
       {{.route = kRawPath, .token = kNoToken, .params = {std::string("/v1/workspaces//ops")}}}},
      {"near.unknown_method",
       {{.route = route(EndpointId::kReadOps),
         .token = reader,
         .params = {ws},
         .method = std::string("BREW")}}},
      {"near.blob_bodies",
       {{.route = route(EndpointId::kCreateToken),
         .params = {ws},
         .body = raw_blob(R"({"scope":"read"})")},
        {.route = route(EndpointId::kFileStatus),
         .token = reader,
         .params = {ws},
         .body = raw_blob(R"({"file_ids":[]})")}}},
  };
}

void write_corpus(const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  size_t written = 0;
  for (const auto& [name, calls] : seeds()) {
    std::ofstream file(directory / name, std::ios::binary | std::ios::trunc);
    const std::string data = encode(calls);
    file.write(data.data(), static_cast<std::streamsize>(data.size()));
    OPSYNC_CHECK_MSG(file.good(), "cannot write a seed");
    // Every seed runs clean through the target before it is kept.
    run(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    ++written;
  }
  std::fprintf(stderr, "core_fuzz: wrote %zu seeds to %s\n", written, directory.c_str());
}

}  // namespace
}  // namespace opsync::server

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // libFuzzer passes its command line here before it parses it.
  const std::string_view flag = "--write-corpus";
  for (int i = 1; i + 1 < *argc; ++i) {
    if ((*argv)[i] == flag) {
      opsync::server::write_corpus((*argv)[i + 1]);
      std::exit(0);
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  opsync::server::run(data, size);
  return 0;
}
