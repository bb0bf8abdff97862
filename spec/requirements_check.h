// Reads the requirement ids out of spec/opsync-v1.md and compares them with
// spec/requirements.json. Used by the spec tests; the conformance suite reads the same catalog.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace opsync::spec {

struct Requirement {
  std::string id;       // e.g. "LOG-007"
  std::string level;    // MUST, MUST NOT, SHOULD, SHOULD NOT, MAY
  std::string section;  // e.g. "7.1"
};

struct SpecDocument {
  std::vector<Requirement> requirements;  // in document order
  std::vector<std::string> retired;       // ids listed under "Retired requirements"
  std::vector<std::string> problems;      // structural problems found while reading
};

// Parses the markdown. Problems include: an id defined twice, a keyword in capitals outside a
// tagged statement, a reference to an id that is neither defined nor retired.
SpecDocument read_spec(std::string_view markdown);

// Compares the document with the JSON catalog; returns every disagreement, empty when they agree.
std::vector<std::string> compare_with_catalog(const SpecDocument& document,
                                              std::string_view catalog_json);

}  // namespace opsync::spec
