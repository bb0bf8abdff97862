// The suite's reports: a summary for the terminal, JUnit XML for CI systems, JSON for machines
// (its schema is conformance/schema/report.schema.json), one self-contained HTML page for people,
// and the coverage of the spec's requirements by the cases.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "opsync/conformance/runner.h"

namespace opsync::conformance {

inline constexpr std::string_view kReportFormat = "opsync-conformance-report/1";

// A requirement of spec/requirements.json, with its full text from the spec when known.
struct Requirement {
  std::string id;
  std::string level;  // MUST, MUST NOT, SHOULD, SHOULD NOT, MAY
  std::string section;
  std::string summary;
  std::string text;
};

// The requirement catalog built into the program, by id, in catalog order.
const std::vector<Requirement>& requirement_catalog();
const Requirement* find_requirement(std::string_view id);

void write_summary(std::ostream& out, const RunReport& report);
void write_junit(std::ostream& out, const RunReport& report);
void write_json(std::ostream& out, const RunReport& report);
void write_html(std::ostream& out, const RunReport& report);

// ---- coverage

// Why a requirement has no case: it binds clients only, or cannot be observed through the API, or
// needs more time than a run has (tested in-process by the reference server's own suites).
struct ScopeNote {
  std::string kind;  // "client", "untestable", "in-process"
  std::string reason;
};
const std::map<std::string, ScopeNote>& scope_notes();  // conformance/scope.json

struct CoverageRow {
  const Requirement* requirement;
  std::vector<std::string> cases;  // ids of the cases that cover it
  const ScopeNote* note = nullptr;  // set when no case covers it on purpose
};
std::vector<CoverageRow> coverage(const std::vector<const Case*>& cases);
// Problems that make the coverage incomplete: a MUST or MUST NOT requirement without a case and
// without a note, a note on a covered requirement, a case citing an unknown id.
std::vector<std::string> coverage_problems(const std::vector<const Case*>& cases);
// Checks a run made per requirement, held or not, summed over the cases of a JSON report
// (`checks` of each case); `coverage --report` shows them beside each requirement.
using CheckCounts = std::map<std::string, size_t>;
Result<CheckCounts> read_check_counts(const std::string& report_path);
void write_coverage_text(std::ostream& out, const std::vector<const Case*>& cases, const CheckCounts* checks = nullptr);
void write_coverage_json(std::ostream& out, const std::vector<const Case*>& cases, const CheckCounts* checks = nullptr);

}  // namespace opsync::conformance
