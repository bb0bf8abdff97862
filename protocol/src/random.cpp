#include "opsync/protocol/random.h"

#include <openssl/rand.h>

#include <climits>

#include "opsync/protocol/check.h"

namespace opsync {

Bytes RandomSource::bytes(size_t count) {
  Bytes out(count);
  fill(out);
  return out;
}

uint64_t RandomSource::next_u64() {
  uint8_t buffer[8];
  fill(buffer);
  return read_u64(buffer);
}

uint64_t RandomSource::below(uint64_t bound) {
  OPSYNC_CHECK(bound > 0);
  // Rejection sampling: draw until the value falls in the largest multiple of bound.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  for (int attempt = 0; attempt < 1024; ++attempt) {
    uint64_t v = next_u64();
    if (v < limit) return v % bound;
  }
  OPSYNC_CHECK_MSG(false, "random source is not random");
  return 0;
}

void SystemRandom::fill(std::span<uint8_t> out) {
  if (out.empty()) return;
  OPSYNC_CHECK(out.size() <= INT_MAX);
  // A CSPRNG failure leaves no safe way to continue: ids and keys would repeat.
  OPSYNC_CHECK_MSG(RAND_bytes(out.data(), static_cast<int>(out.size())) == 1, "RAND_bytes failed");
}

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

SeededRandom::SeededRandom(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : state_) s = splitmix64(x);
}

uint64_t SeededRandom::next() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

void SeededRandom::fill(std::span<uint8_t> out) {
  size_t i = 0;
  while (i < out.size()) {
    uint64_t v = next();
    for (int b = 0; b < 8 && i < out.size(); ++b, ++i)
      out[i] = static_cast<uint8_t>(v >> (56 - 8 * b));
  }
}

}  // namespace opsync
