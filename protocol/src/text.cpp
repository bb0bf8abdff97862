#include "opsync/protocol/text.h"

namespace opsync {

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim_ows(std::string_view text) {
  const auto ows = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && ows(text.front())) text.remove_prefix(1);
  while (!text.empty() && ows(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace opsync
