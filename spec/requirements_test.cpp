// The spec and its requirement catalog agree, every normative statement carries an id, and the
// checker itself catches the mistakes it exists for.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "requirements_check.h"

using namespace opsync::spec;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path << " (tests run from the repository root)");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "  " + line + "\n";
  return out;
}

const char* kSmallSpec = R"(# Title
## 1. Conventions
Plain text that mentions `MUST` in code.
## 2. Area
### 2.1 Part
- [ABC-001] MUST: The first rule; see ABC-002.
- [ABC-002] SHOULD: The second rule,
  continued on an indented line that says MUST again.
## Retired requirements
None yet.
)";

const char* kSmallCatalog = R"({"requirements": [
  {"id": "ABC-001", "level": "MUST", "section": "2.1", "summary": "first"},
  {"id": "ABC-002", "level": "SHOULD", "section": "2.1", "summary": "second"}], "retired": []})";

}  // namespace

BOOST_AUTO_TEST_SUITE(requirements)

BOOST_AUTO_TEST_CASE(spec_and_catalog_agree) {
  const SpecDocument doc = read_spec(read_file("spec/opsync-v1.md"));
  BOOST_TEST(doc.problems.empty(), "problems in the spec:\n" << join(doc.problems));
  BOOST_TEST(doc.requirements.size() >= 150u);
  const std::vector<std::string> problems =
      compare_with_catalog(doc, read_file("spec/requirements.json"));
  BOOST_TEST(problems.empty(), "spec and requirements.json disagree:\n" << join(problems));
}

BOOST_AUTO_TEST_CASE(checker_accepts_a_consistent_pair) {
  const SpecDocument doc = read_spec(kSmallSpec);
  BOOST_TEST(doc.problems.empty(), join(doc.problems));
  BOOST_TEST(doc.requirements.size() == 2u);
  BOOST_TEST(compare_with_catalog(doc, kSmallCatalog).empty());
}

BOOST_AUTO_TEST_CASE(checker_catches_an_untagged_keyword) {
  std::string spec = kSmallSpec;
  spec += "\n## 3. More\nClients MUST do this without an id.\n";
  BOOST_TEST(!read_spec(spec).problems.empty());
}

BOOST_AUTO_TEST_CASE(checker_catches_a_duplicate_id_and_a_dangling_reference) {
  std::string spec = kSmallSpec;
  spec.insert(spec.find("## Retired"),
              "- [ABC-001] MAY: Again.\n- [ABC-003] MAY: Points at ABC-009.\n\n");
  const SpecDocument doc = read_spec(spec);
  bool duplicate = false, dangling = false;
  for (const std::string& p : doc.problems) {
    duplicate |= p.find("ABC-001 is defined twice") != std::string::npos;
    dangling |= p.find("ABC-009") != std::string::npos;
  }
  BOOST_TEST(duplicate);
  BOOST_TEST(dangling);
}

BOOST_AUTO_TEST_CASE(checker_catches_catalog_disagreements) {
  const SpecDocument doc = read_spec(kSmallSpec);
  // Wrong level, wrong section, a missing id and an extra id are each reported.
  std::string wrong_level = kSmallCatalog;
  wrong_level.replace(wrong_level.find("\"SHOULD\""), 8, "\"MAY\"");
  BOOST_TEST(compare_with_catalog(doc, wrong_level).size() == 1u);
  std::string wrong_section = kSmallCatalog;
  wrong_section.replace(wrong_section.find("\"2.1\""), 5, "\"2.2\"");
  BOOST_TEST(compare_with_catalog(doc, wrong_section).size() == 1u);
  const char* missing = R"({"requirements": [{"id": "ABC-001", "level": "MUST", "section": "2.1",
      "summary": "first"}], "retired": []})";
  BOOST_TEST(compare_with_catalog(doc, missing).size() == 1u);
  std::string extra = kSmallCatalog;
  extra.replace(extra.rfind("]"), 1,
                R"(, {"id": "ABC-004", "level": "MAY", "section": "2.1", "summary": "x"}])");
  BOOST_TEST(compare_with_catalog(doc, extra).size() == 1u);
  BOOST_TEST(!compare_with_catalog(doc, "not json").empty());
}

BOOST_AUTO_TEST_CASE(retired_ids_stay_listed_and_unused) {
  std::string spec = kSmallSpec;
  spec.replace(spec.find("None yet."), 9, "- ABC-005: withdrawn, superseded by ABC-002.");
  const SpecDocument doc = read_spec(spec);
  BOOST_TEST(doc.problems.empty(), join(doc.problems));
  BOOST_TEST(!compare_with_catalog(doc, kSmallCatalog).empty());  // the catalog must list it too
  const char* with_retired = R"({"requirements": [
    {"id": "ABC-001", "level": "MUST", "section": "2.1", "summary": "first"},
    {"id": "ABC-002", "level": "SHOULD", "section": "2.1", "summary": "second"}],
    "retired": [{"id": "ABC-005", "reason": "superseded by ABC-002"}]})";
  BOOST_TEST(compare_with_catalog(doc, with_retired).empty());
}

BOOST_AUTO_TEST_SUITE_END()
