// Operations: the wire form, its canonical encoding and its hash (spec section 6).
#pragma once

#include <compare>
#include <cstdint>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/result.h"

namespace opsync {

// A hybrid logical clock timestamp (spec section 8), ordered by wall_ms then counter.
struct Hlc {
  uint64_t wall_ms = 0;  // below 2^48
  uint32_t counter = 0;

  auto operator<=>(const Hlc&) const = default;
  bool operator==(const Hlc&) const = default;
};

// The encrypted wire form that devices create and servers store (spec 6.1).
struct WireOp {
  uint8_t v = 1;
  OpId id;
  DeviceId device_id;
  Hlc hlc;
  uint32_t key_id = 1;
  Bytes payload;  // nonce || ciphertext || tag

  bool operator==(const WireOp&) const = default;
};

// An operation at its position in a server's log.
struct SequencedOp {
  uint64_t seq = 0;
  WireOp op;

  bool operator==(const SequencedOp&) const = default;
};

// Checks the ranges of OP-001, naming the offending member under `path` (e.g. "ops[3]").
Status validate_op(const WireOp& op, uint64_t op_payload_bytes_max, std::string_view path = "");

// op_header (49 bytes) and op_encoding (spec 6.2). REQUIRES: validate_op(op) succeeded, except for
// the payload length bound, which the encoding does not depend on.
void append_op_header(Bytes& out, const WireOp& op);
Bytes encode_op(const WireOp& op);

// Strict decoder of op_encoding (OP-011): rejects truncation, trailing bytes, an unknown version
// and out-of-range fields. The payload length is not bounded here beyond the envelope minimum.
Result<WireOp> decode_op(ByteView encoding);

// SHA-256 of op_encoding (spec 6.3), computed without materializing the encoding.
Hash op_hash(const WireOp& op);

class Sha256;
// The same, reusing a caller's hasher (hot loops).
Hash op_hash(const WireOp& op, Sha256& hasher);

}  // namespace opsync
