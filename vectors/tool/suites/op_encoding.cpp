// op_encoding.json: the canonical encoding of an operation (spec 6.2), its hash (6.3) and the
// strict decoder (OP-011).
#include "opsync/protocol/op.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "op_encoding";
constexpr std::string_view kAlgorithm = "OpEncoding";
constexpr uint64_t kSeed = 0x0e0c0d1;

constexpr uint64_t kTypicalWallMs = 1764000000000;

WireOp make_op(SeededRandom& random, size_t payload_bytes) {
  WireOp op;
  op.id = random.id();
  op.device_id = random.id();
  op.hlc = Hlc{kTypicalWallMs, 0};
  op.key_id = 1;
  op.payload = random.bytes(payload_bytes);
  return op;
}

template <size_t N>
FixedBytes<N> filled(uint8_t byte) {
  FixedBytes<N> out;
  out.bytes.fill(byte);
  return out;
}

template <size_t N>
FixedBytes<N> counting_from(uint8_t first) {
  FixedBytes<N> out;
  for (size_t i = 0; i < N; ++i) out.bytes[i] = static_cast<uint8_t>(first + i);
  return out;
}

void add_encoding(TestGroup& group, std::string id, std::string comment,
                  std::vector<std::string> flags, const WireOp& op) {
  const Bytes encoding = encode_op(op);
  Result<WireOp> decoded = decode_op(encoding);
  require(decoded.ok() && *decoded == op, id + ": the encoding does not decode to the operation");
  group.add(
      TestCase{std::move(id), std::move(comment), std::move(flags), true,
               Json{{"op", op_json(op)}, {"encoding", hex(encoding)}, {"hash", hex(op_hash(op))}}});
}

