#include "opsync/protocol/messages.h"

#include <algorithm>
#include <array>
#include <set>

#include "fast_json.h"
#include "json_reader.h"
#include "opsync/protocol/limits.h"

namespace opsync {

using json_detail::b64;
using json_detail::element_path;
using json_detail::ErrorSink;
using json_detail::Json;
using json_detail::Reader;

namespace {

constexpr uint64_t kU32Max = 0xFFFFFFFFu;
constexpr uint64_t kIntMax = kJsonIntegerMax;

// ---- shared pieces ----------------------------------------------------------------------------

bool printable_ascii_token(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

Scope read_scope(Reader& r, std::string_view name) {
  std::string text = r.string(name, 1, 16);
  if (r.failed()) return Scope::kRead;
  auto scope = scope_from_name(text);
  if (!scope) {
    r.fail(name, Code::kInvalidField, "must be \"read\", \"read_write\" or \"owner\"");
    return Scope::kRead;
  }
  return *scope;
}

std::string read_token(Reader& r, std::string_view name) {
  std::string token = r.string(name, 1, kTokenCharsMax);
  if (!r.failed() && !printable_ascii_token(token))
    r.fail(name, Code::kInvalidField, "must be printable ASCII without spaces");
  return token;
}

KdfParams read_kdf(Reader& parent) {
  Reader r = parent.object("kdf");
  KdfParams kdf;
  kdf.algorithm = r.string("algorithm", 1, 64);
  if (!r.failed() && kdf.algorithm != kKdfAlgorithm)
    r.fail("algorithm", Code::kInvalidField, std::string("must be \"") + kKdfAlgorithm + "\"");
  kdf.iterations =
      static_cast<uint32_t>(r.integer("iterations", kKdfIterationsMin, kKdfIterationsMax));
  r.finish();
  return kdf;
}

Json write_kdf(const KdfParams& kdf) {
  return Json{{"algorithm", kdf.algorithm}, {"iterations", kdf.iterations}};
}

// The wire form of spec 6.1. In requests an unknown format is invalid input (VER-005); in
// responses it means this client is too old (VER-006).
WireOp read_op(Reader& r) {
  WireOp op;
  const uint64_t v = r.integer("v", 0, 255);
  if (!r.failed() && v != kOpFormatVersion)
    r.fail("v", r.strict() ? Code::kInvalidField : Code::kUnsupportedFormat,
           "operation format " + std::to_string(v) + " is not supported (only 1)");
  op.v = static_cast<uint8_t>(v);
  op.id = r.fixed<16>("id");
  op.device_id = r.fixed<16>("device_id");
  {
    Reader hlc = r.object("hlc");
    op.hlc.wall_ms = hlc.integer("wall_ms", 0, kHlcWallMsLimit - 1);
    op.hlc.counter = static_cast<uint32_t>(hlc.integer("counter", 0, kHlcCounterMax));
    hlc.finish();
  }
  op.key_id = static_cast<uint32_t>(r.integer("key_id", 1, kU32Max));
  // The upper bound is the server's op_payload_bytes_max, checked by validate_op.
  op.payload = r.bytes("payload", kEnvelopeOverheadBytes, SIZE_MAX);
  return op;
}

void write_op(Json& out, const WireOp& op) {
  out["v"] = op.v;
  out["id"] = b64(op.id);
  out["device_id"] = b64(op.device_id);
  out["hlc"] = Json{{"wall_ms", op.hlc.wall_ms}, {"counter", op.hlc.counter}};
  out["key_id"] = op.key_id;
  out["payload"] = b64(op.payload);
}

Json nullable(const std::optional<uint64_t>& v) { return v ? Json(*v) : Json(nullptr); }

template <size_t N>
Json nullable(const std::optional<FixedBytes<N>>& v) {
  return v ? Json(b64(*v)) : Json(nullptr);
}

std::vector<ChunkRange> read_ranges(Reader& r, std::string_view name, uint32_t chunk_count) {
  std::vector<ChunkRange> ranges;
  const Json* items = r.array(name, 0, kU32Max);
  if (!items) return ranges;
  const std::string path = r.member_path(name);
  uint64_t previous_end = 0;
  for (size_t i = 0; i < items->size() && !r.failed(); ++i) {
    const Json& item = (*items)[i];
    const std::string item_path = element_path(path, i);
    if (!item.is_array() || item.size() != 2) {
      r.fail_path(item_path, Code::kInvalidField, "must be a [start, end) pair");
      break;
    }
    const uint64_t start =
        json_detail::integer_at(item[0], item_path + "[0]", 0, kU32Max, r.sink());
    const uint64_t end = json_detail::integer_at(item[1], item_path + "[1]", 0, kU32Max, r.sink());
    if (r.failed()) break;
    if (start >= end || end > chunk_count || (i > 0 && start <= previous_end)) {
      r.fail_path(item_path, Code::kInvalidField,
                  "ranges must be non-empty, ascending, disjoint and within chunk_count");
      break;
    }
    previous_end = end;
    ranges.emplace_back(static_cast<uint32_t>(start), static_cast<uint32_t>(end));
  }
  return ranges;
}

Json write_ranges(const std::vector<ChunkRange>& ranges) {
  Json out = Json::array();
  for (const auto& [start, end] : ranges) out.push_back(Json::array({start, end}));
  return out;
}

FileState read_file_state(Reader& r, std::string_view name, bool allow_absent) {
  std::string text = r.string(name, 1, 16);
  if (r.failed()) return FileState::kAbsent;
  auto state = file_state_from_name(text);
  if (!state || (!allow_absent && *state == FileState::kAbsent)) {
    r.fail(name, Code::kInvalidField,
           allow_absent ? "must be absent, uploading, committed or deleted"
                        : "must be uploading, committed or deleted");
    return FileState::kAbsent;
  }
  return *state;
}

// ---- per-message readers and writers ------------------------------------------------------------

template <typename M>
struct Codec;

template <>
struct Codec<InfoResponse> {
  static void read(Reader& r, InfoResponse& m) {
    m.protocol = r.string("protocol", 1, 64);
    if (const Json* versions = r.array("versions", 1, 64)) {
      for (size_t i = 0; i < versions->size(); ++i)
        m.versions.push_back(static_cast<uint32_t>(json_detail::integer_at(
            (*versions)[i], element_path(r.member_path("versions"), i), 1, kU32Max, r.sink())));
    }
    {
      Reader server = r.object("server");
      m.server.name = server.string("name", 0, 256);
      m.server.version = server.string("version", 0, 256);
      server.finish();
    }
    if (const Json* caps = r.array("capabilities", 0, 256)) {
      for (size_t i = 0; i < caps->size(); ++i)
        m.capabilities.push_back(json_detail::string_at(
            (*caps)[i], element_path(r.member_path("capabilities"), i), 1, 64, r.sink()));
    }
    const std::string registration = r.string("registration", 1, 16);
    if (!r.failed()) {
      if (registration == "open")
        m.registration = Registration::kOpen;
      else if (registration == "closed")
        m.registration = Registration::kClosed;
      else
        r.fail("registration", Code::kInvalidField, "must be \"open\" or \"closed\"");
    }
    m.server_time_ms = r.integer("server_time_ms", 0, kIntMax);
    m.max_clock_skew_ms = r.integer("max_clock_skew_ms", kMaxClockSkewMsMin, kMaxClockSkewMsMax);
    m.block_size = static_cast<uint32_t>(r.integer("block_size", kBlockSizeMin, kBlockSizeMax));
    m.upload_expiry_ms = r.integer("upload_expiry_ms", kRetentionMsMin, kIntMax);
    m.file_retention_ms = r.integer("file_retention_ms", kRetentionMsMin, kIntMax);
    Reader limits = r.object("limits");
    Limits& l = m.limits;
    const Limits& f = kLimitFloors;
    l.request_body_bytes_max =
        limits.integer("request_body_bytes_max", f.request_body_bytes_max, kIntMax);
    l.batch_ops_max = limits.integer("batch_ops_max", f.batch_ops_max, kIntMax);
    l.op_payload_bytes_max =
        limits.integer("op_payload_bytes_max", f.op_payload_bytes_max, kIntMax);
    l.page_ops_max = limits.integer("page_ops_max", f.page_ops_max, kIntMax);
    l.page_bytes_max = limits.integer("page_bytes_max", f.page_bytes_max, kIntMax);
    l.page_blocks_max = limits.integer("page_blocks_max", f.page_blocks_max, kIntMax);
    l.page_tokens_max = limits.integer("page_tokens_max", f.page_tokens_max, kIntMax);
    l.page_keys_max = limits.integer("page_keys_max", f.page_keys_max, kIntMax);
    l.key_records_max = limits.integer("key_records_max", f.key_records_max, kIntMax);
    l.file_status_ids_max = limits.integer("file_status_ids_max", f.file_status_ids_max, kIntMax);
    l.chunk_bytes = limits.integer("chunk_bytes", f.chunk_bytes, kChunkBytesMax);
    l.file_chunks_max = limits.integer("file_chunks_max", f.file_chunks_max, kU32Max);
    limits.finish();
    if (r.has("http_limits")) {
      Reader http = r.object("http_limits");
      const HttpLimits& hf = kHttpLimitFloors;
      HttpLimits h{};
      h.request_target_bytes_max =
          http.integer("request_target_bytes_max", hf.request_target_bytes_max, kIntMax);
      h.header_fields_max = http.integer("header_fields_max", hf.header_fields_max, kIntMax);
      h.header_section_bytes_max =
          http.integer("header_section_bytes_max", hf.header_section_bytes_max, kIntMax);
      http.finish();
      m.http_limits = h;
    }
  }
  static void write(Json& out, const InfoResponse& m) {
    out["protocol"] = m.protocol;
    out["versions"] = m.versions;
    out["server"] = Json{{"name", m.server.name}, {"version", m.server.version}};
    out["capabilities"] = m.capabilities;
    out["registration"] = m.registration == Registration::kOpen ? "open" : "closed";
    out["server_time_ms"] = m.server_time_ms;
    out["max_clock_skew_ms"] = m.max_clock_skew_ms;
    out["block_size"] = m.block_size;
    out["upload_expiry_ms"] = m.upload_expiry_ms;
    out["file_retention_ms"] = m.file_retention_ms;
    const Limits& l = m.limits;
    out["limits"] = Json{{"request_body_bytes_max", l.request_body_bytes_max},
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
    if (m.http_limits)
      out["http_limits"] =
          Json{{"request_target_bytes_max", m.http_limits->request_target_bytes_max},
               {"header_fields_max", m.http_limits->header_fields_max},
               {"header_section_bytes_max", m.http_limits->header_section_bytes_max}};
  }
};

template <>
struct Codec<ErrorBody> {
  static void read(Reader& top, ErrorBody& m) {
    Reader r = top.object("error");
    m.code_name = r.string("code", 1, 64);
    m.code = code_from_name(m.code_name);
    m.message = r.string("message", 0, 65536);
    m.field = r.optional_string("field", 4096).value_or("");
    if (r.has("details")) {
      Reader d = r.object("details");
      m.details.head_seq = d.optional_integer("head_seq", 0, kIntMax);
      m.details.current_version = d.optional_integer("current_version", 0, kIntMax);
      m.details.chunk_count = d.optional_integer("chunk_count", 0, kU32Max);
      m.details.limit = d.optional_integer("limit", 0, kIntMax);
      m.details.limit_bytes = d.optional_integer("limit_bytes", 0, kIntMax);
      if (d.has("chunks_missing"))
        m.details.chunks_missing = read_ranges(d, "chunks_missing", static_cast<uint32_t>(kU32Max));
    }
  }
  static void write(Json& out, const ErrorBody& m) {
    Json error{{"code", m.code_name}, {"message", m.message}};
    if (!m.field.empty()) error["field"] = m.field;
    if (!m.details.empty()) {
      Json d = Json::object();
      if (m.details.head_seq) d["head_seq"] = *m.details.head_seq;
      if (m.details.current_version) d["current_version"] = *m.details.current_version;
      if (m.details.chunk_count) d["chunk_count"] = *m.details.chunk_count;
      if (m.details.limit) d["limit"] = *m.details.limit;
      if (m.details.limit_bytes) d["limit_bytes"] = *m.details.limit_bytes;
      if (m.details.chunks_missing) d["chunks_missing"] = write_ranges(*m.details.chunks_missing);
      error["details"] = std::move(d);
    }
    out["error"] = std::move(error);
  }
};

template <>
struct Codec<CreateWorkspaceRequest> {
  static void read(Reader&, CreateWorkspaceRequest&) {}
  static void write(Json&, const CreateWorkspaceRequest&) {}
};

template <>
struct Codec<CreateWorkspaceResponse> {
  static void read(Reader& r, CreateWorkspaceResponse& m) {
    m.workspace_id = r.fixed<16>("workspace_id");
    m.owner_token = read_token(r, "owner_token");
    m.owner_token_id = r.fixed<16>("owner_token_id");
    m.block_size = static_cast<uint32_t>(r.integer("block_size", kBlockSizeMin, kBlockSizeMax));
    m.created_at_ms = r.integer("created_at_ms", 0, kIntMax);
  }
  static void write(Json& out, const CreateWorkspaceResponse& m) {
    out["workspace_id"] = b64(m.workspace_id);
    out["owner_token"] = m.owner_token;
    out["owner_token_id"] = b64(m.owner_token_id);
    out["block_size"] = m.block_size;
    out["created_at_ms"] = m.created_at_ms;
  }
};

template <>
struct Codec<DeleteWorkspaceResponse> {
  static void read(Reader& r, DeleteWorkspaceResponse& m) {
    m.workspace_id = r.fixed<16>("workspace_id");
    m.deleted_at_ms = r.integer("deleted_at_ms", 0, kIntMax);
  }
  static void write(Json& out, const DeleteWorkspaceResponse& m) {
    out["workspace_id"] = b64(m.workspace_id);
    out["deleted_at_ms"] = m.deleted_at_ms;
  }
};

template <>
struct Codec<CreateTokenRequest> {
  static void read(Reader& r, CreateTokenRequest& m) {
    m.scope = read_scope(r, "scope");
    m.expires_in_ms =
        r.optional_integer("expires_in_ms", kTokenExpiresInMsMin, kTokenExpiresInMsMax);
    if (!r.failed() && m.scope == Scope::kOwner && m.expires_in_ms)
      r.fail("expires_in_ms", Code::kInvalidField, "owner tokens never expire");  // AUTH-014
  }
  static void write(Json& out, const CreateTokenRequest& m) {
    out["scope"] = scope_name(m.scope);
    if (m.expires_in_ms) out["expires_in_ms"] = *m.expires_in_ms;
  }
};

template <>
struct Codec<TokenIssued> {
  static void read(Reader& r, TokenIssued& m) {
    m.token_id = r.fixed<16>("token_id");
    m.token = read_token(r, "token");
    m.scope = read_scope(r, "scope");
    m.created_at_ms = r.integer("created_at_ms", 0, kIntMax);
    m.expires_at_ms = r.nullable_integer("expires_at_ms", 0, kIntMax);
  }
  static void write(Json& out, const TokenIssued& m) {
    out["token_id"] = b64(m.token_id);
    out["token"] = m.token;
    out["scope"] = scope_name(m.scope);
    out["created_at_ms"] = m.created_at_ms;
    out["expires_at_ms"] = nullable(m.expires_at_ms);
  }
};

template <>
struct Codec<TokenEntry> {
  static void read(Reader& r, TokenEntry& m) {
    m.token_id = r.fixed<16>("token_id");
    m.scope = read_scope(r, "scope");
    m.created_at_ms = r.integer("created_at_ms", 0, kIntMax);
    m.expires_at_ms = r.nullable_integer("expires_at_ms", 0, kIntMax);
    m.revoked_at_ms = r.nullable_integer("revoked_at_ms", 0, kIntMax);
  }
  static void write(Json& out, const TokenEntry& m) {
    out["token_id"] = b64(m.token_id);
    out["scope"] = scope_name(m.scope);
    out["created_at_ms"] = m.created_at_ms;
    out["expires_at_ms"] = nullable(m.expires_at_ms);
    out["revoked_at_ms"] = nullable(m.revoked_at_ms);
  }
};

// Reads an array member whose elements are objects decoded by Codec<E>.
template <typename E>
std::vector<E> read_objects(Reader& r, std::string_view name, size_t min_items, size_t max_items) {
  std::vector<E> out;
  const Json* items = r.array(name, min_items, max_items);
  if (!items) return out;
  out.reserve(items->size());
  const std::string path = r.member_path(name);
  for (size_t i = 0; i < items->size() && !r.failed(); ++i) {
    Reader element((*items)[i], element_path(path, i), r.strict(), r.sink());
    E value;
    Codec<E>::read(element, value);
    element.finish();
    out.push_back(std::move(value));
  }
  return out;
}

template <typename E>
Json write_objects(const std::vector<E>& items) {
  Json out = Json::array();
  for (const E& item : items) {
    Json element = Json::object();
    Codec<E>::write(element, item);
    out.push_back(std::move(element));
  }
  return out;
}

template <>
struct Codec<TokenListResponse> {
  static void read(Reader& r, TokenListResponse& m) {
    m.tokens = read_objects<TokenEntry>(r, "tokens", 0, kU32Max);
    m.next_after = r.nullable_fixed<16>("next_after");
  }
  static void write(Json& out, const TokenListResponse& m) {
    out["tokens"] = write_objects(m.tokens);
    out["next_after"] = nullable(m.next_after);
  }
};

template <>
struct Codec<RevokeTokenResponse> {
  static void read(Reader& r, RevokeTokenResponse& m) {
    m.token_id = r.fixed<16>("token_id");
    m.revoked_at_ms = r.integer("revoked_at_ms", 0, kIntMax);
  }
  static void write(Json& out, const RevokeTokenResponse& m) {
    out["token_id"] = b64(m.token_id);
    out["revoked_at_ms"] = m.revoked_at_ms;
  }
};

template <>
struct Codec<KeyRecord> {
  static void read(Reader& r, KeyRecord& m) {
    m.key_id = static_cast<uint32_t>(r.integer("key_id", 1, kU32Max));
    m.version = r.integer("version", 1, kIntMax);
    m.kdf = read_kdf(r);
    m.wrapped_key = r.bytes("wrapped_key", kWrappedKeyBytes, kWrappedKeyBytes);
    m.updated_at_ms = r.integer("updated_at_ms", 0, kIntMax);
  }
  static void write(Json& out, const KeyRecord& m) {
    out["key_id"] = m.key_id;
    out["version"] = m.version;
    out["kdf"] = write_kdf(m.kdf);
    out["wrapped_key"] = b64(m.wrapped_key);
    out["updated_at_ms"] = m.updated_at_ms;
  }
};

template <>
struct Codec<PutKeyRequest> {
  static void read(Reader& r, PutKeyRequest& m) {
    m.expected_version = r.integer("expected_version", 0, kIntMax);
    m.kdf = read_kdf(r);
    m.wrapped_key = r.bytes("wrapped_key", kWrappedKeyBytes, kWrappedKeyBytes);
  }
  static void write(Json& out, const PutKeyRequest& m) {
    out["expected_version"] = m.expected_version;
    out["kdf"] = write_kdf(m.kdf);
    out["wrapped_key"] = b64(m.wrapped_key);
  }
};

template <>
struct Codec<KeyListResponse> {
  static void read(Reader& r, KeyListResponse& m) {
    m.keys = read_objects<KeyRecord>(r, "keys", 0, kU32Max);
    if (auto next = r.nullable_integer("next_after", 1, kU32Max))
      m.next_after = static_cast<uint32_t>(*next);
  }
  static void write(Json& out, const KeyListResponse& m) {
    out["keys"] = write_objects(m.keys);
    out["next_after"] = m.next_after ? Json(*m.next_after) : Json(nullptr);
  }
};

template <>
struct Codec<WireOp> {
  static void read(Reader& r, WireOp& m) { m = read_op(r); }
  static void write(Json& out, const WireOp& m) { write_op(out, m); }
};

template <>
struct Codec<UploadOpsRequest> {
  static void read(Reader& r, UploadOpsRequest& m) {
    // At least one operation (LOG-001); the upper bound is the server's batch_ops_max.
    m.ops = read_objects<WireOp>(r, "ops", 1, SIZE_MAX);
  }
  static void write(Json& out, const UploadOpsRequest& m) { out["ops"] = write_objects(m.ops); }
};

template <>
struct Codec<OpResult> {
  static void read(Reader& r, OpResult& m) {
    m.id = r.fixed<16>("id");
    const std::string status = r.string("status", 1, 16);
    if (r.failed()) return;
    if (status == "accepted" || status == "duplicate") {
      m.status = status == "accepted" ? OpStatus::kAccepted : OpStatus::kDuplicate;
      m.seq = r.integer("seq", 1, kIntMax);
    } else if (status == "rejected") {
      m.status = OpStatus::kRejected;
      const std::string code = r.string("code", 1, 64);
      if (r.failed()) return;
      auto parsed = code_from_name(code);
      // Unknown codes keep the rejection; a client reports them as it would any other.
      m.code = parsed.value_or(Code::kProtocolError);
      m.message = r.string("message", 0, 65536);
    } else {
      r.fail("status", Code::kInvalidField, "must be accepted, duplicate or rejected");
    }
  }
  static void write(Json& out, const OpResult& m) {
    out["id"] = b64(m.id);
    switch (m.status) {
      case OpStatus::kAccepted:
      case OpStatus::kDuplicate:
        out["status"] = m.status == OpStatus::kAccepted ? "accepted" : "duplicate";
        out["seq"] = m.seq;
        break;
      case OpStatus::kRejected:
        out["status"] = "rejected";
        out["code"] = code_name(m.code);
        out["message"] = m.message;
        break;
    }
  }
};

template <>
struct Codec<UploadOpsResponse> {
  static void read(Reader& r, UploadOpsResponse& m) {
    m.results = read_objects<OpResult>(r, "results", 1, SIZE_MAX);
    m.head_seq = r.integer("head_seq", 0, kIntMax);
  }
  static void write(Json& out, const UploadOpsResponse& m) {
    out["results"] = write_objects(m.results);
    out["head_seq"] = m.head_seq;
  }
};

template <>
struct Codec<SequencedOp> {
  static void read(Reader& r, SequencedOp& m) {
    m.seq = r.integer("seq", 1, kIntMax);
    m.op = read_op(r);
  }
  static void write(Json& out, const SequencedOp& m) {
    out["seq"] = m.seq;
    write_op(out, m.op);
  }
};

template <>
struct Codec<OpsPageResponse> {
  static void read(Reader& r, OpsPageResponse& m) {
    m.after_seq = r.integer("after_seq", 0, kIntMax);
    m.after_hash = r.fixed<32>("after_hash");
    m.head_seq = r.integer("head_seq", 0, kIntMax);
    m.ops = read_objects<SequencedOp>(r, "ops", 0, SIZE_MAX);
    m.next_after_seq = r.nullable_integer("next_after_seq", 1, kIntMax);
  }
  static void write(Json& out, const OpsPageResponse& m) {
    out["after_seq"] = m.after_seq;
    out["after_hash"] = b64(m.after_hash);
    out["head_seq"] = m.head_seq;
    out["ops"] = write_objects(m.ops);
    out["next_after_seq"] = nullable(m.next_after_seq);
  }
};

template <>
struct Codec<BlockEntry> {
  static void read(Reader& r, BlockEntry& m) {
    m.index = r.integer("index", 0, kIntMax);
    m.hash = r.fixed<32>("hash");
  }
  static void write(Json& out, const BlockEntry& m) {
    out["index"] = m.index;
    out["hash"] = b64(m.hash);
  }
};

template <>
struct Codec<BlocksResponse> {
  static void read(Reader& r, BlocksResponse& m) {
    m.block_size = static_cast<uint32_t>(r.integer("block_size", kBlockSizeMin, kBlockSizeMax));
    m.head_seq = r.integer("head_seq", 0, kIntMax);
    m.block_count = r.integer("block_count", 0, kIntMax);
    m.blocks = read_objects<BlockEntry>(r, "blocks", 0, SIZE_MAX);
    m.next_start = r.nullable_integer("next_start", 0, kIntMax);
  }
  static void write(Json& out, const BlocksResponse& m) {
    out["block_size"] = m.block_size;
    out["head_seq"] = m.head_seq;
    out["block_count"] = m.block_count;
    out["blocks"] = write_objects(m.blocks);
    out["next_start"] = nullable(m.next_start);
  }
};

template <>
struct Codec<CreateFileRequest> {
  static void read(Reader& r, CreateFileRequest& m) {
    m.chunk_count = static_cast<uint32_t>(r.integer("chunk_count", 1, kU32Max));
  }
  static void write(Json& out, const CreateFileRequest& m) { out["chunk_count"] = m.chunk_count; }
};

template <>
struct Codec<CommitFileRequest> {
  static void read(Reader& r, CommitFileRequest& m) {
    m.chunk_count = static_cast<uint32_t>(r.integer("chunk_count", 1, kU32Max));
  }
  static void write(Json& out, const CommitFileRequest& m) { out["chunk_count"] = m.chunk_count; }
};

template <>
struct Codec<FileStatus> {
  static void read(Reader& r, FileStatus& m) {
    m.file_id = r.fixed<16>("file_id");
    m.state = read_file_state(r, "state", /*allow_absent=*/false);
    m.chunk_count = static_cast<uint32_t>(r.integer("chunk_count", 1, kU32Max));
    if (!r.failed()) m.chunks_missing = read_ranges(r, "chunks_missing", m.chunk_count);
    if (!r.failed() && m.state != FileState::kUploading && !m.chunks_missing.empty())
      r.fail("chunks_missing", Code::kInvalidField, "must be empty unless uploading");
    m.stored_bytes = r.integer("stored_bytes", 0, kIntMax);
    m.updated_at_ms = r.integer("updated_at_ms", 0, kIntMax);
  }
  static void write(Json& out, const FileStatus& m) {
    out["file_id"] = b64(m.file_id);
    out["state"] = file_state_name(m.state);
    out["chunk_count"] = m.chunk_count;
    out["chunks_missing"] = write_ranges(m.chunks_missing);
    out["stored_bytes"] = m.stored_bytes;
    out["updated_at_ms"] = m.updated_at_ms;
  }
};

template <>
struct Codec<ChunkStored> {
  static void read(Reader& r, ChunkStored& m) {
    m.file_id = r.fixed<16>("file_id");
    m.index = static_cast<uint32_t>(r.integer("index", 0, kU32Max));
    m.size_bytes = r.integer("size_bytes", kEnvelopeOverheadBytes, kIntMax);
  }
  static void write(Json& out, const ChunkStored& m) {
    out["file_id"] = b64(m.file_id);
    out["index"] = m.index;
    out["size_bytes"] = m.size_bytes;
  }
};

template <>
struct Codec<FileStatusRequest> {
  static void read(Reader& r, FileStatusRequest& m) {
    // At least one id; the upper bound is the server's file_status_ids_max.
    const Json* ids = r.array("file_ids", 1, SIZE_MAX);
    if (!ids) return;
    const std::string path = r.member_path("file_ids");
    for (size_t i = 0; i < ids->size() && !r.failed(); ++i)
      m.file_ids.push_back(json_detail::fixed_at<16>((*ids)[i], element_path(path, i), r.sink()));
    // Distinct ids is a rule between members: after every element's own checks (ERR-014, ERR-025).
    std::set<FileId> seen;
    for (size_t i = 0; i < m.file_ids.size() && !r.failed(); ++i)
      if (!seen.insert(m.file_ids[i]).second)
        r.fail_path(element_path(path, i), Code::kInvalidField, "repeats an earlier id");
  }
  static void write(Json& out, const FileStatusRequest& m) {
    Json ids = Json::array();
    for (const FileId& id : m.file_ids) ids.push_back(b64(id));
    out["file_ids"] = std::move(ids);
  }
};

template <>
struct Codec<FileStateEntry> {
  static void read(Reader& r, FileStateEntry& m) {
    m.file_id = r.fixed<16>("file_id");
    m.state = read_file_state(r, "state", /*allow_absent=*/true);
  }
  static void write(Json& out, const FileStateEntry& m) {
    out["file_id"] = b64(m.file_id);
    out["state"] = file_state_name(m.state);
  }
};

template <>
struct Codec<FileStatusResponse> {
  static void read(Reader& r, FileStatusResponse& m) {
    m.files = read_objects<FileStateEntry>(r, "files", 0, SIZE_MAX);
  }
  static void write(Json& out, const FileStatusResponse& m) {
    out["files"] = write_objects(m.files);
  }
};

// ---- payload (spec 10.1) ----------------------------------------------------------------------

bool valid_file_name(std::string_view name) {
  if (name == "." || name == "..") return false;
  return name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

template <>
struct Codec<FileRef> {
  static void read(Reader& r, FileRef& m) {
    m.id = r.fixed<16>("id");
    m.name = r.string("name", 1, kFileNameBytesMax);
    if (!r.failed() && !valid_file_name(m.name))
      r.fail("name", Code::kInvalidField, "must not contain / \\ or NUL, nor be . or ..");
    m.size_bytes = r.integer("size_bytes", 0, kIntMax);
    m.chunk_bytes = static_cast<uint32_t>(r.integer("chunk_bytes", kChunkBytesMin, kChunkBytesMax));
    m.chunk_count = static_cast<uint32_t>(r.integer("chunk_count", 1, kU32Max));
    if (!r.failed() && m.chunk_count != chunk_count_for(m.size_bytes, m.chunk_bytes))
      r.fail("chunk_count", Code::kInvalidField, "must be max(1, ceil(size_bytes / chunk_bytes))");
    m.sha256 = r.fixed<32>("sha256");
  }
  static void write(Json& out, const FileRef& m) {
    out["id"] = b64(m.id);
    out["name"] = m.name;
    out["size_bytes"] = m.size_bytes;
    out["chunk_bytes"] = m.chunk_bytes;
    out["chunk_count"] = m.chunk_count;
    out["sha256"] = b64(m.sha256);
  }
};

template <>
struct Codec<ObjectPayload> {
  static void read(Reader& r, ObjectPayload& m) {
    const uint64_t v = r.integer("v", 0, 255);
    if (!r.failed() && v != kPayloadFormatVersion)
      r.fail("v", Code::kUnsupportedFormat,
             "payload format " + std::to_string(v) + " is not supported");
    const std::string type = r.string("type", 1, 16);
    if (!r.failed()) {
      if (type == "put")
        m.type = OpType::kPut;
      else if (type == "delete")
        m.type = OpType::kDelete;
      else
        r.fail("type", Code::kInvalidField, "must be \"put\" or \"delete\"");
    }
    m.key = r.string("key", 1, kObjectKeyBytesMax);
    if (!r.failed() && m.key.find('\0') != std::string::npos)
      r.fail("key", Code::kInvalidField, "must not contain U+0000");
    const std::string bases_path = r.member_path("bases");
    if (const Json* bases = r.array("bases", 0, kBasesMax)) {
      for (size_t i = 0; i < bases->size() && !r.failed(); ++i)
        m.bases.push_back(
            json_detail::fixed_at<16>((*bases)[i], element_path(bases_path, i), r.sink()));
    }
    if (r.failed()) return;
    if (m.type == OpType::kPut) {
      m.value = r.bytes("value", 0, SIZE_MAX);
      m.files = read_objects<FileRef>(r, "files", 0, kFileRefsMax);
    } else if (r.has("value") || r.has("files")) {
      r.fail(r.has("value") ? "value" : "files", Code::kInvalidField,
             "a delete has no value or files");
    }
    // Distinct ids are rules between members: after every member's own checks, in the order of
    // the members (ERR-014, ERR-025).
    std::set<OpId> seen_bases;
    for (size_t i = 0; i < m.bases.size() && !r.failed(); ++i)
      if (!seen_bases.insert(m.bases[i]).second)
        r.fail_path(element_path(bases_path, i), Code::kInvalidField, "repeats an earlier base");
    std::set<FileId> seen_files;
    for (size_t i = 0; i < m.files.size() && !r.failed(); ++i)
      if (!seen_files.insert(m.files[i].id).second)
        r.fail_path(element_path(r.member_path("files"), i) + ".id", Code::kInvalidField,
                    "repeats an earlier file id");
  }
  static void write(Json& out, const ObjectPayload& m) {
    out["v"] = kPayloadFormatVersion;
    out["type"] = m.type == OpType::kPut ? "put" : "delete";
    out["key"] = m.key;
    if (m.type == OpType::kPut) out["value"] = b64(m.value);
    Json bases = Json::array();
    for (const OpId& id : m.bases) bases.push_back(b64(id));
    out["bases"] = std::move(bases);
    if (m.type == OpType::kPut) out["files"] = write_objects(m.files);
  }
};

template <typename M>
Result<M> parse_with_codec(std::string_view text, bool strict) {
  Result<Json> parsed = json_detail::parse_strict(text);
  if (!parsed.ok()) return parsed.error();
  ErrorSink sink;
  Reader reader(*parsed, "", strict, sink);
  M message;
  if (!reader.failed()) Codec<M>::read(reader, message);
  reader.finish();
  if (sink.error) return *sink.error;
  return message;
}

template <typename M>
std::string serialize_with_codec(const M& message) {
  Json out = Json::object();
  Codec<M>::write(out, message);
  // Strings from parsed messages are valid UTF-8 already; for the rest, replacing invalid bytes
  // keeps serialization from throwing. Callers that build messages from local input (a client's
  // object keys) check is_valid_utf8 first, so nothing is silently altered.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string_view scope_name(Scope scope) {
  switch (scope) {
    case Scope::kRead:
      return "read";
    case Scope::kReadWrite:
      return "read_write";
    case Scope::kOwner:
      return "owner";
  }
  return "read";
}

std::optional<Scope> scope_from_name(std::string_view name) {
  for (Scope s : {Scope::kRead, Scope::kReadWrite, Scope::kOwner})
    if (scope_name(s) == name) return s;
  return std::nullopt;
}

bool InfoResponse::has_capability(std::string_view name) const {
  return std::find(capabilities.begin(), capabilities.end(), name) != capabilities.end();
}

ErrorBody ErrorBody::from_error(const Error& error) {
  ErrorBody body;
  body.code = error.code;
  body.code_name = std::string(::opsync::code_name(error.code));
  body.message = error.message;
  body.field = error.field;
  body.details = error.details;
  return body;
}

// Rules between members that a response must keep (spec LOG-028, LOG-033, AUTH-024, KEY-006,
// INF-005, ERR-010). A response breaking them is a protocol error for the client (TRN-023), or
// a page gap (SYNC-007). Requests have none beyond what their codecs check.
template <typename M>
Status check_between_members(const M&) {
  return {};
}

Error inconsistent(std::string field, std::string message) {
  return Error(Code::kProtocolError, std::move(field), std::move(message));
}

template <>
Status check_between_members(const InfoResponse& m) {
  for (size_t i = 1; i < m.versions.size(); ++i)
    if (m.versions[i] <= m.versions[i - 1])
      return inconsistent("versions[" + std::to_string(i) + "]",
                          "versions are ascending without repeats");
  return {};
}

template <>
Status check_between_members(const ErrorBody& m) {
  // A known code comes with the details members the table gives it (ERR-010).
  if (!m.code) return {};
  const ErrorDetails& d = m.details;
  const auto require = [](bool present, const char* member) -> Status {
    if (present) return {};
    return inconsistent(std::string("error.details.") + member, "this code comes with this member");
  };
  switch (*m.code) {
    case Code::kChunkIndexOutOfRange:
    case Code::kFileChunkCountMismatch:
      if (d.chunk_count && *d.chunk_count == 0)
        return inconsistent("error.details.chunk_count", "at least 1");
      return require(d.chunk_count.has_value(), "chunk_count");
    case Code::kVersionConflict:
      return require(d.current_version.has_value(), "current_version");
    case Code::kAfterSeqBeyondHead:
      return require(d.head_seq.has_value(), "head_seq");
    case Code::kFileIncomplete:
      if (d.chunks_missing && d.chunks_missing->empty())
        return inconsistent("error.details.chunks_missing", "at least one range");
      return require(d.chunks_missing.has_value(), "chunks_missing");
    case Code::kBodyTooLarge:
      return require(d.limit_bytes.has_value(), "limit_bytes");
    case Code::kTooManyOps:
    case Code::kTooManyIds:
      return require(d.limit.has_value(), "limit");
    default:
      return {};
  }
}

template <>
Status check_between_members(const TokenListResponse& m) {
  for (size_t i = 1; i < m.tokens.size(); ++i)
    if (!(m.tokens[i - 1].token_id < m.tokens[i].token_id))
      return inconsistent("tokens[" + std::to_string(i) + "].token_id",
                          "tokens are in ascending byte order of token_id");
  if (m.next_after && (m.tokens.empty() || *m.next_after != m.tokens.back().token_id))
    return inconsistent("next_after", "the cursor is the last token listed");
  return {};
}

template <>
Status check_between_members(const KeyListResponse& m) {
  for (size_t i = 1; i < m.keys.size(); ++i)
    if (m.keys[i].key_id <= m.keys[i - 1].key_id)
      return inconsistent("keys[" + std::to_string(i) + "].key_id",
                          "key records are in ascending key id order");
  if (m.next_after && (m.keys.empty() || *m.next_after != m.keys.back().key_id))
    return inconsistent("next_after", "the cursor is the last key id listed");
  return {};
}

template <>
Status check_between_members(const UploadOpsResponse& m) {
  for (size_t i = 0; i < m.results.size(); ++i)
    if (m.results[i].status != OpStatus::kRejected && m.results[i].seq > m.head_seq)
      return inconsistent("results[" + std::to_string(i) + "].seq", "a seq is within head_seq");
  return {};
}

template <>
Status check_between_members(const OpsPageResponse& m) {
  if (m.after_seq > m.head_seq) return inconsistent("after_seq", "the page starts within the log");
  for (size_t i = 0; i < m.ops.size(); ++i) {
    const std::string field = "ops[" + std::to_string(i) + "].seq";
    if (m.ops[i].seq != m.after_seq + 1 + i)  // SYNC-007
      return Error(Code::kPageGap, field,
                   "expected seq " + std::to_string(m.after_seq + 1 + i) + ", got " +
                       std::to_string(m.ops[i].seq));
    if (m.ops[i].seq > m.head_seq) return inconsistent(field, "a seq is within head_seq");
  }
  const uint64_t end = m.after_seq + m.ops.size();
  if (m.ops.empty() && m.after_seq != m.head_seq)
    return inconsistent("ops", "a page before the log's end holds at least one operation");
  if (m.next_after_seq && *m.next_after_seq != end)
    return inconsistent("next_after_seq", "the cursor is the seq of the page's last operation");
  if (m.next_after_seq.has_value() != (end < m.head_seq))
    return inconsistent("next_after_seq",
                        "the cursor is null exactly when the page ends at head_seq");
  return {};
}

template <>
Status check_between_members(const BlocksResponse& m) {
  if (m.block_count != m.head_seq / m.block_size)
    return inconsistent("block_count", "block_count is floor(head_seq / block_size)");
  for (size_t i = 0; i < m.blocks.size(); ++i) {
    const std::string field = "blocks[" + std::to_string(i) + "].index";
    if (i > 0 && m.blocks[i].index != m.blocks[0].index + i)
      return inconsistent(field, "indexes are consecutive");
    if (m.blocks[i].index >= m.block_count)
      return inconsistent(field, "only complete blocks are listed");
  }
  if (m.blocks.empty()) {
    if (m.next_start) return inconsistent("next_start", "an empty list has no next page");
    return {};
  }
  const uint64_t next = m.blocks.back().index + 1;
  if (m.next_start && *m.next_start != next)
    return inconsistent("next_start", "the cursor is the index after the last one listed");
  if (m.next_start.has_value() != (next < m.block_count))
    return inconsistent("next_start",
                        "the cursor is null exactly when the last complete block is listed");
  return {};
}

// Messages read by the hundred thousand have a decoder that builds no DOM. It returns a message
// only where the codec would return the same one, and declines everything else (fast_json.h).
template <typename M>
std::optional<M> decode_fast(std::string_view) {
  return std::nullopt;
}

template <>
std::optional<OpsPageResponse> decode_fast(std::string_view json_text) {
  return fast_json::ops_page(json_text);
}

template <typename M>
Result<M> parse_message(std::string_view json_text) {
  std::optional<M> message = decode_fast<M>(json_text);
  if (!message) {
    Result<M> parsed = parse_with_codec<M>(json_text, M::kIsRequest);
    if (!parsed.ok()) return parsed.error();
    message = std::move(parsed).value();
  }
  if (Status consistent = check_between_members(*message); !consistent.ok())
    return consistent.error();
  return std::move(*message);
}

template <typename M>
std::string serialize_message(const M& message) {
  return serialize_with_codec(message);
}

#define OPSYNC_MESSAGE(M)                                          \
  template Result<M> parse_message<M>(std::string_view json_text); \
  template std::string serialize_message<M>(const M& message);

OPSYNC_MESSAGE(InfoResponse)
OPSYNC_MESSAGE(ErrorBody)
OPSYNC_MESSAGE(CreateWorkspaceRequest)
OPSYNC_MESSAGE(CreateWorkspaceResponse)
OPSYNC_MESSAGE(DeleteWorkspaceResponse)
OPSYNC_MESSAGE(CreateTokenRequest)
OPSYNC_MESSAGE(TokenIssued)
OPSYNC_MESSAGE(TokenEntry)
OPSYNC_MESSAGE(TokenListResponse)
OPSYNC_MESSAGE(RevokeTokenResponse)
OPSYNC_MESSAGE(KeyRecord)
OPSYNC_MESSAGE(PutKeyRequest)
OPSYNC_MESSAGE(KeyListResponse)
OPSYNC_MESSAGE(UploadOpsRequest)
OPSYNC_MESSAGE(UploadOpsResponse)
OPSYNC_MESSAGE(OpsPageResponse)
OPSYNC_MESSAGE(BlocksResponse)
OPSYNC_MESSAGE(CreateFileRequest)
OPSYNC_MESSAGE(CommitFileRequest)
OPSYNC_MESSAGE(FileStatus)
OPSYNC_MESSAGE(ChunkStored)
OPSYNC_MESSAGE(FileStatusRequest)
OPSYNC_MESSAGE(FileStatusResponse)
#undef OPSYNC_MESSAGE

Result<OpsPageResponse> fast_json::ops_page_generic(std::string_view text) {
  return parse_with_codec<OpsPageResponse>(text, OpsPageResponse::kIsRequest);
}

Result<ObjectPayload> fast_json::payload_generic(std::string_view text) {
  return parse_with_codec<ObjectPayload>(text, /*strict=*/true);
}

Result<ObjectPayload> parse_payload(ByteView plaintext) {
  const std::string_view text(reinterpret_cast<const char*>(plaintext.data()), plaintext.size());
  if (std::optional<ObjectPayload> fast = fast_json::payload(text)) return std::move(*fast);
  return parse_with_codec<ObjectPayload>(text, /*strict=*/true);
}

Bytes serialize_payload(const ObjectPayload& payload) {
  return to_bytes(serialize_with_codec(payload));
}

std::string serialize_error(const Error& error) {
  return serialize_message(ErrorBody::from_error(error));
}

namespace {

template <typename M>
Status check_as(std::string_view text) {
  Result<M> parsed = parse_message<M>(text);
  if (!parsed.ok()) return parsed.error();
  return {};
}

struct MessageType {
  std::string_view name;
  Status (*check)(std::string_view);
};

Status check_payload_text(std::string_view text) {
  Result<ObjectPayload> parsed =
      parse_payload(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  if (!parsed.ok()) return parsed.error();
  return {};
}

constexpr std::array kMessageTypes = {
    MessageType{"InfoResponse", &check_as<InfoResponse>},
    MessageType{"ErrorBody", &check_as<ErrorBody>},
    MessageType{"CreateWorkspaceRequest", &check_as<CreateWorkspaceRequest>},
    MessageType{"CreateWorkspaceResponse", &check_as<CreateWorkspaceResponse>},
    MessageType{"DeleteWorkspaceResponse", &check_as<DeleteWorkspaceResponse>},
    MessageType{"CreateTokenRequest", &check_as<CreateTokenRequest>},
    MessageType{"TokenIssued", &check_as<TokenIssued>},
    MessageType{"TokenEntry", &check_as<TokenEntry>},
    MessageType{"TokenListResponse", &check_as<TokenListResponse>},
    MessageType{"RevokeTokenResponse", &check_as<RevokeTokenResponse>},
    MessageType{"KeyRecord", &check_as<KeyRecord>},
    MessageType{"PutKeyRequest", &check_as<PutKeyRequest>},
    MessageType{"KeyListResponse", &check_as<KeyListResponse>},
    MessageType{"UploadOpsRequest", &check_as<UploadOpsRequest>},
    MessageType{"UploadOpsResponse", &check_as<UploadOpsResponse>},
    MessageType{"OpsPageResponse", &check_as<OpsPageResponse>},
    MessageType{"BlocksResponse", &check_as<BlocksResponse>},
    MessageType{"CreateFileRequest", &check_as<CreateFileRequest>},
    MessageType{"CommitFileRequest", &check_as<CommitFileRequest>},
    MessageType{"FileStatus", &check_as<FileStatus>},
    MessageType{"ChunkStored", &check_as<ChunkStored>},
    MessageType{"FileStatusRequest", &check_as<FileStatusRequest>},
    MessageType{"FileStatusResponse", &check_as<FileStatusResponse>},
    MessageType{"Payload", &check_payload_text},
};

constexpr auto kMessageTypeNames = [] {
  std::array<std::string_view, kMessageTypes.size()> names{};
  for (size_t i = 0; i < kMessageTypes.size(); ++i) names[i] = kMessageTypes[i].name;
  return names;
}();

}  // namespace

std::span<const std::string_view> message_type_names() { return kMessageTypeNames; }

Status check_message(std::string_view type_name, std::string_view json_text) {
  for (const MessageType& type : kMessageTypes)
    if (type.name == type_name) return type.check(json_text);
  return Error(Code::kInvalidField, "type", "unknown message type " + std::string(type_name));
}

}  // namespace opsync
