#include <openssl/evp.h>
#include <rapidcheck/boost_test.h>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "opsync/protocol/limits.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/sha256.h"
#include "property_support.h"
#include "test_support.h"

using namespace opsync;
using testing::unhex;

namespace {

// SHA-256 straight from OpenSSL, so the hash checks do not rest on the library's own hasher.
Hash openssl_sha256(ByteView data) {
  Hash out;
  unsigned int length = 0;
  BOOST_REQUIRE(EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha256(), nullptr) ==
                1);
  BOOST_REQUIRE(length == Hash::kSize);
  return out;
}

Bytes byte_range(uint8_t first, size_t count) {
  Bytes out(count);
  for (size_t i = 0; i < count; ++i) out[i] = static_cast<uint8_t>(first + i);
  return out;
}

// The operation of the known-answer test: every field distinct, so a field in the wrong place or
// of the wrong width shows.
WireOp known_answer_op() {
  WireOp op;
  op.v = 1;
  std::copy_n(byte_range(0x00, 16).begin(), 16, op.id.bytes.begin());
  std::copy_n(byte_range(0xf0, 16).begin(), 16, op.device_id.bytes.begin());
  op.hlc = Hlc{1764000000123, 0x01020304};
  op.key_id = 0x0a0b0c0d;
  op.payload = byte_range(0xa0, 30);
  return op;
}

// ---- encoders, decoders and hashers the properties run against ----------------------------------

Result<WireOp> decode_real(ByteView encoding) { return decode_op(encoding); }

// Writes hlc.counter where key_id belongs and key_id where hlc.counter belongs.
Bytes encode_with_counter_and_key_id_swapped(WireOp op) {
  std::swap(op.hlc.counter, op.key_id);
  return encode_op(op);
}

// Takes what the length prefix announces and ignores whatever follows it.
Result<WireOp> decode_ignoring_trailing_bytes(ByteView encoding) {
  if (encoding.size() >= kOpEncodingOverheadBytes) {
    const size_t declared = kOpEncodingOverheadBytes + read_u32(encoding.data() + kOpHeaderBytes);
    if (encoding.size() > declared) encoding = encoding.first(declared);
  }
  return decode_op(encoding);
}

// Hashes the header and the payload, leaving out the length prefix.
Hash hash_without_length_prefix(const WireOp& op) {
  Bytes bytes;
  append_op_header(bytes, op);
  append_bytes(bytes, op.payload);
  return openssl_sha256(bytes);
}

// Dataans' way: the fields run together as text, integers in decimal, with no widths and no
// lengths, so "12" + "3" and "1" + "23" are the same bytes.
Bytes encode_as_concatenated_text(const WireOp& op) {
  Bytes out;
  append_ascii(out, std::to_string(op.v));
  append_bytes(out, op.id.view());
  append_bytes(out, op.device_id.view());
  append_ascii(out, std::to_string(op.hlc.wall_ms));
  append_ascii(out, std::to_string(op.hlc.counter));
  append_ascii(out, std::to_string(op.key_id));
  append_bytes(out, op.payload);
  return out;
}

// Leaves the device id out of the encoding.
Bytes encode_without_device_id(WireOp op) {
  op.device_id = DeviceId{};
  return encode_op(op);
}

// Accepts wall_ms equal to 2^48, one past the limit.
Status validate_with_inclusive_wall_limit(const WireOp& op, uint64_t payload_max,
                                          std::string_view path) {
  if (op.hlc.wall_ms == kHlcWallMsLimit) {
    WireOp in_range = op;
    in_range.hlc.wall_ms = kHlcWallMsLimit - 1;
    return validate_op(in_range, payload_max, path);
  }
  return validate_op(op, payload_max, path);
}

// ---- generators ---------------------------------------------------------------------------------

// Number of decimal digits of `value`.
size_t decimal_digits(uint64_t value) { return std::to_string(value).size(); }

uint64_t power_of_ten(size_t exponent) {
  uint64_t out = 1;
  while (exponent-- > 0) out *= 10;
  return out;
}

