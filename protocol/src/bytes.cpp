#include "opsync/protocol/bytes.h"

#include <array>

#include "opsync/protocol/check.h"

namespace opsync {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Character -> 6-bit value, or -1 for characters outside the base64url alphabet.
constexpr std::array<int8_t, 256> kBase64UrlValues = [] {
  std::array<int8_t, 256> values{};
  values.fill(-1);
  for (int i = 0; i < 64; ++i)
    values[static_cast<uint8_t>(kBase64UrlAlphabet[i])] = static_cast<int8_t>(i);
  return values;
}();

int base64url_value(char c) { return kBase64UrlValues[static_cast<uint8_t>(c)]; }

}  // namespace

std::string to_hex(ByteView bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xF]);
  }
  return out;
}

std::optional<Bytes> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = hex_value(text[i]);
    int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

std::string to_base64url(ByteView bytes) {
  std::string out((bytes.size() * 4 + 2) / 3, '\0');
  char* o = out.data();
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = uint32_t{bytes[i]} << 16 | uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
    *o++ = kBase64UrlAlphabet[v >> 18];
    *o++ = kBase64UrlAlphabet[(v >> 12) & 63];
    *o++ = kBase64UrlAlphabet[(v >> 6) & 63];
    *o++ = kBase64UrlAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    const uint32_t v = uint32_t{bytes[i]} << 16 | (rest == 2 ? uint32_t{bytes[i + 1]} << 8 : 0);
    *o++ = kBase64UrlAlphabet[v >> 18];
    *o++ = kBase64UrlAlphabet[(v >> 12) & 63];
    if (rest == 2) *o++ = kBase64UrlAlphabet[(v >> 6) & 63];
  }
  OPSYNC_CHECK(o == out.data() + out.size());
  return out;
}

std::optional<Bytes> from_base64url(std::string_view text) {
  // A length of 1 mod 4 cannot come from whole bytes.
  if (text.size() % 4 == 1) return std::nullopt;
  Bytes out(text.size() / 4 * 3 + (text.size() % 4 == 0 ? 0 : text.size() % 4 - 1));
  uint8_t* o = out.data();
  size_t i = 0;
  for (; i + 4 <= text.size(); i += 4) {
    const int a = base64url_value(text[i]), b = base64url_value(text[i + 1]);
    const int c = base64url_value(text[i + 2]), d = base64url_value(text[i + 3]);
    if ((a | b | c | d) < 0) return std::nullopt;
    const uint32_t v = uint32_t(a) << 18 | uint32_t(b) << 12 | uint32_t(c) << 6 | uint32_t(d);
    *o++ = static_cast<uint8_t>(v >> 16);
    *o++ = static_cast<uint8_t>(v >> 8);
    *o++ = static_cast<uint8_t>(v);
  }
  const size_t rest = text.size() - i;
  if (rest == 2) {
    const int a = base64url_value(text[i]), b = base64url_value(text[i + 1]);
    if ((a | b) < 0) return std::nullopt;
    if ((b & 0xF) != 0) return std::nullopt;  // non-canonical: unused bits set
    *o++ = static_cast<uint8_t>(a << 2 | b >> 4);
  } else if (rest == 3) {
    const int a = base64url_value(text[i]), b = base64url_value(text[i + 1]),
              c = base64url_value(text[i + 2]);
    if ((a | b | c) < 0) return std::nullopt;
    if ((c & 0x3) != 0) return std::nullopt;  // non-canonical: unused bits set
    const uint32_t v = uint32_t(a) << 12 | uint32_t(b) << 6 | uint32_t(c);
    *o++ = static_cast<uint8_t>(v >> 10);
    *o++ = static_cast<uint8_t>(v >> 2);
  }
  OPSYNC_CHECK(o == out.data() + out.size());
  return out;
}

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](size_t at) { return static_cast<uint8_t>(text[at]); };
    const uint8_t lead = byte(i);
    size_t length;
    uint32_t code_point;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
      code_point = code_point << 6 | (byte(i + k) & 0x3F);
    }
    constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kSmallest[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF))
      return false;
    i += length;
  }
  return true;
}

void append_u8(Bytes& out, uint8_t value) { out.push_back(value); }

void append_u32(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

void append_u64(Bytes& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

void append_bytes(Bytes& out, ByteView bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

void append_ascii(Bytes& out, std::string_view text) {
  out.insert(out.end(), text.begin(), text.end());
}

uint32_t read_u32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

uint64_t read_u64(const uint8_t* p) { return uint64_t{read_u32(p)} << 32 | read_u32(p + 4); }

}  // namespace opsync
