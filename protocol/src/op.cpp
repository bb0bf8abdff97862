#include "opsync/protocol/op.h"

#include <string>

#include "opsync/protocol/limits.h"
#include "opsync/protocol/sha256.h"

namespace opsync {
namespace {

std::string member(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  return std::string(path) + "." + std::string(name);
}

// The fixed-width header, written into a stack buffer so hashing allocates nothing.
void write_header(uint8_t* out, const WireOp& op) {
  out[0] = op.v;
  std::copy(op.id.bytes.begin(), op.id.bytes.end(), out + 1);
  std::copy(op.device_id.bytes.begin(), op.device_id.bytes.end(), out + 17);
  for (int i = 0; i < 8; ++i) out[33 + i] = static_cast<uint8_t>(op.hlc.wall_ms >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) out[41 + i] = static_cast<uint8_t>(op.hlc.counter >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) out[45 + i] = static_cast<uint8_t>(op.key_id >> (24 - 8 * i));
}

}  // namespace

Status validate_op(const WireOp& op, uint64_t op_payload_bytes_max, std::string_view path) {
  if (op.v != kOpFormatVersion)
    return Error(Code::kInvalidField, member(path, "v"), "operation format must be 1");
  if (op.hlc.wall_ms >= kHlcWallMsLimit)
    return Error(Code::kInvalidField, member(path, "hlc.wall_ms"), "must be below 2^48");
  if (op.key_id == 0)
    return Error(Code::kInvalidField, member(path, "key_id"), "must be at least 1");
  if (op.payload.size() < kEnvelopeOverheadBytes)
    return Error(Code::kInvalidField, member(path, "payload"),
                 "must be at least 28 bytes (nonce and tag)");
  if (op.payload.size() > op_payload_bytes_max)
    return Error(Code::kInvalidField, member(path, "payload"),
                 "exceeds op_payload_bytes_max of " + std::to_string(op_payload_bytes_max));
  return {};
}

void append_op_header(Bytes& out, const WireOp& op) {
  uint8_t header[kOpHeaderBytes];
  write_header(header, op);
  out.insert(out.end(), header, header + kOpHeaderBytes);
}

Bytes encode_op(const WireOp& op) {
  OPSYNC_CHECK(op.payload.size() <= UINT32_MAX);
  Bytes out;
  out.reserve(kOpEncodingOverheadBytes + op.payload.size());
  append_op_header(out, op);
  append_u32(out, static_cast<uint32_t>(op.payload.size()));
  append_bytes(out, op.payload);
  return out;
}

Result<WireOp> decode_op(ByteView encoding) {
  if (encoding.size() < kOpEncodingOverheadBytes)
    return Error(Code::kTruncated, "shorter than the 53-byte fixed part");
  const uint8_t* p = encoding.data();
  WireOp op;
  op.v = p[0];
  if (op.v != kOpFormatVersion)
    return Error(Code::kUnsupportedFormat, "v", "version byte is not 1");
  std::copy(p + 1, p + 17, op.id.bytes.begin());
  std::copy(p + 17, p + 33, op.device_id.bytes.begin());
  op.hlc.wall_ms = read_u64(p + 33);
  op.hlc.counter = read_u32(p + 41);
  op.key_id = read_u32(p + 45);
  const uint64_t payload_length = read_u32(p + 49);
  const uint64_t available = encoding.size() - kOpEncodingOverheadBytes;
  if (payload_length > available) return Error(Code::kTruncated, "payload is cut short");
  if (payload_length < available) return Error(Code::kTruncated, "bytes after the payload");
  op.payload.assign(p + kOpEncodingOverheadBytes, p + encoding.size());
  // Out-of-range fields are invalid encodings too (OP-011); the payload upper bound is a server
  // limit, not part of the encoding.
  if (Status s = validate_op(op, UINT32_MAX); !s.ok()) return s.error();
  return op;
}

Hash op_hash(const WireOp& op, Sha256& hasher) {
  OPSYNC_CHECK(op.payload.size() <= UINT32_MAX);
  uint8_t fixed[kOpEncodingOverheadBytes];
  write_header(fixed, op);
  const uint32_t length = static_cast<uint32_t>(op.payload.size());
  for (int i = 0; i < 4; ++i)
    fixed[kOpHeaderBytes + i] = static_cast<uint8_t>(length >> (24 - 8 * i));
  hasher.update(fixed, sizeof fixed);
  hasher.update(op.payload);
  return hasher.finish();
}

Hash op_hash(const WireOp& op) {
  thread_local Sha256 hasher;
  return op_hash(op, hasher);
}

}  // namespace opsync
