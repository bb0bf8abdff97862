#include "plaintext.h"

#include <cstring>

namespace opsync::simulator {
namespace {

constexpr size_t kWindowBytes = 16;
constexpr size_t kTextStrideBytes = 8;
constexpr size_t kFileStrideBytes = 64;
constexpr uint32_t kBitmapBits = 1u << 22;

uint64_t load(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint32_t bit_of(uint64_t first) {
  return static_cast<uint32_t>((first * 0x9E3779B97F4A7C15ull) >> 42) & (kBitmapBits - 1);
}

}  // namespace

PlaintextScanner::PlaintextScanner() : bitmap_(kBitmapBits / 64, 0) {}

void PlaintextScanner::add_window(const uint8_t* at, const std::string& what) {
  if (names_.empty() || names_.back() != what) names_.push_back(what);
  const uint64_t first = load(at);
  const uint32_t bit = bit_of(first);
  bitmap_[bit / 64] |= uint64_t{1} << (bit % 64);
  windows_.emplace(first, Window{load(at + 8), static_cast<uint32_t>(names_.size() - 1)});
}

void PlaintextScanner::add_text(ByteView text, const std::string& what) {
  if (text.size() < kWindowBytes) return;
  for (size_t at = 0; at + kWindowBytes <= text.size(); at += kTextStrideBytes)
    add_window(text.data() + at, what);
  // The last window too, so that every byte of a text is inside an indexed window.
  add_window(text.data() + text.size() - kWindowBytes, what);
}

void PlaintextScanner::add_file(ByteView content, const std::string& what) {
  for (size_t at = 0; at + kWindowBytes <= content.size(); at += kFileStrideBytes)
    add_window(content.data() + at, what);
}

std::optional<std::string> PlaintextScanner::scan(ByteView bytes) const {
  if (bytes.size() < kWindowBytes || windows_.empty()) return std::nullopt;
  for (size_t at = 0; at + kWindowBytes <= bytes.size(); ++at) {
    const uint64_t first = load(bytes.data() + at);
    const uint32_t bit = bit_of(first);
    if ((bitmap_[bit / 64] >> (bit % 64) & 1) == 0) continue;
    const uint64_t second = load(bytes.data() + at + 8);
    // The earliest indexed plaintext among those that match, so the report does not depend on
    // the hash table's order.
    std::optional<uint32_t> found;
    auto [begin, end] = windows_.equal_range(first);
    for (auto it = begin; it != end; ++it)
      if (it->second.second == second && (!found || it->second.what < *found))
        found = it->second.what;
    if (found) return names_[*found];
  }
  return std::nullopt;
}

}  // namespace opsync::simulator
