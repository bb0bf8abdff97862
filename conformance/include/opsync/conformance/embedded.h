// Files of the repository built into the program, so that an installed opsync-conformance needs
// no source tree: the wire-message vectors it sends, the requirement catalog it reports coverage
// of, and its own list of requirements it cannot test from outside.
#pragma once

#include <string_view>

namespace opsync::conformance {

std::string_view embedded_wire_messages();  // vectors/wire_messages.json
std::string_view embedded_requirements();   // spec/requirements.json
std::string_view embedded_scope();          // conformance/scope.json
std::string_view embedded_spec();           // spec/opsync-v1.md, for the requirements' text

}  // namespace opsync::conformance
