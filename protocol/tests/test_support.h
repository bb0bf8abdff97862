// Printing and generators shared by the protocol tests.
#pragma once

#include <rapidcheck.h>

#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/result.h"
#include "test_printers.h"

namespace rc {

template <size_t N>
struct Arbitrary<opsync::FixedBytes<N>> {
  static Gen<opsync::FixedBytes<N>> arbitrary() {
    return gen::map(
        gen::container<std::array<uint8_t, N>>(gen::arbitrary<uint8_t>()),
        [](const std::array<uint8_t, N>& bytes) { return opsync::FixedBytes<N>{bytes}; });
  }
};

}  // namespace rc

namespace opsync::testing {

// Bytes from a hex literal written in a test; a typo in the literal throws, failing the test.
inline Bytes unhex(std::string_view text) { return from_hex(text).value(); }

// An integer uniform in [min, max_exclusive) whatever RapidCheck's current size; for choosing
// between cases and positions, where gen::inRange (which starts near `min` and widens as the size
// grows) would leave the later choices untried in the early, small test cases.
template <typename T>
rc::Gen<T> gen_uniform(T min, T max_exclusive) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(min, max_exclusive));
}

// An integer in [min, max], hitting both ends more often than a uniform draw would; inRange
// itself grows from `min` with RapidCheck's size, so small values come up as well.
template <typename T>
rc::Gen<T> gen_in_range_with_ends(T min, T max) {
  return rc::gen::weightedOneOf<T>(
      {{1, rc::gen::just(min)}, {1, rc::gen::just(max)}, {6, rc::gen::inRange<T>(min, max)}});
}

// An HLC timestamp anywhere in the valid range (HLC-003).
inline rc::Gen<Hlc> gen_hlc() {
  return rc::gen::build<Hlc>(
      rc::gen::set(&Hlc::wall_ms, gen_in_range_with_ends<uint64_t>(0, kHlcWallMsLimit - 1)),
      rc::gen::set(&Hlc::counter, gen_in_range_with_ends<uint32_t>(0, UINT32_MAX)));
}

// An envelope-sized payload: at least the 28 bytes of nonce and tag, usually a little more.
inline rc::Gen<Bytes> gen_payload() {
  return rc::gen::mapcat(
      rc::gen::inRange<size_t>(kEnvelopeOverheadBytes, kEnvelopeOverheadBytes + 64),
      [](size_t size) { return rc::gen::container<Bytes>(size, rc::gen::arbitrary<uint8_t>()); });
}

// An operation that passes validate_op at the limit floors (OP-001).
inline rc::Gen<WireOp> gen_valid_op() {
  return rc::gen::build<WireOp>(
      rc::gen::set(&WireOp::id), rc::gen::set(&WireOp::device_id),
      rc::gen::set(&WireOp::hlc, gen_hlc()),
      rc::gen::set(&WireOp::key_id, gen_in_range_with_ends<uint32_t>(1, UINT32_MAX)),
      rc::gen::set(&WireOp::payload, gen_payload()));
}

// A copy of `text` with one to three random byte edits: a flipped bit, an inserted or deleted
// byte, or truncation. Inserted bytes are often JSON punctuation, so that edits change structure.
// Mostly a single edit other than truncation, which leaves the rest of the message intact to be
// checked.
inline rc::Gen<std::string> gen_mutation_of(const std::string& text) {
  const auto gen_byte = rc::gen::weightedOneOf<uint8_t>(
      {{1, rc::gen::arbitrary<uint8_t>()},
       {1, rc::gen::element<uint8_t>('"', '{', '}', '[', ']', ':', ',', '0', '9', '-', '.', 'e',
                                     '\\', ' ', 'n')}});
  using Edit = std::tuple<int, size_t, uint8_t>;  // kind, position, byte
  const auto gen_kind = rc::gen::weightedElement<int>({{3, 0}, {3, 1}, {3, 2}, {1, 3}});
  const auto gen_edit = rc::gen::tuple(gen_kind, gen_uniform<size_t>(0, text.size() + 1), gen_byte);
  return rc::gen::map(rc::gen::mapcat(rc::gen::weightedElement<int>({{4, 1}, {2, 2}, {1, 3}}),
                                      [gen_edit](int count) {
                                        return rc::gen::container<std::vector<Edit>>(
                                            static_cast<size_t>(count), gen_edit);
                                      }),
                      [text](const std::vector<Edit>& edits) {
                        std::string out = text;
                        for (const auto& [kind, position, byte] : edits) {
                          const size_t at = out.empty() ? 0 : position % out.size();
                          switch (kind) {
                            case 0:
                              if (!out.empty())
                                out[at] = static_cast<char>(out[at] ^ (1 << (byte % 8)));
                              break;
                            case 1:
                              out.insert(
                                  out.begin() + static_cast<ptrdiff_t>(position % (out.size() + 1)),
                                  static_cast<char>(byte));
                              break;
                            case 2:
                              if (!out.empty()) out.erase(at, 1);
                              break;
                            default:
                              out.resize(at);
                              break;
                          }
                        }
                        return out;
                      });
}

}  // namespace opsync::testing