// A valid operation whose integer fields have at least two decimal digits and leave room for one
// more, so that a digit can move across any boundary between them.
rc::Gen<WireOp> gen_op_with_room_to_shift() {
  return rc::gen::build<WireOp>(
      rc::gen::set(&WireOp::id), rc::gen::set(&WireOp::device_id),
      rc::gen::set(&WireOp::hlc,
                   rc::gen::build<Hlc>(
                       rc::gen::set(&Hlc::wall_ms, rc::gen::inRange<uint64_t>(10, kHlcWallMsLimit)),
                       rc::gen::set(&Hlc::counter, rc::gen::inRange<uint32_t>(10, 100000000)))),
      rc::gen::set(&WireOp::key_id, rc::gen::inRange<uint32_t>(10, 100000000)),
      rc::gen::set(&WireOp::payload, testing::gen_payload()));
}

// The operation with, in turn, the last decimal digit of one field moved to the front of the next:
// where the boundary between adjacent fields falls is all that differs (spec 15 item 10). Only the
// shifts that keep every field in range are made.
std::vector<WireOp> boundary_shifts_of(const WireOp& op) {
  std::vector<WireOp> out;
  const auto prepend_digit = [](uint64_t digit, uint64_t value) {
    return digit * power_of_ten(decimal_digits(value)) + value;
  };
  if (op.hlc.wall_ms >= 10 && prepend_digit(op.hlc.wall_ms % 10, op.hlc.counter) <= UINT32_MAX) {
    WireOp shifted = op;  // wall_ms | counter
    shifted.hlc.wall_ms = op.hlc.wall_ms / 10;
    shifted.hlc.counter = static_cast<uint32_t>(prepend_digit(op.hlc.wall_ms % 10, op.hlc.counter));
    out.push_back(shifted);
  }
  if (op.hlc.counter >= 10 && prepend_digit(op.hlc.counter % 10, op.key_id) <= UINT32_MAX) {
    WireOp shifted = op;  // counter | key_id
    shifted.hlc.counter = op.hlc.counter / 10;
    shifted.key_id = static_cast<uint32_t>(prepend_digit(op.hlc.counter % 10, op.key_id));
    out.push_back(shifted);
  }
  if (op.key_id >= 10) {
    WireOp shifted = op;  // key_id | payload
    shifted.key_id = op.key_id / 10;
    shifted.payload.insert(shifted.payload.begin(), static_cast<uint8_t>('0' + op.key_id % 10));
    out.push_back(shifted);
  }
  return out;
}

// The operation with, in turn, each field changed to another valid value.
std::vector<WireOp> one_field_changes_of(const WireOp& op) {
  std::vector<WireOp> out(6, op);
  out[0].id = *rc::gen::distinctFrom(op.id);
  out[1].device_id = *rc::gen::distinctFrom(op.device_id);
  out[2].hlc.wall_ms = *rc::gen::distinctFrom(
      testing::gen_in_range_with_ends<uint64_t>(0, kHlcWallMsLimit - 1), op.hlc.wall_ms);
  out[3].hlc.counter = *rc::gen::distinctFrom(
      testing::gen_in_range_with_ends<uint32_t>(0, UINT32_MAX), op.hlc.counter);
  out[4].key_id =
      *rc::gen::distinctFrom(testing::gen_in_range_with_ends<uint32_t>(1, UINT32_MAX), op.key_id);
  out[5].payload = *rc::gen::distinctFrom(testing::gen_payload(), op.payload);
  return out;
}

