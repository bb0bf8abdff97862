#include "requirements_check.h"

#include <nlohmann/json.hpp>

#include <regex>
#include <set>
#include <sstream>

namespace opsync::spec {
namespace {

// Removes `code spans` so that text quoting a keyword or an id does not count.
std::string without_code_spans(const std::string& line) {
  std::string out;
  bool in_code = false;
  for (char c : line) {
    if (c == '`') {
      in_code = !in_code;
      continue;
    }
    if (!in_code) out.push_back(c);
  }
  return out;
}

}  // namespace

SpecDocument read_spec(std::string_view markdown) {
  SpecDocument doc;
  const std::regex heading(R"(^#{2,3} (\d+(?:\.\d+)?)\.? .*)");
  const std::regex other_heading(R"(^#{1,6} .*)");
  const std::regex definition(R"(^- \[([A-Z]+-\d{3})\] (MUST NOT|MUST|SHOULD NOT|SHOULD|MAY): )");
  const std::regex tag(R"(\[([A-Z]+-\d{3})\] (MUST NOT|MUST|SHOULD NOT|SHOULD|MAY))");
  const std::regex keyword(R"(\b(MUST|SHOULD|MAY|SHALL|REQUIRED|RECOMMENDED)\b)");
  const std::regex reference(R"(\b([A-Z]{2,4}-\d{3})\b)");
  const std::regex retired_item(R"(^- ([A-Z]{2,4}-\d{3})\b)");

  std::istringstream lines{std::string(markdown)};
  std::string line;
  std::string section;
  bool in_fence = false;
  bool in_retired = false;
  bool in_statement = false;  // inside a tagged list item (it may continue on indented lines)
  std::set<std::string> defined;
  std::vector<std::pair<std::string, int>> references;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.rfind("```", 0) == 0) {
      in_fence = !in_fence;
      continue;
    }
    if (in_fence) continue;
    std::smatch m;
    if (std::regex_match(line, m, heading)) {
      section = m[1];
      in_retired = false;
      in_statement = false;
      continue;
    }
    if (std::regex_match(line, other_heading)) {
      section.clear();
      in_retired = line.find("Retired requirements") != std::string::npos;
      in_statement = false;
      continue;
    }
    const std::string text = without_code_spans(line);
    if (std::regex_search(text, m, definition) && m.position(0) == 0) {
      const std::string id = m[1];
      if (!defined.insert(id).second)
        doc.problems.push_back("line " + std::to_string(number) + ": " + id + " is defined twice");
      if (section.empty())
        doc.problems.push_back("line " + std::to_string(number) + ": " + id +
                               " is outside a numbered section");
      doc.requirements.push_back(Requirement{id, m[2], section});
      in_statement = true;
    } else if (line.empty() || line[0] != ' ') {
      in_statement = false;
    }
    if (in_retired) {
      // Each retired id opens a list item: "- LOG-012: why it was withdrawn".
      if (std::regex_search(text, m, retired_item)) doc.retired.push_back(m[1]);
      continue;
    }
    // A keyword in capitals outside a tagged statement is a normative statement without an id.
    const std::string untagged = std::regex_replace(text, tag, "");
    if (!in_statement && std::regex_search(untagged, m, keyword))
      doc.problems.push_back("line " + std::to_string(number) + ": \"" + m[1].str() +
                             "\" outside a tagged requirement");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), reference);
         it != std::sregex_iterator(); ++it)
      references.emplace_back((*it)[1], number);
  }
  const std::set<std::string> retired(doc.retired.begin(), doc.retired.end());
  // Only names with a requirement prefix are references ("SHA-256" and "AES-256" are not).
  std::set<std::string> prefixes;
  for (const std::string& id : defined) prefixes.insert(id.substr(0, id.find('-')));
  for (const auto& [id, at] : references)
    if (prefixes.count(id.substr(0, id.find('-'))) && !defined.count(id) && !retired.count(id))
      doc.problems.push_back("line " + std::to_string(at) +
                             ": reference to undefined requirement " + id);
  for (const std::string& id : doc.retired)
    if (defined.count(id)) doc.problems.push_back(id + " is both retired and defined");
  return doc;
}

std::vector<std::string> compare_with_catalog(const SpecDocument& document,
                                              std::string_view catalog_json) {
  std::vector<std::string> problems;
  nlohmann::json catalog;
  try {
    catalog = nlohmann::json::parse(catalog_json);
  } catch (const nlohmann::json::exception& e) {
    return {std::string("requirements.json is not JSON: ") + e.what()};
  }
  if (!catalog.is_object() || !catalog.contains("requirements") ||
      !catalog["requirements"].is_array() || !catalog.contains("retired") ||
      !catalog["retired"].is_array())
    return {"requirements.json needs arrays \"requirements\" and \"retired\""};

  std::map<std::string, Requirement> in_doc;
  for (const Requirement& r : document.requirements) in_doc[r.id] = r;
  std::set<std::string> in_catalog;
  for (const auto& entry : catalog["requirements"]) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_string()) {
      problems.push_back("requirements.json: an entry without a string id");
      continue;
    }
    const std::string id = entry["id"];
    if (!in_catalog.insert(id).second)
      problems.push_back(id + " is listed twice in requirements.json");
    auto field = [&](const char* name) {
      return entry.contains(name) && entry[name].is_string() ? entry[name].get<std::string>()
                                                             : std::string();
    };
    if (field("summary").empty()) problems.push_back(id + " has no summary in requirements.json");
    auto it = in_doc.find(id);
    if (it == in_doc.end()) {
      problems.push_back(id + " is in requirements.json but not defined in the spec");
      continue;
    }
    if (field("level") != it->second.level)
      problems.push_back(id + ": level " + it->second.level + " in the spec, \"" + field("level") +
                         "\" in requirements.json");
    if (field("section") != it->second.section)
      problems.push_back(id + ": section " + it->second.section + " in the spec, \"" +
                         field("section") + "\" in requirements.json");
  }
  for (const Requirement& r : document.requirements)
    if (!in_catalog.count(r.id))
      problems.push_back(r.id + " is defined in the spec but missing from requirements.json");

  std::set<std::string> retired_in_catalog;
  for (const auto& entry : catalog["retired"])
    if (entry.is_object() && entry.contains("id") && entry["id"].is_string())
      retired_in_catalog.insert(entry["id"]);
  const std::set<std::string> retired_in_doc(document.retired.begin(), document.retired.end());
  if (retired_in_catalog != retired_in_doc)
    problems.push_back("retired ids differ between the spec and requirements.json");
  for (const std::string& id : retired_in_catalog)
    if (in_catalog.count(id))
      problems.push_back(id + " is both active and retired in requirements.json");
  return problems;
}

}  // namespace opsync::spec
