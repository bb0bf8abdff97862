// Sources of randomness, passed in explicitly.
//
// The protocol core never reaches for global randomness: every function that needs random bytes
// (ids, nonces, keys, tokens) takes a RandomSource&. Adapters pass SystemRandom; the simulator and
// the vector generator pass SeededRandom so that a run replays bit for bit from its seed.
#pragma once

#include <cstdint>
#include <span>

#include "opsync/protocol/bytes.h"

namespace opsync {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual void fill(std::span<uint8_t> out) = 0;

  template <size_t N>
  FixedBytes<N> fixed() {
    FixedBytes<N> out;
    fill(std::span<uint8_t>(out.bytes.data(), N));
    return out;
  }
  Id id() { return fixed<16>(); }
  Bytes bytes(size_t count);
  uint64_t next_u64();
  // Uniform in [0, bound); bound > 0.
  uint64_t below(uint64_t bound);
};

// The operating system's CSPRNG through OpenSSL's RAND_bytes. Thread-safe.
class SystemRandom final : public RandomSource {
 public:
  void fill(std::span<uint8_t> out) override;
};

// A deterministic generator (xoshiro256** seeded through SplitMix64). Not for secrets: it exists
// so that simulations and test vectors are reproducible from one 64-bit seed. Integer-only, so the
// same seed gives the same stream on every platform.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(uint64_t seed);
  void fill(std::span<uint8_t> out) override;
  uint64_t next();

 private:
  uint64_t state_[4];
};

}  // namespace opsync