// Any operation, valid or not: each field mostly in range, otherwise at or just past one of its
// limits, so that usually at most one field is out of range.
rc::Gen<WireOp> gen_op_near_limits(uint64_t payload_max) {
  return rc::gen::build<WireOp>(
      rc::gen::set(&WireOp::v,
                   rc::gen::weightedElement<uint8_t>({{12, 1}, {1, 0}, {1, 2}, {1, 255}})),
      rc::gen::set(
          &WireOp::hlc,
          rc::gen::build<Hlc>(
              rc::gen::set(&Hlc::wall_ms, rc::gen::weightedOneOf<uint64_t>(
                                              {{4, rc::gen::inRange<uint64_t>(0, kHlcWallMsLimit)},
                                               {1, rc::gen::just(kHlcWallMsLimit - 1)},
                                               {2, rc::gen::just(kHlcWallMsLimit)},
                                               {1, rc::gen::just(kHlcWallMsLimit + 1)},
                                               {1, rc::gen::arbitrary<uint64_t>()}})),
              rc::gen::set(&Hlc::counter))),
      rc::gen::set(&WireOp::key_id,
                   rc::gen::weightedOneOf<uint32_t>(
                       {{6, testing::gen_in_range_with_ends<uint32_t>(1, UINT32_MAX)},
                        {1, rc::gen::just(uint32_t{0})}})),
      rc::gen::set(
          &WireOp::payload,
          rc::gen::mapcat(
              rc::gen::weightedOneOf<size_t>(
                  {{2, rc::gen::inRange<size_t>(0, payload_max + 2)},
                   {1, rc::gen::element<size_t>(kEnvelopeOverheadBytes - 1, kEnvelopeOverheadBytes,
                                                payload_max, payload_max + 1)}}),
              [](size_t size) {
                return rc::gen::container<Bytes>(size, rc::gen::arbitrary<uint8_t>());
              })));
}

// ---- properties ---------------------------------------------------------------------------------

// OP-010, OP-011: the decoder gives back exactly the operation encoded, from 53 + len(payload)
// bytes.
template <typename Encode, typename Decode>
void encoding_round_trips(Encode encode, Decode decode) {
  const WireOp op = *testing::gen_valid_op();
  const Bytes encoding = encode(op);
  RC_ASSERT(encoding.size() == kOpEncodingOverheadBytes + op.payload.size());
  const Result<WireOp> decoded = decode(encoding);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == op);
}

// OP-011: nothing short of the whole encoding, and nothing longer, decodes.
template <typename Decode>
void decoder_rejects_prefixes_and_extensions(Decode decode) {
  const WireOp op = *testing::gen_valid_op();
  const Bytes encoding = encode_op(op);
  for (size_t length = 0; length < encoding.size(); ++length) {
    const Result<WireOp> decoded = decode(ByteView(encoding).first(length));
    RC_ASSERT(!decoded.ok());
    RC_ASSERT(decoded.error().code == Code::kTruncated);
  }
  Bytes extended = encoding;
  extended.push_back(0);
  for (int extra = 0; extra < 256; ++extra) {
    extended.back() = static_cast<uint8_t>(extra);
    const Result<WireOp> decoded = decode(extended);
    RC_ASSERT(!decoded.ok());
    RC_ASSERT(decoded.error().code == Code::kTruncated);
  }
}

// Spec 6.3: op_hash is SHA-256 over op_encoding.
template <typename HashOp>
void hash_is_sha256_of_the_encoding(HashOp hash) {
  const WireOp op = *testing::gen_valid_op();
  RC_ASSERT(hash(op) == openssl_sha256(encode_op(op)));
}

// OP-010: no two different operations share an encoding: changing any one field changes it, and
// so does moving the boundary between two fields.
template <typename Encode>
void different_ops_have_different_encodings(Encode encode) {
  const WireOp op = *rc::gen::oneOf(testing::gen_valid_op(), gen_op_with_room_to_shift());
  std::vector<WireOp> others = one_field_changes_of(op);
  for (const WireOp& shifted : boundary_shifts_of(op)) others.push_back(shifted);
  const Bytes encoding = encode(op);
  for (const WireOp& other : others) {
    RC_ASSERT(other != op);
    RC_ASSERT(encode(other) != encoding);
  }
}

