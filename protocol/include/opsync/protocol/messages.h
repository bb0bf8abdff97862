// Every JSON message of spec v1, with strict parsing and canonical serialization.
//
// parse_message<M>(text) either returns a fully valid M or an Error naming the field at fault with
// the spec's code (TRN-020..TRN-025): malformed_json, duplicate_field, unknown_field,
// missing_field or invalid_field. It never crashes, throws or fills in a silent default.
//
// Requests (messages a server reads) are strict about unknown members; responses (messages a
// client reads) ignore unknown members, as TRN-022 and TRN-023 require. Each message type states
// which it is in kIsRequest. Checks that depend on a server's advertised limits (batch size,
// payload size) are left to the caller, which knows the limits; everything fixed by the spec is
// checked here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/files.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/lww.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/result.h"

namespace opsync {

enum class Scope : uint8_t { kRead, kReadWrite, kOwner };
std::string_view scope_name(Scope scope);
std::optional<Scope> scope_from_name(std::string_view name);
// Whether a token of scope `held` may do what `needed` allows (owner > read_write > read).
inline bool scope_allows(Scope held, Scope needed) {
  return static_cast<uint8_t>(held) >= static_cast<uint8_t>(needed);
}

enum class Registration : uint8_t { kOpen, kClosed };

// ---- 2.6 info ---------------------------------------------------------------------------------

struct ServerIdentity {
  std::string name;
  std::string version;
  bool operator==(const ServerIdentity&) const = default;
};

struct InfoResponse {
  static constexpr bool kIsRequest = false;
  std::string protocol = "opsync";
  std::vector<uint32_t> versions;
  ServerIdentity server;
  std::vector<std::string> capabilities;
  Registration registration = Registration::kOpen;
  uint64_t server_time_ms = 0;
  uint64_t max_clock_skew_ms = 0;
  uint32_t block_size = 0;
  uint64_t upload_expiry_ms = 0;
  uint64_t file_retention_ms = 0;
  Limits limits{};
  // Absent from servers older than INF-010; a client then assumes kHttpLimitFloors.
  std::optional<HttpLimits> http_limits;
  bool operator==(const InfoResponse&) const = default;

  bool has_capability(std::string_view name) const;
};

// ---- 2.3 errors -------------------------------------------------------------------------------

struct ErrorBody {
  static constexpr bool kIsRequest = false;
  // The code as sent; `code` is empty when this client does not know it (ERR-005: act on status).
  std::string code_name;
  std::optional<Code> code;
  std::string message;
  std::string field;
  ErrorDetails details;
  bool operator==(const ErrorBody&) const = default;

