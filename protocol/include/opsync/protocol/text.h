// ASCII text helpers of HTTP's grammar, shared by every program that reads header fields: names
// compare case-insensitively (RFC 9110 5.1) and values lose their optional whitespace (5.5).
#pragma once

#include <string>
#include <string_view>

namespace opsync {

// `text` with A-Z turned into a-z; every other byte as it was (no locale, no UTF-8 folding).
std::string ascii_lower(std::string_view text);

// `text` without the spaces and horizontal tabs at either end (HTTP's OWS).
std::string_view trim_ows(std::string_view text);

}  // namespace opsync