// OP-001: an operation is valid exactly when every field is in range; otherwise the error names
// the first field out of range (in wire order) under the caller's path.
template <typename Validate>
void validate_accepts_exactly_the_ranges_of_op_001(Validate validate) {
  const uint64_t payload_max = *rc::gen::inRange<uint64_t>(kEnvelopeOverheadBytes, 256);
  const WireOp op = *gen_op_near_limits(payload_max);
  const std::string path = *rc::gen::element<std::string>("", "ops[3]");
  std::string expected_field;
  if (op.v != 1)
    expected_field = "v";
  else if (op.hlc.wall_ms >= kHlcWallMsLimit)
    expected_field = "hlc.wall_ms";
  else if (op.key_id == 0)
    expected_field = "key_id";
  else if (op.payload.size() < kEnvelopeOverheadBytes || op.payload.size() > payload_max)
    expected_field = "payload";
  const Status status = validate(op, payload_max, path);
  if (expected_field.empty()) {
    RC_ASSERT(status.ok());
  } else {
    RC_ASSERT(!status.ok());
    RC_ASSERT(status.error().code == Code::kInvalidField);
    RC_ASSERT(status.error().field ==
              (path.empty() ? expected_field : path + "." + expected_field));
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(encoding)

// ---- known answer (spec 6.2, 6.3) ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(test_sha256_matches_fips_180_example) {
  // The oracle the hash checks use, against FIPS 180-2 appendix B.1.
  BOOST_TEST(to_hex(openssl_sha256(to_bytes("abc")).view()) ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(encoding_matches_the_layout_of_the_spec) {
  const WireOp op = known_answer_op();
  // op_header: u8(v) || id || device_id || u64(hlc.wall_ms) || u32(hlc.counter) || u32(key_id)
  const Bytes header = unhex(
      "01"                                // v
      "000102030405060708090a0b0c0d0e0f"  // id
      "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"  // device_id
      "0000019ab697e87b"                  // hlc.wall_ms = 1764000000123
      "01020304"                          // hlc.counter
      "0a0b0c0d");                        // key_id
  BOOST_REQUIRE(header.size() == 49u);
  Bytes expected = header;
  append_bytes(expected, unhex("0000001e"));  // u32(len(payload)) = 30
  append_bytes(expected, unhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbd"));
  BOOST_REQUIRE(expected.size() == 53u + 30u);

  BOOST_TEST(encode_op(op) == expected, boost::test_tools::per_element());
  BOOST_TEST(op_hash(op) == openssl_sha256(expected));
  Sha256 reused;
  BOOST_TEST(op_hash(op, reused) == openssl_sha256(expected));
  BOOST_TEST(op_hash(op, reused) == openssl_sha256(expected));  // the hasher resets after use

  const Result<WireOp> decoded = decode_op(expected);
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(*decoded == op);
}

BOOST_AUTO_TEST_CASE(append_op_header_appends_exactly_the_49_byte_header) {
  const WireOp op = known_answer_op();
  Bytes out = to_bytes("prefix");
  append_op_header(out, op);
  BOOST_REQUIRE(out.size() == 6u + kOpHeaderBytes);
  const Bytes encoding = encode_op(op);
  BOOST_TEST(Bytes(out.begin() + 6, out.end()) ==
                 Bytes(encoding.begin(), encoding.begin() + kOpHeaderBytes),
             boost::test_tools::per_element());
  BOOST_TEST(to_string(ByteView(out).first(6)) == "prefix");
}

BOOST_AUTO_TEST_CASE(extreme_field_values_encode_at_full_width) {
  WireOp op = known_answer_op();
  op.hlc = Hlc{kHlcWallMsLimit - 1, UINT32_MAX};
  op.key_id = UINT32_MAX;
  op.payload = Bytes(kEnvelopeOverheadBytes, 0);
  const Bytes encoding = encode_op(op);
  BOOST_TEST(Bytes(encoding.begin() + 33, encoding.begin() + 53) == unhex("0000ffffffffffff"
                                                                          "ffffffff"
                                                                          "ffffffff"
                                                                          "0000001c"),
             boost::test_tools::per_element());
  const Result<WireOp> decoded = decode_op(encoding);
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(*decoded == op);
}

// ---- decoder rejections (OP-011) ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(decode_rejects_an_unknown_version_byte) {
  for (uint8_t version : {0, 2, 255}) {
    Bytes encoding = encode_op(known_answer_op());
    encoding[0] = version;
    const Result<WireOp> decoded = decode_op(encoding);
    BOOST_REQUIRE(!decoded.ok());
    BOOST_TEST(decoded.error().code == Code::kUnsupportedFormat);
    BOOST_TEST(decoded.error().field == "v");
  }
}

BOOST_AUTO_TEST_CASE(decode_rejects_out_of_range_fields) {
  const Bytes valid = encode_op(known_answer_op());

  Bytes wall_at_limit = valid;
  std::copy_n(unhex("0001000000000000").begin(), 8, wall_at_limit.begin() + 33);  // 2^48
  Bytes wall_max = valid;
  std::copy_n(unhex("ffffffffffffffff").begin(), 8, wall_max.begin() + 33);
  Bytes key_id_zero = valid;
  std::copy_n(unhex("00000000").begin(), 4, key_id_zero.begin() + 45);
  // A payload of 27 bytes, one short of nonce and tag, with its length prefix to match.
  Bytes short_payload(valid.begin(), valid.begin() + kOpHeaderBytes);
  append_u32(short_payload, 27);
  append_bytes(short_payload, Bytes(27, 0x5a));

  for (const auto& [encoding, field] :
       {std::pair{wall_at_limit, "hlc.wall_ms"}, std::pair{wall_max, "hlc.wall_ms"},
        std::pair{key_id_zero, "key_id"}, std::pair{short_payload, "payload"}}) {
    const Result<WireOp> decoded = decode_op(encoding);
    BOOST_REQUIRE(!decoded.ok());
    BOOST_TEST(decoded.error().code == Code::kInvalidField);
    BOOST_TEST(decoded.error().field == field);
  }

  // One below each limit decodes.
  Bytes wall_below_limit = valid;
  std::copy_n(unhex("0000ffffffffffff").begin(), 8, wall_below_limit.begin() + 33);
  BOOST_TEST(decode_op(wall_below_limit).ok());
}

BOOST_AUTO_TEST_CASE(decode_rejects_a_length_prefix_that_disagrees_with_the_bytes) {
  const Bytes valid = encode_op(known_answer_op());  // 30-byte payload
  for (uint32_t declared : {29u, 31u, 0u, UINT32_MAX}) {
    Bytes encoding = valid;
    Bytes prefix;
    append_u32(prefix, declared);
    std::copy(prefix.begin(), prefix.end(), encoding.begin() + kOpHeaderBytes);
    const Result<WireOp> decoded = decode_op(encoding);
    BOOST_REQUIRE(!decoded.ok());
    BOOST_TEST(decoded.error().code == Code::kTruncated);
  }
  BOOST_TEST(decode_op(ByteView()).error().code == Code::kTruncated);
}

// ---- validate_op (OP-001) -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(validate_op_names_each_field_out_of_range) {
  const uint64_t payload_max = kLimitFloors.op_payload_bytes_max;
  const WireOp valid = known_answer_op();
  BOOST_TEST(validate_op(valid, payload_max).ok());

  struct Case {
    const char* what;
    WireOp op;
    const char* field;
  };
  WireOp v2 = valid;
  v2.v = 2;
  WireOp wall = valid;
  wall.hlc.wall_ms = kHlcWallMsLimit;
  WireOp key_id = valid;
  key_id.key_id = 0;
  WireOp short_payload = valid;
  short_payload.payload.assign(kEnvelopeOverheadBytes - 1, 0);
  WireOp long_payload = valid;
  long_payload.payload.assign(payload_max + 1, 0);
  for (const Case& c :
       {Case{"v", v2, "v"}, Case{"wall", wall, "hlc.wall_ms"}, Case{"key_id", key_id, "key_id"},
        Case{"short", short_payload, "payload"}, Case{"long", long_payload, "payload"}}) {
    BOOST_TEST_CONTEXT(c.what) {
      const Status top = validate_op(c.op, payload_max);
      BOOST_REQUIRE(!top.ok());
      BOOST_TEST(top.error().code == Code::kInvalidField);
      BOOST_TEST(top.error().field == c.field);
      const Status nested = validate_op(c.op, payload_max, "ops[2]");
      BOOST_REQUIRE(!nested.ok());
      BOOST_TEST(nested.error().field == std::string("ops[2].") + c.field);
    }
  }

  WireOp at_limits = valid;
  at_limits.hlc = Hlc{kHlcWallMsLimit - 1, UINT32_MAX};
  at_limits.key_id = UINT32_MAX;
  at_limits.payload.assign(payload_max, 0);
  BOOST_TEST(validate_op(at_limits, payload_max).ok());
  at_limits.payload.assign(kEnvelopeOverheadBytes, 0);
  BOOST_TEST(validate_op(at_limits, payload_max).ok());
}

// ---- properties ---------------------------------------------------------------------------------

RC_BOOST_PROP(decode_inverts_encode_for_any_valid_op, ()) {
  encoding_round_trips(&encode_op, &decode_real);
}

BOOST_AUTO_TEST_CASE(round_trip_property_catches_fields_written_in_the_wrong_order) {
  BOOST_TEST(opsync::testing::finds_counterexample("counter and key_id swapped", [] {
    encoding_round_trips(&encode_with_counter_and_key_id_swapped, &decode_real);
  }));
}

RC_BOOST_PROP(decode_rejects_every_strict_prefix_and_one_byte_extension, ()) {
  decoder_rejects_prefixes_and_extensions(&decode_real);
}

BOOST_AUTO_TEST_CASE(prefix_and_extension_property_catches_a_decoder_that_ignores_trailing_bytes) {
  BOOST_TEST(opsync::testing::finds_counterexample("trailing bytes ignored", [] {
    decoder_rejects_prefixes_and_extensions(&decode_ignoring_trailing_bytes);
  }));
}

RC_BOOST_PROP(op_hash_is_sha256_of_the_encoding, ()) {
  hash_is_sha256_of_the_encoding([](const WireOp& op) { return op_hash(op); });
  Sha256 reused;
  hash_is_sha256_of_the_encoding([&reused](const WireOp& op) { return op_hash(op, reused); });
}

BOOST_AUTO_TEST_CASE(hash_property_catches_a_hash_without_the_length_prefix) {
  BOOST_TEST(opsync::testing::finds_counterexample(
      "no length prefix", [] { hash_is_sha256_of_the_encoding(&hash_without_length_prefix); }));
}

RC_BOOST_PROP(different_ops_never_share_an_encoding, ()) {
  different_ops_have_different_encodings(&encode_op);
}

BOOST_AUTO_TEST_CASE(distinct_encoding_property_catches_fields_concatenated_as_text) {
  BOOST_TEST(opsync::testing::finds_counterexample("concatenated text", [] {
    different_ops_have_different_encodings(&encode_as_concatenated_text);
  }));
}

BOOST_AUTO_TEST_CASE(distinct_encoding_property_catches_a_field_left_out) {
  BOOST_TEST(opsync::testing::finds_counterexample("device id left out", [] {
    different_ops_have_different_encodings(&encode_without_device_id);
  }));
}

RC_BOOST_PROP(validate_op_accepts_exactly_the_ops_within_range, ()) {
  validate_accepts_exactly_the_ranges_of_op_001(&validate_op);
}

BOOST_AUTO_TEST_CASE(validate_property_catches_an_off_by_one_wall_limit) {
  BOOST_TEST(opsync::testing::finds_counterexample("wall_ms <= 2^48", [] {
    validate_accepts_exactly_the_ranges_of_op_001(&validate_with_inclusive_wall_limit);
  }));
}

BOOST_AUTO_TEST_SUITE_END()