  static ErrorBody from_error(const Error& error);
};

// ---- 4 workspaces and tokens ------------------------------------------------------------------

struct CreateWorkspaceRequest {
  static constexpr bool kIsRequest = true;
  bool operator==(const CreateWorkspaceRequest&) const = default;
};

struct CreateWorkspaceResponse {
  static constexpr bool kIsRequest = false;
  WorkspaceId workspace_id;
  std::string owner_token;
  TokenId owner_token_id;
  uint32_t block_size = 0;
  uint64_t created_at_ms = 0;
  bool operator==(const CreateWorkspaceResponse&) const = default;
};

struct DeleteWorkspaceResponse {
  static constexpr bool kIsRequest = false;
  WorkspaceId workspace_id;
  uint64_t deleted_at_ms = 0;
  bool operator==(const DeleteWorkspaceResponse&) const = default;
};

struct CreateTokenRequest {
  static constexpr bool kIsRequest = true;
  Scope scope = Scope::kRead;
  std::optional<uint64_t> expires_in_ms;
  bool operator==(const CreateTokenRequest&) const = default;
};

struct TokenIssued {
  static constexpr bool kIsRequest = false;
  TokenId token_id;
  std::string token;
  Scope scope = Scope::kRead;
  uint64_t created_at_ms = 0;
  std::optional<uint64_t> expires_at_ms;
  bool operator==(const TokenIssued&) const = default;
};

struct TokenEntry {
  static constexpr bool kIsRequest = false;
  TokenId token_id;
  Scope scope = Scope::kRead;
  uint64_t created_at_ms = 0;
  std::optional<uint64_t> expires_at_ms;
  std::optional<uint64_t> revoked_at_ms;
  bool operator==(const TokenEntry&) const = default;
};

struct TokenListResponse {
  static constexpr bool kIsRequest = false;
  std::vector<TokenEntry> tokens;
  std::optional<TokenId> next_after;
  bool operator==(const TokenListResponse&) const = default;
};

struct RevokeTokenResponse {
  static constexpr bool kIsRequest = false;
  TokenId token_id;
  uint64_t revoked_at_ms = 0;
  bool operator==(const RevokeTokenResponse&) const = default;
};

// ---- 5.2 key records --------------------------------------------------------------------------

struct KdfParams {
  std::string algorithm = kKdfAlgorithm;
  uint32_t iterations = kKdfIterationsForNewRecords;
  bool operator==(const KdfParams&) const = default;
};

struct KeyRecord {
  static constexpr bool kIsRequest = false;
  uint32_t key_id = 0;
  uint64_t version = 0;
  KdfParams kdf;
  Bytes wrapped_key;  // 60 bytes
  uint64_t updated_at_ms = 0;
  bool operator==(const KeyRecord&) const = default;
};

struct PutKeyRequest {
  static constexpr bool kIsRequest = true;
  uint64_t expected_version = 0;
  KdfParams kdf;
  Bytes wrapped_key;
  bool operator==(const PutKeyRequest&) const = default;
};

struct KeyListResponse {
  static constexpr bool kIsRequest = false;
  std::vector<KeyRecord> keys;
  std::optional<uint32_t> next_after;
  bool operator==(const KeyListResponse&) const = default;
};

// ---- 7 the log --------------------------------------------------------------------------------

struct UploadOpsRequest {
  static constexpr bool kIsRequest = true;
  std::vector<WireOp> ops;  // 1..batch_ops_max; payload bounds are checked by validate_op
  bool operator==(const UploadOpsRequest&) const = default;
};

enum class OpStatus : uint8_t { kAccepted, kDuplicate, kRejected };

struct OpResult {
  OpId id;
  OpStatus status = OpStatus::kAccepted;
  uint64_t seq = 0;              // accepted and duplicate
  Code code = Code::kClockSkew;  // rejected: kClockSkew or kOpIdConflict
  std::string message;           // rejected
  bool operator==(const OpResult&) const = default;
};

struct UploadOpsResponse {
  static constexpr bool kIsRequest = false;
  std::vector<OpResult> results;
  uint64_t head_seq = 0;
  bool operator==(const UploadOpsResponse&) const = default;
};

struct OpsPageResponse {
  static constexpr bool kIsRequest = false;
  uint64_t after_seq = 0;
  Hash after_hash;
  uint64_t head_seq = 0;
  std::vector<SequencedOp> ops;
  std::optional<uint64_t> next_after_seq;
  bool operator==(const OpsPageResponse&) const = default;
};

struct BlockEntry {
  uint64_t index = 0;
  Hash hash;
  bool operator==(const BlockEntry&) const = default;
};

struct BlocksResponse {
  static constexpr bool kIsRequest = false;
  uint32_t block_size = 0;
  uint64_t head_seq = 0;
  uint64_t block_count = 0;
  std::vector<BlockEntry> blocks;
  std::optional<uint64_t> next_start;
  bool operator==(const BlocksResponse&) const = default;
};

// ---- 11 files ---------------------------------------------------------------------------------

struct CreateFileRequest {
  static constexpr bool kIsRequest = true;
  uint32_t chunk_count = 0;  // 1..file_chunks_max (the upper bound is the caller's)
  bool operator==(const CreateFileRequest&) const = default;
};

struct CommitFileRequest {
  static constexpr bool kIsRequest = true;
  uint32_t chunk_count = 0;
  bool operator==(const CommitFileRequest&) const = default;
};

struct FileStatus {
  static constexpr bool kIsRequest = false;
  FileId file_id;
  FileState state = FileState::kUploading;  // never kAbsent here
  uint32_t chunk_count = 0;
  std::vector<ChunkRange> chunks_missing;
  uint64_t stored_bytes = 0;
  uint64_t updated_at_ms = 0;
  bool operator==(const FileStatus&) const = default;
};

struct ChunkStored {
  static constexpr bool kIsRequest = false;
  FileId file_id;
  uint32_t index = 0;
  uint64_t size_bytes = 0;
  bool operator==(const ChunkStored&) const = default;
};

struct FileStatusRequest {
  static constexpr bool kIsRequest = true;
  std::vector<FileId>
      file_ids;  // distinct; 1..file_status_ids_max (the upper bound is the caller's)
  bool operator==(const FileStatusRequest&) const = default;
};

struct FileStateEntry {
  FileId file_id;
  FileState state = FileState::kAbsent;
  bool operator==(const FileStateEntry&) const = default;
};

struct FileStatusResponse {
  static constexpr bool kIsRequest = false;
  std::vector<FileStateEntry> files;
  bool operator==(const FileStatusResponse&) const = default;
};

// ---- 10.1 payload plaintext (inside the encryption, strict like a request) ---------------------

// ObjectPayload (lww.h) is parsed and serialized as the payload JSON of spec 10.1.

// ---- parsing and serialization ----------------------------------------------------------------

template <typename M>
Result<M> parse_message(std::string_view json_text);

template <typename M>
std::string serialize_message(const M& message);

// The payload plaintext of spec 10.1 (LWW-001, LWW-002).
Result<ObjectPayload> parse_payload(ByteView plaintext);
Bytes serialize_payload(const ObjectPayload& payload);

// The error body of spec 2.3 for an Error.
std::string serialize_error(const Error& error);

// Names of every message type above, for the vectors and the fuzzer, and a parser by name that
// discards the value. Returns an error for an unknown type name.
std::span<const std::string_view> message_type_names();
Status check_message(std::string_view type_name, std::string_view json_text);

}  // namespace opsync
