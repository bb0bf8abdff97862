// Byte strings, fixed-size ids and hashes, and their text forms (hex, unpadded base64url).
//
// Decoders are strict: base64url must be canonical (no padding, no whitespace, unused low bits
// zero) so that every binary value has exactly one text form (spec TRN-025).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace opsync {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// A fixed-size byte array with value semantics and a total order (unsigned bytewise), so it can
// key maps and be compared as the spec's tie-breaks require.
template <size_t N>
struct FixedBytes {
  std::array<uint8_t, N> bytes{};

  static constexpr size_t kSize = N;

  auto operator<=>(const FixedBytes&) const = default;
  bool operator==(const FixedBytes&) const = default;

  ByteView view() const { return ByteView(bytes.data(), N); }
  const uint8_t* data() const { return bytes.data(); }
  uint8_t* data() { return bytes.data(); }
  bool is_zero() const {
    for (uint8_t b : bytes)
      if (b != 0) return false;
    return true;
  }
};

// 16-byte identifiers: workspaces, tokens, devices, operations and files (spec 1.3).
using Id = FixedBytes<16>;
using WorkspaceId = Id;
using TokenId = Id;
using DeviceId = Id;
using OpId = Id;
using FileId = Id;

// 32 bytes of SHA-256 output.
using Hash = FixedBytes<32>;

// Hex (lowercase) encoding, for test vectors and logs.
std::string to_hex(ByteView bytes);
std::optional<Bytes> from_hex(std::string_view text);

// Unpadded base64url (RFC 4648 section 5).
std::string to_base64url(ByteView bytes);
// Returns nullopt unless `text` is the canonical unpadded base64url form of some byte string.
std::optional<Bytes> from_base64url(std::string_view text);

template <size_t N>
std::string to_base64url(const FixedBytes<N>& value) {
  return to_base64url(value.view());
}

// Decodes exactly N bytes; nullopt on any other length or on a non-canonical form.
template <size_t N>
std::optional<FixedBytes<N>> fixed_from_base64url(std::string_view text) {
  auto decoded = from_base64url(text);
  if (!decoded || decoded->size() != N) return std::nullopt;
  FixedBytes<N> out;
  for (size_t i = 0; i < N; ++i) out.bytes[i] = (*decoded)[i];
  return out;
}

template <size_t N>
std::optional<FixedBytes<N>> fixed_from_hex(std::string_view text) {
  auto decoded = from_hex(text);
  if (!decoded || decoded->size() != N) return std::nullopt;
  FixedBytes<N> out;
  for (size_t i = 0; i < N; ++i) out.bytes[i] = (*decoded)[i];
  return out;
}

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view text);

inline Bytes to_bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }
inline std::string to_string(ByteView bytes) { return std::string(bytes.begin(), bytes.end()); }

// Big-endian integer appends and reads for the canonical encodings (spec 1.3).
void append_u8(Bytes& out, uint8_t value);
void append_u32(Bytes& out, uint32_t value);
void append_u64(Bytes& out, uint64_t value);
void append_bytes(Bytes& out, ByteView bytes);
void append_ascii(Bytes& out, std::string_view text);
uint32_t read_u32(const uint8_t* p);
uint64_t read_u64(const uint8_t* p);

// Hash support so ids can key unordered containers.
struct FixedBytesHash {
  template <size_t N>
  size_t operator()(const FixedBytes<N>& value) const {
    // Ids and hashes are uniformly random already; the first 8 bytes are a good hash.
    static_assert(N >= 8);
    uint64_t h = 0;
    for (size_t i = 0; i < 8; ++i) h = (h << 8) | value.bytes[i];
    return static_cast<size_t>(h);
  }
};

}  // namespace opsync
