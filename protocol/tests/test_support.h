// Printing and generators shared by the protocol tests.
#pragma once

#include <rapidcheck.h>

#include <ostream>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/result.h"

namespace opsync {

// Boost.Test and RapidCheck print values through operator<< found by ADL.
template <size_t N>
std::ostream& operator<<(std::ostream& out, const FixedBytes<N>& value) {
  return out << to_hex(value.view()).substr(0, 12);
}
inline std::ostream& operator<<(std::ostream& out, const Hlc& hlc) {
  return out << "(" << hlc.wall_ms << "," << hlc.counter << ")";
}
inline std::ostream& operator<<(std::ostream& out, Code code) { return out << code_name(code); }
inline std::ostream& operator<<(std::ostream& out, const Error& error) {
  return out << error.to_string();
}

}  // namespace opsync

namespace rc {

template <size_t N>
struct Arbitrary<opsync::FixedBytes<N>> {
  static Gen<opsync::FixedBytes<N>> arbitrary() {
    return gen::map(gen::container<std::array<uint8_t, N>>(gen::arbitrary<uint8_t>()),
                    [](const std::array<uint8_t, N>& bytes) { return opsync::FixedBytes<N>{bytes}; });
  }
};

}  // namespace rc