void add_rejected(TestGroup& group, std::string id, std::string comment,
                  std::vector<std::string> flags, const Bytes& encoding) {
  Result<WireOp> decoded = decode_op(encoding);
  require(!decoded.ok(), id + ": decode_op accepted the encoding");
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), false,
                     Json{{"encoding", hex(encoding)},
                          {"errorCode", code_name(decoded.error().code)},
                          {"errorField", decoded.error().field}}});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"Operations: the canonical encoding of spec 6.2 and the operation hash of spec 6.3.",
       "op_encoding = u8(v) || id (16) || device_id (16) || u64(hlc.wall_ms) || "
       "u32(hlc.counter) || u32(key_id) || u32(len(payload)) || payload, big-endian.",
       "op_hash = SHA-256(op_encoding).",
       "Binary values (ids, payloads, encodings, hashes) are lowercase hex.",
       "Valid cases: encode op and compare with encoding and hash; decoding encoding must give "
       "op back.",
       "Invalid cases: a decoder of op_encoding must reject the bytes (OP-011). errorCode and "
       "errorField are what the reference library reports (truncated and unsupported_format are "
       "local codes, never sent on the wire); an implementation must reject the input and "
       "should report an equivalent error.",
       "Payloads here are opaque bytes, not real envelopes: the encoding does not look inside."});
  file.note("Canonical", "BASIC", "An ordinary operation in its canonical encoding.");
  file.note("BigEndian", "EDGE_CASE",
            "Field values whose bytes all differ, so that a little-endian or wrongly sized field "
            "gives a different encoding.");
  file.note("Boundary", "EDGE_CASE", "Fields at the smallest or largest value OP-001 allows.");
  file.note("FieldOrder", "EDGE_CASE",
            "Two operations that differ only in which id is in which field must differ in "
            "encoding and hash.");
  file.note("Truncated", "MODIFIED_PARAMETER",
            "The input ends before the fixed 53-byte part or before the payload length it "
            "declares.");
  file.note("TrailingBytes", "MALLEABILITY",
            "Bytes after the payload: accepting them would give one operation many encodings.");
  file.note(
      "UnknownVersion", "MODIFIED_PARAMETER",
      "A version byte other than 1 (OP-011; a client stops and asks for an upgrade, VER-006).");
  file.note("OutOfRange", "MODIFIED_PARAMETER",
            "A field outside the range of OP-001: hlc.wall_ms of 2^48 or more, or key_id 0.");
  file.note("ShortPayload", "MODIFIED_PARAMETER",
            "A payload shorter than the 28 bytes of an envelope's nonce and tag.");

  SeededRandom random(kSeed);
  TestGroup& encodings = file.group(Json{{"type", "OpEncodingTest"}});
  const WireOp typical = make_op(random, 120);
  add_encoding(encodings, "op-encoding/typical", "A 120-byte payload, counter 0, key id 1.",
               {"Canonical"}, typical);
  add_encoding(encodings, "op-encoding/minimal-payload",
               "A 28-byte payload: the envelope of an empty plaintext (nonce and tag only).",
               {"Canonical", "Boundary"}, make_op(random, 28));
  WireOp next_counter = typical;
  next_counter.hlc.counter = 1;
  add_encoding(encodings, "op-encoding/counter-1",
               "op-encoding/typical with hlc.counter 1: one field changes the hash.", {"Canonical"},
               next_counter);
  WireOp second_key = typical;
  second_key.key_id = 2;
  add_encoding(encodings, "op-encoding/key-id-2", "op-encoding/typical under key id 2.",
               {"Canonical"}, second_key);
  WireOp swapped = typical;
  std::swap(swapped.id, swapped.device_id);
  add_encoding(encodings, "op-encoding/id-and-device-id-swapped",
               "op-encoding/typical with id and device_id exchanged.", {"FieldOrder"}, swapped);
  WireOp distinct_bytes;
  distinct_bytes.id = counting_from<16>(0x00);
  distinct_bytes.device_id = counting_from<16>(0x10);
  distinct_bytes.hlc = Hlc{0x0000a1a2a3a4a5a6, 0xb1b2b3b4};
  distinct_bytes.key_id = 0xc1c2c3c4;
  distinct_bytes.payload = random.bytes(28);
  add_encoding(encodings, "op-encoding/distinct-field-bytes",
               "wall_ms 0xa1a2a3a4a5a6, counter 0xb1b2b3b4, key_id 0xc1c2c3c4, ids 00..0f and "
               "10..1f: every byte shows where it belongs.",
               {"BigEndian"}, distinct_bytes);
  WireOp smallest;
  smallest.hlc = Hlc{0, 0};
  smallest.key_id = 1;
  smallest.payload = Bytes(28, 0);
  add_encoding(encodings, "op-encoding/smallest-fields",
               "All-zero ids, wall_ms 0, counter 0, key id 1, 28 zero payload bytes.", {"Boundary"},
               smallest);
  WireOp largest;
  largest.id = filled<16>(0xff);
  largest.device_id = filled<16>(0xff);
  largest.hlc = Hlc{kHlcWallMsLimit - 1, 0xFFFFFFFFu};
  largest.key_id = 0xFFFFFFFFu;
  largest.payload = Bytes(28, 0xff);
  add_encoding(encodings, "op-encoding/largest-fields",
               "All-ones ids, wall_ms 2^48 - 1, counter and key id 2^32 - 1.", {"Boundary"},
               largest);
  add_encoding(encodings, "op-encoding/payload-length-256",
               "A 256-byte payload: the length prefix is 00000100.", {"BigEndian"},
               make_op(random, 256));
  add_encoding(encodings, "op-encoding/payload-length-300",
               "A 300-byte payload: the length prefix is 0000012c.", {"BigEndian"},
               make_op(random, 300));

  TestGroup& rejections = file.group(Json{{"type", "OpDecodingTest"}});
  const Bytes good = encode_op(typical);
  auto prefix = [&](size_t length) { return Bytes(good.begin(), good.begin() + length); };
  add_rejected(rejections, "op-encoding/empty-input", "No bytes at all.", {"Truncated"}, {});
  add_rejected(rejections, "op-encoding/truncated-header",
               "The first 30 bytes of op-encoding/typical: the header stops inside device_id.",
               {"Truncated"}, prefix(30));
  add_rejected(rejections, "op-encoding/truncated-length-prefix",
               "52 bytes: one byte short of the header and length prefix.", {"Truncated"},
               prefix(52));
  add_rejected(rejections, "op-encoding/no-payload-bytes",
               "The 53-byte fixed part of op-encoding/typical without any of its 120 payload "
               "bytes.",
               {"Truncated"}, prefix(53));
  add_rejected(rejections, "op-encoding/truncated-payload",
               "op-encoding/typical without its last byte.", {"Truncated"},
               prefix(good.size() - 1));
  Bytes huge_length = prefix(49);
  append_u32(huge_length, 0xFFFFFFFFu);
  append_bytes(huge_length, Bytes(28, 0x55));
  add_rejected(rejections, "op-encoding/length-prefix-beyond-input",
               "The length prefix says 2^32 - 1 bytes; 28 follow.", {"Truncated"}, huge_length);
  Bytes one_trailing = good;
  one_trailing.push_back(0x00);
  add_rejected(rejections, "op-encoding/one-trailing-byte",
               "op-encoding/typical followed by one zero byte.", {"TrailingBytes"}, one_trailing);
  Bytes zero_length = prefix(49);
  append_u32(zero_length, 0);
  append_bytes(zero_length, typical.payload);
  add_rejected(rejections, "op-encoding/length-prefix-zero-with-payload-after",
               "The length prefix says 0 bytes, but the 120 payload bytes follow it.",
               {"TrailingBytes"}, zero_length);
  Bytes two_ops = good;
  append_bytes(two_ops, encode_op(next_counter));
  add_rejected(rejections, "op-encoding/two-operations-concatenated",
               "Two complete encodings back to back are not one encoding.", {"TrailingBytes"},
               two_ops);
  for (uint8_t version : {uint8_t{0}, uint8_t{2}, uint8_t{255}}) {
    Bytes other_version = good;
    other_version[0] = version;
    add_rejected(rejections, "op-encoding/version-byte-" + std::to_string(version),
                 "op-encoding/typical with version byte " + std::to_string(version) + ".",
                 {"UnknownVersion"}, other_version);
  }
  WireOp too_late = typical;
  too_late.hlc.wall_ms = kHlcWallMsLimit;
  add_rejected(rejections, "op-encoding/wall-ms-2-pow-48",
               "hlc.wall_ms = 2^48, one past the largest valid value.", {"OutOfRange"},
               encode_op(too_late));
  too_late.hlc.wall_ms = UINT64_MAX;
  add_rejected(rejections, "op-encoding/wall-ms-all-ones", "hlc.wall_ms = 2^64 - 1.",
               {"OutOfRange"}, encode_op(too_late));
  WireOp key_zero = typical;
  key_zero.key_id = 0;
  add_rejected(rejections, "op-encoding/key-id-0", "key_id 0; key ids start at 1.", {"OutOfRange"},
               encode_op(key_zero));
  WireOp short_payload = typical;
  short_payload.payload.resize(27);
  add_rejected(rejections, "op-encoding/payload-27-bytes",
               "A 27-byte payload, one short of an envelope's nonce and tag.", {"ShortPayload"},
               encode_op(short_payload));
  short_payload.payload.clear();
  add_rejected(rejections, "op-encoding/payload-empty", "An empty payload (length prefix 0).",
               {"ShortPayload"}, encode_op(short_payload));
  return file.finish();
}

void check_encoding(const Json&, const Json& test, Findings& findings) {
  if (!read_expects_valid(test)) throw MalformedVector("OpEncodingTest cases are all valid");
  const WireOp op = read_op(test, "op");
  const Bytes encoding = read_hex(test, "encoding");
  findings.expect_equal("encoding", encoding, encode_op(op));
  findings.expect_equal("hash", read_fixed<32>(test, "hash"), op_hash(op));
  Result<WireOp> decoded = decode_op(encoding);
  if (!decoded.ok())
    findings.add("decoding the encoding failed: " + decoded.error().to_string());
  else if (!(*decoded == op))
    findings.add("decoding the encoding did not give the operation back");
}

void check_decoding(const Json&, const Json& test, Findings& findings) {
  if (read_expects_valid(test)) throw MalformedVector("OpDecodingTest cases are all invalid");
  findings.expect_error(test, decode_op(read_hex(test, "encoding")));
}

}  // namespace

Suite op_encoding_suite() {
  return Suite{kName,
               kAlgorithm,
               &generate,
               {{"OpEncodingTest", &check_encoding}, {"OpDecodingTest", &check_decoding}}};
}

}  // namespace opsync::vectors
