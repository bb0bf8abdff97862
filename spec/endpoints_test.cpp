// Section 14 of the spec and the library's endpoint catalog say the same, row by row; every
// message they name has a schema in spec/schema/ and every requirement they cite exists.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "opsync/protocol/endpoints.h"

using namespace opsync;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path << " (tests run from the repository root)");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string code_span(std::string_view text) { return "`" + std::string(text) + "`"; }

std::string limit_name(uint64_t Limits::*limit) {
  const std::vector<std::pair<uint64_t Limits::*, std::string>> names = {
      {&Limits::page_ops_max, "page_ops_max"},
      {&Limits::page_blocks_max, "page_blocks_max"},
      {&Limits::page_tokens_max, "page_tokens_max"},
      {&Limits::page_keys_max, "page_keys_max"}};
  for (const auto& [member, name] : names)
    if (member == limit) return name;
  BOOST_FAIL("a limit this test cannot name");
  return "";
}

std::string range(const ParameterSpec& p) {
  if (p.kind == ValueKind::kId) return "token id";
  if (p.max_limit) return code_span(limit_name(p.max_limit));
  const std::string max = p.max == kJsonIntegerMax ? "2^53 - 1"
                          : p.max == 0xFFFFFFFFu   ? "2^32 - 1"
                                                   : std::to_string(p.max);
  return std::to_string(p.min) + " to " + max;
}

// The row section 14 must hold for an endpoint.
std::string row_of(const Endpoint& e) {
  std::string query;
  for (const ParameterSpec& p : e.query) {
    if (!p.present()) continue;
    query += (query.empty() ? "" : "; ") + code_span(p.name) + ": " + range(p);
  }
  const std::string request = e.request_body == BodyKind::kJson    ? code_span(e.request_message)
                              : e.request_body == BodyKind::kChunk ? "chunk bytes"
                                                                   : "";
  std::string success;
  for (const SuccessResponse& s : e.success) {
    if (s.status == 0) continue;
    success += (success.empty() ? "" : ", ") + std::to_string(s.status) + " " +
               (s.body == BodyKind::kChunk ? "chunk bytes" : code_span(s.message));
  }
  const std::string scope = e.scope ? std::string(scope_name(*e.scope)) : "none";
  const std::string capability = e.capability.empty() ? "" : code_span(e.capability);
  std::string row = "| " + std::string(e.method) + " | " + code_span(e.path) + " | " + scope +
                    " | " + capability + " | " + query + " | " + request + " | " + success + " | " +
                    std::string(e.section) + " |";
  // Empty cells are written "| |" in the spec.
  for (size_t at = row.find("|  |"); at != std::string::npos; at = row.find("|  |"))
    row.replace(at, 4, "| |");
  return row;
}

// The rows of the table in section 14, in order.
std::vector<std::string> table_rows(const std::string& spec) {
  std::vector<std::string> rows;
  std::istringstream lines(spec);
  std::string line;
  bool in_section = false;
  while (std::getline(lines, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line.rfind("## 14.", 0) == 0;
    if (!in_section) continue;
    for (const char* method : {"| GET ", "| POST ", "| PUT ", "| DELETE "})
      if (line.rfind(method, 0) == 0) rows.push_back(line);
  }
  return rows;
}

// What differs between the spec's table and the catalog, one line each.
std::vector<std::string> differences(const std::string& spec) {
  std::vector<std::string> out;
  const std::vector<std::string> rows = table_rows(spec);
  const auto catalog = endpoint_catalog();
  if (rows.size() != catalog.size())
    out.push_back("the spec lists " + std::to_string(rows.size()) + " endpoints, the catalog " +
                  std::to_string(catalog.size()));
  for (size_t i = 0; i < std::min(rows.size(), catalog.size()); ++i)
    if (rows[i] != row_of(catalog[i]))
      out.push_back("spec:    " + rows[i] + "\ncatalog: " + row_of(catalog[i]));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(endpoint_table)

BOOST_AUTO_TEST_CASE(section_14_is_the_catalog) {
  for (const std::string& difference : differences(read_file("spec/opsync-v1.md")))
    BOOST_ERROR(difference);
}

BOOST_AUTO_TEST_CASE(the_comparison_catches_a_changed_row) {
  const std::string spec = read_file("spec/opsync-v1.md");
  std::string changed = spec;
  const std::string row = row_of(endpoint(EndpointId::kReadBlocks));
  changed.replace(changed.find(row), row.size(),
                  std::string(row).replace(row.find("read |"), 6, "owner |"));
  BOOST_TEST(differences(changed).size() == 1u);
  std::string dropped = spec;
  dropped.erase(dropped.find(row), row.size() + 1);
  BOOST_TEST(!differences(dropped).empty());
}

BOOST_AUTO_TEST_CASE(every_message_has_a_schema_and_every_requirement_exists) {
  const nlohmann::json catalog = nlohmann::json::parse(read_file("spec/requirements.json"));
  std::set<std::string> ids;
  for (const auto& r : catalog["requirements"]) ids.insert(r["id"].get<std::string>());
  std::set<std::string> messages;
  for (const std::string_view name : message_type_names()) messages.insert(std::string(name));
  for (const Endpoint& e : endpoint_catalog()) {
    std::istringstream cited{std::string(e.requirements)};
    for (std::string id; cited >> id;) BOOST_TEST(ids.count(id) == 1u, e.name() << " cites " << id);
    std::vector<std::string_view> named = {e.request_message};
    for (const SuccessResponse& s : e.success) named.push_back(s.message);
    for (std::string_view message : named) {
      if (message.empty()) continue;
      BOOST_TEST(messages.count(std::string(message)) == 1u, e.name() << " names " << message);
    }
  }
  for (const std::string& message : messages)
    BOOST_TEST(std::filesystem::exists("spec/schema/" + message + ".schema.json"),
               message << " has no schema");
}

BOOST_AUTO_TEST_SUITE_END()
