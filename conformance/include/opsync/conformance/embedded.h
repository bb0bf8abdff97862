// Files of the repository built into the program, so that an installed opsync-conformance needs
// no source tree: the wire-message vectors it sends, the requirement catalog it reports coverage
// of, its own list of requirements it cannot test from outside, and the clauses of the requirements
// it covers, each with the cases that check it.
#pragma once

#include <string_view>

namespace opsync::conformance {

std::string_view embedded_wire_messages();  // vectors/wire_messages.json
std::string_view embedded_requirements();   // spec/requirements.json
std::string_view embedded_scope();          // conformance/scope.json
std::string_view embedded_clauses();        // conformance/clauses.json
std::string_view embedded_spec();           // spec/opsync-v1.md, for the requirements' text

}  // namespace opsync::conformance
