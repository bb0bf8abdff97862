// Decoders that build no DOM, for the two messages a device reads by the hundred thousand: pages
// of operations (GET /ops) and the decrypted payloads inside them. Private to the protocol
// library.
//
// They are a shortcut, never a second opinion. Each accepts only a narrow, canonical form of its
// message: known members, each once, in any order. Whenever it returns
// a message, the generic parser (parse_strict and the codecs in messages.cpp) returns the same
// message for the same text; for anything else it returns nullopt and the caller runs the generic
// parser, which accepts it or names the error. So errors and their codes come from one place, and
// fast_json_test checks the "same message" promise differentially.
#pragma once

#include <optional>
#include <string_view>

#include "opsync/protocol/messages.h"

namespace opsync::fast_json {

std::optional<OpsPageResponse> ops_page(std::string_view text);
std::optional<ObjectPayload> payload(std::string_view text);

// The generic codec alone, without the shortcut: what fast_json_test compares against.
Result<OpsPageResponse> ops_page_generic(std::string_view text);
Result<ObjectPayload> payload_generic(std::string_view text);

}  // namespace opsync::fast_json
